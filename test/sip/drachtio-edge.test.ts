import { expect } from 'chai';
import type { SipRequest, SipRequestContext, SipRequestHandler } from '../../sip/message/types.js';
import {
  DrachtioRequestAdapter,
  drachtioSendOptions,
  parseServerEndpoints,
  requestTransport,
  transportFromDrachtio,
} from '../../sip/edges/drachtio/drachtio-request-adapter.js';
import { DrachtioSipEdge, reconnectDelay, type DrachtioEdgeState, type DrachtioSipEdgeOptions } from '../../sip/edges/drachtio/drachtio-sip-edge.js';
import { DrachtioQualifySender, nextHopUri } from '../../sip/edges/drachtio/drachtio-qualify-sender.js';
import { createDrachtioSrf } from '../../sip/edges/drachtio/drachtio-srf-api.js';
import { runEdgeContract } from './edge-contract.js';
import { drachtioExchange } from './drachtio-recording.js';
import { FakeDrachtioServer } from './fake-drachtio-server.js';
import { fixture, optionsMessage, startEdge, UdpClient } from './helpers.js';
import net from 'node:net';
import { authorize, createSipUser, parseChallenge, registerText, registerThroughCore, startRegistrar, type RegistrarHarness } from './registrar-helpers.js';

runEdgeContract('built-in edge over UDP', async (handler) => {
  const edge = await startEdge({ handler, listeners: [{ transport: 'udp', host: '127.0.0.1', port: 0 }] });
  const client = await UdpClient.open();
  return {
    expected: { transport: 'udp', source: { address: '127.0.0.1', port: client.port } },
    async exchange(raw) {
      client.send(raw, edge.port('udp'));
      // Long enough for a REGISTER through the registrar on a loaded machine; only the no-answer case waits it out.
      return client.next(1500);
    },
    async stop() {
      client.close();
      await edge.stop();
    },
  };
});

runEdgeContract('drachtio adapter', async (handler) => {
  const adapter = new DrachtioRequestAdapter({ handler });
  let txn = 0;
  return {
    expected: { transport: 'udp', source: { address: '192.0.2.10', port: 40123 } },
    async exchange(raw) {
      const x = drachtioExchange(raw, { protocol: 'udp', address: '192.0.2.10', port: 40123 }, `txn-${++txn}`);
      await adapter.handle(x.req, x.res);
      return x.responseText();
    },
    async stop() {},
  };
});

function recordingHandler(): { handler: SipRequestHandler; seen: Array<{ req: SipRequest; ctx: SipRequestContext }> } {
  const seen: Array<{ req: SipRequest; ctx: SipRequestContext }> = [];
  return {
    seen,
    handler: async (req, ctx) => {
      seen.push({ req, ctx });
      return { status: 200, reason: 'OK', headers: [] };
    },
  };
}

describe('DrachtioRequestAdapter', () => {
  it('maps drachtio-server protocol names to our transports, case-insensitively', () => {
    expect(['udp', 'TCP', 'tls', 'WS', 'wss', 'sctp'].map(transportFromDrachtio)).to.deep.equal(['udp', 'tcp', 'tls', 'ws', 'wss', undefined]);
  });

  it('takes WS/WSS from the listener the request arrived on, else from the top Via (drachtio-server reports them as tcp/tls)', () => {
    const endpoints = parseServerEndpoints('wss/10.0.0.2:8443,ws/10.0.0.2:8088,tcp/10.0.0.2:5060,udp/10.0.0.2:5060');
    expect(requestTransport('tcp', 'WS', '10.0.0.2:8088', endpoints)).to.equal('ws');
    expect(requestTransport('tls', 'WSS', '10.0.0.2:8443', endpoints)).to.equal('wss');
    // The listener wins over a Via the client wrote: plain TCP stays tcp.
    expect(requestTransport('tcp', 'WS', '10.0.0.2:5060', endpoints)).to.equal('tcp');
    expect(requestTransport('tcp', 'TCP', '10.0.0.2:8088', endpoints)).to.equal('ws');
    // Unknown listener (no endpoints announced, or an address not among them): the Via decides.
    expect(requestTransport('tcp', 'WS', undefined, new Map())).to.equal('ws');
    expect(requestTransport('tls', 'WSS', '192.0.2.1:1', endpoints)).to.equal('wss');
    expect(requestTransport('tcp', 'TCP', undefined, new Map())).to.equal('tcp');
    // A Via never makes UDP a WebSocket, nor plain TCP secure.
    expect(requestTransport('udp', 'WS', undefined, new Map())).to.equal('udp');
    expect(requestTransport('tcp', 'WSS', undefined, new Map())).to.equal('tcp');
  });

  it('hands the core ws for a WebSocket REGISTER that drachtio-server reported as tcp', async () => {
    const { handler, seen } = recordingHandler();
    const raw = fixture('register-multi-contact.sip').replace('v: SIP/2.0/UDP 192.0.2.10:5060', 'v: SIP/2.0/WS df7jal23ls0d.invalid');
    const x = drachtioExchange(raw, { protocol: 'tcp', address: '198.51.100.4', port: 40000, receivedOn: '10.0.0.2:8088' });
    const adapter = new DrachtioRequestAdapter({ handler, serverEndpoints: () => 'ws/10.0.0.2:8088,tcp/10.0.0.2:5060' });
    await adapter.handle(x.req, x.res);
    expect(seen[0]!.ctx.transport).to.equal('ws');
  });

  it('reports wss, the source and the local address drachtio-server received on, and no connection id', async () => {
    const { handler, seen } = recordingHandler();
    const x = drachtioExchange(fixture('register-multi-contact.sip'), { protocol: 'wss', address: '2001:db8::7', port: 51000, receivedOn: '10.0.0.2:8443' });
    const outcome = await new DrachtioRequestAdapter({ handler, now: () => 1234 }).handle(x.req, x.res);
    expect(outcome).to.deep.equal({ kind: 'answered', status: 200 });
    expect(seen[0]!.ctx).to.deep.equal({
      transport: 'wss',
      source: { address: '2001:db8::7', port: 51000 },
      local: { address: '10.0.0.2', port: 8443 },
      receivedAt: 1234,
    });
  });

  it('answers 500 and skips the core when drachtio-server reports a transport we do not know', async () => {
    const { handler, seen } = recordingHandler();
    const x = drachtioExchange(optionsMessage(), { protocol: 'sctp', address: '192.0.2.1', port: 5060 });
    const outcome = await new DrachtioRequestAdapter({ handler }).handle(x.req, x.res);
    expect(outcome.kind).to.equal('rejected');
    expect(seen).to.have.length(0);
    expect(x.responseText()).to.match(/^SIP\/2\.0 500 /);
  });

  it('answers 400 with the parse error when our grammar rejects what drachtio let through', async () => {
    const { handler, seen } = recordingHandler();
    const raw = optionsMessage().replace('CSeq: 1 OPTIONS', 'CSeq: 1 REGISTER');
    const x = drachtioExchange(raw, { protocol: 'udp', address: '192.0.2.1', port: 5060 });
    const outcome = await new DrachtioRequestAdapter({ handler }).handle(x.req, x.res);
    expect(outcome).to.include({ kind: 'rejected', status: 400 });
    expect(seen).to.have.length(0);
    expect(x.responseText()).to.match(/^SIP\/2\.0 400 /);
  });

  it('answers 500 when the core returns a status drachtio-srf refuses to send', async () => {
    const x = drachtioExchange(optionsMessage(), { protocol: 'udp', address: '192.0.2.1', port: 5060 });
    const outcome = await new DrachtioRequestAdapter({ handler: async () => ({ status: 299, reason: 'Odd', headers: [] }) }).handle(x.req, x.res);
    expect(outcome).to.deep.equal({ kind: 'answered', status: 500 });
    expect(x.responseText()).to.match(/^SIP\/2\.0 500 /);
  });

  it('leaves Via/From/To/Call-ID/CSeq to drachtio-server and copies the rest, with a body and its type', async () => {
    const opts = drachtioSendOptions(
      {
        status: 200,
        reason: 'OK',
        headers: [
          ['Via', 'SIP/2.0/UDP x'],
          ['To', '<sip:x@y>;tag=1'],
          ['call-id', 'c'],
          ['Contact', '<sip:a@b>'],
          ['contact', '<sip:c@d>'],
          ['Bad Name', 'v'],
          ['Min-Expires', '60'],
        ],
        body: 'hello',
        contentType: 'text/plain',
      },
      'Switchboard',
    );
    expect(opts).to.deep.equal({
      headers: { Contact: '<sip:a@b>, <sip:c@d>', 'Min-Expires': '60', Server: 'Switchboard', 'Content-Type': 'text/plain' },
      body: 'hello',
    });
  });

  it('drachtio-srf puts the body and one line per challenge into the message for drachtio-server', async () => {
    const x = drachtioExchange(optionsMessage(), { protocol: 'udp', address: '192.0.2.1', port: 5060 });
    await new DrachtioRequestAdapter({
      handler: async () => ({
        status: 401,
        reason: 'Unauthorized',
        headers: [
          ['WWW-Authenticate', 'Digest a=1'],
          ['WWW-Authenticate', 'Digest b=2'],
        ],
        body: 'x',
        contentType: 'text/plain',
      }),
      serverHeader: '',
    }).handle(x.req, x.res);
    expect(x.sent[0]).to.match(/^sip\|txn-1\|/);
    const text = x.responseText()!;
    expect(text.split('\r\n').filter((l) => /^www-authenticate:/i.test(l))).to.deep.equal(['www-authenticate: Digest a=1', 'WWW-Authenticate: Digest b=2']);
    expect(text).to.match(/\r\n\r\nx$/);
    expect(text).to.not.match(/\r\nServer:/i);
  });
});

describe('DrachtioSipEdge over the drachtio wire protocol (real sockets on 127.0.0.1)', function () {
  this.timeout(10_000);
  let server: FakeDrachtioServer;
  let edge: DrachtioSipEdge | undefined;
  let states: DrachtioEdgeState[];

  beforeEach(async () => {
    server = new FakeDrachtioServer();
    states = [];
  });
  afterEach(async () => {
    await edge?.stop();
    edge = undefined;
    await server.stop();
  });

  async function startInbound(port: number, overrides: Partial<DrachtioSipEdgeOptions> = {}): Promise<DrachtioSipEdge> {
    edge = new DrachtioSipEdge({
      handler: async (req) =>
        req.method === 'OPTIONS'
          ? { status: 200, reason: 'OK', headers: [['Allow', 'REGISTER, OPTIONS']] }
          : {
              status: 401,
              reason: 'Unauthorized',
              headers: [
                ['WWW-Authenticate', 'Digest realm="example.com", algorithm=SHA-256'],
                ['WWW-Authenticate', 'Digest realm="example.com", algorithm=MD5'],
              ],
            },
      mode: 'inbound',
      host: '127.0.0.1',
      port,
      secret: 'cymru',
      reconnectMinMs: 40,
      reconnectMaxMs: 200,
      onStateChange: (s) => states.push(s),
      ...overrides,
    });
    await edge.start();
    return edge;
  }

  async function until(check: () => boolean, timeoutMs = 3000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`condition not met; states: ${states.map((s) => s.status).join(',')}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  it('authenticates with the secret, routes REGISTER and OPTIONS, and reports connected with the server endpoints', async () => {
    const e = await startInbound(await server.listen());
    await until(() => e.state().status === 'connected');
    expect(server.received.find((m) => m.leader[0] === 'authenticate')?.leader[1]).to.equal('cymru');
    await server.waitFor((m) => m.leader.join('|') === 'route|options');
    await server.waitFor((m) => m.leader.join('|') === 'route|register');
    expect(e.state()).to.include({ status: 'connected', healthy: true, serverEndpoints: server.hostport, failedAttempts: 0 });
  });

  it('answers a REGISTER delivered by drachtio-server through res.send with the transaction id and both challenges', async () => {
    const e = await startInbound(await server.listen());
    await until(() => e.state().status === 'connected');
    server.deliver(fixture('register-multi-contact.sip'), { protocol: 'udp', address: '192.0.2.10', port: 40123, transactionId: 'srv-txn-9' });
    const reply = await server.waitFor((m) => m.leader[0] === 'sip' && m.leader[1] === 'srv-txn-9');
    expect(reply.body).to.match(/^SIP\/2\.0 401 Unauthorized\r\n/);
    expect(reply.body.split('\r\n').filter((l) => /^www-authenticate:/i.test(l))).to.have.length(2);
    expect(reply.body).to.match(/\r\nCall-ID: multi-contact-1@192\.0\.2\.10\r\n/i);
  });

  it('retries with exponential backoff while drachtio-server drops connections, then reports connected', async () => {
    server.behaviour = 'accept-and-close';
    const e = await startInbound(await server.listen());
    await until(() => server.accepts.length >= 5 && e.state().status === 'disconnected');
    expect(e.state().healthy).to.equal(false);
    expect(e.state().failedAttempts).to.be.greaterThanOrEqual(5);
    const retryDelays = states.filter((s) => s.status === 'disconnected').map((s) => s.nextRetryMs);
    expect(retryDelays.slice(0, 4)).to.deep.equal([40, 80, 160, 200]);
    const gaps = server.accepts.slice(1, 5).map((t, i) => t - server.accepts[i]!);
    // Each gap is at least its scheduled delay (timers never fire early), and backs off.
    expect(gaps[0]).to.be.greaterThanOrEqual(38);
    expect(gaps[1]).to.be.greaterThanOrEqual(78);
    expect(gaps[2]).to.be.greaterThanOrEqual(158);

    server.behaviour = 'speak';
    await until(() => e.state().status === 'connected');
    expect(e.state().failedAttempts).to.equal(0);
  });

  it('waits at most reconnectFastMs between attempts early in an outage, then backs off to reconnectMaxMs', () => {
    const o = { reconnectMinMs: 500, reconnectMaxMs: 30_000, reconnectFastMs: 2000, reconnectFastWindowMs: 60_000 };
    expect([1, 2, 3, 4, 5, 9].map((n) => reconnectDelay(o, n, 10_000))).to.deep.equal([500, 1000, 2000, 2000, 2000, 2000]);
    expect([5, 6, 9].map((n) => reconnectDelay(o, n, 60_000))).to.deep.equal([8000, 16_000, 30_000]);
    expect(reconnectDelay({ reconnectMinMs: 40, reconnectMaxMs: 200 }, 5, 0), 'fast cap never above the max').to.equal(200);
  });

  it('after losing a working connection, reconnects within reconnectFastMs even after many failed attempts', async () => {
    const e = await startInbound(await server.listen(), { reconnectMinMs: 20, reconnectMaxMs: 5000, reconnectFastMs: 60, reconnectFastWindowMs: 10_000 });
    await until(() => e.state().status === 'connected');
    server.behaviour = 'accept-and-close';
    server.dropAll();
    await until(() => e.state().failedAttempts >= 6);
    const delays = states.filter((s) => s.status === 'disconnected').map((s) => s.nextRetryMs!);
    expect(Math.max(...delays)).to.equal(60);
    server.behaviour = 'speak';
    await until(() => e.state().status === 'connected');
  });

  it('notices drachtio-server going away, reports disconnected, and reconnects when it is back', async () => {
    const e = await startInbound(await server.listen());
    await until(() => e.state().status === 'connected');
    server.dropAll();
    await until(() => e.state().status === 'disconnected');
    expect(e.state().healthy).to.equal(false);
    await until(() => e.state().status === 'connected');
    expect(states.map((s) => s.status)).to.include.ordered.members(['connecting', 'connected', 'disconnected', 'connecting', 'connected']);
  });

  it('keeps retrying and stays unhealthy when drachtio-server refuses the secret', async () => {
    server.secret = 'other';
    const e = await startInbound(await server.listen());
    await until(() => server.accepts.length >= 2);
    expect(e.state().healthy).to.equal(false);
    expect(states.some((s) => s.status === 'connected')).to.equal(false);
  });

  it('retries when nothing listens on the drachtio port', async () => {
    const free = await server.listen();
    await server.stop();
    server = new FakeDrachtioServer();
    const e = await startInbound(free);
    await until(() => e.state().failedAttempts >= 2);
    expect(e.state().status).to.be.oneOf(['disconnected', 'connecting']);
  });

  it('qualifies a binding with OPTIONS through drachtio-server: answered is reachable, 408 or silence is not', async () => {
    const e = await startInbound(await server.listen());
    const qualify = new DrachtioQualifySender(e, { timeoutMs: 300 });
    const target = { contactUri: 'sip:alice@df7jal23ls0d.invalid;transport=ws', transport: 'wss' as const, source: { address: '198.51.100.7', port: 50123 } };
    expect(await qualify.qualify(target), 'disconnected').to.equal(false);
    await until(() => e.state().status === 'connected');

    expect(await qualify.qualify(target)).to.equal(true);
    const sent = await server.waitFor((m) => m.leader[0] === 'sip' && /^OPTIONS /.test(m.body));
    expect(sent.leader[3]).to.equal('sips:198.51.100.7:50123;transport=ws');
    expect(sent.body.split('\r\n')[0]).to.equal('OPTIONS sip:alice@df7jal23ls0d.invalid;transport=ws SIP/2.0');

    server.answerRequest = () => ({ status: 408, reason: 'Request Timeout' });
    expect(await qualify.qualify(target)).to.equal(false);
    server.answerRequest = () => ({ status: 405, reason: 'Method Not Allowed' });
    expect(await qualify.qualify(target)).to.equal(true);
    server.answerRequest = () => null;
    expect(await qualify.qualify(target)).to.equal(false);
  });

  it('in outbound mode listens for drachtio-server, authenticates it and serves its requests', async () => {
    edge = new DrachtioSipEdge({
      handler: async () => ({ status: 200, reason: 'OK', headers: [['Allow', 'REGISTER, OPTIONS']] }),
      mode: 'outbound',
      host: '127.0.0.1',
      port: 9022,
      secret: 'cymru',
      listenHost: '127.0.0.1',
      listenPort: 0,
      reconnectMinMs: 40,
      reconnectMaxMs: 200,
      onStateChange: (s) => states.push(s),
    });
    await edge.start();
    expect(edge.state()).to.include({ status: 'listening', healthy: true });
    const socket = net.connect(edge.listeningPort(), '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    server.adopt(socket);
    await until(() => edge!.state().status === 'connected');
    server.deliver(optionsMessage(), { protocol: 'tcp', address: '192.0.2.3', port: 5099, transactionId: 'out-1' });
    const reply = await server.waitFor((m) => m.leader[0] === 'sip' && m.leader[1] === 'out-1');
    expect(reply.body).to.match(/^SIP\/2\.0 200 OK\r\n/);
    socket.destroy();
    await until(() => edge!.state().status === 'listening');
  });

  it('builds the next hop for qualify from the source address (IPv6 bracketed, TLS as sips over tcp)', () => {
    expect(nextHopUri({ contactUri: 'sip:a@b', transport: 'udp', source: { address: '2001:db8::1', port: 5060 } })).to.equal(
      'sip:[2001:db8::1]:5060;transport=udp',
    );
    expect(nextHopUri({ contactUri: 'sip:a@b', transport: 'tls', source: { address: '192.0.2.1', port: 5061 } })).to.equal('sips:192.0.2.1:5061;transport=tcp');
  });

  it('loads the real drachtio-srf Srf with the methods the edge calls', () => {
    const srf = createDrachtioSrf();
    for (const m of ['connect', 'listen', 'disconnect', 'register', 'options', 'request', 'on']) expect(srf).to.have.property(m).that.is.a('function');
  });
});

describe('registrar mounted on the drachtio edge: WS/WSS expiry cap', function () {
  this.timeout(20_000);
  let reg: RegistrarHarness;
  before(async () => {
    reg = await startRegistrar({ edgeKind: 'drachtio', sip: { registrar: { maxExpires: 7200 }, drachtio: { wsMaxExpires: 300 } } });
  });
  after(async () => reg.stop());

  async function registerOver(protocol: 'wss' | 'ws' | 'udp', expires: number): Promise<string> {
    const alice = await createSipUser(reg.app);
    const adapter = new DrachtioRequestAdapter({ handler: reg.runtime.handler });
    const meta = { protocol, address: '198.51.100.20', port: 51000 };
    const base = {
      user: alice.username,
      domain: alice.domain,
      callId: `ws-cap-${protocol}-${alice.id}`,
      contacts: ['<sip:x7@df7jal23ls0d.invalid;transport=ws>'],
      expires,
    };
    const first = drachtioExchange(registerText({ ...base, cseq: 1 }), meta, 't1');
    await adapter.handle(first.req, first.res);
    const line = first
      .responseText()!
      .split('\r\n')
      .find((l) => /^www-authenticate:.*algorithm=MD5/i.test(l))!;
    const auth = authorize(parseChallenge(line.slice(line.indexOf(':') + 1)), alice.username, alice.password, `sip:${alice.domain}`);
    const second = drachtioExchange(registerText({ ...base, cseq: 2, authorization: auth }), meta, 't2');
    await adapter.handle(second.req, second.res);
    return second.responseText()!;
  }

  for (const protocol of ['wss', 'ws'] as const) {
    it(`grants a ${protocol} binding at most sip.drachtio.wsMaxExpires (drachtio-server reports no connection close)`, async () => {
      const res = await registerOver(protocol, 3600);
      expect(res).to.match(/^SIP\/2\.0 200 /);
      expect(res).to.match(/\r\nContact: <sip:x7@df7jal23ls0d\.invalid;transport=ws>;expires=300\r\n/i);
    });
  }

  it('leaves UDP bindings at the requested expiry', async () => {
    const res = await registerOver('udp', 3600);
    expect(res).to.match(/\r\nContact: <sip:x7@df7jal23ls0d\.invalid;transport=ws>;expires=3600\r\n/i);
  });

  it('does not cap WSS on the built-in edge, which sees the connection close', async () => {
    const builtin = await startRegistrar({ sip: { registrar: { maxExpires: 7200 }, drachtio: { wsMaxExpires: 300 } } });
    try {
      const alice = await createSipUser(builtin.app);
      const ctx = {
        transport: 'wss' as const,
        source: { address: '127.0.0.1', port: 5999 },
        local: { address: '127.0.0.1', port: 8089 },
        receivedAt: Date.now(),
        connectionId: 'c1',
      };
      const r = await registerThroughCore(builtin, {
        user: alice.username,
        domain: alice.domain,
        password: alice.password,
        contacts: ['<sip:x7@df7jal23ls0d.invalid;transport=ws>'],
        expires: 3600,
        ctx,
      });
      expect(r!.status).to.equal(200);
      expect(r!.headers.find(([n]) => n === 'Contact')![1]).to.match(/;expires=3600$/);
    } finally {
      await builtin.stop();
    }
  });
});
