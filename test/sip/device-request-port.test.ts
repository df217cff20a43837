import crypto from 'node:crypto';
import { expect } from 'chai';
import { BuiltinSipEdge } from '../../sip/edges/builtin/builtin-sip-edge.js';
import { BuiltinDeviceRequestPort } from '../../sip/edges/builtin/builtin-device-request-port.js';
import type { DeviceRequest, DeviceTarget } from '../../sip/registrar/device-request-port.js';
import { WorkerDeviceRelay } from '../../server/worker-device-relay.js';
import type { SipWorkerMessage } from '../../server/sip-worker-messages.js';
import { createSipUser, startRegistrar, type RegistrarHarness, type SipTestUser } from './registrar-helpers.js';
import { SipPhone } from './sip-phone.js';
import { okRegisterHandler } from './helpers.js';
import { DrachtioDeviceRequestPort } from '../../sip/edges/drachtio/drachtio-device-request-port.js';
import type { DrachtioSipEdge } from '../../sip/edges/drachtio/drachtio-sip-edge.js';
import { connectEdge } from './real-drachtio-harness.js';
import { RealDrachtioServer } from './real-drachtio-server.js';

/** A MESSAGE-like out-of-dialog request to the binding, as a caller of the port builds it. */
function requestTo(target: DeviceTarget, extra: Partial<DeviceRequest> = {}): DeviceRequest {
  return {
    method: 'MESSAGE',
    uri: target.contactUri,
    target,
    headers: [
      `From: <sip:switchboard@127.0.0.1>;tag=${crypto.randomBytes(4).toString('hex')}`,
      `To: <${target.contactUri}>`,
      `Call-ID: ${crypto.randomBytes(8).toString('hex')}@127.0.0.1`,
      'CSeq: 1 MESSAGE',
      'Content-Type: text/plain',
    ],
    body: 'hello',
    ...extra,
  };
}

describe('DeviceRequestPort on the built-in edge (phones on real 127.0.0.1 sockets)', function () {
  this.timeout(20_000);
  let h: RegistrarHarness;
  let port: BuiltinDeviceRequestPort;
  let alice: SipTestUser;
  const phones: SipPhone[] = [];

  before(async () => {
    // T1 100 ms (the harness's sender): Timer F 6.4 s unless a request says otherwise.
    h = await startRegistrar({ edge: ['udp', 'tcp'], qualify: { timeoutMs: 400 }, sip: { qualify: { tickSeconds: 3600 } } });
    port = h.qualify!.port;
  });
  after(async () => h.stop());
  beforeEach(async () => {
    alice = await createSipUser(h.app);
  });
  afterEach(async () => {
    for (const p of phones.splice(0)) await p.close();
    await h.app.services.db.models.Registration.destroy({ where: {} });
  });

  /** Registers a phone and returns its binding as the port's target (read from the stored row). */
  const registered = async (transport: 'udp' | 'tcp'): Promise<{ phone: SipPhone; target: DeviceTarget }> => {
    const phone = await SipPhone.open(transport, h.edge!.port(transport));
    phones.push(phone);
    expect(await phone.register({ user: alice.username, domain: alice.domain, password: alice.password })).to.match(/^SIP\/2\.0 200/);
    const row = (await h.app.services.db.models.Registration.findOne({ where: { user_id: alice.id } }))!.get({ plain: true }) as Record<string, any>;
    const target: DeviceTarget = {
      contactUri: row.contact_uri,
      transport: row.transport,
      source: { address: row.source_address, port: Number(row.source_port) },
      ...(row.connection_id ? { connectionId: row.connection_id } : {}),
    };
    return { phone, target };
  };

  it('UDP: sends to the REGISTER source, retransmits on Timer E until answered, and resolves with the device response', async () => {
    const { phone, target } = await registered('udp');
    let seen = 0;
    phone.respond = () => (++seen < 3 ? null : 202);
    const r = await port.send(requestTo(target));
    expect(r.status).to.equal(202);
    expect(r.origin).to.equal('device');
    expect(r.header('CSeq')).to.equal('1 MESSAGE');
    expect(r.header('to')).to.match(/;tag=ph/);
    expect(phone.requests).to.have.length(3);
    const first = phone.requests[0]!;
    expect(first).to.match(/^MESSAGE sip:phone-\d+@127\.0\.0\.1:\d+;transport=udp SIP\/2\.0\r\n/);
    expect(first).to.match(/\r\nVia: SIP\/2\.0\/UDP 127\.0\.0\.1:\d+;branch=z9hG4bK-[^;]+;rport\r\n/);
    expect(first).to.include('\r\nMax-Forwards: 70\r\n');
    expect(first).to.match(/\r\nContent-Length: 5\r\n\r\nhello$/);
    // The same transaction: every retransmission carries the same branch.
    const branches = new Set(phone.requests.map((t) => /branch=([^;\r]+)/.exec(t)![1]));
    expect(branches.size).to.equal(1);
    expect(port.inFlight).to.equal(0);
  });

  it('UDP: a device that never answers gets 408 at Timer F, after retransmissions at T1, 2·T1, 4·T1 …', async () => {
    const { phone, target } = await registered('udp');
    phone.respond = () => null;
    const started = Date.now();
    const r = await port.send(requestTo(target, { timeoutMs: 1000 }));
    expect(r).to.include({ status: 408, origin: 'timeout' });
    expect(Date.now() - started).to.be.within(950, 2500);
    // Sent at 0, 100, 300, 700 ms (T1 = 100): four transmissions before Timer F at 1 s.
    expect(phone.requests).to.have.length(4);
  });

  it('TCP: sends on the connection the device registered over, once (no retransmission on a reliable transport)', async () => {
    const { phone, target } = await registered('tcp');
    expect(target.connectionId).to.be.a('string');
    phone.respond = () => 200;
    const r = await port.send(requestTo(target));
    expect(r).to.include({ status: 200, origin: 'device' });
    expect(phone.requests).to.have.length(1);
    expect(phone.requests[0]).to.match(/\r\nVia: SIP\/2\.0\/TCP 127\.0\.0\.1:\d+;branch=/);
  });

  it('TCP: 503 at once when the connection is gone, and when it closes while the request waits', async () => {
    const { phone, target } = await registered('tcp');
    phone.respond = () => null;
    const pending = port.send(requestTo(target));
    await phone.nextRequest('MESSAGE');
    const started = Date.now();
    await phone.close();
    phones.splice(phones.indexOf(phone), 1);
    expect(await pending).to.include({ status: 503, origin: 'unreachable' });
    expect(Date.now() - started).to.be.below(1000);
    expect(await port.send(requestTo(target))).to.include({ status: 503, origin: 'unreachable' });
    expect(await port.send(requestTo({ ...target, connectionId: 'no-such-connection' }))).to.include({ status: 503, origin: 'unreachable' });
  });

  it('a stream binding without a connection of this process (registered through a proxy) is 503', async () => {
    const r = await port.send(requestTo({ contactUri: 'sip:x@127.0.0.1:1;transport=tcp', transport: 'tcp', source: { address: '127.0.0.1', port: 1 } }));
    expect(r).to.include({ status: 503, origin: 'unreachable' });
  });

  it('SIP workers: a connection another worker holds is reached through the relay, and the answer comes back', async () => {
    // A second edge in this process plays the sibling worker: it shares nothing with the first but the relay.
    const sibling = new BuiltinDeviceRequestPort({ t1Ms: 100, nodeId: 'node/w2', relay: (to, req) => relay2.send(to, req) });
    const edge2 = new BuiltinSipEdge({
      handler: okRegisterHandler,
      onResponse: (t) => void sibling.onResponse(t),
      listeners: [{ transport: 'udp', host: '127.0.0.1', port: 0 }],
    });
    await edge2.start();
    sibling.attach(edge2);
    // The primary's routing (server/sip-workers.ts): a device-request goes to the worker it names, the answer back.
    const relays: Record<string, WorkerDeviceRelay> = {};
    const primary = (m: SipWorkerMessage) => {
      if (m.type === 'device-request' || m.type === 'device-response') setImmediate(() => relays[m.to]!.receive(m));
    };
    const relay1 = new WorkerDeviceRelay('node/w1', primary);
    const relay2 = new WorkerDeviceRelay('node/w2', primary);
    relays['node/w1'] = relay1;
    relays['node/w2'] = relay2;
    relay1.serveWith(port);
    relay2.serveWith(sibling);
    try {
      const { phone, target } = await registered('tcp');
      phone.respond = () => 202;
      const r = await sibling.send(requestTo({ ...target, nodeId: 'node/w1' }));
      expect(r).to.include({ status: 202, origin: 'device' });
      expect(r.header('cseq')).to.equal('1 MESSAGE');
      expect(phone.requests).to.have.length(1);
      // Not held by the named worker either: 503, not a loop.
      expect(await sibling.send(requestTo({ ...target, connectionId: 'gone', nodeId: 'node/w1' }))).to.include({ status: 503, origin: 'unreachable' });
    } finally {
      await edge2.stop();
    }
  });
});

describe('DeviceRequestPort on the drachtio edge (through a real drachtio-server)', function () {
  // Starting drachtio-server and the app takes seconds on a loaded machine.
  this.timeout(60_000);
  let server: RealDrachtioServer;
  let reg: RegistrarHarness;
  let edge: DrachtioSipEdge;
  let port: DrachtioDeviceRequestPort;
  const phones: SipPhone[] = [];
  before(async () => {
    server = await RealDrachtioServer.start();
    reg = await startRegistrar({ edgeKind: 'drachtio' });
    edge = await connectEdge(server, reg.runtime.handler);
    port = new DrachtioDeviceRequestPort(edge, { serverEndpoints: () => edge.state().serverEndpoints });
  });
  after(async () => {
    for (const p of phones.splice(0)) await p.close();
    await edge?.stop();
    await reg?.stop();
    await server?.stop();
  });

  const registered = async (transport: 'udp' | 'tcp'): Promise<{ phone: SipPhone; target: DeviceTarget }> => {
    const u = await createSipUser(reg.app);
    const phone = await SipPhone.open(transport, server.ports.sip);
    phones.push(phone);
    expect(await phone.register({ user: u.username, domain: u.domain, password: u.password })).to.match(/^SIP\/2\.0 200/);
    const row = (await reg.app.services.db.models.Registration.findOne({ where: { user_id: u.id } }))!.get({ plain: true }) as Record<string, any>;
    return { phone, target: { contactUri: row.contact_uri, transport: row.transport, source: { address: row.source_address, port: Number(row.source_port) } } };
  };

  it('names drachtio-server’s own SIP address as ours', () => {
    expect(port.local('udp')).to.deep.equal({ host: '127.0.0.1', port: server.ports.sip });
  });

  for (const transport of ['udp', 'tcp'] as const)
    it(`over ${transport}: the request reaches the device through drachtio-server and its answer comes back`, async () => {
      const { phone, target } = await registered(transport);
      phone.respond = () => 202;
      const req = requestTo(target);
      const r = await port.send(req);
      expect(r).to.include({ status: 202, origin: 'device' });
      expect(phone.requests).to.have.length(1);
      const got = phone.requests[0]!;
      // drachtio-server keeps the dialog identifiers we set (an in-dialog NOTIFY depends on it).
      for (const name of ['Call-ID', 'From']) expect(got).to.include(`\r\n${req.headers.find((l) => l.startsWith(`${name}:`))!}\r\n`);
      expect(got).to.match(new RegExp(`^MESSAGE ${target.contactUri.replace(/[.;]/g, '\\$&')} SIP/2\\.0\\r\\n`));
      expect(got).to.match(/\r\nCSeq: 1 MESSAGE\r\n/);
      expect(got).to.match(/\r\n\r\nhello$/);
    });

  it('a device that is gone: 408 by the request’s Timer F', async () => {
    const { phone, target } = await registered('udp');
    phone.respond = () => null;
    const r = await port.send(requestTo(target, { timeoutMs: 1500 }));
    expect(r).to.include({ status: 408, origin: 'timeout' });
    expect(phone.requests.length).to.be.greaterThan(1);
  });

  it('drachtio-server not connected: 503', async () => {
    const offline = new DrachtioDeviceRequestPort({ request: () => Promise.reject(new Error('drachtio-server not connected')) });
    expect(await offline.send(requestTo({ contactUri: 'sip:a@127.0.0.1', transport: 'udp', source: { address: '127.0.0.1', port: 9 } }))).to.include({
      status: 503,
      origin: 'unreachable',
    });
  });
});
