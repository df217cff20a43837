import { expect } from 'chai';
import { startTestApp, type TestApp } from '../helpers/test-app.js';
import { createAccount, createMember, createUser, type TestAccount } from '../helpers/factories.js';
import { startCarrierApiServer, type CarrierApiServer } from '../helpers/carrier-api-server.js';

let seq = 0;
const e164 = () => `+1332${String(process.pid % 1000).padStart(3, '0')}${String(++seq).padStart(4, '0')}`;
const fixtures = (n: number, extra: Record<string, unknown> = {}) => Array.from({ length: n }, (_, i) => ({ number: e164(), name: `Line ${i + 1}`, ...extra }));

describe('Telephony providers API', () => {
  let app: TestApp;
  let carriers: CarrierApiServer;
  let acct: TestAccount;

  before(async () => {
    carriers = await startCarrierApiServer();
    app = await startTestApp({
      telephony: { twilioApiBaseUrl: carriers.baseUrl, telnyxApiBaseUrl: carriers.baseUrl, plivoApiBaseUrl: `${carriers.baseUrl}/` },
    });
  });
  beforeEach(async () => {
    acct = await createAccount(app);
    carriers.requests.length = 0;
  });
  after(async () => {
    await app.stop();
    await carriers.stop();
  });

  const twilioBody = (name = 'Twilio main') => ({ type: 'twilio', name, credentials: { account_sid: carriers.twilio.sid, auth_token: carriers.twilio.token } });
  const numbersOf = async (providerId: number) =>
    (await app.call('GET', `/v1/numbers?provider_id=${providerId}&limit=100`, { token: acct.ownerToken })).body.data as Array<Record<string, any>>;

  describe('Twilio', () => {
    it('checks the credentials, stores them encrypted, imports every page and shows the numbers under /v1/numbers', async () => {
      carriers.twilio.numbers = [...fixtures(4), { number: e164(), name: 'Fax line', voice: false, sms: true, mms: true, fax: true }];
      const r = await app.call('POST', '/v1/telephony/providers', { token: acct.ownerToken, body: twilioBody() });
      expect(r.status, JSON.stringify(r.body)).to.equal(201);
      expect(r.headers.get('location')).to.equal(`/v1/telephony/providers/${r.body.id}`);
      expect(r.body).to.include({ type: 'twilio', name: 'Twilio main', credentials_hint: `••••${carriers.twilio.token.slice(-4)}` });
      expect(JSON.stringify(r.body)).not.to.include(carriers.twilio.token);
      expect(r.body.sync.added).to.have.members(carriers.twilio.numbers.map((n) => n.number));
      // 5 numbers at 2 a page: the account read plus three pages, following next_page_uri.
      expect(carriers.requests.filter((p) => p.includes('IncomingPhoneNumbers.json'))).to.have.length(3);
      const listed = await numbersOf(r.body.id);
      expect(listed).to.have.length(5);
      const fax = listed.find((n) => n.label === 'Fax line')!;
      expect(fax).to.deep.include({
        provider: 'twilio',
        provider_id: r.body.id,
        provider_missing: false,
        capabilities: { voice: false, sms: true, mms: true, fax: true },
      });
      const row = await app.services.db.models.TelephonyProvider.findByPk(r.body.id);
      expect(row!.credentials_enc).to.match(/^v1\./).and.not.include(carriers.twilio.token);
      expect(JSON.parse(app.services.secrets.decrypt(row!.credentials_enc))).to.deep.equal(twilioBody().credentials);
      const audit = await app.call('GET', `/v1/audit?target_type=telephony_provider&target_id=${r.body.id}`, { token: acct.ownerToken });
      expect(audit.body.data.map((e: { action: string }) => e.action)).to.deep.equal(['telephony_provider.synced', 'telephony_provider.created']);
      expect(JSON.stringify(audit.body)).not.to.include(carriers.twilio.token);
    });

    it("answers 422 provider_auth_failed with Twilio's message for a wrong auth token and saves nothing", async () => {
      const r = await app.call('POST', '/v1/telephony/providers', {
        token: acct.ownerToken,
        body: { ...twilioBody(), credentials: { account_sid: carriers.twilio.sid, auth_token: 'wrong-token-9999' } },
      });
      expect(r.status).to.equal(422);
      expect(r.body.error).to.include({ code: 'provider_auth_failed', field: 'credentials' });
      expect(r.body.error.message).to.include('Authenticate');
      expect(JSON.stringify(r.body)).not.to.include('wrong-token-9999');
      const list = await app.call('GET', '/v1/telephony/providers', { token: acct.ownerToken });
      expect(list.body.data).to.deep.equal([]);
    });

    it('retries a 429 with Retry-After and finishes the import', async () => {
      carriers.twilio.numbers = fixtures(3);
      carriers.throttleNext('IncomingPhoneNumbers.json', 1);
      const started = Date.now();
      const r = await app.call('POST', '/v1/telephony/providers', { token: acct.ownerToken, body: twilioBody() });
      expect(r.status).to.equal(201);
      expect(r.body.sync.added).to.have.length(3);
      // Retry-After: 1 is honoured up to telephony.retryMaxMs (200 ms in test).
      expect(Date.now() - started).to.be.at.least(150);
      expect(carriers.requests.filter((p) => p.includes('IncomingPhoneNumbers.json'))).to.have.length(3);
    });

    it('answers 502 provider_unavailable when Twilio keeps answering 503, and when it is unreachable; nothing is saved', async () => {
      carriers.failWith503('/2010-04-01/');
      try {
        const r = await app.call('POST', '/v1/telephony/providers', { token: acct.ownerToken, body: twilioBody() });
        expect(r.status).to.equal(502);
        expect(r.body.error.code).to.equal('provider_unavailable');
      } finally {
        carriers.failWith503(null);
      }
      carriers.dropConnections('/2010-04-01/');
      try {
        const r = await app.call('POST', '/v1/telephony/providers', { token: acct.ownerToken, body: twilioBody() });
        expect(r.status).to.equal(502);
        expect(r.body.error.code).to.equal('provider_unavailable');
        expect(r.body.error.message).to.include('unreachable');
      } finally {
        carriers.dropConnections(null);
      }
      expect((await app.call('GET', '/v1/telephony/providers', { token: acct.ownerToken })).body.data).to.deep.equal([]);
    });

    it('reports a number held by another account as a conflict and leaves it there', async () => {
      const taken = e164();
      const other = await createAccount(app);
      expect((await app.call('POST', '/v1/numbers', { token: other.ownerToken, body: { e164: taken } })).status).to.equal(201);
      carriers.twilio.numbers = [{ number: taken }, ...fixtures(1)];
      const r = await app.call('POST', '/v1/telephony/providers', { token: acct.ownerToken, body: twilioBody() });
      expect(r.body.sync.conflicts).to.deep.equal([{ e164: taken, reason: 'held_by_another_account' }]);
      expect(r.body.sync.added).to.have.length(1);
      const theirs = await app.call('GET', `/v1/numbers?e164=${encodeURIComponent(taken)}`, { token: other.ownerToken });
      expect(theirs.body.data[0]).to.include({ provider: 'default', provider_id: null });
    });

    it('on a later sync updates capabilities, removes unused numbers gone at Twilio and flags those still used', async () => {
      const [keep, unused, used] = fixtures(3);
      carriers.twilio.numbers = [keep!, unused!, used!];
      const p = (await app.call('POST', '/v1/telephony/providers', { token: acct.ownerToken, body: twilioBody() })).body;
      const user = await createUser(app, acct.ownerToken, { external_caller_id_number: used!.number });
      carriers.twilio.numbers = [{ ...keep!, sms: true }];
      const r = await app.call('POST', `/v1/telephony/providers/${p.id}/sync`, { token: acct.ownerToken });
      expect(r.status).to.equal(200);
      expect(r.body).to.deep.equal({
        added: [],
        updated: [keep!.number],
        missing: [
          { e164: unused!.number, action: 'removed' },
          { e164: used!.number, action: 'flagged' },
        ].sort((a, b) => (a.e164 < b.e164 ? -1 : 1)),
        conflicts: [],
      });
      const listed = await numbersOf(p.id);
      expect(listed.map((n) => n.e164).sort()).to.deep.equal([keep!.number, used!.number].sort());
      expect(listed.find((n) => n.e164 === used!.number)!.provider_missing).to.equal(true);
      expect(listed.find((n) => n.e164 === keep!.number)!.capabilities.sms).to.equal(true);
      // The user still points at the flagged number, untouched.
      expect((await app.call('GET', `/v1/users/${user.id}`, { token: acct.ownerToken })).body.external_caller_id_number).to.equal(used!.number);
      // A sync that finds nothing new changes nothing.
      const again = await app.call('POST', `/v1/telephony/providers/${p.id}/sync`, { token: acct.ownerToken });
      expect(again.body).to.deep.include({ added: [], updated: [], conflicts: [] });
    });

    it('queues a numbers.synced webhook with the result', async () => {
      const hook = await app.call('POST', '/v1/webhooks', { token: acct.ownerToken, body: { url: 'http://127.0.0.1:9/hook', events: ['numbers.synced'] } });
      expect(hook.status, JSON.stringify(hook.body)).to.equal(201);
      carriers.twilio.numbers = fixtures(1);
      const p = (await app.call('POST', '/v1/telephony/providers', { token: acct.ownerToken, body: twilioBody() })).body;
      const rows = await app.services.db.models.WebhookDelivery.findAll({ where: { webhook_id: hook.body.id } });
      expect(rows).to.have.length(1);
      const payload = JSON.parse(rows[0]!.payload);
      expect(payload).to.deep.include({ type: 'numbers.synced' });
      expect(payload.data).to.deep.include({ provider_id: p.id, provider_type: 'twilio', added: [carriers.twilio.numbers[0]!.number] });
    });

    it('rotates credentials on PATCH after checking them, and refuses wrong ones with 422', async () => {
      carriers.twilio.numbers = [];
      const p = (await app.call('POST', '/v1/telephony/providers', { token: acct.ownerToken, body: twilioBody() })).body;
      const bad = await app.call('PATCH', `/v1/telephony/providers/${p.id}`, {
        token: acct.ownerToken,
        body: { credentials: { account_sid: carriers.twilio.sid, auth_token: 'not-it-0000' } },
      });
      expect(bad.status).to.equal(422);
      expect(bad.body.error.code).to.equal('provider_auth_failed');
      const oldToken = carriers.twilio.token;
      carriers.twilio.token = 'rotated-token-abcd';
      try {
        const ok = await app.call('PATCH', `/v1/telephony/providers/${p.id}`, {
          token: acct.ownerToken,
          body: { name: 'Renamed', credentials: { account_sid: carriers.twilio.sid, auth_token: 'rotated-token-abcd' } },
        });
        expect(ok.status).to.equal(200);
        expect(ok.body).to.include({ name: 'Renamed', credentials_hint: '••••abcd' });
        expect((await app.call('POST', `/v1/telephony/providers/${p.id}/sync`, { token: acct.ownerToken })).status).to.equal(200);
        const audit = await app.call('GET', `/v1/audit?target_type=telephony_provider&target_id=${p.id}`, { token: acct.ownerToken });
        expect(JSON.stringify(audit.body)).not.to.include('rotated-token-abcd');
      } finally {
        carriers.twilio.token = oldToken;
      }
    });

    it('refuses DELETE with 409 in_use while a number is a caller ID, then deletes the provider with its numbers', async () => {
      carriers.twilio.numbers = fixtures(2);
      const p = (await app.call('POST', '/v1/telephony/providers', { token: acct.ownerToken, body: twilioBody() })).body;
      const used = carriers.twilio.numbers[0]!.number;
      const user = await createUser(app, acct.ownerToken, { external_caller_id_number: used });
      const r = await app.call('DELETE', `/v1/telephony/providers/${p.id}`, { token: acct.ownerToken });
      expect(r.status).to.equal(409);
      expect(r.body.error.code).to.equal('in_use');
      expect(r.body.error.referenced_by.users).to.deep.equal([user.id]);
      await app.call('PATCH', `/v1/users/${user.id}`, { token: acct.ownerToken, body: { external_caller_id_number: null } });
      expect((await app.call('DELETE', `/v1/telephony/providers/${p.id}`, { token: acct.ownerToken })).status).to.equal(204);
      expect((await app.call('GET', `/v1/telephony/providers/${p.id}`, { token: acct.ownerToken })).status).to.equal(404);
      expect(await app.services.db.models.PhoneNumber.count({ where: { e164: carriers.twilio.numbers.map((n) => n.number) } })).to.equal(0);
    });
  });

  describe('Telnyx', () => {
    it('imports every page (meta.page_number / total_pages) with capabilities from the messaging profile and fax gateway', async () => {
      carriers.telnyx.numbers = [...fixtures(3), { number: e164(), name: 'Texts', sms: true, fax: true }];
      const r = await app.call('POST', '/v1/telephony/providers', {
        token: acct.ownerToken,
        body: { type: 'telnyx', name: 'Telnyx', credentials: { api_key: carriers.telnyx.apiKey } },
      });
      expect(r.status, JSON.stringify(r.body)).to.equal(201);
      expect(r.body.sync.added).to.have.length(4);
      expect(carriers.requests.filter((p) => p.startsWith('/v2/phone_numbers'))).to.have.length(2);
      const texts = (await numbersOf(r.body.id)).find((n) => n.label === 'Texts')!;
      expect(texts.capabilities).to.deep.equal({ voice: true, sms: true, mms: true, fax: true });
    });

    it("answers 422 provider_auth_failed with Telnyx's error for a wrong API key", async () => {
      const r = await app.call('POST', '/v1/telephony/providers', {
        token: acct.ownerToken,
        body: { type: 'telnyx', name: 'T', credentials: { api_key: 'KEYwrong' } },
      });
      expect(r.status).to.equal(422);
      expect(r.body.error.code).to.equal('provider_auth_failed');
      expect(r.body.error.message).to.include('Authentication failed');
    });

    it('retries a 429 during paging', async () => {
      carriers.telnyx.numbers = fixtures(3);
      carriers.throttleNext('/v2/phone_numbers', 2);
      const r = await app.call('POST', '/v1/telephony/providers', {
        token: acct.ownerToken,
        body: { type: 'telnyx', name: 'T', credentials: { api_key: carriers.telnyx.apiKey } },
      });
      expect(r.body.sync.added).to.have.length(3);
    });
  });

  describe('Plivo', () => {
    it('imports every page (meta.next / offset) and writes the numbers in E.164', async () => {
      carriers.plivo.numbers = fixtures(5, { sms: true });
      const r = await app.call('POST', '/v1/telephony/providers', {
        token: acct.ownerToken,
        body: { type: 'plivo', name: 'Plivo', credentials: { auth_id: carriers.plivo.authId, auth_token: carriers.plivo.token } },
      });
      expect(r.status, JSON.stringify(r.body)).to.equal(201);
      expect(r.body.sync.added).to.have.members(carriers.plivo.numbers.map((n) => n.number));
      expect(carriers.requests.filter((p) => p.includes('/Number/'))).to.have.length(3);
      const listed = await numbersOf(r.body.id);
      expect(listed.every((n) => n.e164.startsWith('+') && n.capabilities.sms)).to.equal(true);
    });

    it("answers 422 provider_auth_failed with Plivo's error for a wrong auth token, and 400 for a malformed Auth ID", async () => {
      const r = await app.call('POST', '/v1/telephony/providers', {
        token: acct.ownerToken,
        body: { type: 'plivo', name: 'P', credentials: { auth_id: carriers.plivo.authId, auth_token: 'nope' } },
      });
      expect(r.status).to.equal(422);
      expect(r.body.error.message).to.include('Authentication credentials invalid');
      const bad = await app.call('POST', '/v1/telephony/providers', {
        token: acct.ownerToken,
        body: { type: 'plivo', name: 'P', credentials: { auth_id: 'x', auth_token: 'y' } },
      });
      expect(bad.status).to.equal(400);
      expect(bad.body.error.field).to.equal('credentials.auth_id');
    });
  });

  describe('SIP trunks and the default telephony', () => {
    it('creates a trunk without a carrier API call, shows its registration state, and takes numbers entered by hand', async () => {
      const r = await app.call('POST', '/v1/telephony/providers', {
        token: acct.ownerToken,
        body: { type: 'sip_trunk', name: 'Carrier trunk', credentials: { username: 'acme', password: 'trunk-secret-7788' }, settings: { host: '127.0.0.1' } },
      });
      expect(r.status, JSON.stringify(r.body)).to.equal(201);
      expect(r.body.settings).to.deep.equal({ host: '127.0.0.1', port: 5060, transport: 'udp', register: false, expires: 3600 });
      expect(r.body.registration).to.include({ state: 'disabled' });
      expect(r.body.credentials_hint).to.equal('••••7788');
      const n = await app.call('POST', '/v1/numbers', { token: acct.ownerToken, body: { e164: e164(), provider_id: r.body.id } });
      expect(n.status).to.equal(201);
      expect(n.body).to.include({ provider: 'sip_trunk', provider_id: r.body.id });
      const sync = await app.call('POST', `/v1/telephony/providers/${r.body.id}/sync`, { token: acct.ownerToken });
      expect(sync.status).to.equal(422);
      expect(sync.body.error.code).to.equal('sync_not_supported');
    });

    it("keeps numbers without a provider on the default telephony and refuses another account's provider id", async () => {
      const n = await app.call('POST', '/v1/numbers', { token: acct.ownerToken, body: { e164: e164() } });
      expect(n.body).to.include({ provider: 'default', provider_id: null });
      const other = await createAccount(app);
      const theirs = await app.call('POST', '/v1/telephony/providers', {
        token: other.ownerToken,
        body: { type: 'sip_trunk', name: 'Theirs', credentials: { username: 'u', password: 'p' }, settings: { host: 'sip.example.com' } },
      });
      const r = await app.call('POST', '/v1/numbers', { token: acct.ownerToken, body: { e164: e164(), provider_id: theirs.body.id } });
      expect(r.status).to.equal(422);
      expect(r.body.error).to.include({ code: 'unknown_provider', field: 'provider_id' });
      expect((await app.call('GET', `/v1/telephony/providers/${theirs.body.id}`, { token: acct.ownerToken })).status).to.equal(404);
    });

    it('is for admins only', async () => {
      const { token } = await createMember(app, acct.ownerToken, 'viewer');
      expect((await app.call('GET', '/v1/telephony/providers', { token })).status).to.equal(403);
    });
  });

  describe('scheduled import', () => {
    it('imports a provider once per interval even when two runs race', async () => {
      carriers.twilio.numbers = fixtures(1);
      const p = (await app.call('POST', '/v1/telephony/providers', { token: acct.ownerToken, body: twilioBody() })).body;
      // Make it due, then run the job twice at once (as two nodes would).
      await app.services.db.models.TelephonyProvider.update({ last_synced_at: new Date(Date.now() - 2 * 3600_000) }, { where: { id: p.id } });
      carriers.twilio.numbers.push(...fixtures(1));
      carriers.requests.length = 0;
      const ran = await Promise.all([app.services.providerSyncJob.runDue(), app.services.providerSyncJob.runDue()]);
      expect(ran.reduce((a, b) => a + b, 0)).to.be.at.least(1);
      expect(carriers.requests.filter((x) => x.includes('IncomingPhoneNumbers.json'))).to.have.length(1);
      expect(await numbersOf(p.id)).to.have.length(2);
    });
  });
});
