import { expect } from 'chai';
import { createSipUser, startRegistrar, type RegistrarHarness, type SipTestUser } from './registrar-helpers.js';
import { SipPhone } from './sip-phone.js';

const REGISTRATION_EVENTS = ['registration.created', 'registration.refreshed', 'registration.removed', 'registration.expired', 'registration.rejected'];

describe('registration.* webhook events from REGISTERs on a real SIP socket', function () {
  this.timeout(20_000);
  let h: RegistrarHarness;
  let alice: SipTestUser;
  let hookId: number;
  const phones: SipPhone[] = [];

  before(async () => {
    h = await startRegistrar({ edge: ['udp', 'tcp'], sip: { registrar: { minExpires: 30 } } });
  });
  after(async () => h.stop());
  beforeEach(async () => {
    alice = await createSipUser(h.app, { max_bindings: 2 });
    const r = await h.app.call('POST', '/v1/webhooks', {
      token: alice.account.ownerToken,
      body: { url: 'http://127.0.0.1:9/hook', events: REGISTRATION_EVENTS },
    });
    expect(r.status, JSON.stringify(r.body)).to.equal(201);
    hookId = r.body.id;
  });
  afterEach(async () => {
    for (const p of phones.splice(0)) await p.close();
  });

  const phone = async (transport: 'udp' | 'tcp') => {
    const p = await SipPhone.open(transport, h.edge!.port(transport));
    phones.push(p);
    return p;
  };
  const register = (p: SipPhone, extra: { expires?: number; contact?: string; userAgent?: string } = {}) =>
    p.register({ user: alice.username, domain: alice.domain, password: alice.password, ...extra });
  /** Queued events, oldest first, as the delivery log shows them. */
  const events = async () => {
    const r = await h.app.call('GET', `/v1/webhooks/${hookId}/deliveries?limit=100`, { token: alice.account.ownerToken });
    expect(r.status).to.equal(200);
    return (r.body.data as Array<{ event_type: string; payload: { data: any; account_id: number } }>)
      .reverse()
      .map((d) => ({ type: d.event_type, data: d.payload.data }));
  };

  it('queues created, refreshed, removed (expires=0) and rejected (with the devices holding the slots)', async () => {
    const desk = await phone('udp');
    expect(await register(desk, { userAgent: 'Desk/1' })).to.match(/^SIP\/2\.0 200/);
    expect(await register(desk, { userAgent: 'Desk/1' })).to.match(/^SIP\/2\.0 200/);
    const soft = await phone('tcp');
    expect(await register(soft, { userAgent: 'Soft/2' })).to.match(/^SIP\/2\.0 200/);
    const third = await phone('udp');
    expect(await register(third, { userAgent: 'Third/3' })).to.match(/^SIP\/2\.0 403/);
    expect(await register(desk, { expires: 0 })).to.match(/^SIP\/2\.0 200/);

    const ev = await events();
    expect(ev.map((e) => e.type)).to.deep.equal([
      'registration.created',
      'registration.refreshed',
      'registration.created',
      'registration.rejected',
      'registration.removed',
    ]);
    const [created, refreshed, , rejected, removed] = ev;
    const bindings = (await h.app.call('GET', `/v1/users/${alice.id}/registrations`, { token: alice.account.ownerToken })).body.data;
    expect(created!.data).to.deep.include({ user_id: alice.id, aor: `sip:${alice.username}@${alice.domain}` });
    expect(created!.data.binding).to.include({
      contact: desk.ownContact.slice(1, -1),
      transport: 'udp',
      source_address: '127.0.0.1',
      source_port: desk.port,
      user_agent: 'Desk/1',
    });
    expect(created!.data.binding.id).to.be.a('number').and.to.be.greaterThan(0);
    expect(refreshed!.data.binding.id).to.equal(created!.data.binding.id);
    expect(rejected!.data).to.deep.include({ user_id: alice.id, reason: 'too_many_bindings', max_bindings: 2 });
    expect(rejected!.data.attempt).to.include({ transport: 'udp', source_port: third.port, user_agent: 'Third/3' });
    expect(rejected!.data.holders.map((b: any) => b.user_agent)).to.deep.equal(['Desk/1', 'Soft/2']);
    expect(removed!.data).to.deep.include({ reason: 'unregistered' });
    expect(removed!.data.binding.id).to.equal(created!.data.binding.id);
    expect(bindings.map((b: any) => b.user_agent)).to.deep.equal(['Soft/2']);
  });

  it('queues removed when the TCP connection closes, and for Contact: * with Expires: 0', async () => {
    const soft = await phone('tcp');
    expect(await register(soft)).to.match(/^SIP\/2\.0 200/);
    await soft.close();
    phones.splice(phones.indexOf(soft), 1);
    const deadline = Date.now() + 3000;
    while (!(await events()).some((e) => e.type === 'registration.removed')) {
      if (Date.now() > deadline) throw new Error('no registration.removed after connection close');
      await new Promise((r) => setTimeout(r, 50));
    }
    expect((await events()).at(-1)!.data).to.include({ reason: 'connection_closed' });

    const desk = await phone('udp');
    expect(await register(desk)).to.match(/^SIP\/2\.0 200/);
    expect(await register(desk, { contact: '*', expires: 0 })).to.match(/^SIP\/2\.0 200/);
    const last = (await events()).at(-1)!;
    expect(last.type).to.equal('registration.removed');
    expect(last.data).to.include({ reason: 'unregistered_all' });
  });

  it('queues expired from the sweeper and removed (reason api) for a REST delete', async () => {
    const desk = await phone('udp');
    expect(await register(desk, { expires: 60 })).to.match(/^SIP\/2\.0 200/);
    const other = await phone('udp');
    expect(await register(other, { expires: 3600 })).to.match(/^SIP\/2\.0 200/);
    h.clock.now += 61_000;
    try {
      expect(await h.runtime.sweep()).to.equal(1);
    } finally {
      h.clock.now -= 61_000;
    }
    const expired = (await events()).at(-1)!;
    expect(expired.type).to.equal('registration.expired');
    expect(expired.data.binding).to.include({ source_port: desk.port });

    const [binding] = (await h.app.call('GET', `/v1/users/${alice.id}/registrations`, { token: alice.account.ownerToken })).body.data;
    expect((await h.app.call('DELETE', `/v1/users/${alice.id}/registrations/${binding.id}`, { token: alice.account.ownerToken })).status).to.equal(204);
    const removed = (await events()).at(-1)!;
    expect(removed.type).to.equal('registration.removed');
    expect(removed.data).to.deep.include({ reason: 'api' });
    expect(removed.data.binding).to.include({ id: binding.id, source_port: other.port });
  });

  it('queues nothing for an account without a registration webhook', async () => {
    const bob = await createSipUser(h.app, { max_bindings: 1 });
    const p = await phone('udp');
    expect(await p.register({ user: bob.username, domain: bob.domain, password: bob.password })).to.match(/^SIP\/2\.0 200/);
    const n = await h.app.services.db.models.WebhookDelivery.count({ where: { account_id: bob.account.accountId } });
    expect(n).to.equal(0);
  });
});
