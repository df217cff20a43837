import { expect } from 'chai';
import { startTestApp, type TestApp } from '../helpers/test-app.js';
import { createAccount, createMember, createUser, insertBinding, login, type TestAccount } from '../helpers/factories.js';
import { startWebhookReceiver } from '../helpers/webhook-receiver.js';

const MEMBER_PASSWORD = 'member-password-123';

describe('Account lifecycle: password change, disable, members, workspace deletion', () => {
  let app: TestApp;
  let acct: TestAccount;
  let rx: Awaited<ReturnType<typeof startWebhookReceiver>>;

  before(async () => {
    app = await startTestApp();
    rx = await startWebhookReceiver();
  });
  after(async () => {
    await app.stop();
    await rx.stop();
  });
  beforeEach(async () => {
    acct = await createAccount(app);
    rx.received.length = 0;
  });

  const me = (token: string) => app.call('GET', '/v1/me', { token });
  const tokenGrant = (username: string, password: string) => app.call('POST', '/v1/auth/token', { body: { grant_type: 'password', username, password } });

  describe('PATCH /v1/users/{self} password', () => {
    it('needs current_password; a wrong one is 403 and changes nothing', async () => {
      const m = await createMember(app, acct.ownerToken, 'user');
      const missing = await app.call('PATCH', `/v1/users/${m.user.id}`, { token: m.token, body: { password: 'a brand new passphrase' } });
      expect(missing.status).to.equal(422);
      expect(missing.body.error).to.include({ code: 'current_password_required', field: 'current_password' });
      const wrong = await app.call('PATCH', `/v1/users/${m.user.id}`, {
        token: m.token,
        body: { password: 'a brand new passphrase', current_password: 'not my password' },
      });
      expect(wrong.status).to.equal(403);
      expect(wrong.body.error).to.include({ code: 'current_password_incorrect', field: 'current_password' });
      expect((await tokenGrant(m.user.username, MEMBER_PASSWORD)).status).to.equal(200);
      expect((await tokenGrant(m.user.username, 'a brand new passphrase')).status).to.equal(401);
      const alone = await app.call('PATCH', `/v1/users/${m.user.id}`, { token: m.token, body: { current_password: MEMBER_PASSWORD } });
      expect(alone.status).to.equal(400);
    });

    it('counts wrong current_password answers as failed sign-ins: past the limit 429, and password login is blocked too', async () => {
      const m = await createMember(app, acct.ownerToken, 'user');
      const limit = app.config.auth.throttle.usernameFailures;
      for (let i = 0; i < limit; i++) {
        const r = await app.call('PATCH', `/v1/users/${m.user.id}`, {
          token: m.token,
          body: { password: 'a brand new passphrase', current_password: `guess-${i}` },
        });
        expect(r.status).to.equal(403);
      }
      const blocked = await app.call('PATCH', `/v1/users/${m.user.id}`, {
        token: m.token,
        body: { password: 'a brand new passphrase', current_password: MEMBER_PASSWORD },
      });
      expect(blocked.status).to.equal(429);
      expect(blocked.headers.get('retry-after')).to.match(/^\d+$/);
      expect((await tokenGrant(m.user.username, MEMBER_PASSWORD)).status).to.equal(429);
    });

    it('with the current password: the new one signs in, every other access token ends at once, the one that made the change stays', async () => {
      const m = await createMember(app, acct.ownerToken, 'user');
      const stolen = await login(app, m.user.username, MEMBER_PASSWORD);
      const keyed = await app.call('POST', '/v1/api-keys', { token: m.token, body: { name: 'laptop' } });
      const viaKey = (await app.call('POST', '/v1/auth/token', { body: { grant_type: 'api_key', token: keyed.body.token, secret: keyed.body.secret } })).body
        .access_token as string;
      expect((await me(stolen)).status).to.equal(200);
      const r = await app.call('PATCH', `/v1/users/${m.user.id}`, {
        token: m.token,
        body: { password: 'a brand new passphrase', current_password: MEMBER_PASSWORD },
      });
      expect(r.status, JSON.stringify(r.body)).to.equal(200);
      expect((await me(m.token)).status).to.equal(200);
      expect((await me(stolen)).status).to.equal(401);
      expect((await me(viaKey)).status).to.equal(401);
      expect((await tokenGrant(m.user.username, MEMBER_PASSWORD)).status).to.equal(401);
      expect((await tokenGrant(m.user.username, 'a brand new passphrase')).status).to.equal(200);
      const audit = await app.services.db.models.AuditEntry.findOne({
        where: { account_id: acct.accountId, action: 'user.updated', target_id: String(m.user.id) },
        order: [['id', 'DESC']],
      });
      expect(audit!.after).to.deep.equal({ password: '[redacted]', login_changed_by: 'self' });
      expect(JSON.stringify(audit!.toJSON())).to.not.include('a brand new passphrase');
    });

    it('an admin resets another user password without it (audited as done by an admin) and that user is signed out everywhere', async () => {
      const m = await createMember(app, acct.ownerToken, 'user');
      const admin = await createMember(app, acct.ownerToken, 'admin');
      const r = await app.call('PATCH', `/v1/users/${m.user.id}`, { token: admin.token, body: { password: 'reset by the admin 1' } });
      expect(r.status, JSON.stringify(r.body)).to.equal(200);
      expect((await me(m.token)).status).to.equal(401);
      expect((await me(admin.token)).status).to.equal(200);
      expect((await tokenGrant(m.user.username, 'reset by the admin 1')).status).to.equal(200);
      const reset = await app.services.db.models.AuditEntry.findOne({
        where: { action: 'user.updated', target_id: String(m.user.id) },
        order: [['id', 'DESC']],
      });
      expect(reset!.actor_id).to.equal(`user:${admin.user.id}`);
      expect(reset!.after).to.deep.equal({ password: '[redacted]', login_changed_by: 'admin' });
      // An admin changing their own password is a self-service change like any other.
      const own = await app.call('PATCH', `/v1/users/${admin.user.id}`, { token: admin.token, body: { password: 'admin own new pass' } });
      expect(own.status).to.equal(422);
      expect(own.body.error.code).to.equal('current_password_required');
    });

    it('OTP re-enrolment and turning OTP off end every other access token of the user', async () => {
      const m = await createMember(app, acct.ownerToken, 'user');
      const other = await login(app, m.user.username, MEMBER_PASSWORD);
      const enrol = await app.call('POST', `/v1/users/${m.user.id}/otp`, { token: m.token });
      expect(enrol.status).to.equal(200);
      expect((await me(m.token)).status).to.equal(200);
      expect((await me(other)).status).to.equal(401);
      // An admin turns the second factor off: the user's sessions end.
      await app.call('PATCH', `/v1/users/${m.user.id}`, { token: acct.ownerToken, body: { otp_required: true } });
      const before = await me(m.token);
      expect(before.status).to.equal(200);
      const off = await app.call('PATCH', `/v1/users/${m.user.id}`, { token: acct.ownerToken, body: { otp_required: false } });
      expect(off.status).to.equal(200);
      expect((await me(m.token)).status).to.equal(401);
      expect((await me(acct.ownerToken)).status).to.equal(200);
    });
  });

  describe('PATCH /v1/users/{id} status', () => {
    it('disabled: tokens and API keys stop at once, login is refused, bindings go; active restores login and keys; audited with user.updated', async () => {
      const hook = await app.call('POST', '/v1/webhooks', { token: acct.ownerToken, body: { url: rx.url, events: ['user.updated', 'registration.removed'] } });
      expect(hook.status).to.equal(201);
      const m = await createMember(app, acct.ownerToken, 'user');
      const key = (await app.call('POST', '/v1/api-keys', { token: m.token, body: { name: 'script' } })).body;
      const aor = `sip:${m.user.username}@${acct.sipDomain}`;
      await insertBinding(app, acct.accountId, m.user.id, aor);
      await insertBinding(app, acct.accountId, m.user.id, aor);
      const r = await app.call('PATCH', `/v1/users/${m.user.id}`, { token: acct.ownerToken, body: { status: 'disabled' } });
      expect(r.status, JSON.stringify(r.body)).to.equal(200);
      expect(r.body.status).to.equal('disabled');
      expect((await me(m.token)).status).to.equal(401);
      expect((await tokenGrant(m.user.username, MEMBER_PASSWORD)).status).to.equal(401);
      expect((await app.call('POST', '/v1/auth/token', { body: { grant_type: 'api_key', token: key.token, secret: key.secret } })).status).to.equal(401);
      expect(await app.services.db.models.Registration.count({ where: { user_id: m.user.id } })).to.equal(0);
      const audit = await app.services.db.models.AuditEntry.findOne({
        where: { action: 'user.updated', target_id: String(m.user.id) },
        order: [['id', 'DESC']],
      });
      expect(audit!.before).to.include({ status: 'active' });
      expect(audit!.after).to.include({ status: 'disabled' });
      expect(await app.services.webhookDelivery.runDue()).to.be.greaterThan(0);
      const updated = rx.received.map((x) => x.json).filter((e) => e.type === 'user.updated' && e.data.user.id === m.user.id);
      expect(updated.map((e) => e.data.user.status)).to.include('disabled');
      expect(updated.find((e) => e.data.user.status === 'disabled')!.data.changed).to.include('status');
      expect(rx.received.filter((x) => x.json.type === 'registration.removed')).to.have.length(2);

      const back = await app.call('PATCH', `/v1/users/${m.user.id}`, { token: acct.ownerToken, body: { status: 'active' } });
      expect(back.status).to.equal(200);
      expect((await me(m.token)).status, 'old sessions stay ended').to.equal(401);
      expect((await tokenGrant(m.user.username, MEMBER_PASSWORD)).status).to.equal(200);
      expect((await app.call('POST', '/v1/auth/token', { body: { grant_type: 'api_key', token: key.token, secret: key.secret } })).status).to.equal(200);
    });

    it('refuses to disable the owner or oneself, and a plain user cannot set status', async () => {
      const admin = await createMember(app, acct.ownerToken, 'admin');
      const owner = await app.call('PATCH', `/v1/users/${acct.ownerId}`, { token: admin.token, body: { status: 'disabled' } });
      expect(owner.status).to.equal(422);
      expect(owner.body.error.code).to.equal('owner_cannot_be_disabled');
      const self = await app.call('PATCH', `/v1/users/${admin.user.id}`, { token: admin.token, body: { status: 'disabled' } });
      expect(self.status).to.equal(422);
      expect(self.body.error.code).to.equal('cannot_disable_self');
      const u = await createMember(app, acct.ownerToken, 'user');
      const byUser = await app.call('PATCH', `/v1/users/${u.user.id}`, { token: u.token, body: { status: 'disabled' } });
      expect(byUser.status).to.equal(403);
      expect(byUser.body.error.code).to.equal('field_not_self_service');
      const bad = await app.call('PATCH', `/v1/users/${u.user.id}`, { token: acct.ownerToken, body: { status: 'invited' } });
      expect(bad.status).to.equal(400);
    });
  });

  describe('members', () => {
    it("PATCH /v1/members/{id} changes a member's role (audited, user.updated) and ends their tokens; the owner's role does not move this way", async () => {
      const m = await createMember(app, acct.ownerToken, 'viewer');
      const r = await app.call('PATCH', `/v1/members/${m.user.id}`, { token: acct.ownerToken, body: { role: 'admin' } });
      expect(r.status, JSON.stringify(r.body)).to.equal(200);
      expect(r.body).to.include({ id: m.user.id, role: 'admin', status: 'active' });
      expect((await me(m.token)).status).to.equal(401);
      const fresh = await login(app, m.user.username, MEMBER_PASSWORD);
      expect((await me(fresh)).body.role).to.equal('admin');
      const audit = await app.services.db.models.AuditEntry.findOne({
        where: { action: 'user.updated', target_id: String(m.user.id) },
        order: [['id', 'DESC']],
      });
      expect(audit!.after).to.include({ role: 'admin' });
      const owner = await app.call('PATCH', `/v1/members/${acct.ownerId}`, { token: fresh, body: { role: 'user' } });
      expect(owner.status).to.equal(422);
      expect(owner.body.error.code).to.equal('owner_cannot_be_demoted');
      const toOwner = await app.call('PATCH', `/v1/members/${m.user.id}`, { token: acct.ownerToken, body: { role: 'owner' } });
      expect(toOwner.status).to.equal(400);
    });

    it('PATCH /v1/members/invitations/{id} changes the role a pending invitation grants', async () => {
      const inv = await app.call('POST', '/v1/members/invitations', { token: acct.ownerToken, body: { email: `inv${Date.now()}@example.org`, role: 'user' } });
      expect(inv.status).to.equal(201);
      const r = await app.call('PATCH', `/v1/members/invitations/${inv.body.invitation_id}`, { token: acct.ownerToken, body: { role: 'viewer' } });
      expect(r.status).to.equal(200);
      expect(r.body).to.include({ invitation_id: inv.body.invitation_id, role: 'viewer', status: 'invited' });
      expect((await app.services.db.models.MemberInvitation.findByPk(inv.body.invitation_id))!.role).to.equal('viewer');
      const audit = await app.services.db.models.AuditEntry.findOne({
        where: { action: 'member.invitation_updated', target_id: String(inv.body.invitation_id) },
      });
      expect(audit!.before).to.deep.equal({ role: 'user' });
      expect(audit!.after).to.deep.equal({ role: 'viewer' });
      await app.call('DELETE', `/v1/members/invitations/${inv.body.invitation_id}`, { token: acct.ownerToken });
      const gone = await app.call('PATCH', `/v1/members/invitations/${inv.body.invitation_id}`, { token: acct.ownerToken, body: { role: 'admin' } });
      expect(gone.status).to.equal(409);
    });

    it('removing a member keeps their PBX user with its bindings and mailbox; their API keys are revoked', async () => {
      const m = await createMember(app, acct.ownerToken, 'admin', { mailbox: 'self' });
      const key = (await app.call('POST', '/v1/api-keys', { token: m.token, body: { name: 'ci' } })).body;
      await insertBinding(app, acct.accountId, m.user.id, `sip:${m.user.username}@${acct.sipDomain}`);
      expect((await app.call('DELETE', `/v1/members/${m.user.id}`, { token: acct.ownerToken })).status).to.equal(204);
      expect(await app.services.db.models.Registration.count({ where: { user_id: m.user.id } })).to.equal(1);
      const u = (await app.call('GET', `/v1/users/${m.user.id}`, { token: acct.ownerToken })).body;
      expect(u.mailbox).to.not.equal(null);
      expect(u.role).to.equal('user');
      expect((await app.services.db.models.ApiKey.findOne({ where: { token: key.token } }))!.revoked_at).to.not.equal(null);
      expect((await app.call('POST', '/v1/auth/token', { body: { grant_type: 'api_key', token: key.token, secret: key.secret } })).status).to.equal(401);
    });
  });

  describe('DELETE /v1/account', () => {
    it('owner only, with the account name as confirmation', async () => {
      const admin = await createMember(app, acct.ownerToken, 'admin');
      const name = (await app.call('GET', '/v1/account', { token: acct.ownerToken })).body.name;
      const byAdmin = await app.call('DELETE', '/v1/account', { token: admin.token, body: { confirm: name } });
      expect(byAdmin.status).to.equal(403);
      expect(byAdmin.body.error.code).to.equal('owner_required');
      const wrong = await app.call('DELETE', '/v1/account', { token: acct.ownerToken, body: { confirm: name.toUpperCase() + 'x' } });
      expect(wrong.status).to.equal(422);
      expect(wrong.body.error).to.include({ code: 'confirmation_mismatch', field: 'confirm' });
      const none = await app.call('DELETE', '/v1/account', { token: acct.ownerToken });
      expect(none.status).to.equal(400);
      expect((await app.call('GET', '/v1/account', { token: acct.ownerToken })).status).to.equal(200);
    });

    it('removes everything of the account in one go, leaves other accounts alone, and keeps a record of who deleted what', async () => {
      const other = await createAccount(app);
      const otherUser = await createUser(app, other.ownerToken);
      const m = await createMember(app, acct.ownerToken, 'user', { mailbox: 'self' });
      await createUser(app, acct.ownerToken);
      await app.call('POST', '/v1/api-keys', { token: m.token, body: { name: 'k' } });
      await insertBinding(app, acct.accountId, m.user.id, `sip:${m.user.username}@${acct.sipDomain}`);
      const num = await app.call('POST', '/v1/numbers', {
        token: acct.ownerToken,
        body: { e164: `+1415555${String(Date.now()).slice(-4)}`, capabilities: { voice: true } },
      });
      expect(num.status, JSON.stringify(num.body)).to.equal(201);
      await app.services.webhookDelivery.runDue(); // earlier tests' events
      const hook = await app.call('POST', '/v1/webhooks', { token: acct.ownerToken, body: { url: rx.url, events: ['user.created'] } });
      expect(hook.status).to.equal(201);
      await createUser(app, acct.ownerToken); // queues a pending delivery
      const sched = await app.call('POST', '/v1/oncall/schedules', { token: acct.ownerToken, body: { name: 'Night', timezone: 'UTC' } });
      await app.call('POST', `/v1/oncall/schedules/${sched.body.id}/shifts`, {
        token: acct.ownerToken,
        body: { user_id: m.user.id, starts_at: new Date(Date.now() + 86_400_000).toISOString(), ends_at: new Date(Date.now() + 90_000_000).toISOString() },
      });
      await app.call('POST', '/v1/members/invitations', { token: acct.ownerToken, body: { email: `pending${Date.now()}@example.org`, role: 'user' } });
      const name = (await app.call('GET', '/v1/account', { token: acct.ownerToken })).body.name;

      const r = await app.call('DELETE', '/v1/account', { token: acct.ownerToken, body: { confirm: name } });
      expect(r.status, JSON.stringify(r.body)).to.equal(200);
      expect(r.body.account_id).to.equal(acct.accountId);
      expect(r.body.counts).to.include({
        users: 4,
        registrations: 1,
        api_keys: 1,
        numbers: 1,
        webhooks: 1,
        pending_webhook_deliveries: 1,
        oncall_schedules: 1,
        oncall_shifts: 1,
        member_invitations: 1,
      });

      const models = app.services.db.models;
      const where = { account_id: acct.accountId };
      for (const [label, model] of Object.entries({
        users: models.User,
        registrations: models.Registration,
        keys: models.ApiKey,
        tokens: models.AccessToken,
        numbers: models.PhoneNumber,
        webhooks: models.Webhook,
        deliveries: models.WebhookDelivery,
        schedules: models.OncallSchedule,
        shifts: models.OncallShift,
        mailboxes: models.Mailbox,
        invitations: models.MemberInvitation,
        audit: models.AuditEntry,
      })) {
        expect(await (model as typeof models.User).count({ where }), label).to.equal(0);
      }
      expect(await models.Account.findByPk(acct.accountId)).to.equal(null);
      expect((await me(acct.ownerToken)).status).to.equal(401);
      expect((await me(m.token)).status).to.equal(401);
      expect(await app.services.webhookDelivery.runDue()).to.equal(0);

      const record = await models.AccountDeletion.findOne({ where: { account_id: acct.accountId } });
      expect(record).to.not.equal(null);
      expect(record!).to.include({ account_name: name, sip_domain: acct.sipDomain, deleted_by: `user:${acct.ownerId}`, deleted_by_user_id: acct.ownerId });
      const counts = typeof record!.counts === 'string' ? JSON.parse(record!.counts) : record!.counts;
      expect(counts).to.deep.equal(r.body.counts);

      // The other workspace is untouched.
      expect((await app.call('GET', `/v1/users/${otherUser.id}`, { token: other.ownerToken })).status).to.equal(200);
    });
  });
});
