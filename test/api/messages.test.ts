import crypto from 'node:crypto';
import { expect } from 'chai';
import { startTestApp, type TestApp } from '../helpers/test-app.js';
import { createAccount, createMember, type TestAccount } from '../helpers/factories.js';
import { startCarrierApiServer, type CarrierApiServer } from '../helpers/carrier-api-server.js';
import type { UsageEvent } from '../../src/usage/usage-recorder.js';

let seq = 0;
const e164 = () => `+1646${String(process.pid % 1000).padStart(3, '0')}${String(++seq).padStart(4, '0')}`;
const PUBLIC_URL = 'https://pbx.example.test';

describe('Messages (SMS) API', () => {
  let app: TestApp;
  let carriers: CarrierApiServer;
  let acct: TestAccount;
  const usage: UsageEvent[] = [];

  before(async () => {
    carriers = await startCarrierApiServer();
    app = await startTestApp(
      {
        publicUrl: PUBLIC_URL,
        telephony: { twilioApiBaseUrl: carriers.baseUrl, telnyxApiBaseUrl: carriers.baseUrl, plivoApiBaseUrl: carriers.baseUrl },
        messaging: { outbox: { retryBaseMs: 50, retryMaxMs: 1500 } },
      },
      { usage: { record: (e) => usage.push(e) } },
    );
  });
  beforeEach(async () => {
    acct = await createAccount(app);
    carriers.sent.length = 0;
    carriers.refusedDestinations.clear();
    usage.length = 0;
  });
  after(async () => {
    await app.stop();
    await carriers.stop();
  });

  /** A carrier provider of the account with `n` SMS numbers; returns the provider and the numbers. */
  async function connect(type: 'twilio' | 'telnyx' | 'plivo', n = 2): Promise<{ provider: any; numbers: string[] }> {
    const numbers = Array.from({ length: n }, () => e164());
    const fixtures = numbers.map((number) => ({ number, sms: true }));
    const credentials =
      type === 'twilio'
        ? { account_sid: carriers.twilio.sid, auth_token: carriers.twilio.token }
        : type === 'telnyx'
          ? { api_key: carriers.telnyx.apiKey }
          : { auth_id: carriers.plivo.authId, auth_token: carriers.plivo.token };
    if (type === 'twilio') carriers.twilio.numbers = fixtures;
    else if (type === 'telnyx') carriers.telnyx.numbers = fixtures;
    else carriers.plivo.numbers = fixtures;
    const body: Record<string, unknown> = { type, name: `${type} ${seq}`, credentials };
    if (type === 'telnyx') body.settings = { public_key: carriers.telnyxPublicKey };
    const r = await app.call('POST', '/v1/telephony/providers', { token: acct.ownerToken, body });
    expect(r.status, JSON.stringify(r.body)).to.equal(201);
    return { provider: r.body, numbers };
  }

  async function smsUser(number: string, fields: Record<string, unknown> = {}) {
    return createMember(app, acct.ownerToken, 'user', { sms_enabled: true, outbound_sms_number: number, ...fields });
  }

  /** POSTs a carrier webhook to the app at the path of the provider's sms_webhook_url. */
  async function deliver(url: string, signed: { headers: Record<string, string>; body: string }) {
    const res = await fetch(app.baseUrl + new URL(url).pathname, { method: 'POST', headers: signed.headers, body: signed.body });
    return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
  }

  const twilioInbound = (provider: any, from: string, to: string, body: string, sid = `SM${Math.random().toString(16).slice(2).padEnd(32, '0')}`) =>
    deliver(
      provider.sms_webhook_url,
      carriers.webhook.twilio(provider.sms_webhook_url, {
        MessageSid: sid,
        SmsSid: sid,
        AccountSid: carriers.twilio.sid,
        From: from,
        To: to,
        Body: body,
        NumSegments: '1',
      }),
    );

  const telnyxEvent = (from: string, to: string[], text: string, id = crypto.randomUUID()) => ({
    data: {
      event_type: 'message.received',
      id: crypto.randomUUID(),
      occurred_at: new Date().toISOString(),
      record_type: 'event',
      payload: {
        id,
        record_type: 'message',
        direction: 'inbound',
        from: { phone_number: from },
        to: to.map((t) => ({ phone_number: t, status: 'webhook_delivered' })),
        text,
        type: 'SMS',
      },
    },
    meta: { attempt: 1, delivered_to: 'https://pbx.example.test' },
  });

  const listAs = async (token: string, query = '') => (await app.call('GET', `/v1/messages${query}`, { token })).body;

  describe('provider webhook URL', () => {
    it('shows sms_webhook_url, built from PUBLIC_URL, on an SMS-capable provider', async () => {
      const { provider } = await connect('twilio', 1);
      expect(provider.sms_webhook_url).to.equal(`${PUBLIC_URL}/v1/telephony/providers/${provider.id}/sms`);
      const read = await app.call('GET', `/v1/telephony/providers/${provider.id}`, { token: acct.ownerToken });
      expect(read.body.sms_webhook_url).to.equal(provider.sms_webhook_url);
    });
  });

  describe('inbound', () => {
    it('stores a signed Twilio SMS once, routes it to the user whose outbound number it is, and queues sms.received', async () => {
      const { provider, numbers } = await connect('twilio');
      const alice = await smsUser(numbers[0]!);
      const hook = await app.call('POST', '/v1/webhooks', { token: acct.ownerToken, body: { url: 'http://127.0.0.1:9/hook', events: ['sms.received'] } });
      expect(hook.status, JSON.stringify(hook.body)).to.equal(201);
      const sender = '+15005550006';
      const sid = `SM${'a'.repeat(32)}${seq}`;
      const first = await twilioInbound(provider, sender, numbers[0]!, 'Running late, 10 min', sid);
      expect(first.status, first.text).to.equal(200);
      expect(first.type).to.match(/xml/);
      expect(first.text).to.include('<Response>');
      // Twilio retries a webhook it did not see answered: the same MessageSid is kept once.
      expect((await twilioInbound(provider, sender, numbers[0]!, 'Running late, 10 min', sid)).status).to.equal(200);
      await app.services.messages.settled();
      const mine = await listAs(alice.token);
      expect(mine.data).to.have.length(1);
      expect(mine.data[0]).to.include({
        direction: 'inbound',
        user_id: alice.user.id,
        from: sender,
        to: numbers[0],
        body: 'Running late, 10 min',
        status: 'received',
        provider_message_id: sid,
        segments: 1,
        encoding: 'gsm7',
      });
      const deliveries = await app.services.db.models.WebhookDelivery.findAll({ where: { account_id: acct.accountId, event_type: 'sms.received' } });
      expect(deliveries).to.have.length(1);
      expect(JSON.parse(deliveries[0]!.payload).data).to.include({ message_id: mine.data[0].id, user_id: alice.user.id, from: sender, routed: true });
      expect(usage.filter((u) => u.type === 'sms_inbound')).to.deep.equal([
        { accountId: acct.accountId, userId: alice.user.id, type: 'sms_inbound', amount: 1, at: usage[0]!.at },
      ]);
    });

    it('refuses forged or replayed signatures with 403 and stores nothing (Twilio, Telnyx, Plivo)', async () => {
      const tw = await connect('twilio', 1);
      await smsUser(tw.numbers[0]!);
      const form = { MessageSid: `SM${'f'.repeat(32)}`, From: '+15005550006', To: tw.numbers[0]!, Body: 'hi' };
      const good = carriers.webhook.twilio(tw.provider.sms_webhook_url, form);
      // Signed over another body, over another URL, with another token, or not at all.
      const tampered = { ...good, body: new URLSearchParams({ ...form, Body: 'pay now' }).toString() };
      const otherUrl = carriers.webhook.twilio(`${PUBLIC_URL}/v1/telephony/providers/999/sms`, form);
      const unsigned = { headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: good.body };
      for (const forged of [tampered, otherUrl, unsigned]) {
        const r = await deliver(tw.provider.sms_webhook_url, forged);
        expect(r.status).to.equal(403);
        expect(JSON.parse(r.text).error.code).to.equal('invalid_signature');
      }

      const tx = await connect('telnyx', 1);
      const ev = telnyxEvent('+15005550006', [tx.numbers[0]!], 'hello');
      const stale = carriers.webhook.telnyx(ev, new Date(Date.now() - 10 * 60_000));
      const signed = carriers.webhook.telnyx(ev);
      const swapped = { ...signed, body: JSON.stringify(telnyxEvent('+15005550006', [tx.numbers[0]!], 'changed')) };
      for (const forged of [stale, swapped]) expect((await deliver(tx.provider.sms_webhook_url, forged)).status).to.equal(403);

      const pl = await connect('plivo', 1);
      const pform = { From: '15005550006', To: pl.numbers[0]!.slice(1), Text: 'hey', MessageUUID: crypto.randomUUID(), Type: 'sms' };
      const psigned = carriers.webhook.plivo(pl.provider.sms_webhook_url, pform);
      const pforged = { ...psigned, headers: { ...psigned.headers, 'x-plivo-signature-v3-nonce': '12345' } };
      expect((await deliver(pl.provider.sms_webhook_url, pforged)).status).to.equal(403);

      expect(await app.services.db.models.Message.count({ where: { account_id: acct.accountId } })).to.equal(0);
      // The genuine ones pass.
      expect((await deliver(tw.provider.sms_webhook_url, good)).status).to.equal(200);
      expect((await deliver(tx.provider.sms_webhook_url, signed)).status).to.equal(200);
      expect((await deliver(pl.provider.sms_webhook_url, psigned)).status).to.equal(200);
      await app.services.messages.settled();
      expect(await app.services.db.models.Message.count({ where: { account_id: acct.accountId } })).to.equal(3);
    });

    it('routes a shared number to the oldest user with sms_enabled; keeps it unrouted for admins when none has it', async () => {
      const { provider, numbers } = await connect('twilio');
      const off = await smsUser(numbers[0]!, { sms_enabled: false });
      const on1 = await smsUser(numbers[0]!);
      const on2 = await smsUser(numbers[0]!);
      await twilioInbound(provider, '+15005550010', numbers[0]!, 'to the team line');
      await smsUser(numbers[1]!, { sms_enabled: false });
      await twilioInbound(provider, '+15005550010', numbers[1]!, 'nobody home');
      await app.services.messages.settled();
      expect((await listAs(on1.token)).data.map((m: any) => m.body)).to.deep.equal(['to the team line']);
      expect((await listAs(on2.token)).data).to.have.length(0);
      expect((await listAs(off.token)).data).to.have.length(0);
      const all = await listAs(acct.ownerToken, `?number=${encodeURIComponent(numbers[1]!)}`);
      expect(all.data).to.have.length(1);
      expect(all.data[0]).to.include({ user_id: null, status: 'unrouted', unrouted_reason: 'sms_disabled' });
      // A plain user asking for someone else's messages is refused.
      const other = await app.call('GET', `/v1/messages?user_id=${on2.user.id}`, { token: on1.token });
      expect(other.status).to.equal(403);
    });

    it('filters by user, number, direction and since, newest first, with keyset paging', async () => {
      const { provider, numbers } = await connect('twilio');
      const u = await smsUser(numbers[0]!);
      for (let i = 0; i < 3; i++) await twilioInbound(provider, '+15005550020', numbers[0]!, `m${i}`);
      await app.services.messages.settled();
      const p1 = await listAs(acct.ownerToken, `?user_id=${u.user.id}&direction=inbound&limit=2`);
      expect(p1.data.map((m: any) => m.body)).to.deep.equal(['m2', 'm1']);
      const p2 = await listAs(acct.ownerToken, `?user_id=${u.user.id}&direction=inbound&limit=2&cursor=${p1.next_cursor}`);
      expect(p2.data.map((m: any) => m.body)).to.deep.equal(['m0']);
      expect(p2.next_cursor).to.equal(null);
      expect((await listAs(acct.ownerToken, `?direction=outbound`)).data).to.have.length(0);
      expect((await listAs(acct.ownerToken, `?since=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`)).data).to.have.length(0);
    });
  });

  describe('auto-responder', () => {
    it('answers two SMS from one sender once in 30 s, from the number the SMS reached, logged as outbound auto', async () => {
      const { provider, numbers } = await connect('twilio');
      const u = await smsUser(numbers[0]!, { sms_auto_responder_enabled: true, sms_auto_response_text: 'Out of office until Monday' });
      await Promise.all([twilioInbound(provider, '+15005550030', numbers[0]!, 'one'), twilioInbound(provider, '+15005550030', numbers[0]!, 'two')]);
      await twilioInbound(provider, '+15005550031', numbers[0]!, 'someone else');
      await app.services.messages.settled();
      expect(carriers.sent.map((s) => [s.from, s.to, s.body])).to.have.deep.members([
        [numbers[0], '+15005550030', 'Out of office until Monday'],
        [numbers[0], '+15005550031', 'Out of office until Monday'],
      ]);
      const out = await listAs(u.token, '?direction=outbound');
      expect(out.data).to.have.length(2);
      expect(out.data[0]).to.include({ auto: true, source: 'auto', status: 'sent', from: numbers[0] });
      expect(usage.filter((e) => e.type === 'sms_auto_responses')).to.have.length(2);
      expect(usage.filter((e) => e.type === 'sms_outbound')).to.have.length(0);
      // The window passed (the claim row says when the last reply went): the next SMS is answered again.
      await app.services.db.models.SmsReplyClaim.update(
        { claimed_at: new Date(Date.now() - 31_000) },
        { where: { our_number: numbers[0]!, peer_number: '+15005550030' } },
      );
      await twilioInbound(provider, '+15005550030', numbers[0]!, 'three');
      await app.services.messages.settled();
      expect(carriers.sent.filter((s) => s.to === '+15005550030')).to.have.length(2);
    });

    it('does not answer an internal sender (a number of the same account) or a group message', async () => {
      const tx = await connect('telnyx', 2);
      await smsUser(tx.numbers[0]!, { sms_auto_responder_enabled: true, sms_auto_response_text: 'Away' });
      // Internal: sent from the account's other number.
      expect((await deliver(tx.provider.sms_webhook_url, carriers.webhook.telnyx(telnyxEvent(tx.numbers[1]!, [tx.numbers[0]!], 'internal')))).status).to.equal(
        200,
      );
      // Group: Telnyx names several recipients in `to`.
      expect(
        (await deliver(tx.provider.sms_webhook_url, carriers.webhook.telnyx(telnyxEvent('+15005550040', [tx.numbers[0]!, '+15005550041'], 'group')))).status,
      ).to.equal(200);
      // Direct, for contrast: answered.
      expect((await deliver(tx.provider.sms_webhook_url, carriers.webhook.telnyx(telnyxEvent('+15005550042', [tx.numbers[0]!], 'direct')))).status).to.equal(
        200,
      );
      await app.services.messages.settled();
      expect(carriers.sent.map((s) => [s.carrier, s.to])).to.deep.equal([['telnyx', '+15005550042']]);
      const group = (await listAs(acct.ownerToken, '?direction=inbound')).data.find((m: any) => m.body === 'group');
      expect(group.recipients).to.deep.equal([tx.numbers[0], '+15005550041']);
    });
  });

  describe('outbound', () => {
    it('sends from the user outbound SMS number with a status callback, counts segments, and takes delivered from the callback', async () => {
      const { provider, numbers } = await connect('twilio');
      const u = await smsUser(numbers[0]!);
      const r = await app.call('POST', '/v1/messages', { token: u.token, body: { to: '+15005550050', body: 'Ünïcödé ✓' } });
      expect(r.status, JSON.stringify(r.body)).to.equal(201);
      expect(r.body).to.include({
        direction: 'outbound',
        from: numbers[0],
        to: '+15005550050',
        status: 'sent',
        encoding: 'ucs2',
        segments: 1,
        user_id: u.user.id,
      });
      expect(carriers.sent).to.have.length(1);
      expect(carriers.sent[0]).to.include({ carrier: 'twilio', from: numbers[0], to: '+15005550050', callback: `${provider.sms_webhook_url}/status` });
      const long = await app.call('POST', '/v1/messages', { token: u.token, body: { to: '+15005550050', body: 'x'.repeat(161) } });
      expect(long.body).to.include({ encoding: 'gsm7', segments: 2 });
      expect(usage.filter((e) => e.type === 'sms_segments').reduce((a, e) => a + (e.amount ?? 1), 0)).to.equal(3);
      // Twilio's status callback, signed like its webhooks.
      const cb = `${provider.sms_webhook_url}/status`;
      const st = await deliver(
        cb,
        carriers.webhook.twilio(cb, { MessageSid: carriers.sent[0]!.id, MessageStatus: 'delivered', AccountSid: carriers.twilio.sid }),
      );
      expect(st.status).to.equal(200);
      const read = await app.call('GET', `/v1/messages/${r.body.id}`, { token: u.token });
      expect(read.body.status).to.equal('delivered');
      expect(read.body.delivered_at).to.be.a('string');
    });

    it('refuses without sms_enabled, a non-SMS number, a bad E.164, and maps a refused destination to 422', async () => {
      const { numbers } = await connect('twilio');
      const off = await smsUser(numbers[0]!, { sms_enabled: false });
      expect((await app.call('POST', '/v1/messages', { token: off.token, body: { to: '+15005550060', body: 'x' } })).body.error.code).to.equal('sms_disabled');
      const u = await smsUser(numbers[0]!);
      const bad = await app.call('POST', '/v1/messages', { token: u.token, body: { to: '5550060', body: 'x' } });
      expect(bad.status).to.equal(400);
      expect(bad.body.error.field).to.equal('to');
      const voiceOnly = await app.call('POST', '/v1/numbers', {
        token: acct.ownerToken,
        body: { e164: e164(), capabilities: { voice: true, sms: false, fax: false } },
      });
      expect(voiceOnly.status, JSON.stringify(voiceOnly.body)).to.equal(201);
      // The number stops being SMS-capable after it was chosen (the carrier's import says so).
      await app.services.db.models.PhoneNumber.update({ sms: false }, { where: { e164: numbers[1]! } });
      const w = await smsUser(numbers[0]!);
      await app.services.db.models.User.update({ outbound_sms_number: numbers[1]! }, { where: { id: w.user.id } });
      const notSms = await app.call('POST', '/v1/messages', { token: w.token, body: { to: '+15005550060', body: 'x' } });
      expect(notSms.status).to.equal(422);
      expect(notSms.body.error.code).to.equal('number_not_sms_capable');
      carriers.refusedDestinations.add('+15005550061');
      const refused = await app.call('POST', '/v1/messages', { token: u.token, body: { to: '+15005550061', body: 'x' } });
      expect(refused.status).to.equal(422);
      expect(refused.body.error).to.include({ code: 'sms_destination_refused', field: 'to' });
      expect(refused.body.error.message).to.include('21211');
      const row = await app.services.db.models.Message.findByPk(refused.body.error.message_id);
      expect(row!.status).to.equal('failed');
    });

    it('lets an admin send on behalf of a user and refuses a plain user doing so', async () => {
      const { numbers } = await connect('plivo');
      const u = await smsUser(numbers[0]!);
      const v = await smsUser(numbers[1]!);
      const r = await app.call('POST', '/v1/messages', { token: acct.ownerToken, body: { to: '+15005550070', body: 'from the office', user_id: u.user.id } });
      expect(r.status, JSON.stringify(r.body)).to.equal(201);
      expect(carriers.sent[0]).to.include({ carrier: 'plivo', from: numbers[0], to: '+15005550070' });
      const no = await app.call('POST', '/v1/messages', { token: v.token, body: { to: '+15005550070', body: 'x', user_id: u.user.id } });
      expect(no.status).to.equal(403);
      const ws = await app.call('POST', '/v1/messages', { token: acct.ownerToken, body: { to: '+15005550070', body: 'x' } });
      // The owner has no SMS number of their own.
      expect(ws.status).to.equal(422);
    });

    it('keeps a send the carrier throttled (429) in the outbox, retries it and sends it once', async () => {
      const { numbers } = await connect('telnyx');
      const u = await smsUser(numbers[0]!);
      carriers.throttleNext('/v2/messages', 1);
      const r = await app.call('POST', '/v1/messages', { token: u.token, body: { to: '+15005550080', body: 'retry me' } });
      expect(r.status, JSON.stringify(r.body)).to.equal(202);
      expect(r.body).to.include({ status: 'queued', attempts: 1 });
      expect(r.body.error.code).to.equal('provider_unavailable');
      expect(carriers.sent).to.have.length(0);
      // Not before Retry-After (1 s).
      expect(await app.services.messages.runOutbox()).to.equal(0);
      const due = new Date(r.body.next_attempt_at).getTime();
      expect(due - Date.now()).to.be.greaterThan(500);
      await new Promise((res) => setTimeout(res, Math.max(0, due - Date.now()) + 20));
      const [a, b] = await Promise.all([app.services.messages.runOutbox(), app.services.messages.runOutbox()]);
      expect(a + b).to.equal(1);
      expect(await app.services.messages.runOutbox()).to.equal(0);
      expect(carriers.sent.map((s) => s.body)).to.deep.equal(['retry me']);
      const read = await app.call('GET', `/v1/messages/${r.body.id}`, { token: u.token });
      expect(read.body).to.include({ status: 'sent', attempts: 2 });
      expect(read.body.provider_message_id).to.equal(carriers.sent[0]!.id);
    });
  });
});
