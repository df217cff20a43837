import { expect } from 'chai';
import { QueryTypes } from 'sequelize';
import { openDatabase, type Database } from '../../src/db/database.js';
import { createLogger } from '../../src/logger.js';
import { createServices, type Services } from '../../src/services.js';
import { dayOf } from '../../src/usage/usage-rules.js';
import { createAccount, createMember, createUser, insertBinding, type TestAccount } from '../helpers/factories.js';
import { startSmtpReceiver, type SmtpReceiver } from '../helpers/smtp-receiver.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';
import { startCarrierApiServer, type CarrierApiServer } from '../helpers/carrier-api-server.js';

const TYPES = ['sms_inbound', 'sms_outbound', 'sms_auto_responses', 'sms_segments', 'api_requests', 'registrations', 'active_devices_peak'];

describe('GET /v1/usage', function () {
  this.timeout(60_000);
  let app: TestApp;
  let acct: TestAccount;
  let other: TestAccount;
  const today = dayOf(new Date());

  const usage = (query: string, token = acct.ownerToken, headers: Record<string, string> = {}) => app.call('GET', `/v1/usage${query}`, { token, headers });
  const typeTotals = async (query = '', token = acct.ownerToken) => {
    const r = await usage(`?group_by=type${query}`, token);
    expect(r.status, JSON.stringify(r.body)).to.equal(200);
    return Object.fromEntries((r.body.data as Array<{ type: string; amount: number }>).map((x) => [x.type, x.amount]));
  };

  before(async () => {
    // Flushes happen when the tests say so: no timer gets there first.
    app = await startTestApp({ usage: { flushIntervalMs: 300_000 } });
    acct = await createAccount(app);
    other = await createAccount(app);
  });
  after(async () => app.stop());

  describe('api_requests', () => {
    it('counts every authenticated HTTP request for the user who made it, and workspace-key requests for no user', async () => {
      const member = await createMember(app, acct.ownerToken, 'admin');
      const key = (await app.call('GET', '/v1/account/api-key', { token: acct.ownerToken })).body.api_key as string;
      await app.services.usage.flush();
      const before = await usage(`?group_by=user&since=${today}&until=${today}`);
      expect(before.status).to.equal(200);
      const rowOf = (body: any, userId: number | null) => (body.data as any[]).find((x) => x.user_id === userId) ?? { api_requests: 0 };

      for (let i = 0; i < 4; i++) expect((await app.call('GET', '/v1/me', { token: acct.ownerToken })).status).to.equal(200);
      for (let i = 0; i < 3; i++) expect((await app.call('GET', '/v1/users', { token: member.token })).status).to.equal(200);
      // A refused request made with a valid credential is still a request of that user.
      expect((await app.call('GET', '/v1/users/999999', { token: member.token })).status).to.equal(404);
      for (let i = 0; i < 2; i++) expect((await app.call('GET', '/v1/me', { headers: { 'x-api-key': key } })).status).to.equal(200);
      // No credential, or a wrong one: nobody to count it for.
      expect((await app.call('GET', '/v1/me')).status).to.equal(401);
      expect((await app.call('GET', '/v1/me', { token: 'not-a-token' })).status).to.equal(401);
      await app.services.usage.flush();

      const after = await usage(`?group_by=user&since=${today}&until=${today}`);
      // The owner's reading of `before` is one of the owner's requests too.
      expect(rowOf(after.body, acct.ownerId).api_requests - rowOf(before.body, acct.ownerId).api_requests).to.equal(4 + 1);
      expect(rowOf(after.body, member.user.id).api_requests - rowOf(before.body, member.user.id).api_requests).to.equal(4);
      expect(rowOf(after.body, null).api_requests - rowOf(before.body, null).api_requests).to.equal(2);
      expect(rowOf(after.body, member.user.id)).to.include({ name: member.user.name, extension: member.user.extension });
      // The other account saw none of it.
      expect((await typeTotals('', other.ownerToken)).api_requests).to.equal(0);
    });
  });

  describe('grouping', () => {
    let userA: any;
    let userB: any;
    before(async () => {
      userA = await createUser(app, acct.ownerToken, { name: 'Alice Agent' });
      userB = await createUser(app, acct.ownerToken, { name: 'Bob Agent' });
      const r = app.services.usage.recorder;
      const at = (d: string) => new Date(`${d}T12:00:00Z`);
      // January (partly in the range below), February (whole), March (whole), April (outside).
      r.record({ accountId: acct.accountId, userId: userA.id, type: 'sms_outbound', amount: 5, at: at('2025-01-05') });
      r.record({ accountId: acct.accountId, userId: userA.id, type: 'sms_outbound', amount: 7, at: at('2025-01-20') });
      r.record({ accountId: acct.accountId, userId: userA.id, type: 'sms_segments', amount: 9, at: at('2025-01-20') });
      r.record({ accountId: acct.accountId, userId: userA.id, type: 'sms_outbound', amount: 11, at: at('2025-02-14') });
      r.record({ accountId: acct.accountId, userId: userB.id, type: 'sms_inbound', amount: 2, at: at('2025-02-14') });
      r.record({ accountId: acct.accountId, userId: userB.id, type: 'sms_inbound', amount: 3, at: at('2025-03-31') });
      r.record({ accountId: acct.accountId, userId: null, type: 'sms_inbound', amount: 4, at: at('2025-03-01') });
      r.record({ accountId: acct.accountId, userId: userB.id, type: 'sms_inbound', amount: 100, at: at('2025-04-01') });
      // Peaks keep the day's maximum, and over a range the highest day.
      r.record({ accountId: acct.accountId, userId: userA.id, type: 'active_devices_peak', amount: 3, at: at('2025-02-01') });
      r.record({ accountId: acct.accountId, userId: userA.id, type: 'active_devices_peak', amount: 2, at: at('2025-02-01') });
      r.record({ accountId: acct.accountId, userId: userA.id, type: 'active_devices_peak', amount: 1, at: at('2025-02-02') });
      r.record({ accountId: acct.accountId, userId: userB.id, type: 'active_devices_peak', amount: 2, at: at('2025-02-01') });
      r.record({ accountId: acct.accountId, userId: null, type: 'active_devices_peak', amount: 5, at: at('2025-02-01') });
      await app.services.usage.flush();
      // Another account's usage on the same days never shows in this account's reports.
      r.record({ accountId: other.accountId, userId: other.ownerId, type: 'sms_outbound', amount: 1000, at: at('2025-02-14') });
      await app.services.usage.flush();
    });

    it('group_by=day: one row per day of the range, every type, zeros included', async () => {
      const r = await usage('?since=2025-01-19&until=2025-02-14&group_by=day');
      expect(r.status).to.equal(200);
      expect(r.body).to.include({ since: '2025-01-19', until: '2025-02-14', group_by: 'day', next_cursor: null });
      expect(r.body.data).to.have.length(27);
      expect(r.body.data[0]).to.deep.equal({ day: '2025-01-19', ...Object.fromEntries(TYPES.map((t) => [t, 0])) });
      expect(r.body.data[1]).to.include({ day: '2025-01-20', sms_outbound: 7, sms_segments: 9 });
      const feb1 = r.body.data.find((d: any) => d.day === '2025-02-01');
      // The account's own sampled peak (5), not a sum of its users' peaks.
      expect(feb1.active_devices_peak).to.equal(5);
      expect(r.body.data.at(-1)).to.include({ day: '2025-02-14', sms_outbound: 11, sms_inbound: 2 });
    });

    it('group_by=type: the range total per type, the device peak as its highest day', async () => {
      const totals = await typeTotals('&since=2025-01-06&until=2025-03-31');
      expect(totals).to.include({ sms_outbound: 7 + 11, sms_inbound: 2 + 3 + 4, sms_segments: 9, active_devices_peak: 5 });
      const r = await usage('?group_by=type&since=2025-01-06&until=2025-03-31');
      expect(r.body.data.map((x: any) => x.type)).to.deep.equal(TYPES);
      expect(r.body.data.find((x: any) => x.type === 'active_devices_peak').aggregation).to.equal('max');
      expect(r.body.data.find((x: any) => x.type === 'sms_outbound').aggregation).to.equal('sum');
    });

    it('group_by=user: per user over partial and whole months, the row of no user first, paged', async () => {
      const r = await usage('?group_by=user&since=2025-01-06&until=2025-03-31');
      expect(r.status).to.equal(200);
      const rows = r.body.data as any[];
      expect(rows.map((x) => x.user_id)).to.deep.equal([null, userA.id, userB.id]);
      expect(rows[0]).to.include({ name: null, sms_inbound: 4 });
      expect(rows[1]).to.include({ name: 'Alice Agent', extension: userA.extension, sms_outbound: 18, sms_segments: 9, active_devices_peak: 3 });
      expect(rows[2]).to.include({ name: 'Bob Agent', sms_inbound: 5, active_devices_peak: 2 });

      const first = await usage('?group_by=user&since=2025-01-06&until=2025-03-31&limit=2');
      expect(first.body.data.map((x: any) => x.user_id)).to.deep.equal([null, userA.id]);
      expect(first.body.next_cursor).to.be.a('string');
      const second = await usage(`?group_by=user&since=2025-01-06&until=2025-03-31&limit=2&cursor=${first.body.next_cursor}`);
      expect(second.body.data.map((x: any) => x.user_id)).to.deep.equal([userB.id]);
      expect(second.body.next_cursor).to.equal(null);
    });

    it("user_id narrows day and type reports to one user's rows", async () => {
      const totals = await typeTotals(`&since=2025-01-01&until=2025-12-31&user_id=${userB.id}`);
      expect(totals).to.include({ sms_inbound: 105, active_devices_peak: 2, sms_outbound: 0 });
      const days = await usage(`?since=2025-03-31&until=2025-04-01&user_id=${userB.id}`);
      expect(days.body.data.map((d: any) => d.sms_inbound)).to.deep.equal([3, 100]);
    });

    it('format=csv and Accept: text/csv answer the whole report as CSV', async () => {
      const r = await usage('?group_by=user&since=2025-01-06&until=2025-03-31&format=csv&limit=1');
      expect(r.status).to.equal(200);
      expect(r.headers.get('content-type')).to.match(/^text\/csv/);
      expect(r.headers.get('content-disposition')).to.equal('attachment; filename="usage-user-2025-01-06-to-2025-03-31.csv"');
      const lines = (r.body as string).trimEnd().split('\r\n');
      expect(lines[0]).to.equal(['user_id', 'name', 'extension', ...TYPES].join(','));
      // Every user, not one page of them.
      expect(lines).to.have.length(4);
      expect(lines[2]).to.equal([userA.id, 'Alice Agent', userA.extension, 0, 18, 0, 9, 0, 0, 3].join(','));

      const byType = await usage('?group_by=type&since=2025-01-06&until=2025-03-31', acct.ownerToken, { accept: 'text/csv' });
      expect(byType.headers.get('content-type')).to.match(/^text\/csv/);
      expect((byType.body as string).split('\r\n').slice(0, 3)).to.deep.equal(['type,amount,aggregation', 'sms_inbound,9,sum', 'sms_outbound,18,sum']);
      const byDay = await usage('?since=2025-02-14&until=2025-02-14&format=csv');
      expect(byDay.body).to.equal(`day,${TYPES.join(',')}\r\n2025-02-14,2,11,0,0,0,0,0\r\n`);
    });
  });

  describe('active_devices_peak sampled from the live bindings', () => {
    it("raises each user's and the account's peak to the devices registered now, never lowers it, and skips expired bindings", async () => {
      const ws = await createAccount(app);
      const [a, b] = [await createUser(app, ws.ownerToken), await createUser(app, ws.ownerToken)];
      const bind = (u: any) => insertBinding(app, ws.accountId, u.id, `sip:${u.username}@${ws.sipDomain}`);
      const aIds = [await bind(a), await bind(a), await bind(a)];
      await bind(b);
      const expired = await bind(b);
      await app.services.db.models.Registration.update({ expires_at: new Date(Date.now() - 1000) }, { where: { id: expired } });
      const peaks = async () => {
        const r = await usage(`?group_by=user&since=${today}&until=${today}`, ws.ownerToken);
        expect(r.status, JSON.stringify(r.body)).to.equal(200);
        const of = (id: number) => (r.body.data as any[]).find((x) => x.user_id === id)?.active_devices_peak ?? 0;
        const [monthly] = await app.services.db.sequelize.query<{ amount: number }>(
          'SELECT amount FROM usage_monthly WHERE account_id = ? AND user_id = ? AND type = ? AND month = ?',
          { replacements: [ws.accountId, a.id, 'active_devices_peak', today.slice(0, 7)], type: QueryTypes.SELECT },
        );
        return {
          a: of(a.id),
          b: of(b.id),
          account: (await typeTotals(`&since=${today}&until=${today}`, ws.ownerToken)).active_devices_peak,
          aMonth: Number(monthly?.amount ?? 0),
        };
      };

      await app.services.usage.sampleDevices();
      expect(await peaks()).to.deep.equal({ a: 3, b: 1, account: 4, aMonth: 3 });
      // Fewer devices later in the day: the day's peak stays.
      await app.services.db.models.Registration.destroy({ where: { id: aIds.slice(0, 2) } });
      await app.services.usage.sampleDevices();
      expect(await peaks()).to.deep.equal({ a: 3, b: 1, account: 4, aMonth: 3 });
      // More than ever: B's peak and the account's (1 + 4 now) rise, A's stays.
      for (let i = 0; i < 3; i++) await bind(b);
      await app.services.usage.sampleDevices();
      expect(await peaks()).to.deep.equal({ a: 3, b: 4, account: 5, aMonth: 3 });
    });
  });

  describe('validation and access', () => {
    const expectError = async (query: string, status: number, code: string, field?: string, token?: string) => {
      const r = await usage(query, token);
      expect(r.status, JSON.stringify(r.body)).to.equal(status);
      expect(r.body.error.code).to.equal(code);
      if (field) expect(r.body.error.field).to.equal(field);
      expect(r.body.error.message).to.be.a('string').and.not.equal('');
    };

    it('refuses dates that are not YYYY-MM-DD calendar days', async () => {
      await expectError('?since=2025-13-01', 400, 'validation_failed', 'since');
      await expectError('?until=2025-02-30', 400, 'validation_failed', 'until');
      await expectError('?since=yesterday', 400, 'validation_failed', 'since');
    });

    it('refuses a reversed range and one longer than 366 days', async () => {
      await expectError('?since=2025-03-02&until=2025-03-01', 400, 'invalid_range', 'until');
      await expectError('?since=2024-01-01&until=2025-01-01', 400, 'range_too_long', 'until');
      expect((await usage('?since=2024-01-01&until=2024-12-31')).status).to.equal(200);
    });

    it('refuses an unknown group_by, an unknown parameter and a forged cursor', async () => {
      await expectError('?group_by=week', 400, 'validation_failed', 'group_by');
      await expectError('?per=day', 400, 'validation_failed', 'per');
      await expectError('?group_by=user&cursor=eyJ1IjoiYSJ9', 400, 'invalid_cursor', 'cursor');
    });

    it('is for the owner and admins only', async () => {
      const viewer = await createMember(app, acct.ownerToken, 'viewer');
      const user = await createMember(app, acct.ownerToken, 'user');
      await expectError('', 403, 'admin_required', undefined, viewer.token);
      await expectError('', 403, 'admin_required', undefined, user.token);
      expect((await app.call('GET', '/v1/usage')).status).to.equal(401);
    });

    it('is in the OpenAPI document with its CSV form', async () => {
      const doc = (await app.call('GET', '/openapi.json')).body;
      const op = doc.paths['/v1/usage'].get;
      expect(Object.keys(op.responses['200'].content)).to.deep.equal(['application/json', 'text/csv']);
      expect(op.parameters.map((p: any) => p.name)).to.include.members(['since', 'until', 'group_by', 'user_id', 'format', 'limit', 'cursor']);
    });
  });
});

describe('usage across nodes, and the monthly SMS threshold email', function () {
  this.timeout(60_000);
  let app: TestApp;
  let smtp: SmtpReceiver;
  let second: { db: Database; services: Services };
  let acct: TestAccount;

  before(async () => {
    smtp = await startSmtpReceiver();
    const overrides = {
      usage: { flushIntervalMs: 300_000, smsMonthlyThreshold: 10, alertRetrySeconds: 1 },
      smtp: { url: smtp.url, timeoutMs: 2000 },
      publicUrl: 'https://pbx.example',
    };
    app = await startTestApp(overrides);
    // A second node: its own database connections, services and buffers over the same database.
    const logger = createLogger('silent');
    const db = await openDatabase({ url: app.config.database.url, logger });
    second = { db, services: createServices(db, app.config, logger, Buffer.from(app.config.secrets.masterKey, 'base64')) };
    acct = await createAccount(app);
  });
  after(async () => {
    await second.services.usage.stop();
    await second.db.close();
    await app.stop();
    await smtp.stop();
  });

  it('adds what two nodes flush into the same rows at the same moment, and keeps the greater peak', async () => {
    const nodes = [app.services, second.services];
    const at = new Date('2025-06-10T08:00:00Z');
    for (let i = 0; i < 50; i++) {
      for (const s of nodes) {
        s.usage.recorder.record({ accountId: acct.accountId, userId: acct.ownerId, type: 'api_requests', amount: 2, at });
        s.usage.recorder.record({ accountId: acct.accountId, userId: null, type: 'registrations', at });
      }
    }
    app.services.usage.recorder.record({ accountId: acct.accountId, userId: acct.ownerId, type: 'active_devices_peak', amount: 4, at });
    second.services.usage.recorder.record({ accountId: acct.accountId, userId: acct.ownerId, type: 'active_devices_peak', amount: 6, at });
    await Promise.all(nodes.map((s) => s.usage.flush()));
    const r = await app.call('GET', '/v1/usage?group_by=user&since=2025-06-10&until=2025-06-10', { token: acct.ownerToken });
    const owner = r.body.data.find((x: any) => x.user_id === acct.ownerId);
    const none = r.body.data.find((x: any) => x.user_id === null);
    expect(owner).to.include({ api_requests: 200, active_devices_peak: 6 });
    expect(none).to.include({ registrations: 100 });
  });

  it('emails the billing contacts once when the month passes the threshold, however many nodes see it', async () => {
    const billing = await createUser(app, acct.ownerToken, { billing_contact: true, email: 'billing@acme.example' });
    await createUser(app, acct.ownerToken, { billing_contact: false, email: 'not-billing@acme.example' });
    expect(billing.billing_contact).to.equal(true);
    const nodes = [app.services, second.services];
    const at = new Date('2025-07-03T10:00:00Z');
    // 9 of 10: nothing yet.
    for (const s of nodes) s.usage.recorder.record({ accountId: acct.accountId, userId: billing.id, type: 'sms_outbound', amount: 3, at });
    app.services.usage.recorder.record({ accountId: acct.accountId, userId: null, type: 'sms_inbound', amount: 3, at });
    // Segments and auto-response counts are not what the threshold counts.
    app.services.usage.recorder.record({ accountId: acct.accountId, userId: billing.id, type: 'sms_segments', amount: 50, at });
    await Promise.all(nodes.map((s) => s.usage.flush()));
    await new Promise((r) => setTimeout(r, 300));
    expect(smtp.messages).to.have.length(0);

    // Both nodes cross it in the same moment.
    for (const s of nodes) s.usage.recorder.record({ accountId: acct.accountId, userId: billing.id, type: 'sms_inbound', amount: 1, at });
    await Promise.all(nodes.map((s) => s.usage.flush()));
    await smtp.waitFor(1);
    // And later SMS of the same month, flushed on either node, send nothing more.
    for (const s of nodes) s.usage.recorder.record({ accountId: acct.accountId, userId: billing.id, type: 'sms_outbound', amount: 5, at });
    await Promise.all(nodes.map((s) => s.usage.flush()));
    await Promise.all(nodes.map((s) => s.usage.runDueAlerts()));
    await new Promise((r) => setTimeout(r, 500));
    expect(smtp.messages).to.have.length(1);
    const mail = smtp.messages[0]!;
    expect(mail.to).to.deep.equal(['billing@acme.example']);
    expect(mail.subject).to.match(/SMS in 2025-07, past the threshold of 10/);
    expect(mail.text).to.include('https://pbx.example/settings/usage');

    const audit = await app.call('GET', '/v1/audit?action=usage.threshold_alert_sent', { token: acct.ownerToken });
    expect(audit.body.data).to.have.length(1);
    expect(audit.body.data[0].after).to.include({ period: '2025-07', threshold: 10 });

    // A new month starts counting again.
    app.services.usage.recorder.record({
      accountId: acct.accountId,
      userId: billing.id,
      type: 'sms_outbound',
      amount: 12,
      at: new Date('2025-08-01T00:00:00Z'),
    });
    await app.services.usage.flush();
    await smtp.waitFor(2);
    expect(smtp.messages[1]!.subject).to.match(/2025-08/);
  });

  it("deletes the workspace's usage rows with the workspace", async () => {
    const doomed = await createAccount(app, { name: 'Doomed Usage' });
    app.services.usage.recorder.record({ accountId: doomed.accountId, userId: doomed.ownerId, type: 'api_requests', amount: 3 });
    await app.services.usage.flush();
    const rows = async () =>
      Number(
        (
          await app.services.db.sequelize.query<{ n: number }>('SELECT COUNT(*) AS n FROM usage_daily WHERE account_id = ?', {
            replacements: [doomed.accountId],
            type: QueryTypes.SELECT,
          })
        )[0]!.n,
      );
    expect(await rows()).to.be.greaterThan(0);
    const r = await app.call('DELETE', '/v1/account', { token: doomed.ownerToken, body: { confirm: 'Doomed Usage' } });
    expect(r.status, JSON.stringify(r.body)).to.equal(200);
    expect(r.body.counts.usage_rows).to.be.greaterThan(0);
    expect(await rows()).to.equal(0);
  });

  it('sends the email later when the SMTP server was down when the threshold was crossed', async () => {
    const acct2 = await createAccount(app);
    await smtp.stop();
    const before = smtp.messages.length;
    app.services.usage.recorder.record({ accountId: acct2.accountId, userId: null, type: 'sms_inbound', amount: 10, at: new Date('2025-09-09T09:00:00Z') });
    await app.services.usage.flush();
    await smtp.start();
    // The retry is due after alertRetrySeconds (1 s); the owner gets it (no billing contact is flagged).
    await new Promise((r) => setTimeout(r, 1100));
    await second.services.usage.runDueAlerts();
    await smtp.waitFor(before + 1);
    expect(smtp.messages.at(-1)!.to).to.deep.equal([`owner@${acct2.sipDomain}`]);
    await app.services.usage.runDueAlerts();
    expect(smtp.messages).to.have.length(before + 1);
  });
});

describe("a workspace's own monthly SMS threshold (PATCH /v1/account sms_monthly_threshold)", function () {
  this.timeout(60_000);
  const PUBLIC_URL = 'https://pbx.example';
  let app: TestApp;
  let smtp: SmtpReceiver;
  let carriers: CarrierApiServer;

  before(async () => {
    smtp = await startSmtpReceiver();
    carriers = await startCarrierApiServer();
    app = await startTestApp({
      usage: { flushIntervalMs: 300_000, smsMonthlyThreshold: 10, alertRetrySeconds: 1 },
      smtp: { url: smtp.url, timeoutMs: 2000 },
      publicUrl: PUBLIC_URL,
      telephony: { twilioApiBaseUrl: carriers.baseUrl, trunks: { enabled: false } },
    });
  });
  after(async () => {
    await app.stop();
    await smtp.stop();
    await carriers.stop();
  });

  const alerts = async (accountId: number) =>
    Number(
      (
        await app.services.db.sequelize.query<{ n: number }>('SELECT COUNT(*) AS n FROM usage_alerts WHERE account_id = ?', {
          replacements: [accountId],
          type: QueryTypes.SELECT,
        })
      )[0]!.n,
    );

  it('shows the default until set, validates it, and is audited', async () => {
    const acct = await createAccount(app);
    const get = async () => (await app.call('GET', '/v1/account', { token: acct.ownerToken })).body;
    expect(await get()).to.include({ sms_monthly_threshold: null, sms_monthly_threshold_effective: 10 });
    for (const bad of [-1, 2.5, '5', 1_000_000_001]) {
      const r = await app.call('PATCH', '/v1/account', { token: acct.ownerToken, body: { sms_monthly_threshold: bad } });
      expect(r.status, JSON.stringify(bad)).to.equal(400);
      expect(r.body.error).to.include({ code: 'validation_failed', field: 'sms_monthly_threshold' });
    }
    const set = await app.call('PATCH', '/v1/account', { token: acct.ownerToken, body: { sms_monthly_threshold: 0 } });
    expect(set.status, JSON.stringify(set.body)).to.equal(200);
    expect(set.body).to.include({ sms_monthly_threshold: 0, sms_monthly_threshold_effective: 0 });
    expect(await get()).to.include({ sms_monthly_threshold: 0, sms_monthly_threshold_effective: 0 });
    const back = await app.call('PATCH', '/v1/account', { token: acct.ownerToken, body: { sms_monthly_threshold: null } });
    expect(back.body).to.include({ sms_monthly_threshold: null, sms_monthly_threshold_effective: 10 });
    const audit = await app.call('GET', '/v1/audit?action=account.updated', { token: acct.ownerToken });
    expect(audit.body.data.map((e: any) => e.after?.sms_monthly_threshold)).to.deep.include.members([0, null]);
    // Only the workspace's admins set it.
    const user = await createMember(app, acct.ownerToken, 'user');
    const refused = await app.call('PATCH', '/v1/account', { token: user.token, body: { sms_monthly_threshold: 1 } });
    expect(refused.status).to.equal(403);
  });

  it("emails the billing contacts once when the workspace's own threshold is crossed by SMS received through the carrier webhook", async () => {
    const acct = await createAccount(app);
    const number = `+1630${String(process.pid % 1000).padStart(3, '0')}0001`;
    carriers.twilio.numbers = [{ number, sms: true }];
    const p = await app.call('POST', '/v1/telephony/providers', {
      token: acct.ownerToken,
      body: { type: 'twilio', name: 'sms', credentials: { account_sid: carriers.twilio.sid, auth_token: carriers.twilio.token } },
    });
    expect(p.status, JSON.stringify(p.body)).to.equal(201);
    await createUser(app, acct.ownerToken, { billing_contact: true, email: 'billing@own-threshold.example' });
    expect((await app.call('PATCH', '/v1/account', { token: acct.ownerToken, body: { sms_monthly_threshold: 3 } })).status).to.equal(200);
    const sms = async (n: number) => {
      const signed = carriers.webhook.twilio(p.body.sms_webhook_url, {
        MessageSid: `SM${acct.accountId}x${n}`,
        From: '+15005550199',
        To: number,
        Body: `hello ${n}`,
      });
      const res = await fetch(app.baseUrl + new URL(p.body.sms_webhook_url as string).pathname, { method: 'POST', headers: signed.headers, body: signed.body });
      expect(res.status).to.equal(200);
    };
    const before = smtp.messages.length;
    // 2 of 3: below the workspace's threshold (the default, 10, is further still).
    await sms(1);
    await sms(2);
    await app.services.usage.flush();
    expect(await alerts(acct.accountId)).to.equal(0);
    expect(smtp.messages).to.have.length(before);

    await sms(3);
    await app.services.usage.flush();
    await smtp.waitFor(before + 1);
    const mail = smtp.messages[before]!;
    expect(mail.to).to.deep.equal(['billing@own-threshold.example']);
    expect(mail.subject).to.match(/: 3 SMS in \d{4}-\d{2}, past the threshold of 3$/);

    // More SMS that month: no second email.
    await sms(4);
    await app.services.usage.flush();
    await app.services.usage.runDueAlerts();
    expect(await alerts(acct.accountId)).to.equal(1);
    expect(smtp.messages).to.have.length(before + 1);
  });

  it('sends nothing for a workspace that set 0, however far past the default it goes', async () => {
    const acct = await createAccount(app);
    expect((await app.call('PATCH', '/v1/account', { token: acct.ownerToken, body: { sms_monthly_threshold: 0 } })).status).to.equal(200);
    const other = await createAccount(app);
    const before = smtp.messages.length;
    for (const a of [acct, other]) app.services.usage.recorder.record({ accountId: a.accountId, userId: null, type: 'sms_inbound', amount: 25 });
    await app.services.usage.flush();
    // The workspace without its own threshold gets the default's email; the one that set 0 gets none.
    await smtp.waitFor(before + 1);
    expect(smtp.messages.at(-1)!.to).to.deep.equal([`owner@${other.sipDomain}`]);
    expect(await alerts(acct.accountId)).to.equal(0);
    expect(smtp.messages).to.have.length(before + 1);
  });
});
