import { expect } from 'chai';
import { createSipUser, startRegistrar, type RegistrarHarness, type SipTestUser } from './registrar-helpers.js';
import { SipPhone } from './sip-phone.js';

describe('voicemail message-waiting: PUT /v1/mailboxes/{id}/message-counts and unsolicited NOTIFY (phones on real sockets)', function () {
  this.timeout(30_000);
  let h: RegistrarHarness;
  const phones: SipPhone[] = [];

  before(async () => {
    h = await startRegistrar({ edge: ['udp', 'tcp'], qualify: { timeoutMs: 400 }, mwi: true, sip: { qualify: { tickSeconds: 3600 }, mwi: { pollMs: 50 } } });
  });
  after(async () => h.stop());
  afterEach(async () => {
    for (const p of phones.splice(0)) await p.close();
    await h.app.services.db.models.Registration.destroy({ where: {} });
  });

  const phoneOf = async (u: SipTestUser, transport: 'udp' | 'tcp') => {
    const p = await SipPhone.open(transport, h.edge!.port(transport));
    phones.push(p);
    expect(await p.register({ user: u.username, domain: u.domain, password: u.password })).to.match(/^SIP\/2\.0 200/);
    return p;
  };
  const mailboxOf = async (u: SipTestUser) => (await h.app.call('GET', `/v1/users/${u.id}`, { token: u.account.ownerToken })).body.mailbox.id as number;
  const putCounts = (u: SipTestUser, mailbox: number, body: Record<string, unknown>, headers: Record<string, string> = {}) =>
    h.app.call('PUT', `/v1/mailboxes/${mailbox}/message-counts`, { token: u.account.ownerToken, body, headers });

  it('sets the counts idempotently, refuses an older sequence and a stale If-Match, and shows them on the mailbox', async () => {
    const alice = await createSipUser(h.app, { mailbox: 'self' });
    const mb = await mailboxOf(alice);
    const first = await putCounts(alice, mb, { new: 2, old: 5, urgent_new: 1, sequence: 10 });
    expect(first.status).to.equal(200);
    expect(first.body).to.include({ new_messages: 2, old_messages: 5, urgent_new_messages: 1, urgent_old_messages: 0, counts_sequence: 10 });
    expect(first.headers.get('etag')).to.equal(`"mc${mb}-10"`);
    // The same update again: nothing changes.
    expect((await putCounts(alice, mb, { new: 2, old: 5, urgent_new: 1, sequence: 10 })).status).to.equal(200);
    const stale = await putCounts(alice, mb, { new: 0, old: 7, sequence: 9 });
    expect(stale.status).to.equal(409);
    expect(stale.body.error).to.include({ code: 'stale_sequence', field: 'sequence' });
    expect((await putCounts(alice, mb, { new: 0, old: 7, sequence: 10 })).body.error.code).to.equal('sequence_reused');
    expect((await putCounts(alice, mb, { new: 0, old: 7 }, { 'If-Match': '"mc1-1"' })).status).to.equal(412);
    const next = await putCounts(alice, mb, { new: 0, old: 7 }, { 'If-Match': first.headers.get('etag')! });
    expect(next.status).to.equal(200);
    expect(next.body).to.include({ new_messages: 0, old_messages: 7, counts_sequence: 11 });
    expect((await putCounts(alice, mb, { new: 1, old: 0, urgent_new: 2 })).body.error).to.include({ code: 'urgent_exceeds_total', field: 'urgent_new' });
    const read = await h.app.call('GET', `/v1/mailboxes/${mb}`, { token: alice.account.ownerToken });
    expect(read.body).to.include({ new_messages: 0, old_messages: 7, counts_sequence: 11 });
    // Two changes: two webhook-ready events and audit entries (the replay and the refusals wrote none).
    const audit = await h.app.call('GET', `/v1/audit?action=mailbox.message_counts_changed&target_id=${mb}`, { token: alice.account.ownerToken });
    expect(audit.body.data).to.have.length(2);
  });

  it("NOTIFYs every device of the user whose primary mailbox it is (UDP and TCP), never a delegate's", async () => {
    const alice = await createSipUser(h.app, { mailbox: 'self' });
    const bob = await createSipUser(h.app, {}, alice.account);
    const mb = await mailboxOf(alice);
    expect((await h.app.call('PUT', `/v1/users/${bob.id}/mailbox-delegations/${mb}`, { token: alice.account.ownerToken })).status).to.equal(204);
    const desk = await phoneOf(alice, 'udp');
    const app = await phoneOf(alice, 'tcp');
    const bobs = await phoneOf(bob, 'udp');
    // Registering: the current counts (0) already reached alice's phones.
    await desk.nextRequest('NOTIFY');
    await app.nextRequest('NOTIFY');
    const [d0, a0, b0] = [desk.requests.length, app.requests.length, bobs.requests.length];
    expect((await putCounts(alice, mb, { new: 3, old: 1, urgent_new: 1 })).status).to.equal(200);
    const n = await desk.nextRequest('NOTIFY', d0);
    expect(n).to.match(/^NOTIFY sip:phone-\d+@127\.0\.0\.1:\d+;transport=udp SIP\/2\.0\r\n/);
    expect(n).to.match(/\r\nEvent: message-summary\r\n/);
    expect(n).to.match(/\r\nContent-Type: application\/simple-message-summary\r\n/);
    expect(n).to.match(/\r\nSubscription-State: active\r\n/);
    expect(n.split('\r\n\r\n')[1]).to.equal(`Messages-Waiting: yes\r\nMessage-Account: sip:${alice.username}@${alice.domain}\r\nVoice-Message: 3/1 (1/0)\r\n`);
    expect(await app.nextRequest('NOTIFY', a0)).to.include('Voice-Message: 3/1 (1/0)');
    // Nothing for the delegate, and the phones answered (no retransmission of a 200-answered UDP NOTIFY).
    await new Promise((r) => setTimeout(r, 400));
    expect(bobs.requests.length).to.equal(b0);
    expect(desk.requests.length).to.equal(d0 + 1);
  });

  it('a phone that registers gets the current counts; an account with MWI off gets nothing', async () => {
    const alice = await createSipUser(h.app, { mailbox: 'self' });
    const mb = await mailboxOf(alice);
    await putCounts(alice, mb, { new: 1, old: 0 });
    // The change itself is polled and notified before the phone exists: what follows is the registration's NOTIFY alone.
    await h.runtime.mwi!.poll();
    const rebooted = await phoneOf(alice, 'udp');
    expect(await rebooted.nextRequest('NOTIFY')).to.include('Messages-Waiting: yes\r\nMessage-Account');
    // A refresh (same binding, same Call-ID) is not a reboot: the lamp is already lit.
    expect(await rebooted.register({ user: alice.username, domain: alice.domain, password: alice.password })).to.match(/^SIP\/2\.0 200/);
    await new Promise((r) => setTimeout(r, 300));
    expect(rebooted.requests.filter((r) => r.startsWith('NOTIFY '))).to.have.length(1);

    const off = await createSipUser(h.app, { mailbox: 'self' });
    expect((await h.app.call('PATCH', '/v1/account', { token: off.account.ownerToken, body: { mwi_enabled: false } })).body.mwi_enabled).to.equal(false);
    const quiet = await phoneOf(off, 'udp');
    await putCounts(off, await mailboxOf(off), { new: 4, old: 0 });
    await new Promise((r) => setTimeout(r, 400));
    expect(quiet.requests.filter((r) => r.startsWith('NOTIFY '))).to.have.length(0);
  });
});
