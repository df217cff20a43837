import { expect } from 'chai';
import { QueryTypes } from 'sequelize';
import { createSipUser, startRegistrar, type RegistrarHarness, type SipTestUser } from './registrar-helpers.js';
import { SipPhone } from './sip-phone.js';
import { MwiSubscriber, sipBody, sipHeader } from './mwi-subscriber.js';

async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const notifies = (p: SipPhone, from = 0) => p.requests.slice(from).filter((r) => r.startsWith('NOTIFY '));

/** What the tests share: a registrar on real UDP/TCP sockets with MWI on, and ways to drive it. */
function mwiNode(h: () => RegistrarHarness) {
  return {
    mailboxOf: async (u: SipTestUser) => (await h().app.call('GET', `/v1/users/${u.id}`, { token: u.account.ownerToken })).body.mailbox.id as number,
    putCounts: async (u: SipTestUser, mailbox: number, body: Record<string, unknown>) => {
      const r = await h().app.call('PUT', `/v1/mailboxes/${mailbox}/message-counts`, { token: u.account.ownerToken, body });
      expect(r.status).to.equal(200);
    },
    /**
     * Two polls: the second starts after the change was committed, and a poll resolves once its NOTIFYs
     * are answered — so afterwards every NOTIFY of the change has been received and answered.
     */
    changesNotified: async () => {
      await h().runtime.mwi!.poll();
      await h().runtime.mwi!.poll();
    },
    rows: (userId: number) =>
      h().app.services.db.sequelize.query<{
        id: number;
        registration_id: number | null;
        expires_at: unknown;
        notify_cseq: number;
        connection_id: string | null;
      }>('SELECT id, registration_id, expires_at, notify_cseq, connection_id FROM mwi_subscriptions WHERE user_id = :userId', {
        replacements: { userId },
        type: QueryTypes.SELECT,
      }),
  };
}

describe('SUBSCRIBE to message-summary (RFC 6665 with RFC 3842), subscribers on real sockets', function () {
  this.timeout(30_000);
  let h: RegistrarHarness;
  const phones: SipPhone[] = [];
  const n = mwiNode(() => h);

  before(async () => {
    h = await startRegistrar({ edge: ['udp', 'tcp'], qualify: { timeoutMs: 400 }, mwi: true, sip: { qualify: { tickSeconds: 3600 }, mwi: { pollMs: 50 } } });
  });
  after(async () => h.stop());
  afterEach(async () => {
    for (const p of phones.splice(0)) await p.close();
    await h.app.services.db.sequelize.query('DELETE FROM mwi_subscriptions');
    await h.app.services.db.models.Registration.destroy({ where: {} });
  });

  const open = async (transport: 'udp' | 'tcp' = 'udp') => {
    const p = await SipPhone.open(transport, h.edge!.port(transport));
    phones.push(p);
    return p;
  };
  const subscriberOf = async (u: SipTestUser, transport: 'udp' | 'tcp' = 'udp') =>
    new MwiSubscriber(await open(transport), { username: u.username, domain: u.domain, password: u.password });

  it('SUBSCRIBE → 401 → 200 (Expires, Contact) → NOTIFY active with the counts; a change over HTTP → NOTIFY; unsubscribe → 200 and NOTIFY terminated', async () => {
    const alice = await createSipUser(h.app, { mailbox: 'self' });
    const mb = await n.mailboxOf(alice);
    await n.putCounts(alice, mb, { new: 2, old: 1 });
    // That change is out of the way before the subscription exists (it would otherwise NOTIFY it too).
    await n.changesNotified();
    const sub = await subscriberOf(alice);
    const { response, challenge } = await sub.subscribe({ expires: 600 });
    expect(challenge).to.match(/^SIP\/2\.0 401 /);
    expect(response).to.match(/^SIP\/2\.0 200 OK\r\n/);
    expect(sipHeader(response, 'expires')).to.equal('600');
    expect(sipHeader(response, 'contact')).to.equal(`<sip:switchboard@127.0.0.1:${h.edge!.port('udp')}>`);
    expect(sub.toTag).to.match(/^[0-9a-f]{16}$/);

    const first = await sub.phone.nextRequest('NOTIFY');
    const aor = `sip:${alice.username}@${alice.domain}`;
    // RFC 3261 §12.2.1.1: Request-URI the subscriber's Contact, our tag in From, its tag in To, the dialog's Call-ID.
    expect(first.split('\r\n')[0]).to.equal(`NOTIFY sip:phone-${sub.phone.port}@127.0.0.1:${sub.phone.port};transport=udp SIP/2.0`);
    expect(sipHeader(first, 'from')).to.equal(`<${aor}>;tag=${sub.toTag}`);
    expect(sipHeader(first, 'to')).to.equal(`<${aor}>;tag=${sub.fromTag}`);
    expect(sipHeader(first, 'call-id')).to.equal(sub.callId);
    expect(sipHeader(first, 'cseq')).to.equal('1 NOTIFY');
    expect(sipHeader(first, 'event')).to.equal('message-summary');
    expect(sipHeader(first, 'subscription-state')).to.equal('active;expires=600');
    expect(sipHeader(first, 'content-type')).to.equal('application/simple-message-summary');
    expect(sipBody(first)).to.equal(`Messages-Waiting: yes\r\nMessage-Account: ${aor}\r\nVoice-Message: 2/1 (0/0)\r\n`);

    await n.putCounts(alice, mb, { new: 0, old: 3 });
    await n.changesNotified();
    const changed = notifies(sub.phone);
    expect(changed).to.have.length(2);
    expect(sipHeader(changed[1]!, 'cseq')).to.equal('2 NOTIFY');
    expect(sipHeader(changed[1]!, 'subscription-state')).to.match(/^active;expires=\d+$/);
    expect(sipBody(changed[1]!)).to.equal(`Messages-Waiting: no\r\nMessage-Account: ${aor}\r\nVoice-Message: 0/3 (0/0)\r\n`);
    expect((await n.rows(alice.id))[0]!.notify_cseq).to.equal(2);

    const bye = await sub.subscribe({ expires: 0 });
    expect(bye.response).to.match(/^SIP\/2\.0 200 /);
    expect(sipHeader(bye.response, 'expires')).to.equal('0');
    const last = await sub.phone.nextRequest('NOTIFY', 2);
    expect(sipHeader(last, 'subscription-state')).to.equal('terminated;reason=timeout');
    expect(sipHeader(last, 'cseq')).to.equal('3 NOTIFY');
    expect(sipBody(last)).to.include('Voice-Message: 0/3 (0/0)');
    expect(await n.rows(alice.id)).to.have.length(0);
    // Over: the next change notifies nobody.
    await n.putCounts(alice, mb, { new: 1, old: 3 });
    await n.changesNotified();
    expect(notifies(sub.phone)).to.have.length(3);
  });

  it("refuses another user's AOR (403), an Expires below the minimum (423 + Min-Expires), another event package (489 + Allow-Events), an unknown dialog (481)", async () => {
    const alice = await createSipUser(h.app, { mailbox: 'self' });
    const bob = await createSipUser(h.app, { mailbox: 'self' }, alice.account);
    const sub = await subscriberOf(alice);
    expect((await sub.subscribe({ aorUser: bob.username })).response).to.match(/^SIP\/2\.0 403 /);
    expect((await sub.subscribe({ aorUser: bob.extension })).response).to.match(/^SIP\/2\.0 403 /);
    const brief = (await sub.subscribe({ expires: 10 })).response;
    expect(brief).to.match(/^SIP\/2\.0 423 Interval Too Brief\r\n/);
    expect(sipHeader(brief, 'min-expires')).to.equal('60');
    sub.phone.send(sub.text({ event: 'presence' }));
    const bad = await sub.phone.next();
    expect(bad).to.match(/^SIP\/2\.0 489 Bad Event\r\n/);
    expect(sipHeader(bad, 'allow-events')).to.equal('message-summary');
    expect((await sub.subscribe({ toTag: 'no-such-dialog', expires: 600 })).response).to.match(/^SIP\/2\.0 481 /);
    // The AOR by extension is the user's own; Expires above the maximum is shortened to it.
    const own = new MwiSubscriber(sub.phone, { username: alice.username, domain: alice.domain, password: alice.password });
    const ok = (await own.subscribe({ aorUser: alice.extension, expires: 999_999 })).response;
    expect(ok).to.match(/^SIP\/2\.0 200 /);
    expect(sipHeader(ok, 'expires')).to.equal('7200');
    expect(sipHeader(await sub.phone.nextRequest('NOTIFY'), 'subscription-state')).to.equal('active;expires=7200');
    expect(await n.rows(bob.id)).to.have.length(0);
    expect(await n.rows(alice.id)).to.have.length(1);
  });

  it('a refresh in the dialog extends the subscription; past its expiry it ends with NOTIFY terminated;reason=timeout', async () => {
    const alice = await createSipUser(h.app, { mailbox: 'self' });
    const sub = await subscriberOf(alice);
    expect((await sub.subscribe({ expires: 120 })).response).to.match(/^SIP\/2\.0 200 /);
    await sub.phone.nextRequest('NOTIFY');
    const refresh = (await sub.subscribe({ expires: 900 })).response;
    expect(refresh).to.match(/^SIP\/2\.0 200 /);
    expect(sipHeader(refresh, 'expires')).to.equal('900');
    const again = await sub.phone.nextRequest('NOTIFY', 1);
    expect(sipHeader(again, 'subscription-state')).to.equal('active;expires=900');
    expect(sipHeader(again, 'cseq')).to.equal('2 NOTIFY');

    // Still there after the first 120 s, gone after 900.
    h.clock.now += 121_000;
    await h.runtime.subscriptions!.sweep();
    expect(await n.rows(alice.id)).to.have.length(1);
    h.clock.now += 780_000;
    // A sweep the timer started before the clock moved may be running: the second one starts after it.
    await h.runtime.subscriptions!.sweep();
    await h.runtime.subscriptions!.sweep();
    await h.runtime.subscriptions!.settled();
    const end = notifies(sub.phone);
    expect(end).to.have.length(3);
    expect(sipHeader(end[2]!, 'subscription-state')).to.equal('terminated;reason=timeout');
    expect(await n.rows(alice.id)).to.have.length(0);
  });

  it('a 481 answer to a NOTIFY ends the subscription: no NOTIFY on the next change', async () => {
    const alice = await createSipUser(h.app, { mailbox: 'self' });
    const mb = await n.mailboxOf(alice);
    const sub = await subscriberOf(alice);
    expect((await sub.subscribe({ expires: 600 })).response).to.match(/^SIP\/2\.0 200 /);
    await sub.phone.nextRequest('NOTIFY');
    sub.phone.respond = () => 481;
    await n.putCounts(alice, mb, { new: 1, old: 0 });
    await n.changesNotified();
    expect(notifies(sub.phone)).to.have.length(2);
    expect(await n.rows(alice.id)).to.have.length(0);
    sub.phone.respond = () => 200;
    await n.putCounts(alice, mb, { new: 2, old: 0 });
    await n.changesNotified();
    expect(notifies(sub.phone)).to.have.length(2);
  });

  it('a registered device that subscribes gets exactly one NOTIFY per change, the in-dialog one, never the unsolicited one as well', async () => {
    const alice = await createSipUser(h.app, { mailbox: 'self' });
    const mb = await n.mailboxOf(alice);
    const sub = await subscriberOf(alice);
    expect(await sub.phone.register({ user: alice.username, domain: alice.domain, password: alice.password })).to.match(/^SIP\/2\.0 200/);
    // Registering lit the lamp with an unsolicited NOTIFY (no To tag: outside any dialog).
    const unsolicited = await sub.phone.nextRequest('NOTIFY');
    expect(sipHeader(unsolicited, 'to')).to.not.include('tag=');
    expect((await sub.subscribe({ expires: 600 })).response).to.match(/^SIP\/2\.0 200 /);
    await sub.phone.nextRequest('NOTIFY', 1);
    const [binding] = (await h.app.call('GET', `/v1/users/${alice.id}/registrations`, { token: alice.account.ownerToken })).body.data as Array<{ id: number }>;
    expect((await n.rows(alice.id))[0]!.registration_id).to.equal(binding!.id);

    for (const [i, counts] of [
      { new: 1, old: 0 },
      { new: 0, old: 1 },
    ].entries()) {
      const before = notifies(sub.phone).length;
      await n.putCounts(alice, mb, counts);
      await n.changesNotified();
      const got = notifies(sub.phone, before);
      expect(got, `change ${i + 1}`).to.have.length(1);
      expect(sipHeader(got[0]!, 'to')).to.equal(`<sip:${alice.username}@${alice.domain}>;tag=${sub.fromTag}`);
      expect(sipHeader(got[0]!, 'call-id')).to.equal(sub.callId);
    }
    // The binding goes (unregister): its subscription goes with it, and a new binding gets the unsolicited NOTIFYs again.
    expect(await sub.phone.register({ user: alice.username, domain: alice.domain, password: alice.password, expires: 0 })).to.match(/^SIP\/2\.0 200/);
    expect(await n.rows(alice.id)).to.have.length(0);
  });

  it('NOTIFYs echo the Event id of the SUBSCRIBE and carry its Record-Route as Route; another id in the dialog is not this subscription (481)', async () => {
    const alice = await createSipUser(h.app, { mailbox: 'self' });
    const sub = await subscriberOf(alice);
    const rr = ['<sip:edge1.example;lr>', '<sip:edge2.example;lr;ftag=x>'];
    const ok = await sub.subscribe({ expires: 600, event: 'message-summary;id=7', headers: [`Record-Route: ${rr[0]}, ${rr[1]}`] });
    expect(ok.response).to.match(/^SIP\/2\.0 200 /);
    const first = await sub.phone.nextRequest('NOTIFY');
    expect(sipHeader(first, 'event')).to.equal('message-summary;id=7');
    const routes = first.split('\r\n').filter((l) => l.startsWith('Route: '));
    expect(routes).to.deep.equal(rr.map((r) => `Route: ${r}`));
    expect((await sub.subscribe({ expires: 600, event: 'message-summary;id=8' })).response).to.match(/^SIP\/2\.0 481 /);
    expect((await sub.subscribe({ expires: 0, event: 'message-summary;id=7' })).response).to.match(/^SIP\/2\.0 200 /);
    expect(sipHeader(await sub.phone.nextRequest('NOTIFY', 1), 'event')).to.equal('message-summary;id=7');
  });

  it('a device that subscribed before it registered gets no unsolicited NOTIFY on top of the in-dialog one', async () => {
    const alice = await createSipUser(h.app, { mailbox: 'self' });
    const mb = await n.mailboxOf(alice);
    const sub = await subscriberOf(alice);
    expect((await sub.subscribe({ expires: 600 })).response).to.match(/^SIP\/2\.0 200 /);
    await sub.phone.nextRequest('NOTIFY');
    expect((await n.rows(alice.id))[0]!.registration_id).to.equal(null);
    expect(await sub.phone.register({ user: alice.username, domain: alice.domain, password: alice.password })).to.match(/^SIP\/2\.0 200/);
    const before = notifies(sub.phone).length;
    await n.putCounts(alice, mb, { new: 1, old: 1 });
    await n.changesNotified();
    const got = notifies(sub.phone, before);
    expect(got).to.have.length(1);
    expect(sipHeader(got[0]!, 'call-id')).to.equal(sub.callId);
  });

  it('over TCP: the SUBSCRIBE, its 200 and the NOTIFYs share the connection, and the subscription goes when the connection closes', async () => {
    const alice = await createSipUser(h.app, { mailbox: 'self' });
    const mb = await n.mailboxOf(alice);
    const sub = await subscriberOf(alice, 'tcp');
    const ok = (await sub.subscribe({ expires: 600 })).response;
    expect(ok).to.match(/^SIP\/2\.0 200 /);
    expect(sipHeader(ok, 'contact')).to.equal(`<sip:switchboard@127.0.0.1:${h.edge!.port('tcp')};transport=tcp>`);
    expect(sipHeader(await sub.phone.nextRequest('NOTIFY'), 'subscription-state')).to.equal('active;expires=600');
    await n.putCounts(alice, mb, { new: 5, old: 0, urgent_new: 2 });
    await n.changesNotified();
    expect(sipBody(notifies(sub.phone)[1]!)).to.include('Voice-Message: 5/0 (2/0)');
    expect((await n.rows(alice.id))[0]!.connection_id).to.be.a('string');
    await sub.phone.close();
    phones.splice(phones.indexOf(sub.phone), 1);
    await until(async () => (await n.rows(alice.id)).length === 0, 'the subscription of the closed connection to go');
  });
});

describe('MWI subscriptions across a restart', function () {
  this.timeout(30_000);
  const settings = { qualify: { timeoutMs: 400 }, mwi: true, edge: ['udp'] as Array<'udp'> } as const;
  let base: RegistrarHarness;
  let node: RegistrarHarness | undefined;
  let phone: SipPhone | undefined;
  const n = mwiNode(() => node!);

  before(async () => {
    // The database and HTTP API outlive the SIP nodes started on them.
    base = await startRegistrar({ sip: { qualify: { tickSeconds: 3600 }, mwi: { pollMs: 50 } } });
  });
  after(async () => {
    await phone?.close();
    await node?.stop();
    await base.stop();
  });

  it('a new process on the same database loads the subscription and NOTIFYs the subscriber on the next change', async () => {
    node = await startRegistrar({ ...settings, restartOf: { app: base.app, clock: base.clock } });
    const udpPort = node.edge!.port('udp');
    const alice = await createSipUser(base.app, { mailbox: 'self' });
    const mb = await n.mailboxOf(alice);
    phone = await SipPhone.open('udp', udpPort);
    const sub = new MwiSubscriber(phone, { username: alice.username, domain: alice.domain, password: alice.password });
    expect((await sub.subscribe({ expires: 600 })).response).to.match(/^SIP\/2\.0 200 /);
    await phone.nextRequest('NOTIFY');
    // Stopped once the NOTIFY is answered (a stop cuts off a transaction in flight; the subscription stays either way).
    await node.runtime.subscriptions!.settled();
    await node.stop();
    node = await startRegistrar({ ...settings, restartOf: { app: base.app, clock: base.clock }, ports: { udp: udpPort } });
    await n.putCounts(alice, mb, { new: 4, old: 2 });
    const after = await phone.nextRequest('NOTIFY', 1);
    expect(sipHeader(after, 'call-id')).to.equal(sub.callId);
    expect(sipHeader(after, 'cseq')).to.equal('2 NOTIFY');
    expect(sipHeader(after, 'from')).to.equal(`<sip:${alice.username}@${alice.domain}>;tag=${sub.toTag}`);
    expect(sipBody(after)).to.include('Voice-Message: 4/2 (0/0)');
    // The dialog goes on in the new process: a refresh is recognised, an unsubscribe ends it.
    expect((await sub.subscribe({ expires: 300 })).response).to.match(/^SIP\/2\.0 200 /);
    expect((await sub.subscribe({ expires: 0 })).response).to.match(/^SIP\/2\.0 200 /);
    await until(() => notifies(phone!).some((r) => sipHeader(r, 'subscription-state') === 'terminated;reason=timeout'), 'the final NOTIFY');
    expect(await n.rows(alice.id)).to.have.length(0);
  });
});
