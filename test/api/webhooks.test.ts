import { expect } from 'chai';
import { startTestApp, type TestApp } from '../helpers/test-app.js';
import { createAccount, createMember, createUser, type TestAccount } from '../helpers/factories.js';
import { startWebhookReceiver } from '../helpers/webhook-receiver.js';
import { startServerProcess } from '../helpers/server-process.js';
import { verifySignature } from '../../src/webhooks/webhook-signature.js';
import { WebhookDeliveryJob } from '../../src/webhooks/webhook-delivery-job.js';

type Receiver = Awaited<ReturnType<typeof startWebhookReceiver>>;

describe('Webhooks', () => {
  let app: TestApp;
  let rx: Receiver;
  let acct: TestAccount;
  let other: TestAccount;
  let now = new Date();
  const clock = () => now;

  before(async () => {
    rx = await startWebhookReceiver();
    app = await startTestApp({ webhooks: { requestTimeoutMs: 500, maxResponseBytes: 1024 } }, { clock });
    other = await createAccount(app);
  });
  after(async () => {
    await app.stop();
    await rx.stop();
  });
  // A fresh account per test: webhooks of earlier tests must not receive this test's events.
  beforeEach(async () => {
    acct = await createAccount(app);
    now = new Date();
    rx.received.length = 0;
    rx.setResponder((_r, res) => res.writeHead(200).end('ok'));
  });

  async function createHook(events: string[], token = acct.ownerToken, url = rx.url) {
    const r = await app.call('POST', '/v1/webhooks', { token, body: { url, events, description: 'test' } });
    expect(r.status, JSON.stringify(r.body)).to.equal(201);
    return r.body as { id: number; secret: string };
  }
  const deliveries = async (id: number, token = acct.ownerToken) => (await app.call('GET', `/v1/webhooks/${id}/deliveries`, { token })).body.data as any[];

  it('signs each delivery: Switchboard-Signature t=…,v1=HMAC-SHA256(secret, t + "." + body)', async () => {
    const hook = await createHook(['user.created']);
    expect(hook.secret).to.match(/^whsec_/);
    const listed = await app.call('GET', `/v1/webhooks/${hook.id}`, { token: acct.ownerToken });
    expect(JSON.stringify(listed.body)).to.not.include(hook.secret);
    const user = await createUser(app, acct.ownerToken);
    expect(await app.services.webhookDelivery.runDue()).to.equal(1);
    expect(rx.received).to.have.length(1);
    const got = rx.received[0]!;
    expect(got.headers['content-type']).to.equal('application/json');
    expect(got.headers['switchboard-event']).to.equal('user.created');
    expect(got.headers['switchboard-attempt']).to.equal('1');
    expect(got.json).to.include({ type: 'user.created', account_id: acct.accountId });
    expect(got.json.data).to.include({ id: user.id, username: user.username });
    expect(got.body).to.not.include(user.sip_password);
    expect(got.headers['switchboard-event-id']).to.equal(got.json.id);
    const sig = String(got.headers['switchboard-signature']);
    expect(sig).to.match(/^t=\d+,v1=[0-9a-f]{64}$/);
    expect(verifySignature(hook.secret, sig, got.body, Math.floor(now.getTime() / 1000))).to.equal(true);
    expect(verifySignature(hook.secret, sig, got.body.replace('user.created', 'user.deleted'), Math.floor(now.getTime() / 1000))).to.equal(false);
    expect(verifySignature('whsec_wrong', sig, got.body, Math.floor(now.getTime() / 1000))).to.equal(false);
    const log = await deliveries(hook.id);
    expect(log[0]).to.include({ status: 'succeeded', attempts: 1, last_status_code: 200, event_type: 'user.created' });
    expect(await app.services.webhookDelivery.runDue()).to.equal(0);
  });

  it('queues events in the transaction of the change: a refused change queues nothing, and only subscribers get events', async () => {
    const subscribed = await createHook(['user.updated', 'user.deleted']);
    const unrelated = await createHook(['member.invited']);
    const u = await createUser(app, acct.ownerToken, { extension: '650' });
    const clash = await app.call('POST', '/v1/users', { token: acct.ownerToken, body: { name: 'dup', extension: '650', username: `dup${Date.now()}` } });
    expect(clash.status).to.equal(409);
    await app.call('PATCH', `/v1/users/${u.id}`, { token: acct.ownerToken, body: { name: 'Renamed' } });
    await app.call('DELETE', `/v1/users/${u.id}`, { token: acct.ownerToken });
    expect((await deliveries(subscribed.id)).map((d) => d.event_type)).to.deep.equal(['user.deleted', 'user.updated']);
    expect(await deliveries(unrelated.id)).to.have.length(0);
    await app.services.webhookDelivery.runDue();
    const updated = rx.received.find((r) => r.json.type === 'user.updated')!;
    expect(updated.json.data.user.name).to.equal('Renamed');
    expect(updated.json.data.changed).to.include('name');
  });

  it('retries with exponential backoff for at least 24 h, then fails the delivery, disables the webhook and audits it', async () => {
    rx.setResponder((_r, res) => res.writeHead(503).end('down'));
    const hook = await createHook(['api_key.created']);
    const t0 = now.getTime();
    await app.call('POST', '/v1/api-keys', { token: acct.ownerToken, body: { name: 'k' } });
    const schedule: number[] = [];
    for (let i = 0; i < 40; i++) {
      expect(await app.services.webhookDelivery.runDue()).to.equal(1);
      const [d] = await deliveries(hook.id);
      schedule.push((now.getTime() - t0) / 1000);
      if (d.status !== 'pending') break;
      const next = new Date(d.next_attempt_at).getTime();
      now = new Date(next - 1000);
      expect(await app.services.webhookDelivery.runDue(), 'not due a second early').to.equal(0);
      now = new Date(next);
    }
    const gaps = schedule.slice(1).map((s, i) => s - schedule[i]!);
    expect(gaps.slice(0, 6)).to.deep.equal([30, 60, 120, 240, 480, 960]);
    expect(Math.max(...gaps)).to.equal(21600);
    expect(schedule[schedule.length - 1]).to.be.at.least(24 * 3600);
    const [final] = await deliveries(hook.id);
    expect(final).to.include({ status: 'failed', attempts: schedule.length, last_status_code: 503 });
    expect(rx.received).to.have.length(schedule.length);
    expect(new Set(rx.received.map((r) => r.json.id)).size).to.equal(1);
    expect(rx.received.map((r) => Number(r.headers['switchboard-attempt']))).to.deep.equal(schedule.map((_s, i) => i + 1));
    const view = (await app.call('GET', `/v1/webhooks/${hook.id}`, { token: acct.ownerToken })).body;
    expect(view.active).to.equal(false);
    expect(view.disabled_reason).to.include('HTTP 503');
    const audit = await app.services.db.models.AuditEntry.findOne({
      where: { account_id: acct.accountId, action: 'webhook.disabled', target_id: String(hook.id) },
    });
    expect(audit).to.not.equal(null);
    expect(audit!.actor_type).to.equal('system');
    // Disabled: new events are not queued; re-enabling starts over.
    await app.call('POST', '/v1/api-keys', { token: acct.ownerToken, body: { name: 'k2' } });
    expect(await deliveries(hook.id)).to.have.length(1);
    const re = await app.call('PATCH', `/v1/webhooks/${hook.id}`, { token: acct.ownerToken, body: { active: true } });
    expect(re.body).to.include({ active: true, disabled_reason: null, failing_since: null });
  });

  it('redelivers an event with the same body and event id, and a success clears the failure state', async () => {
    rx.setResponder((_r, res) => res.writeHead(500).end());
    const hook = await createHook(['api_key.revoked']);
    const key = (await app.call('POST', '/v1/api-keys', { token: acct.ownerToken, body: { name: 'r' } })).body;
    await app.call('DELETE', `/v1/api-keys/${key.token}`, { token: acct.ownerToken });
    await app.services.webhookDelivery.runDue();
    const [failed] = await deliveries(hook.id);
    expect(failed).to.include({ status: 'pending', attempts: 1, last_status_code: 500 });
    expect((await app.call('GET', `/v1/webhooks/${hook.id}`, { token: acct.ownerToken })).body.failing_since).to.be.a('string');
    rx.setResponder((_r, res) => res.writeHead(204).end());
    const again = await app.call('POST', `/v1/webhooks/${hook.id}/deliveries/${failed.id}/redeliver`, { token: acct.ownerToken });
    expect(again.status).to.equal(202);
    await app.services.webhookDelivery.runDue();
    const ok = (await deliveries(hook.id)).find((d) => d.id === again.body.id)!;
    expect(ok).to.include({ status: 'succeeded', event_id: failed.event_id, last_status_code: 204 });
    expect(rx.received[0]!.body).to.equal(rx.received[1]!.body);
    expect((await app.call('GET', `/v1/webhooks/${hook.id}`, { token: acct.ownerToken })).body.failing_since).to.equal(null);
    // The first delivery is still pending a retry; do not let it fall due in a later test.
    await app.call('DELETE', `/v1/webhooks/${hook.id}`, { token: acct.ownerToken });
  });

  it('sends a ping now with POST /v1/webhooks/{id}/test and reports the outcome', async () => {
    const hook = await createHook(['user.created']);
    const r = await app.call('POST', `/v1/webhooks/${hook.id}/test`, { token: acct.ownerToken });
    expect(r.status).to.equal(200);
    expect(r.body).to.include({ status: 'succeeded', event_type: 'webhook.ping', last_status_code: 200 });
    expect(rx.received[0]!.json.data).to.include({ webhook_id: hook.id });
    rx.setResponder((_r, res) => res.writeHead(404).end());
    const bad = await app.call('POST', `/v1/webhooks/${hook.id}/test`, { token: acct.ownerToken });
    expect(bad.body).to.include({ status: 'failed', last_status_code: 404, attempts: 1 });
  });

  it('does not follow redirects, and caps time and response size', async () => {
    const hook = await createHook(['user.created']);
    rx.setResponder((_r, res) => res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' }).end());
    const redirect = await app.call('POST', `/v1/webhooks/${hook.id}/test`, { token: acct.ownerToken });
    expect(redirect.body.status).to.equal('failed');
    expect(redirect.body.last_error).to.include('not followed');
    expect(rx.received).to.have.length(1);
    rx.setResponder((_r, res) => setTimeout(() => res.writeHead(200).end(), 1500));
    const slow = await app.call('POST', `/v1/webhooks/${hook.id}/test`, { token: acct.ownerToken });
    expect(slow.body.status).to.equal('failed');
    expect(slow.body.last_error).to.include('timed out after 500 ms');
    rx.setResponder((_r, res) => res.writeHead(200).end('x'.repeat(200_000)));
    const big = await app.call('POST', `/v1/webhooks/${hook.id}/test`, { token: acct.ownerToken });
    expect(big.body.status).to.equal('succeeded');
    expect(big.body.last_error).to.include('cut off');
  });

  it('refuses private, link-local, metadata and CGNAT targets at creation, and bad URLs', async () => {
    const refused = [
      'http://10.0.0.5/h',
      'http://192.168.1.10/h',
      'http://172.16.0.1/h',
      'http://169.254.169.254/latest/meta-data/',
      'http://100.100.100.200/',
      'http://[fd00:ec2::254]/',
      'http://[::ffff:10.0.0.1]/',
      'http://0.0.0.0/',
      'http://224.0.0.1/',
    ];
    for (const url of refused) {
      const r = await app.call('POST', '/v1/webhooks', { token: acct.ownerToken, body: { url, events: ['user.created'] } });
      expect(r.status, url).to.equal(422);
      expect(r.body.error, url).to.include({ code: 'webhook_target_forbidden', field: 'url' });
    }
    for (const url of ['ftp://example.com/', 'http://user:pw@127.0.0.1/', 'not a url']) {
      const r = await app.call('POST', '/v1/webhooks', { token: acct.ownerToken, body: { url, events: ['user.created'] } });
      expect(r.status, url).to.equal(422);
      expect(r.body.error.code, url).to.equal('invalid_webhook_url');
    }
    const hook = await createHook(['user.created']);
    const moved = await app.call('PATCH', `/v1/webhooks/${hook.id}`, { token: acct.ownerToken, body: { url: 'http://169.254.169.254/' } });
    expect(moved.status).to.equal(422);
    expect(moved.body.error.code).to.equal('webhook_target_forbidden');
    const unknownEvent = await app.call('POST', '/v1/webhooks', { token: acct.ownerToken, body: { url: rx.url, events: ['user.exploded'] } });
    expect(unknownEvent.status).to.equal(400);
  });

  it('re-checks the target at delivery time: a private or (in production) loopback address is never contacted', async () => {
    const privateHook = await app.services.db.models.Webhook.create({
      account_id: acct.accountId,
      url: 'http://10.255.255.1:9/h',
      events: ['user.created'],
      description: null,
      active: true,
      secret_enc: app.services.secrets.encrypt('whsec_x'),
      failing_since: null,
      disabled_reason: null,
    });
    const production = new WebhookDeliveryJob({
      sequelize: app.services.db.sequelize,
      models: app.services.db.models,
      audit: app.services.audit,
      secrets: app.services.secrets,
      logger: app.services.logger,
      now: clock,
      settings: { ...app.config.webhooks, allowLoopbackTargets: false },
    });
    const named = await createHook(['user.created'], acct.ownerToken, `http://localhost:${rx.port}/hook`);
    await createUser(app, acct.ownerToken);
    expect(await production.runDue()).to.equal(2);
    const viaIp = (await deliveries(privateHook.id))[0];
    expect(viaIp.last_error).to.include('target refused');
    const viaName = (await deliveries(named.id))[0];
    expect(viaName.status).to.equal('pending');
    expect(viaName.last_error).to.include('refused target localhost');
    expect(rx.received).to.have.length(0);
    await app.services.db.models.Webhook.update({ active: false }, { where: { id: privateHook.id } });
    await app.call('DELETE', `/v1/webhooks/${named.id}`, { token: acct.ownerToken });
  });

  it('never sends one attempt twice when two workers run at once (leases)', async () => {
    const hook = await createHook(['user.created']);
    for (let i = 0; i < 6; i++) await createUser(app, acct.ownerToken);
    const other = new WebhookDeliveryJob({
      sequelize: app.services.db.sequelize,
      models: app.services.db.models,
      audit: app.services.audit,
      secrets: app.services.secrets,
      logger: app.services.logger,
      now: clock,
      settings: app.config.webhooks,
    });
    const [a, b] = await Promise.all([app.services.webhookDelivery.runDue(), other.runDue()]);
    expect(a + b).to.equal(6);
    expect(rx.received).to.have.length(6);
    expect(new Set(rx.received.map((r) => r.headers['switchboard-delivery'])).size).to.equal(6);
    expect((await deliveries(hook.id)).every((d) => d.status === 'succeeded' && d.attempts === 1)).to.equal(true);
    await app.call('DELETE', `/v1/webhooks/${hook.id}`, { token: acct.ownerToken });
  });

  it('keeps accounts apart and gives viewers 403 on every webhook mutation', async () => {
    const hook = await createHook(['user.created']);
    for (const [method, path] of [
      ['GET', `/v1/webhooks/${hook.id}`],
      ['PATCH', `/v1/webhooks/${hook.id}`],
      ['DELETE', `/v1/webhooks/${hook.id}`],
      ['GET', `/v1/webhooks/${hook.id}/deliveries`],
      ['POST', `/v1/webhooks/${hook.id}/test`],
      ['POST', `/v1/webhooks/${hook.id}/rotate-secret`],
    ] as const) {
      const r = await app.call(method, path, { token: other.ownerToken, body: method === 'PATCH' ? { active: false } : undefined });
      expect(r.status, `${method} ${path}`).to.equal(404);
    }
    expect((await app.call('GET', '/v1/webhooks', { token: other.ownerToken })).body.data.map((h: any) => h.id)).to.not.include(hook.id);
    const viewer = await createMember(app, acct.ownerToken, 'viewer');
    const attempts: Array<[string, string, unknown?]> = [
      ['POST', '/v1/webhooks', { url: rx.url, events: ['user.created'] }],
      ['PATCH', `/v1/webhooks/${hook.id}`, { active: false }],
      ['DELETE', `/v1/webhooks/${hook.id}`],
      ['POST', `/v1/webhooks/${hook.id}/test`],
      ['POST', `/v1/webhooks/${hook.id}/rotate-secret`],
      ['POST', `/v1/webhooks/${hook.id}/deliveries/1/redeliver`],
    ];
    for (const [method, path, body] of attempts) {
      const r = await app.call(method, path, { token: viewer.token, body });
      expect(r.status, `${method} ${path}`).to.equal(403);
      expect(r.body.error.code).to.equal('admin_required');
    }
    expect((await app.call('GET', `/v1/webhooks/${hook.id}/deliveries`, { token: viewer.token })).status).to.equal(200);
    const rotated = await app.call('POST', `/v1/webhooks/${hook.id}/rotate-secret`, { token: acct.ownerToken });
    expect(rotated.body.secret).to.not.equal(hook.secret);
    await app.call('DELETE', `/v1/webhooks/${hook.id}`, { token: acct.ownerToken });
  });

  it('delivers what was queued before a restart from a fresh serve process with the job enabled', async () => {
    const hook = await createHook(['member.invited']);
    await app.call('POST', '/v1/members/invitations', { token: acct.ownerToken, body: { email: `queued${Date.now()}@acme.example`, role: 'viewer' } });
    expect((await deliveries(hook.id))[0]).to.include({ status: 'pending', attempts: 0 });
    const proc = await startServerProcess(app.config.database.url, app.config.secrets.masterKey, {
      JOBS_ENABLED: 'true',
      WEBHOOK_DELIVERY_ENABLED: 'true',
      WEBHOOK_DELIVERY_INTERVAL_MS: '200',
    });
    try {
      const deadline = Date.now() + 10_000;
      while (!rx.received.some((r) => r.json?.type === 'member.invited') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    } finally {
      await proc.stop();
    }
    const got = rx.received.find((r) => r.json.type === 'member.invited')!;
    expect(got).to.not.equal(undefined);
    expect(verifySignature(hook.secret, String(got.headers['switchboard-signature']), got.body, Math.floor(Date.now() / 1000))).to.equal(true);
    expect((await deliveries(hook.id))[0]).to.include({ status: 'succeeded', attempts: 1 });
  });
});
