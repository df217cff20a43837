import crypto from 'node:crypto';
import { expect } from 'chai';
import { createMember, createUser, insertBinding } from '../helpers/factories.js';
import { createSipUser, startRegistrar, type RegistrarHarness, type SipTestUser } from '../sip/registrar-helpers.js';
import { SipPhone } from '../sip/sip-phone.js';
import { CallPlanProfiles, SETTLE_MS } from '../../src/call-plans/call-plan-profiles.js';

async function eventually(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const e164 = () => `+1555${crypto.randomInt(1_000_000, 9_999_999)}`;

describe('Call plans (phones registered on real sockets)', function () {
  this.timeout(30_000);
  let h: RegistrarHarness;
  const phones: SipPhone[] = [];

  before(async () => {
    // Qualify runs only when a test calls tick().
    h = await startRegistrar({
      realClock: true,
      edge: ['udp', 'tcp'],
      qualify: { timeoutMs: 400 },
      sip: { qualify: { tickSeconds: 3600, intervalSeconds: 60, batchSize: 50 } },
    });
  });
  after(async () => h.stop());
  afterEach(async () => {
    for (const p of phones.splice(0)) await p.close();
    await h.app.services.db.models.Registration.destroy({ where: {} });
  });

  const phone = async (transport: 'udp' | 'tcp', answering = true) => {
    const p = await SipPhone.open(transport, h.edge!.port(transport));
    p.answering = answering;
    phones.push(p);
    return p;
  };
  const registerPhone = async (u: SipTestUser, transport: 'udp' | 'tcp', answering = true, userAgent = 'Phone') => {
    const p = await phone(transport, answering);
    expect(await p.register({ user: u.username, domain: u.domain, password: u.password, userAgent })).to.match(/^SIP\/2\.0 200/);
    return p;
  };
  const plan = (u: SipTestUser, direction = 'inbound', token = u.account.ownerToken) =>
    h.app.call('GET', `/v1/users/${u.id}/call-plan?direction=${direction}`, { token });
  const resolve = (u: SipTestUser, body: { to: string; from: string }) => h.app.call('POST', '/v1/call-plans', { token: u.account.ownerToken, body });
  const patch = async (u: SipTestUser, body: Record<string, unknown>) => {
    const r = await h.app.call('PATCH', `/v1/users/${u.id}`, { token: u.account.ownerToken, body });
    expect(r.status, JSON.stringify(r.body)).to.equal(200);
    return r.body;
  };
  const number = async (u: SipTestUser, capabilities: Record<string, boolean> = { voice: true }) => {
    const r = await h.app.call('POST', '/v1/numbers', { token: u.account.ownerToken, body: { e164: e164(), capabilities } });
    expect(r.status, JSON.stringify(r.body)).to.equal(201);
    return r.body as { id: number; e164: string };
  };

  it('rings exactly the live, reachable bindings by q, for call_timeout seconds', async () => {
    const u = await createSipUser(h.app, { call_timeout: 17, mailbox: 'self' });
    const desk = await registerPhone(u, 'tcp', true, 'Desk');
    await registerPhone(u, 'udp', false, 'Gone');
    const soft = await phone('udp');
    const contact = `<sip:soft-${soft.port}@127.0.0.1:${soft.port}>;q=0.4`;
    expect(await soft.register({ user: u.username, domain: u.domain, password: u.password, contact })).to.match(/^SIP\/2\.0 200/);
    const left = await registerPhone(u, 'udp', true, 'Left');
    expect(await left.register({ user: u.username, domain: u.domain, password: u.password, expires: 0 })).to.match(/^SIP\/2\.0 200/);
    expect(await h.runtime.qualify!.tick()).to.include({ unreachable: 1 });
    // A binding past its expiry that the sweeper has not deleted yet.
    const stale = (await h.app.services.db.models.Registration.findOne({ where: { user_id: u.id, user_agent: 'Desk' } }))!.toJSON();
    await h.app.services.db.models.Registration.create({
      ...stale,
      id: undefined as never,
      call_id: 'expired-one',
      contact_uri: 'sip:expired@192.0.2.99:5060',
      user_agent: 'Expired',
      expires_at: new Date(Date.now() - 1000),
    });

    const regs = (await h.app.call('GET', `/v1/users/${u.id}/registrations`, { token: u.account.ownerToken })).body.data as any[];
    expect(regs.map((b) => b.user_agent).sort()).to.deep.equal(['Desk', 'Gone', 'TestPhone/1.0']);
    const r = await plan(u);
    expect(r.status).to.equal(200);
    expect(r.body.availability).to.equal('registered');
    const ring = r.body.steps[0];
    expect(ring).to.include({ action: 'ring', timeout: 17 });
    const byUa = new Map(regs.map((b) => [b.user_agent, b]));
    expect(ring.targets.map((t: any) => t.binding_id)).to.deep.equal([byUa.get('Desk').id, byUa.get('TestPhone/1.0').id]);
    expect(ring.targets[0]).to.deep.include({ contact: desk.ownContact.slice(1, -1), transport: 'tcp', path: [], instance_id: null });
    expect(ring.targets[0].received).to.equal(`sip:127.0.0.1:${desk.port};transport=tcp`);
    expect(ring.targets[1]).to.include({ q: 0.4, received: `sip:127.0.0.1:${soft.port}` });
    expect(r.body.steps[1]).to.include({ action: 'voicemail', reason: 'no_answer' });
  });

  it('follows each forward mode, and tells "not registered" from "no answer"', async () => {
    const u = await createSipUser(h.app, { mailbox: 'self' });
    const mailboxId = (await h.app.call('GET', `/v1/users/${u.id}`, { token: u.account.ownerToken })).body.mailbox.id;
    const dest = e164();
    const none = await plan(u);
    expect(none.body.availability).to.equal('not_registered');
    expect(none.body.steps).to.deep.equal([{ action: 'voicemail', mailbox_id: mailboxId, mailbox_number: u.extension, reason: 'not_registered' }]);

    await patch(u, { forward_behavior: { mode: 'forward_on_no_answer', destination: dest } });
    expect((await plan(u)).body.steps).to.deep.equal([{ action: 'forward', destination: dest, reason: 'not_registered' }]);

    await registerPhone(u, 'udp');
    const noAnswer = (await plan(u)).body.steps;
    expect(noAnswer.map((s: any) => [s.action, s.reason, s.on])).to.deep.equal([
      ['ring', undefined, undefined],
      ['forward', 'no_answer', ['no_answer']],
      ['voicemail', 'busy', ['busy']],
    ]);

    await patch(u, { forward_behavior: { mode: 'forward_on_busy', destination: dest } });
    expect((await plan(u)).body.steps.slice(1).map((s: any) => [s.action, s.on])).to.deep.equal([
      ['voicemail', ['no_answer']],
      ['forward', ['busy']],
    ]);

    await patch(u, { forward_behavior: { mode: 'forward_always', destination: dest } });
    expect((await plan(u)).body.steps).to.deep.equal([{ action: 'forward', destination: dest, reason: 'forward_always' }]);

    await patch(u, { forward_behavior: { mode: 'voicemail' } });
    expect((await plan(u)).body.steps).to.deep.equal([{ action: 'voicemail', mailbox_id: mailboxId, mailbox_number: u.extension, reason: 'voicemail_mode' }]);

    await patch(u, { forward_behavior: { mode: 'ring_devices' }, mailbox: 'none' });
    expect((await plan(u)).body.steps.slice(1)).to.deep.equal([
      { action: 'hangup', sip_status: 480, reason: 'no_answer', on: ['no_answer'] },
      { action: 'busy', sip_status: 486, reason: 'busy', on: ['busy'] },
    ]);
  });

  it('never rings a disabled user, even through a binding still in the table', async () => {
    const u = await createSipUser(h.app, { mailbox: 'self' });
    await registerPhone(u, 'udp');
    expect((await plan(u)).body.steps[0].action).to.equal('ring');
    await patch(u, { status: 'disabled' });
    // As if the removal after the status change had not run yet.
    await insertBinding(h.app, u.account.accountId, u.id, `sip:${u.username}@${u.domain}`);
    const off = await plan(u);
    expect(off.body.availability).to.equal('not_registered');
    expect(off.body.steps.map((s: any) => s.action)).to.deep.equal(['voicemail']);
  });

  it('records per direction with the announcement flag', async () => {
    const u = await createSipUser(h.app, { call_recording: 'inbound', play_recording_announcement: true });
    expect((await plan(u, 'inbound')).body.recording).to.deep.equal({ record: true, announce: true });
    expect((await plan(u, 'outbound')).body.recording).to.deep.equal({ record: false, announce: false });
    await patch(u, { call_recording: 'outbound', play_recording_announcement: false });
    expect((await plan(u, 'inbound')).body.recording).to.deep.equal({ record: false, announce: false });
    expect((await plan(u, 'outbound')).body.recording).to.deep.equal({ record: true, announce: false });
    await patch(u, { call_recording: 'both' });
    expect((await plan(u, 'inbound')).body.recording.record).to.equal(true);
    expect((await plan(u, 'outbound')).body.recording.record).to.equal(true);
  });

  it("gives outbound calls the user's external caller ID, else the account default, and the name and extension inside", async () => {
    const u = await createSipUser(h.app, { name: 'Ann Lee' });
    const main = await number(u);
    const direct = await number(u);
    const acct = await h.app.call('PATCH', '/v1/account', { token: u.account.ownerToken, body: { default_caller_id_number: main.e164 } });
    expect(acct.status, JSON.stringify(acct.body)).to.equal(200);
    const accountName = acct.body.name;
    expect((await plan(u, 'outbound')).body.caller_id).to.deep.equal({ name: accountName, number: main.e164 });
    const outside = e164();
    const out = await resolve(u, { to: outside, from: u.extension });
    expect(out.status).to.equal(200);
    expect(out.body).to.deep.include({ direction: 'outbound', steps: [{ action: 'dial_out', number: outside }] });
    expect(out.body.caller_id).to.deep.equal({ name: accountName, number: main.e164 });

    await patch(u, { external_caller_id_name: 'Ann at Acme', external_caller_id_number: direct.e164 });
    expect((await resolve(u, { to: outside, from: `sip:${u.username}@${u.domain}` })).body.caller_id).to.deep.equal({
      name: 'Ann at Acme',
      number: direct.e164,
    });

    const colleague = await createSipUser(h.app, {}, u.account);
    const internal = await resolve(u, { to: colleague.extension, from: u.extension });
    expect(internal.body).to.deep.include({ direction: 'inbound', caller_id: { name: 'Ann Lee', number: u.extension } });
    expect(internal.body.user.id).to.equal(colleague.id);
    // The direct number reaches its owner from outside.
    const dialled = await resolve(u, { to: direct.e164, from: outside });
    expect(dialled.body.user.id).to.equal(u.id);
    expect(dialled.body.caller_id).to.deep.equal({ name: null, number: outside });
    // A number that two users show as their caller ID is nobody's direct line.
    await patch(colleague, { external_caller_id_number: direct.e164 });
    const shared = await resolve(u, { to: direct.e164, from: outside });
    expect([shared.status, shared.body.error?.code]).to.deep.equal([422, 'unknown_destination']);
  });

  it('sends the location with a 911 call, and without one says so and raises emergency.location_missing', async () => {
    const u = await createSipUser(h.app, { name: 'Bo' });
    const hook = await h.app.call('POST', '/v1/webhooks', {
      token: u.account.ownerToken,
      body: { url: 'http://127.0.0.1:9/e911', events: ['emergency.location_missing'] },
    });
    expect(hook.status, JSON.stringify(hook.body)).to.equal(201);
    const events = () => h.app.services.db.models.WebhookDelivery.count({ where: { webhook_id: hook.body.id, event_type: 'emergency.location_missing' } });

    const missing = await resolve(u, { to: '911', from: u.extension });
    expect(missing.status).to.equal(200);
    expect(missing.body.steps).to.deep.equal([{ action: 'emergency', number: '911', location_missing: true }]);
    expect(missing.body.emergency).to.deep.equal({ number: '911', location: null, location_missing: true });
    expect(await events()).to.equal(1);
    const payload = JSON.parse((await h.app.services.db.models.WebhookDelivery.findOne({ where: { webhook_id: hook.body.id } }))!.payload);
    expect(payload.data).to.include({ user_id: u.id, extension: u.extension, to: '911' });

    const callback = e164();
    const loc = await h.app.call('POST', '/v1/locations', {
      token: u.account.ownerToken,
      body: {
        name: 'HQ',
        address_line1: '1 Main St',
        address_line2: 'Floor 3',
        city: 'Springfield',
        region: 'IL',
        postal_code: '62701',
        country: 'US',
        callback_number: callback,
      },
    });
    expect(loc.status, JSON.stringify(loc.body)).to.equal(201);
    await patch(u, { location_id: loc.body.id });
    const found = await resolve(u, { to: 'sip:911@' + u.domain, from: u.extension });
    expect(found.body.steps).to.deep.equal([{ action: 'emergency', number: '911', location_missing: false }]);
    expect(found.body.emergency.location).to.include({
      location_id: loc.body.id,
      callback_number: callback,
      dispatchable_address: '1 Main St, Floor 3, Springfield, IL 62701, US',
    });
    expect(found.body.caller_id.number).to.equal(callback);
    expect(await events()).to.equal(1);

    // Editing the location (not the user) reaches the next plan too.
    await h.app.call('PATCH', `/v1/locations/${loc.body.id}`, { token: u.account.ownerToken, body: { address_line2: 'Floor 4' } });
    expect((await resolve(u, { to: '911', from: u.extension })).body.emergency.location.dispatchable_address).to.equal(
      '1 Main St, Floor 4, Springfield, IL 62701, US',
    );
    expect((await resolve(u, { to: '911', from: e164() })).body.error.code).to.equal('caller_not_a_user');
  });

  it("resolves an OnCall schedule's number to the user on shift now, and to nobody outside a shift", async () => {
    const u = await createSipUser(h.app);
    const onCall = await createSipUser(h.app, { mailbox: 'self' }, u.account);
    await registerPhone(onCall, 'udp');
    const n = await number(u);
    const token = u.account.ownerToken;
    const sched = await h.app.call('POST', '/v1/oncall/schedules', { token, body: { name: 'Night desk', number_id: n.id } });
    expect(sched.status, JSON.stringify(sched.body)).to.equal(201);
    expect(sched.body.number_id).to.equal(n.id);
    const now = Date.now();
    const iso = (ms: number) => new Date(ms).toISOString();
    const future = await h.app.call('POST', `/v1/oncall/schedules/${sched.body.id}/shifts`, {
      token,
      body: { user_id: onCall.id, starts_at: iso(now + 3_600_000), ends_at: iso(now + 7_200_000) },
    });
    expect(future.status, JSON.stringify(future.body)).to.equal(201);
    const caller = e164();
    const outside = await resolve(u, { to: n.e164, from: caller });
    expect(outside.status).to.equal(200);
    expect(outside.body).to.deep.include({ user: null, oncall: { schedule_id: sched.body.id, shift_id: null, user_id: null } });
    expect(outside.body.steps).to.deep.equal([{ action: 'hangup', sip_status: 480, reason: 'nobody_on_call' }]);

    const shift = await h.app.call('POST', `/v1/oncall/schedules/${sched.body.id}/shifts`, {
      token,
      body: { user_id: onCall.id, starts_at: iso(now - 600_000), ends_at: iso(now + 600_000) },
    });
    expect(shift.status).to.equal(201);
    const during = await resolve(u, { to: n.e164, from: caller });
    expect(during.body.user.id).to.equal(onCall.id);
    expect(during.body.oncall).to.deep.equal({ schedule_id: sched.body.id, shift_id: shift.body.id, user_id: onCall.id });
    expect(during.body.steps[0].action).to.equal('ring');
    expect(during.body.destination).to.deep.equal({ kind: 'oncall', input: n.e164 });
    // A cover shift put on top of the rotation takes over while it lasts: the shift that started last counts.
    const cover = await createSipUser(h.app, {}, u.account);
    const coverShift = await h.app.call('POST', `/v1/oncall/schedules/${sched.body.id}/shifts`, {
      token,
      body: { user_id: cover.id, starts_at: iso(now - 60_000), ends_at: iso(now + 300_000) },
    });
    expect(coverShift.status, JSON.stringify(coverShift.body)).to.equal(201);
    const covered = await resolve(u, { to: n.e164, from: caller });
    expect(covered.body.oncall).to.deep.equal({ schedule_id: sched.body.id, shift_id: coverShift.body.id, user_id: cover.id });
    expect(covered.body).to.deep.include({ availability: 'not_registered' });

    // The number is the schedule's: it cannot be deleted or lose voice, nor serve a second schedule.
    expect((await h.app.call('DELETE', `/v1/numbers/${n.id}`, { token })).body.error).to.deep.include({
      code: 'in_use',
      referenced_by: { oncall_schedules: [sched.body.id] },
    });
    expect((await h.app.call('PATCH', `/v1/numbers/${n.id}`, { token, body: { capabilities: { voice: false } } })).status).to.equal(409);
    const second = await h.app.call('POST', '/v1/oncall/schedules', { token, body: { name: 'Day desk', number_id: n.id } });
    expect(second.status).to.equal(409);
    expect(second.body.error.code).to.equal('number_in_use');
    const smsOnly = await number(u, { voice: false, sms: true });
    expect((await h.app.call('POST', '/v1/oncall/schedules', { token, body: { name: 'SMS desk', number_id: smsOnly.id } })).body.error.code).to.equal(
      'number_not_voice_capable',
    );
  });

  it('checks the cache against the database on every read, so another process sees every change at once', async () => {
    const u = await createSipUser(h.app, { call_timeout: 20 });
    const p = await registerPhone(u, 'udp');
    const cacheOf = async () => (await plan(u)).headers.get('x-call-plan-cache');
    expect(await cacheOf()).to.equal('miss');
    // A row changed within the last SETTLE_MS is re-read on every plan; then the stamp check alone decides.
    await eventually(async () => (await cacheOf()) === 'hit', SETTLE_MS + 3000);

    // Another cache over the same database stands for another process.
    const other = new CallPlanProfiles(h.app.services.db.reader, 100, 0);
    expect((await other.profile(u.account.accountId, u.id))!.cached).to.equal(false);
    expect((await other.profile(u.account.accountId, u.id))!.cached).to.equal(true);
    await patch(u, { call_timeout: 45 });
    const seen = (await other.profile(u.account.accountId, u.id))!;
    expect(seen.cached).to.equal(false);
    expect(seen.profile.callTimeout).to.equal(45);
    expect((await plan(u)).body.steps[0].timeout).to.equal(45);
    const settling = new CallPlanProfiles(h.app.services.db.reader, 100);
    await settling.profile(u.account.accountId, u.id);
    expect((await settling.profile(u.account.accountId, u.id))!.cached).to.equal(false);

    // The one-statement read (stamps and bindings joined) decides the same way, and returns the same bindings.
    const joined = new CallPlanProfiles(h.app.services.db.reader, 100, 0);
    const live = (await joined.liveBindings(u.account.accountId, u.id, new Date())).map((b) => b.contact_uri);
    expect(live).to.have.length(1);
    const first = (await joined.profileWithBindings(u.account.accountId, u.id, new Date()))!;
    expect([first.cached, first.bindings.map((b) => b.contact_uri)]).to.deep.equal([false, live]);
    const second = (await joined.profileWithBindings(u.account.accountId, u.id, new Date()))!;
    expect([second.cached, second.bindings.map((b) => b.contact_uri)]).to.deep.equal([true, live]);
    await patch(u, { call_timeout: 50 });
    const changed = (await joined.profileWithBindings(u.account.accountId, u.id, new Date()))!;
    expect([changed.cached, changed.profile.callTimeout, changed.bindings.length]).to.deep.equal([false, 50, 1]);
    expect(await joined.profileWithBindings(u.account.accountId + 1000, u.id, new Date())).to.equal(null);
    expect((await plan(u)).body.steps[0].timeout).to.equal(50);
    // A dialled extension or username: the user, the stamps and the bindings in one statement (only in its own
    // account), and the cached profile while the stamps match.
    for (const by of [{ extension: u.extension }, { username: u.username }]) {
      const dialled = (await joined.dialledWithBindings(u.account.accountId, by, new Date()))!;
      expect([dialled.cached, dialled.profile.userId, dialled.profile.callTimeout, dialled.bindings.map((b) => b.contact_uri)]).to.deep.equal([
        true,
        u.id,
        50,
        live,
      ]);
      expect(await joined.dialledWithBindings(u.account.accountId + 1000, by, new Date())).to.equal(null);
    }
    expect(await joined.dialledWithBindings(u.account.accountId, { extension: '0000000' }, new Date())).to.equal(null);
    await patch(u, { call_timeout: 55 });
    const redialled = (await joined.dialledWithBindings(u.account.accountId, { extension: u.extension }, new Date()))!;
    expect([redialled.cached, redialled.profile.callTimeout, redialled.bindings.length]).to.deep.equal([false, 55, 1]);
    expect((await joined.dialledWithBindings(u.account.accountId, { username: u.username }, new Date()))!.cached).to.equal(true);
    const fresh = new CallPlanProfiles(h.app.services.db.reader, 100, 0);
    const uncached = (await fresh.dialledWithBindings(u.account.accountId, { username: u.username }, new Date()))!;
    expect([uncached.cached, uncached.profile.callTimeout, uncached.bindings.map((b) => b.contact_uri)]).to.deep.equal([false, 55, live]);

    // Bindings are read live: unregistering shows in the next plan, served from the cache.
    await eventually(async () => (await cacheOf()) === 'hit', SETTLE_MS + 3000);
    expect(await p.register({ user: u.username, domain: u.domain, password: u.password, expires: 0 })).to.match(/^SIP\/2\.0 200/);
    const after = await plan(u);
    expect(after.headers.get('x-call-plan-cache')).to.equal('hit');
    expect(after.body.availability).to.equal('not_registered');
  });

  it('lets a plain user read only its own plan; an unknown destination is 422', async () => {
    const u = await createSipUser(h.app);
    const member = await createMember(h.app, u.account.ownerToken, 'user');
    const mine = await h.app.call('GET', `/v1/users/${member.user.id}/call-plan`, { token: member.token });
    expect(mine.status).to.equal(200);
    expect((await plan(u, 'inbound', member.token)).status).to.equal(404);
    expect((await h.app.call('POST', '/v1/call-plans', { token: member.token, body: { to: u.extension, from: member.user.extension } })).status).to.equal(403);
    const unknown = await resolve(u, { to: 'nobody-here', from: e164() });
    expect(unknown.status).to.equal(422);
    expect(unknown.body.error).to.include({ code: 'unknown_destination', field: 'to' });
    expect((await resolve(u, { to: 'a b <c>', from: '1' })).status).to.equal(400);
  });

  describe('FreeSWITCH mod_xml_curl binding', () => {
    const fetchDialplan = (auth: string | null, fields: Record<string, string>) =>
      fetch(`${h.app.baseUrl}/v1/call-plans/freeswitch`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'user-agent': 'freeswitch-xml/1.0', ...(auth ? { authorization: auth } : {}) },
        body: new URLSearchParams({
          hostname: 'fs1',
          section: 'dialplan',
          tag_name: '',
          key_name: '',
          key_value: '',
          'Hunt-Context': 'public',
          ...fields,
        }).toString(),
      });

    it('answers a dialplan fetch authenticated with a read-only API key (Basic) with the plan as XML', async () => {
      const u = await createSipUser(h.app, { mailbox: 'self' });
      const p = await registerPhone(u, 'udp');
      const engine = await createMember(h.app, u.account.ownerToken, 'viewer');
      const key = await h.app.call('POST', '/v1/api-keys', { token: engine.token, body: { name: 'FreeSWITCH' } });
      expect(key.status).to.equal(201);
      const basic = `Basic ${Buffer.from(`${key.body.token}:${key.body.secret}`).toString('base64')}`;
      const r = await fetchDialplan(basic, {
        'Caller-Destination-Number': u.extension,
        'Hunt-Destination-Number': u.extension,
        'Caller-Caller-ID-Number': e164(),
      });
      expect(r.status).to.equal(200);
      expect(r.headers.get('content-type')).to.match(/^text\/xml/);
      const xml = await r.text();
      expect(xml).to.include('<section name="dialplan"');
      expect(xml).to.include('<context name="public">');
      expect(xml).to.include(`sofia/internal/sip:phone-${p.port}@127.0.0.1:${p.port};transport=udp;fs_path=&lt;sip:127.0.0.1:${p.port}&gt;`);
      expect(xml).to.include(`<action application="voicemail" data="default ${u.domain} ${u.extension}"/>`);

      // Busy and no answer call for different steps: FreeSWITCH hunts again with the outcome and gets only that step.
      await patch(u, { forward_behavior: { mode: 'forward_on_no_answer', destination: '+15550001111' } });
      const branching = await (await fetchDialplan(basic, { 'Caller-Destination-Number': u.extension, 'Caller-Caller-ID-Number': e164() })).text();
      expect(branching).to.include('<action application="transfer" data="switchboard-next-${originate_disposition} XML public"/>');
      expect(branching).to.include(`<action application="set" data="switchboard_user_id=${u.id}"/>`);
      const next = (disposition: string) =>
        fetchDialplan(basic, { 'Caller-Destination-Number': `switchboard-next-${disposition}`, variable_switchboard_user_id: String(u.id) }).then((x) =>
          x.text(),
        );
      const busy = await next('USER_BUSY');
      expect(busy).to.include('expression="^switchboard-next-USER_BUSY$"').and.include('application="voicemail"').and.not.include('bridge');
      expect(await next('NO_ANSWER')).to.include('<action application="bridge" data="sofia/gateway/pstn/+15550001111"/>');

      // A viewer key reads but never writes.
      expect((await h.app.call('PATCH', `/v1/users/${u.id}`, { headers: { authorization: basic }, body: { call_timeout: 5 } })).status).to.equal(403);
      const unknown = await fetchDialplan(basic, { 'Caller-Destination-Number': '00000', 'Caller-Caller-ID-Number': e164() });
      expect(await unknown.text()).to.include('<result status="not found"/>');
      const directory = await fetchDialplan(basic, { section: 'directory' });
      expect(await directory.text()).to.include('<result status="not found"/>');
    });

    it('takes the workspace key as the Basic password and refuses no or wrong credentials', async () => {
      const u = await createSipUser(h.app);
      const ws = await h.app.call('GET', '/v1/account/api-key', { token: u.account.ownerToken });
      const ok = await fetchDialplan(`Basic ${Buffer.from(`switchboard:${ws.body.api_key}`).toString('base64')}`, { 'Caller-Destination-Number': u.extension });
      expect(ok.status).to.equal(200);
      expect(await ok.text()).to.include('application="respond" data="480 Temporarily Unavailable"');
      expect((await fetchDialplan(null, { 'Caller-Destination-Number': u.extension })).status).to.equal(401);
      const wrong = await fetchDialplan(`Basic ${Buffer.from('sbk_nope:sbks_nope').toString('base64')}`, { 'Caller-Destination-Number': u.extension });
      expect(wrong.status).to.equal(401);
    });
  });

  it('rejects a schedule number of another account', async () => {
    const u = await createSipUser(h.app);
    const other = await createSipUser(h.app);
    const theirs = await number(other);
    const r = await h.app.call('POST', '/v1/oncall/schedules', { token: u.account.ownerToken, body: { name: 'x', number_id: theirs.id } });
    expect(r.status).to.equal(422);
    expect(r.body.error.code).to.equal('unknown_number');
    void createUser;
  });
});
