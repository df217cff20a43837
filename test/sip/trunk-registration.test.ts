import crypto from 'node:crypto';
import { expect } from 'chai';
import { initModels } from '../../src/db/models/index.js';
import type { RunningServer } from '../../src/main.js';
import { serveForTest } from '../helpers/serve-for-test.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';
import { createAccount, type TestAccount } from '../helpers/factories.js';
import { KamailioCarrier } from '../helpers/kamailio-carrier.js';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js';
import { TEST_DIALECT } from '../helpers/test-database.js';
import { RealDrachtioServer } from './real-drachtio-server.js';

const TRUNK_TIMING = {
  tickSeconds: 0.2,
  leaseSeconds: 2,
  verifySeconds: 0.3,
  refreshBeforeSeconds: 30,
  retryMinSeconds: 0.3,
  retryMaxSeconds: 1,
  t1Ms: 100,
  transactionTimeoutMs: 3000,
};

async function until<T>(what: string, probe: () => Promise<T | undefined | null | false>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    const v = await probe();
    if (v) return v;
    last = v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(last)})`);
}

// In CI Kamailio is installed by .ci/run: a missing one there is a failure, not a skip.
const describeIfKamailio = KamailioCarrier.available() || process.env.CI === 'true' ? describe : describe.skip;

describeIfKamailio('SIP trunk registration against Kamailio', function () {
  this.timeout(90_000);
  let app: TestApp;
  let acct: TestAccount;
  let kamailio: KamailioCarrier;
  let server: RunningServer;
  const masterKey = crypto.randomBytes(32).toString('base64');

  before(async () => {
    kamailio = await KamailioCarrier.create([
      { username: 'trunk-udp', password: 'udp-secret-1' },
      { username: 'trunk-tcp', password: 'tcp-secret-2' },
      { username: 'trunk-bad', password: 'right-password' },
      { username: 'trunk-two', password: 'two-secret-3' },
      { username: 'trunk-wrk', password: 'wrk-secret-4' },
      { username: 'trunk-wrk-tcp', password: 'wrk-secret-5' },
    ]);
    app = await startTestApp({ secrets: { masterKey } });
    acct = await createAccount(app);
  });
  after(async () => {
    await app?.stop();
    await kamailio?.destroy();
  });

  const startServe = async (drachtio?: RealDrachtioServer, workers = 0) =>
    serveForTest(app, {
      sip: {
        edge: drachtio ? 'drachtio' : 'builtin',
        workers,
        ...(drachtio ? { drachtio: { mode: 'inbound', host: '127.0.0.1', port: drachtio.ports.admin, secret: drachtio.secret } } : {}),
      },
      telephony: { trunks: { enabled: true, ...TRUNK_TIMING } },
    });

  /** A registering trunk at the shared Kamailio, or at `at` (the TLS carrier, or a name for it). */
  const trunk = async (username: string, password: string, transport: 'udp' | 'tcp' | 'tls', at?: { host: string; port: number }) => {
    const r = await app.call('POST', '/v1/telephony/providers', {
      token: acct.ownerToken,
      body: {
        type: 'sip_trunk',
        name: `${username}-${crypto.randomBytes(2).toString('hex')}`,
        credentials: { username, password },
        settings: { host: '127.0.0.1', port: kamailio.port, ...at, transport, register: true, expires: 60 },
      },
    });
    expect(r.status, JSON.stringify(r.body)).to.equal(201);
    return r.body as { id: number };
  };
  const registration = async (id: number) => (await app.call('GET', `/v1/telephony/providers/${id}`, { token: acct.ownerToken })).body.registration;
  /** One node or a worker alike: a TCP trunk registers with a TCP Contact, and disabling it unregisters it. */
  const registersOverTcpAndUnregistersWhenDisabled = async (username: string, password: string, whileRegistered?: (id: number) => Promise<void>) => {
    const t = await trunk(username, password, 'tcp');
    await until('registered', async () => (await registration(t.id)).state === 'registered');
    const rows = await kamailio.locations(username);
    expect(rows).to.have.length(1);
    expect(rows[0]!.contact).to.include('transport=tcp');
    await whileRegistered?.(t.id);
    const off = await app.call('PATCH', `/v1/telephony/providers/${t.id}`, { token: acct.ownerToken, body: { enabled: false } });
    expect(off.body.registration.state).to.equal('disabled');
    await until('unregistered', async () => (await kamailio.locations(username)).length === 0);
    await app.call('DELETE', `/v1/telephony/providers/${t.id}`, { token: acct.ownerToken });
  };

  for (const edge of ['builtin', 'drachtio'] as const)
    describe(`one node, ${edge} edge`, () => {
      let drachtio: RealDrachtioServer | undefined;
      /** Where the trunk's Contact points: our UDP listener, or drachtio-server's. */
      let sipPort: number;
      before(async () => {
        if (edge === 'drachtio') drachtio = await RealDrachtioServer.start();
        server = await startServe(drachtio);
        sipPort = drachtio
          ? drachtio.ports.sip
          : (server.components.sip as { sip: Array<{ transport: string; port: number }> }).sip.find((l) => l.transport === 'udp')!.port;
      });
      after(async () => {
        await server?.stop();
        await drachtio?.stop();
        // serve() bound the model classes to its own (now closed) connection: give them back to the test app's.
        initModels(app.services.db.sequelize);
      });

      it('registers over UDP, refreshes before expiry, and unregisters on delete (location empty)', async () => {
        const hook = await app.call('POST', '/v1/webhooks', {
          token: acct.ownerToken,
          body: { url: 'http://127.0.0.1:9/hook', events: ['telephony.provider_status_changed'] },
        });
        const t = await trunk('trunk-udp', 'udp-secret-1', 'udp');
        const reg = await until('registered', async () => {
          const r = await registration(t.id);
          return r.state === 'registered' ? r : null;
        });
        expect(reg.last_status).to.equal(200);
        expect(new Date(reg.expires_at).getTime()).to.be.greaterThan(Date.now());
        const [first] = await until('a binding at Kamailio', async () => {
          const rows = await kamailio.locations('trunk-udp');
          return rows.length ? rows : null;
        });
        expect(await kamailio.locations('trunk-udp')).to.have.length(1);
        expect(first!.contact).to.include(`@127.0.0.1:${sipPort}`);
        // Kamailio caps the lifetime at its max_expires (4 s): the refresh comes before the binding runs out.
        await until('a refreshed binding', async () => {
          const rows = await kamailio.locations('trunk-udp');
          return rows.length === 1 && new Date(rows[0]!.expires).getTime() > new Date(first!.expires).getTime() ? rows : null;
        });
        const deliveries = await app.services.db.models.WebhookDelivery.findAll({ where: { webhook_id: hook.body.id } });
        expect(deliveries.map((d) => JSON.parse(d.payload).data.registration.state)).to.include('registered');

        expect((await app.call('DELETE', `/v1/telephony/providers/${t.id}`, { token: acct.ownerToken })).status).to.equal(204);
        expect((await app.call('GET', `/v1/telephony/providers/${t.id}`, { token: acct.ownerToken })).status).to.equal(404);
        await until('the binding removed (Expires: 0)', async () => (await kamailio.locations('trunk-udp')).length === 0);
        await until('the tombstone removed', async () => (await app.services.db.models.TelephonyProvider.count({ where: { id: t.id } })) === 0);
      });

      it('registers again after Kamailio restarts without its bindings', async () => {
        const t = await trunk('trunk-udp', 'udp-secret-1', 'udp');
        await until('registered', async () => (await kamailio.locations('trunk-udp')).length === 1);
        await kamailio.stop();
        await kamailio.forgetBindings();
        await kamailio.start();
        await until('registered again', async () => (await kamailio.locations('trunk-udp')).length === 1);
        expect((await registration(t.id)).state).to.equal('registered');
        await app.call('DELETE', `/v1/telephony/providers/${t.id}`, { token: acct.ownerToken });
        await until('unregistered', async () => (await kamailio.locations('trunk-udp')).length === 0);
      });

      it("reports failed with the carrier's status for a wrong password", async () => {
        const t = await trunk('trunk-bad', 'wrong-password', 'udp');
        const reg = await until('failed', async () => {
          const r = await registration(t.id);
          return r.state === 'failed' ? r : null;
        });
        expect(reg.last_status).to.equal(401);
        expect(reg.last_error).to.match(/^401 /);
        expect(await kamailio.locations('trunk-bad')).to.have.length(0);
        await app.call('DELETE', `/v1/telephony/providers/${t.id}`, { token: acct.ownerToken });
      });

      it('registers over TCP and unregisters when disabled', () => registersOverTcpAndUnregistersWhenDisabled('trunk-tcp', 'tcp-secret-2'));
    });

  describe('SIP_WORKERS=2 (the registrar in worker processes)', () => {
    let health: () => Promise<{ listeners: Array<{ transport: string; port: number }>; workers: Array<{ pid: number | null; ready: boolean }> }>;
    before(async () => {
      server = await startServe(undefined, 2);
      health = async () => (await (await fetch(`http://127.0.0.1:${server.httpPort}/healthz`)).json()).sip;
    });
    after(async () => {
      await server?.stop();
      initModels(app.services.db.sequelize);
    });
    const holderPid = async (id: number) => {
      const row = await app.services.db.models.TelephonyProvider.findByPk(id);
      return Number(/:(\d+):[0-9a-f]+$/.exec(row?.lease_owner ?? '')?.[1]);
    };
    const expiresOf = async (username: string) => (await kamailio.locations(username)).map((r) => new Date(r.expires).getTime());

    it('keep a UDP trunk registered from one worker over the shared socket, and another worker takes over when it dies', async () => {
      const t = await trunk('trunk-wrk', 'wrk-secret-4', 'udp');
      await until('registered', async () => (await registration(t.id)).state === 'registered');
      const udpPort = (await health()).listeners.find((l) => l.transport === 'udp')!.port;
      const rows = await kamailio.locations('trunk-wrk');
      expect(rows).to.have.length(1);
      // The workers' shared listener, not a socket of the serve process (which has none).
      expect(rows[0]!.contact).to.include(`@127.0.0.1:${udpPort}`);
      const workerPids = (await health()).workers.map((w) => w.pid);
      const holder = await holderPid(t.id);
      expect(workerPids, 'the lease is held by a worker').to.include(holder);
      expect(holder).to.not.equal(process.pid);
      // Refreshes keep coming (Kamailio grants 4 s): each answer reaches the holder, on whichever worker the kernel woke.
      let seen = (await expiresOf('trunk-wrk'))[0]!;
      for (let i = 0; i < 2; i++) {
        seen = await until(`refresh ${i + 1}`, async () => {
          const [e] = await expiresOf('trunk-wrk');
          return e !== undefined && e > seen ? e : null;
        });
      }

      // SIGKILL: the worker hands nothing back; its lease runs out and another worker (the survivor or its replacement) holds it.
      const killedAt = Math.max(...(await expiresOf('trunk-wrk')));
      process.kill(holder, 'SIGKILL');
      const next = await until('another worker holds the lease', async () => {
        const pid = await holderPid(t.id);
        return pid && pid !== holder ? pid : null;
      });
      const after = (await health()).workers.map((w) => w.pid);
      expect(after).to.include(next);
      // The new holder clears the AOR and registers afresh: a binding that outlives the dead worker's last refresh.
      await until('registered by the new holder', async () => {
        const e = await expiresOf('trunk-wrk');
        return e.length === 1 && e[0]! > killedAt;
      });
      expect(await kamailio.locations('trunk-wrk')).to.have.length(1);
      // Kamailio stores the binding before its 200 reaches the new holder, which only then records the state.
      await until('state registered', async () => (await registration(t.id)).state === 'registered');

      expect((await app.call('DELETE', `/v1/telephony/providers/${t.id}`, { token: acct.ownerToken })).status).to.equal(204);
      await until('unregistered', async () => (await kamailio.locations('trunk-wrk')).length === 0);
    });

    it('keep a TCP trunk registered from a worker and unregister it when disabled', () =>
      registersOverTcpAndUnregistersWhenDisabled('trunk-wrk-tcp', 'wrk-secret-5', async (id) => {
        expect((await health()).workers.map((w) => w.pid)).to.include(await holderPid(id));
      }));
  });

  describe('over TLS (built-in edge)', () => {
    let carrier: KamailioCarrier;
    before(async function () {
      // In CI .ci/run installs kamailio-tls-modules: missing there is a failure, not a skip.
      if (!KamailioCarrier.tlsAvailable() && process.env.CI !== 'true') return this.skip();
      carrier = await KamailioCarrier.create([{ username: 'trunk-tls', password: 'tls-secret-6' }], { tls: true });
      const tls = carrier.tls!;
      server = await serveForTest(app, {
        // Our own TLS listener, so the Contact names a port the carrier could open a connection back to.
        sip: { tls: { enabled: true, port: 0, certFile: tls.certFile, keyFile: tls.keyFile } },
        // The carrier's certificate is self-signed, made by openssl for this run: trusted through the CA file only.
        telephony: { trunks: { enabled: true, ...TRUNK_TIMING, tlsCaFile: tls.certFile } },
      });
    });
    after(async () => {
      await server?.stop();
      initModels(app.services.db.sequelize);
      await carrier?.destroy();
    });

    it('registers over TLS with the certificate checked, refreshes, and unregisters on delete', async () => {
      const t = await trunk('trunk-tls', 'tls-secret-6', 'tls', { host: '127.0.0.1', port: carrier.tls!.port });
      const reg = await until('registered', async () => {
        const x = await registration(t.id);
        return x.state === 'registered' ? x : null;
      });
      expect(reg.last_status).to.equal(200);
      const tlsPort = (server.components.sip as { sip: Array<{ transport: string; port: number }> }).sip.find((l) => l.transport === 'tls')!.port;
      const [first] = await carrier.locations('trunk-tls');
      expect(first!.contact).to.include(`@127.0.0.1:${tlsPort};transport=tls`);
      await until('a refreshed binding', async () => {
        const rows = await carrier.locations('trunk-tls');
        return rows.length === 1 && new Date(rows[0]!.expires).getTime() > new Date(first!.expires).getTime();
      });
      expect((await app.call('DELETE', `/v1/telephony/providers/${t.id}`, { token: acct.ownerToken })).status).to.equal(204);
      await until('unregistered', async () => (await carrier.locations('trunk-tls')).length === 0);
    });

    it('fails when the certificate does not name the host dialled (no registration at the carrier)', async () => {
      // The certificate names IP 127.0.0.1 only; the same carrier dialled as "localhost" must be refused by the check.
      const t = await trunk('trunk-tls', 'tls-secret-6', 'tls', { host: 'localhost', port: carrier.tls!.port });
      const reg = await until('failed', async () => {
        const x = await registration(t.id);
        return x.state === 'failed' ? x : null;
      });
      expect(reg.last_status).to.equal(503);
      expect(reg.last_error)
        .to.match(/localhost/i)
        .and.to.match(/altnames|does not match/i);
      expect(await carrier.locations('trunk-tls')).to.have.length(0);
      await app.call('DELETE', `/v1/telephony/providers/${t.id}`, { token: acct.ownerToken });
    });
  });

  // Two processes sharing one database is the MariaDB deployment; the SQLite pass has no such test (rather than a skipped one).
  (TEST_DIALECT === 'mysql' ? describe : () => undefined)('two switchboard processes on MariaDB', () => {
    let nodes: ServerProcess[] = [];
    after(async () => {
      for (const n of nodes) await n.stop();
    });

    it('keep exactly one registration, and the other node takes over when the holder dies', async () => {
      const env = {
        SIP_EDGE: 'builtin',
        NODE_CONFIG: JSON.stringify({
          jobs: { enabled: false },
          sip: { host: '127.0.0.1', udp: { port: 0 }, tcp: { port: 0 }, ws: { enabled: false }, tls: { enabled: false }, wss: { enabled: false } },
          telephony: { trunks: { enabled: true, ...TRUNK_TIMING } },
        }),
      };
      nodes = [await startServerProcess(app.config.database.url, masterKey, env), await startServerProcess(app.config.database.url, masterKey, env)];
      const t = await trunk('trunk-two', 'two-secret-3', 'udp');
      await until('registered', async () => (await registration(t.id)).state === 'registered');
      // Several ticks of both nodes: still one binding.
      await new Promise((r) => setTimeout(r, 1500));
      expect(await kamailio.locations('trunk-two')).to.have.length(1);
      const row = await app.services.db.models.TelephonyProvider.findByPk(t.id);
      const holder = nodes.find((n) => row!.lease_owner!.includes(`:${n.pid}:`))!;
      expect(holder, `lease held by ${row!.lease_owner}`).to.not.equal(undefined);
      const first = (await kamailio.locations('trunk-two'))[0]!.contact;
      // SIGKILL: no lease hand-back, no unregister; the lease runs out and the survivor takes over.
      process.kill(holder.pid, 'SIGKILL');
      nodes = nodes.filter((n) => n !== holder);
      let seen: unknown;
      await until(
        'the other node registered',
        async () => {
          const rows = await kamailio.locations('trunk-two');
          const row = await app.services.db.models.TelephonyProvider.findByPk(t.id);
          seen = { rows, lease: row?.lease_owner, state: row?.reg_state, error: row?.reg_last_error };
          return rows.length === 1 && rows[0]!.contact !== first;
          // Two processes from sources on a busy machine: the takeover has been seen to take well over 15 s.
        },
        40_000,
      ).catch((err: Error) => {
        throw new Error(`${err.message}; saw ${JSON.stringify(seen)}; first ${first}`);
      });
      const after = await app.services.db.models.TelephonyProvider.findByPk(t.id);
      expect(after!.lease_owner).to.include(`:${nodes[0]!.pid}:`);
    });
  });
});
