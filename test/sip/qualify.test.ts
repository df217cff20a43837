import { expect } from 'chai';
import { createSipUser, startRegistrar, type RegistrarHarness, type SipTestUser } from './registrar-helpers.js';
import { SipPhone } from './sip-phone.js';

describe('OPTIONS qualify and the evict_unreachable policy (phones on real sockets)', function () {
  this.timeout(20_000);
  let h: RegistrarHarness;
  let alice: SipTestUser;
  const phones: SipPhone[] = [];

  before(async () => {
    // The timer never fires during a test: each test runs tick() itself.
    h = await startRegistrar({ edge: ['udp', 'tcp'], qualify: { timeoutMs: 400 }, sip: { qualify: { tickSeconds: 3600, intervalSeconds: 60, batchSize: 2 } } });
  });
  after(async () => h.stop());
  beforeEach(async () => {
    alice = await createSipUser(h.app, { max_bindings: 2, binding_policy: 'evict_unreachable' });
  });
  afterEach(async () => {
    for (const p of phones.splice(0)) await p.close();
    // Leave no binding of this test due a probe in the next one.
    await h.app.services.db.models.Registration.destroy({ where: {} });
  });

  const phone = async (transport: 'udp' | 'tcp', answering = true) => {
    const p = await SipPhone.open(transport, h.edge!.port(transport));
    p.answering = answering;
    phones.push(p);
    return p;
  };
  const register = (p: SipPhone, userAgent: string) => p.register({ user: alice.username, domain: alice.domain, password: alice.password, userAgent });
  const bindings = async () =>
    ((await h.app.call('GET', `/v1/users/${alice.id}/registrations`, { token: alice.account.ownerToken })).body.data as any[]).map((b) => ({
      ua: b.user_agent,
      unreachable: b.unreachable,
    }));

  it('marks the silent phone unreachable, and a new device at the limit evicts it', async () => {
    const desk = await phone('tcp');
    const gone = await phone('udp', false);
    expect(await register(desk, 'Desk')).to.match(/^SIP\/2\.0 200/);
    expect(await register(gone, 'Gone')).to.match(/^SIP\/2\.0 200/);

    expect(await h.runtime.qualify!.tick()).to.deep.equal({ reachable: 1, unreachable: 1, removed: 0 });
    expect(desk.optionsReceived).to.equal(1);
    // UDP: retransmitted at T1 intervals until the timeout (RFC 3261 §17.1.2.2).
    expect(gone.optionsReceived).to.be.greaterThan(1);
    expect(await bindings()).to.deep.equal([
      { ua: 'Desk', unreachable: false },
      { ua: 'Gone', unreachable: true },
    ]);

    const mobile = await phone('udp');
    expect(await register(mobile, 'Mobile')).to.match(/^SIP\/2\.0 200/);
    expect(await bindings()).to.deep.equal([
      { ua: 'Desk', unreachable: false },
      { ua: 'Mobile', unreachable: false },
    ]);
  });

  it('rejects the new device with 403 when every phone holding a slot answers', async () => {
    const a = await phone('udp');
    const b = await phone('tcp');
    expect(await register(a, 'A')).to.match(/^SIP\/2\.0 200/);
    expect(await register(b, 'B')).to.match(/^SIP\/2\.0 200/);
    expect(await h.runtime.qualify!.tick()).to.deep.equal({ reachable: 2, unreachable: 0, removed: 0 });
    const c = await phone('udp');
    expect(await register(c, 'C')).to.match(/^SIP\/2\.0 403 Too Many Bindings/);
    expect((await bindings()).map((x) => x.ua)).to.deep.equal(['A', 'B']);
  });

  it('clears the mark when the phone answers again, and probes a binding only once per interval', async () => {
    const p = await phone('udp', false);
    expect(await register(p, 'Flaky')).to.match(/^SIP\/2\.0 200/);
    expect(await h.runtime.qualify!.tick()).to.deep.equal({ reachable: 0, unreachable: 1, removed: 0 });
    p.answering = true;
    // Probed within the interval: not due yet.
    expect(await h.runtime.qualify!.tick()).to.deep.equal({ reachable: 0, unreachable: 0, removed: 0 });
    h.clock.now += 61_000;
    try {
      expect(await h.runtime.qualify!.tick()).to.deep.equal({ reachable: 1, unreachable: 0, removed: 0 });
    } finally {
      h.clock.now -= 61_000;
    }
    expect(await bindings()).to.deep.equal([{ ua: 'Flaky', unreachable: false }]);
  });

  it('probes at most batchSize bindings per tick, the longest-unprobed first', async () => {
    const bob = await createSipUser(h.app, { max_bindings: 5 });
    const ps = [await phone('udp'), await phone('udp'), await phone('udp')];
    for (const p of ps) expect(await p.register({ user: bob.username, domain: bob.domain, password: bob.password })).to.match(/^SIP\/2\.0 200/);
    expect(await h.runtime.qualify!.tick()).to.deep.equal({ reachable: 2, unreachable: 0, removed: 0 });
    expect(await h.runtime.qualify!.tick()).to.deep.equal({ reachable: 1, unreachable: 0, removed: 0 });
    expect(ps.map((p) => p.optionsReceived)).to.deep.equal([1, 1, 1]);
    expect(await h.runtime.qualify!.tick()).to.deep.equal({ reachable: 0, unreachable: 0, removed: 0 });
  });

  it('keeps an unreachable binding on the built-in edge by default (it sees connections close)', async () => {
    const p = await phone('udp', false);
    expect(await register(p, 'Quiet')).to.match(/^SIP\/2\.0 200/);
    expect(await h.runtime.qualify!.tick()).to.deep.equal({ reachable: 0, unreachable: 1, removed: 0 });
    h.clock.now += 61_000;
    try {
      expect(await h.runtime.qualify!.tick()).to.deep.equal({ reachable: 0, unreachable: 1, removed: 0 });
    } finally {
      h.clock.now -= 61_000;
    }
    expect(await bindings()).to.deep.equal([{ ua: 'Quiet', unreachable: true }]);
  });
});

describe('OPTIONS qualify with removeUnreachable (the drachtio edge default)', function () {
  this.timeout(20_000);
  let h: RegistrarHarness;
  before(async () => {
    h = await startRegistrar({
      edge: ['udp'],
      qualify: { timeoutMs: 300 },
      sip: { qualify: { tickSeconds: 3600, intervalSeconds: 60, removeUnreachable: 'always' } },
    });
  });
  after(async () => h.stop());

  it('removes a binding after two unanswered probes in a row and queues registration.removed (reason unreachable)', async () => {
    const alice = await createSipUser(h.app, { max_bindings: 3 });
    const hook = await h.app.call('POST', '/v1/webhooks', {
      token: alice.account.ownerToken,
      body: { url: 'http://127.0.0.1:9/hook', events: ['registration.removed'] },
    });
    const ok = await SipPhone.open('udp', h.edge!.port('udp'));
    const gone = await SipPhone.open('udp', h.edge!.port('udp'));
    gone.answering = false;
    try {
      for (const p of [ok, gone]) expect(await p.register({ user: alice.username, domain: alice.domain, password: alice.password })).to.match(/^SIP\/2\.0 200/);
      expect(await h.runtime.qualify!.tick()).to.deep.equal({ reachable: 1, unreachable: 1, removed: 0 });
      h.clock.now += 61_000;
      try {
        expect(await h.runtime.qualify!.tick()).to.deep.equal({ reachable: 1, unreachable: 1, removed: 1 });
      } finally {
        h.clock.now -= 61_000;
      }
      const left = (await h.app.call('GET', `/v1/users/${alice.id}/registrations`, { token: alice.account.ownerToken })).body.data as any[];
      expect(left.map((b) => b.source_port)).to.deep.equal([ok.port]);
      const deliveries = (await h.app.call('GET', `/v1/webhooks/${hook.body.id}/deliveries`, { token: alice.account.ownerToken })).body.data as any[];
      expect(deliveries.map((d) => [d.event_type, d.payload.data.reason, d.payload.data.binding.source_port])).to.deep.equal([
        ['registration.removed', 'unreachable', gone.port],
      ]);
    } finally {
      await ok.close();
      await gone.close();
    }
  });
});
