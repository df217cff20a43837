import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { WebSocket } from 'ws';
import { Registerer, RegistererState, UserAgent } from 'sip.js';
import JsSIP from 'jssip';
import { DrachtioQualifySender } from '../../sip/edges/drachtio/drachtio-qualify-sender.js';
import type { DrachtioSipEdge } from '../../sip/edges/drachtio/drachtio-sip-edge.js';
import { createDrachtioSrf } from '../../sip/edges/drachtio/drachtio-srf-api.js';
import { headerValues, runEdgeContract } from './edge-contract.js';
import { repoRoot } from './helpers.js';
import { connectEdge, openClient, realDrachtioHarness, viaFor, type ClientTransport, type WireClient } from './real-drachtio-harness.js';
import { drachtioConfigXml, drachtioServerBin, freePort, RealDrachtioServer, selfSignedCertificate, waitForListeners } from './real-drachtio-server.js';
import { SipPhone } from './sip-phone.js';
import { MwiSubscriber, sipBody, sipHeader } from './mwi-subscriber.js';
import { DrachtioDeviceRequestPort } from '../../sip/edges/drachtio/drachtio-device-request-port.js';
import { authorize, createSipUser, parseChallenge, registerText, startRegistrar, type RegistrarHarness, type SipTestUser } from './registrar-helpers.js';

// sip.js and JsSIP use the global WebSocket; Node 20 has none, so lend them ws's.
(globalThis as { WebSocket?: unknown }).WebSocket ??= WebSocket;

async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('the drachtio edge against a real drachtio-server', function () {
  this.timeout(30_000);
  let server: RealDrachtioServer;
  before(async () => {
    server = await RealDrachtioServer.start();
  });
  after(async () => server?.stop());

  for (const transport of ['udp', 'tcp', 'ws'] as const)
    runEdgeContract(`real drachtio-server over ${transport.toUpperCase()}`, realDrachtioHarness(transport));

  describe('qualify through drachtio-server removes a binding whose device is gone', () => {
    let reg: RegistrarHarness;
    let edge: DrachtioSipEdge;
    before(async () => {
      reg = await startRegistrar({ edgeKind: 'drachtio', sip: { qualify: { tickSeconds: 3600, intervalSeconds: 60 } } });
      edge = await connectEdge(server, reg.runtime.handler);
      reg.runtime.startQualify(new DrachtioQualifySender(edge, { timeoutMs: 1500 }));
    });
    after(async () => {
      await edge?.stop();
      await reg?.stop();
    });

    /** REGISTER, 401, REGISTER with the MD5 answer over this client; returns the final response. */
    async function register(client: WireClient, u: SipTestUser, contact: string, expires = 600): Promise<string> {
      const base = { user: u.username, domain: u.domain, callId: `q-${client.transport}-${u.id}`, contacts: [contact], expires };
      client.send(viaFor(registerText({ ...base, cseq: 1 }), client));
      const challenge = (await client.next(3000))!;
      const ch = headerValues(challenge, 'WWW-Authenticate', false)
        .map(parseChallenge)
        .find((c) => c.algorithm === 'MD5')!;
      client.send(viaFor(registerText({ ...base, cseq: 2, authorization: authorize(ch, u.username, u.password, `sip:${u.domain}`) }), client));
      return (await client.next(3000))!;
    }

    // UDP only for now: through drachtio-server 0.9.10 an OPTIONS to a closed TCP/WS client was not
    // reliably reported as a failure in this test (open question, see the README's drachtio edge section).
    for (const transport of ['udp'] as ClientTransport[]) {
      it(`over ${transport}: answered while the device is there, removed after two unanswered OPTIONS once it is gone`, async () => {
        const u = await createSipUser(reg.app);
        const client = await openClient(transport, server);
        const contact = transport === 'ws' ? '<sip:q@df7jal23ls0d.invalid;transport=ws>' : `<sip:q@127.0.0.1:${client.localPort};transport=${transport}>`;
        const ok = await register(client, u, contact);
        expect(ok).to.match(/^SIP\/2\.0 200 /);
        const rows = async () => (await reg.app.call('GET', `/v1/users/${u.id}/registrations`, { token: u.account.ownerToken })).body.data as any[];
        expect((await rows()).map((r) => r.transport)).to.deep.equal([transport]);

        client.close();
        reg.clock.now += 61_000;
        expect((await reg.runtime.qualify!.tick()).unreachable).to.equal(1);
        expect(await rows()).to.have.length(1);
        reg.clock.now += 61_000;
        expect(await reg.runtime.qualify!.tick()).to.include({ unreachable: 1, removed: 1 });
        expect(await rows()).to.have.length(0);
      });
    }
  });

  describe('the mobile app over drachtio-server WebSocket (default configuration)', () => {
    let reg: RegistrarHarness;
    let edge: DrachtioSipEdge;
    const wsMax = 600;
    /** What the registrar answered to each REGISTER, in order: a refresh is the same Call-ID with a higher CSeq. */
    const answered: Array<{ userAgent: string | undefined; callId: string; cseq: number; transport: string; status: number | undefined }> = [];
    before(async () => {
      reg = await startRegistrar({ edgeKind: 'drachtio', realClock: true });
      expect(reg.app.config.sip.drachtio.wsMaxExpires).to.equal(wsMax);
      edge = await connectEdge(server, async (req, ctx) => {
        const res = await reg.runtime.handler(req, ctx);
        if (req.method === 'REGISTER')
          answered.push({ userAgent: req.header('user-agent'), callId: req.callId, cseq: req.cseq.seq, transport: ctx.transport, status: res?.status });
        return res;
      });
    });
    const oks = (ua: string) => answered.filter((a) => a.userAgent === ua && a.status === 200);
    after(async () => {
      await edge?.stop();
      await reg?.stop();
    });
    const rows = async (u: SipTestUser) => (await reg.app.call('GET', `/v1/users/${u.id}/registrations`, { token: u.account.ownerToken })).body.data as any[];

    it('sip.js 0.21 registers, refreshes and unregisters; the binding is ws, at most DRACHTIO_WS_MAX_EXPIRES', async () => {
      const u = await createSipUser(reg.app);
      const ua = new UserAgent({
        uri: UserAgent.makeURI(`sip:${u.username}@${u.domain}`)!,
        transportOptions: { server: `ws://127.0.0.1:${server.ports.ws}` },
        authorizationUsername: u.username,
        authorizationPassword: u.password,
        logLevel: (process.env.SIP_TRACE ? 'debug' : 'error') as 'debug',
        logBuiltinEnabled: Boolean(process.env.SIP_TRACE),
        userAgentString: 'SwitchboardMobile/1.0 (sip.js)',
      });
      await ua.start();
      try {
        const registerer = new Registerer(ua, { expires: 3600 });
        await registerer.register();
        await until(() => registerer.state === RegistererState.Registered, 'sip.js Registered');
        let list = await rows(u);
        expect(list.map((r) => [r.transport, r.user_agent])).to.deep.equal([['ws', 'SwitchboardMobile/1.0 (sip.js)']]);
        expect(list[0].expires_in).to.be.within(wsMax - 5, wsMax);
        const firstId = list[0].id;

        // A refresh (same Call-ID, next CSeq) keeps the one binding.
        await registerer.register();
        await until(() => oks('SwitchboardMobile/1.0 (sip.js)').length >= 2, 'refresh');
        const [first, refresh] = oks('SwitchboardMobile/1.0 (sip.js)');
        expect(refresh!.callId).to.equal(first!.callId);
        expect(refresh!.cseq).to.be.greaterThan(first!.cseq);
        expect(refresh!.transport).to.equal('ws');
        list = await rows(u);
        expect(list.map((r) => r.id)).to.deep.equal([firstId]);

        await registerer.unregister();
        await until(() => registerer.state === RegistererState.Unregistered, 'sip.js Unregistered');
        await until(async () => (await rows(u)).length === 0, 'binding removed');
      } finally {
        await ua.stop();
      }
    });

    it('JsSIP 3 registers, refreshes and unregisters; the binding is ws, at most DRACHTIO_WS_MAX_EXPIRES', async () => {
      const u = await createSipUser(reg.app);
      if (!process.env.SIP_TRACE) JsSIP.debug.disable();
      const ua = new JsSIP.UA({
        sockets: [new JsSIP.WebSocketInterface(`ws://127.0.0.1:${server.ports.ws}`)],
        uri: `sip:${u.username}@${u.domain}`,
        password: u.password,
        register: false,
        register_expires: 3600,
        user_agent: 'SwitchboardMobile/1.0 (JsSIP)',
      });
      const events: string[] = [];
      ua.on('registered', () => events.push('registered'));
      ua.on('unregistered', () => events.push('unregistered'));
      ua.on('registrationFailed', (e: { cause?: string }) => events.push(`failed:${e.cause}`));
      ua.on('connected', () => events.push('connected'));
      ua.start();
      try {
        await until(() => events.includes('connected'), 'JsSIP connected');
        ua.register();
        await until(() => events.includes('registered') || events.some((e) => e.startsWith('failed')), 'JsSIP registered');
        expect(events).to.include('registered');
        let list = await rows(u);
        expect(list.map((r) => [r.transport, r.user_agent])).to.deep.equal([['ws', 'SwitchboardMobile/1.0 (JsSIP)']]);
        expect(list[0].expires_in).to.be.within(wsMax - 5, wsMax);
        const firstId = list[0].id;

        ua.register();
        await until(() => oks('SwitchboardMobile/1.0 (JsSIP)').length >= 2, 'JsSIP refresh');
        const [first, refresh] = oks('SwitchboardMobile/1.0 (JsSIP)');
        expect(refresh!.callId).to.equal(first!.callId);
        expect(refresh!.cseq).to.be.greaterThan(first!.cseq);
        expect(refresh!.transport).to.equal('ws');
        list = await rows(u);
        expect(list.map((r) => r.id)).to.deep.equal([firstId]);

        ua.unregister();
        await until(() => events.includes('unregistered'), 'JsSIP unregistered');
        await until(async () => (await rows(u)).length === 0, 'binding removed');
      } finally {
        ua.stop();
      }
    });
  });

  describe('message-waiting through drachtio-server (SUBSCRIBE in, NOTIFY out with srf.request)', () => {
    let reg: RegistrarHarness;
    let edge: DrachtioSipEdge;
    const phones: SipPhone[] = [];
    before(async () => {
      reg = await startRegistrar({ edgeKind: 'drachtio', sip: { mwi: { pollMs: 50 } } });
      edge = await connectEdge(server, reg.runtime.handler);
      await reg.runtime.startMwi(new DrachtioDeviceRequestPort(edge, { serverEndpoints: () => edge.state().serverEndpoints }));
    });
    after(async () => {
      // NOTIFYs still in flight are answered while the phones are there: a stopped edge would leave them to the port's timeout.
      await reg?.runtime.mwi?.poll();
      await reg?.runtime.subscriptions?.settled();
      for (const p of phones) await p.close();
      await edge?.stop();
      await reg?.stop();
    });
    const phone = async () => {
      const p = await SipPhone.open('udp', server.ports.sip);
      phones.push(p);
      return p;
    };
    const mailboxOf = async (u: SipTestUser) => (await reg.app.call('GET', `/v1/users/${u.id}`, { token: u.account.ownerToken })).body.mailbox.id as number;
    const putCounts = async (u: SipTestUser, body: Record<string, unknown>) =>
      expect((await reg.app.call('PUT', `/v1/mailboxes/${await mailboxOf(u)}/message-counts`, { token: u.account.ownerToken, body })).status).to.equal(200);

    it('a SUBSCRIBE gets 401, then 200 with our To tag and a NOTIFY in that dialog with the counts; a change NOTIFYs again; unsubscribe ends it', async () => {
      const u = await createSipUser(reg.app, { mailbox: 'self' });
      await putCounts(u, { new: 1, old: 2 });
      await reg.runtime.mwi!.poll();
      await reg.runtime.mwi!.poll();
      const sub = new MwiSubscriber(await phone(), { username: u.username, domain: u.domain, password: u.password });
      const { response, challenge } = await sub.subscribe({ expires: 600 });
      expect(challenge).to.match(/^SIP\/2\.0 401 /);
      expect(response).to.match(/^SIP\/2\.0 200 /);
      expect(sipHeader(response, 'expires')).to.equal('600');
      const first = await sub.phone.nextRequest('NOTIFY', 0, 5000);
      const aor = `sip:${u.username}@${u.domain}`;
      expect(sipHeader(first, 'call-id')).to.equal(sub.callId);
      // The dialog drachtio-server answered with is the one we notify in: its To tag is our From tag.
      expect(sipHeader(first, 'from')).to.match(new RegExp(`^<${aor}>;tag=${sub.toTag}$`));
      expect(sipHeader(first, 'to')).to.include(`tag=${sub.fromTag}`);
      expect(sipHeader(first, 'subscription-state')).to.equal('active;expires=600');
      expect(sipBody(first)).to.equal(`Messages-Waiting: yes\r\nMessage-Account: ${aor}\r\nVoice-Message: 1/2 (0/0)\r\n`);

      await putCounts(u, { new: 0, old: 3 });
      const changed = await sub.phone.nextRequest('NOTIFY', 1, 5000);
      expect(sipHeader(changed, 'cseq')).to.equal('2 NOTIFY');
      expect(sipBody(changed)).to.include('Voice-Message: 0/3 (0/0)');

      expect((await sub.subscribe({ expires: 0 })).response).to.match(/^SIP\/2\.0 200 /);
      const last = await sub.phone.nextRequest('NOTIFY', 2, 5000);
      expect(sipHeader(last, 'subscription-state')).to.equal('terminated;reason=timeout');
    });

    it('an unsolicited NOTIFY reaches a device registered through drachtio-server when the counts change', async () => {
      const u = await createSipUser(reg.app, { mailbox: 'self' });
      const p = await phone();
      expect(await p.register({ user: u.username, domain: u.domain, password: u.password })).to.match(/^SIP\/2\.0 200/);
      await p.nextRequest('NOTIFY', 0, 5000);
      const from = p.requests.length;
      await putCounts(u, { new: 7, old: 0, urgent_new: 1 });
      const n = await p.nextRequest('NOTIFY', from, 5000);
      expect(sipHeader(n, 'event')).to.equal('message-summary');
      expect(sipHeader(n, 'subscription-state')).to.equal('active');
      expect(sipBody(n)).to.equal(`Messages-Waiting: yes\r\nMessage-Account: sip:${u.username}@${u.domain}\r\nVoice-Message: 7/0 (1/0)\r\n`);
    });
  });
});

describe('reconnecting to a real drachtio-server that was killed and started again', function () {
  this.timeout(40_000);
  let server: RealDrachtioServer;
  let reg: RegistrarHarness;
  let edge: DrachtioSipEdge | undefined;
  before(async () => {
    server = await RealDrachtioServer.start();
    reg = await startRegistrar({ edgeKind: 'drachtio', realClock: true });
  });
  after(async () => {
    await edge?.stop();
    await reg?.stop();
    await server?.stop();
  });

  it('is unhealthy at once, and serves REGISTER again within about 2 s of the restart (default reconnect settings)', async () => {
    const d = reg.app.config.sip.drachtio;
    edge = await connectEdge(server, reg.runtime.handler, {
      reconnectMinMs: d.reconnectMinMs,
      reconnectMaxMs: d.reconnectMaxMs,
      reconnectFastMs: d.reconnectFastMs,
      reconnectFastWindowMs: d.reconnectFastWindowMs,
    });
    await server.kill('SIGKILL');
    await until(() => edge!.state().healthy === false, 'unhealthy', 3000);
    // Down long enough that plain doubling from 500 ms would be in its 8 s slot.
    await new Promise((r) => setTimeout(r, 8000));
    expect(edge.state().failedAttempts).to.be.greaterThanOrEqual(4);
    const restarted = Date.now();
    await server.start();
    await until(() => edge!.state().status === 'connected', 'reconnected', 10_000);
    expect(Date.now() - restarted).to.be.below(2500);

    const u = await createSipUser(reg.app);
    const client = await openClient('udp', server);
    try {
      await until(
        async () => {
          client.send(viaFor(registerText({ user: u.username, domain: u.domain, contacts: ['<sip:r@127.0.0.1:5999>'] }), client));
          const res = await client.next(500);
          return res !== undefined && /^SIP\/2\.0 401 /.test(res);
        },
        'a challenge after the restart',
        5000,
      );
    } finally {
      client.close();
    }
  });
});

describe("docker-compose.yml's drachtio command against the shipped drachtio-server", function () {
  this.timeout(20_000);

  /** The `command:` of the drachtio service, folded as YAML `>` folds it. */
  function composeCommand(): string {
    const lines = readFileSync(path.join(repoRoot, 'docker-compose.yml'), 'utf8').split('\n');
    const service = lines.findIndex((l) => /^ {2}drachtio:\s*$/.test(l));
    const start = lines.findIndex((l, i) => i > service && /^ {4}command: >-?\s*$/.test(l));
    expect(service, 'drachtio service').to.be.greaterThan(-1);
    expect(start, 'folded command').to.be.greaterThan(service);
    const body: string[] = [];
    for (const l of lines.slice(start + 1)) {
      if (!/^ {6}/.test(l)) break;
      body.push(l.trim());
    }
    return body.join(' ');
  }

  /** Shell-like split on spaces, keeping double-quoted words whole. */
  function words(command: string): string[] {
    return [...command.matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2]!);
  }

  it('uses only options drachtio-server accepts, and brings up SIP over UDP/TCP, WSS and the admin port', async () => {
    const env: Record<string, string> = { DRACHTIO_SECRET: 'compose-secret', SIP_PUBLIC_IP: '127.0.0.1' };
    // Compose substitutes ${VAR:?message} before the command is split into words.
    const argv = words(composeCommand().replace(/\$\{(\w+)(?::\?[^}]*)?\}/g, (_m, name: string) => env[name] ?? ''));
    expect(argv[0]).to.equal('drachtio');
    const dir = mkdtempSync(path.join(os.tmpdir(), 'drachtio-compose-'));
    const admin = await freePort();
    const sip = await freePort(true);
    const wss = await freePort();
    const { key, cert } = selfSignedCertificate(dir);
    const conf = path.join(dir, 'compose.conf.xml');
    // The image ships /etc/drachtio.conf.xml with the admin socket; here a minimal one on a free loopback port.
    writeFileSync(conf, drachtioConfigXml(admin, 'unused'));
    const args = argv
      .slice(1)
      .map((a) =>
        a
          .replace('*:5060;', `127.0.0.1:${sip};`)
          .replace('*:8443;', `127.0.0.1:${wss};`)
          .replace('/etc/drachtio/tls/privkey.pem', key)
          .replace('/etc/drachtio/tls/fullchain.pem', cert),
      );
    expect(args.join(' '), 'every port and file mapped for the test').to.not.match(/\*:|\/etc\/drachtio/);
    const child = spawn(drachtioServerBin, ['-f', conf, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (out += b.toString()));
    try {
      await waitForListeners([admin, sip, wss], child, () => out);
      expect(out).to.not.match(/unrecognized option|Protocol not supported/i);
      // The compose secret is the one that admits the application; the endpoints are what drachtio-server offers.
      const srf = createDrachtioSrf();
      const hostport = await new Promise<string>((resolve, reject) => {
        srf.on('connect', (err, hp) => (err ? reject(err) : resolve(hp ?? '')));
        srf.on('error', reject);
        srf.connect({ host: '127.0.0.1', port: admin, secret: 'compose-secret', reconnect: { maxAttempts: 1 } });
      });
      srf.disconnect();
      expect(
        hostport
          .split(',')
          .map((e) => e.split('/')[0])
          .sort(),
      ).to.deep.equal(['tcp', 'udp', 'wss']);
      // notice, not info: info writes every SIP message in full.
      expect(args[args.indexOf('--loglevel') + 1]).to.equal('notice');
    } finally {
      if (child.exitCode === null) process.kill(child.pid!, 'SIGTERM');
      await new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)));
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
