import { expect } from 'chai';
import { startTestApp, type TestApp } from '../helpers/test-app.js';
import { createAccount, createMember, insertBinding, login, OWNER_PASSWORD, type TestAccount } from '../helpers/factories.js';
import { startSmtpReceiver, type SmtpReceiver } from '../helpers/smtp-receiver.js';

const TOKEN_RE = /sbinv_[A-Za-z0-9_-]{43}/;

describe('Members and invitations', () => {
  let app: TestApp;
  let smtp: SmtpReceiver;
  let acct: TestAccount;
  let other: TestAccount;
  let now = new Date();

  before(async () => {
    smtp = await startSmtpReceiver();
    app = await startTestApp(
      { smtp: { url: smtp.url, from: 'Switchboard <noreply@switchboard.test>', timeoutMs: 2000 }, publicUrl: 'https://pbx.example' },
      { clock: () => now },
    );
    acct = await createAccount(app);
    other = await createAccount(app);
  });
  after(async () => {
    app.services.mailer.close();
    await app.stop();
    await smtp.stop();
  });

  async function invite(email: string, role = 'user', token = acct.ownerToken) {
    return app.call('POST', '/v1/members/invitations', { token, body: { email, role } });
  }
  async function mailedToken(email: string): Promise<string> {
    const deadline = Date.now() + 5000;
    for (;;) {
      const mail = [...smtp.messages].reverse().find((m) => m.to.includes(email));
      if (mail) return TOKEN_RE.exec(mail.text)![0];
      if (Date.now() > deadline) throw new Error(`no mail to ${email}`);
      await smtp.waitFor(smtp.messages.length + 1, 500).catch(() => undefined);
    }
  }

  it('mails a single-use link; accepting sets name and password, picks an extension and activates the member', async () => {
    const email = `jane.doe+${Date.now()}@acme.example`;
    const r = await invite(email, 'admin');
    expect(r.status).to.equal(201);
    expect(r.body).to.include({ email, role: 'admin', status: 'invited', owner: false, email_sent: true, id: null });
    const mail = smtp.messages.find((m) => m.to.includes(email))!;
    expect(mail.subject).to.match(/^You are invited to /);
    expect(mail.text).to.include('https://pbx.example/invitations/sbinv_');
    const token = await mailedToken(email);

    const list = await app.call('GET', '/v1/members', { token: acct.ownerToken });
    expect(list.body.data.find((m: any) => m.email === email)).to.include({ status: 'invited', role: 'admin' });
    expect(JSON.stringify(list.body)).to.not.include(token);

    const accepted = await app.call('POST', `/v1/invitations/${token}/accept`, { body: { name: 'Jane Doe', password: 'jane-password-1' } });
    expect(accepted.status).to.equal(201);
    expect(accepted.body.member).to.include({ name: 'Jane Doe', email, role: 'admin', status: 'active' });
    expect(accepted.body.extension).to.match(/^\d{3}$/);
    expect(accepted.body.username).to.match(/^jane\.doe-/);
    const me = await app.call('GET', '/v1/me', { token: accepted.body.access_token });
    expect(me.body).to.include({ role: 'admin', account_id: acct.accountId });
    expect(await login(app, accepted.body.username, 'jane-password-1')).to.be.a('string');

    const again = await app.call('POST', `/v1/invitations/${token}/accept`, { body: { name: 'Jane Doe', password: 'jane-password-1' } });
    expect(again.status).to.equal(404);
    const after = await app.call('GET', '/v1/members', { token: acct.ownerToken });
    expect(after.body.data.filter((m: any) => m.email === email)).to.have.length(1);
    expect(after.body.data.find((m: any) => m.email === email)).to.include({ status: 'active', id: accepted.body.member.id });
    const owner = after.body.data.find((m: any) => m.owner);
    expect(owner).to.include({ id: acct.ownerId, role: 'owner', status: 'active' });
  });

  it('gives 409 for inviting an existing member or an already-invited email', async () => {
    const member = await createMember(app, acct.ownerToken, 'user', { email: `m${Date.now()}@acme.example` });
    const r = await invite(member.user.email);
    expect(r.status).to.equal(409);
    expect(r.body.error).to.include({ code: 'already_member', field: 'email' });
    const email = `twice${Date.now()}@acme.example`;
    expect((await invite(email)).status).to.equal(201);
    const dup = await invite(email.toUpperCase());
    expect(dup.status).to.equal(409);
    expect(dup.body.error.code).to.equal('already_invited');
  });

  it('expires links, and resend mails a new link that replaces the old one', async () => {
    const email = `late${Date.now()}@acme.example`;
    const r = await invite(email);
    const first = await mailedToken(email);
    now = new Date(now.getTime() + 73 * 3_600_000);
    try {
      const expired = await app.call('POST', `/v1/invitations/${first}/accept`, { body: { name: 'Late', password: 'late-password-1' } });
      expect(expired.status).to.equal(422);
      expect(expired.body.error.code).to.equal('invitation_expired');
      const resent = await app.call('POST', `/v1/members/invitations/${r.body.invitation_id}/resend`, { token: acct.ownerToken });
      expect(resent.status).to.equal(200);
      expect(resent.body.email_sent).to.equal(true);
      const second = await mailedToken(email);
      expect(second).to.not.equal(first);
      expect((await app.call('POST', `/v1/invitations/${first}/accept`, { body: { name: 'Late', password: 'late-password-1' } })).status).to.equal(404);
      expect((await app.call('POST', `/v1/invitations/${second}/accept`, { body: { name: 'Late', password: 'late-password-1' } })).status).to.equal(201);
    } finally {
      now = new Date();
    }
  });

  it('lets exactly one of two simultaneous accepts of the same link succeed', async () => {
    const email = `race${Date.now()}@acme.example`;
    await invite(email, 'viewer');
    const token = await mailedToken(email);
    const body = { name: 'Racer', password: 'racer-password-1' };
    const results = await Promise.all([1, 2].map(() => app.call('POST', `/v1/invitations/${token}/accept`, { body })));
    expect(results.map((r) => r.status).sort()).to.deep.equal([201, 404]);
    expect(await app.services.db.models.User.count({ where: { account_id: acct.accountId, email } })).to.equal(1);
  });

  it('revokes an invitation so its link no longer works', async () => {
    const email = `revoked${Date.now()}@acme.example`;
    const r = await invite(email);
    const token = await mailedToken(email);
    expect((await app.call('DELETE', `/v1/members/invitations/${r.body.invitation_id}`, { token: acct.ownerToken })).status).to.equal(204);
    expect((await app.call('POST', `/v1/invitations/${token}/accept`, { body: { name: 'R', password: 'revoked-pass-1' } })).status).to.equal(404);
    expect((await app.call('DELETE', `/v1/members/invitations/${r.body.invitation_id}`, { token: acct.ownerToken })).status).to.equal(409);
  });

  it('removes a member: their tokens and API keys stop working at once; the owner cannot be removed', async () => {
    const m = await createMember(app, acct.ownerToken, 'admin');
    const key = (await app.call('POST', '/v1/api-keys', { token: m.token, body: { name: 'k' } })).body;
    const r = await app.call('DELETE', `/v1/members/${m.user.id}`, { token: acct.ownerToken });
    expect(r.status).to.equal(204);
    expect((await app.call('GET', '/v1/me', { token: m.token })).status).to.equal(401);
    expect((await app.call('POST', '/v1/auth/token', { body: { grant_type: 'api_key', token: key.token, secret: key.secret } })).status).to.equal(401);
    const owner = await app.call('DELETE', `/v1/members/${acct.ownerId}`, { token: acct.ownerToken });
    expect(owner.status).to.equal(422);
    expect(owner.body.error.code).to.equal('owner_cannot_be_removed');
    const actions = (await app.services.db.models.AuditEntry.findAll({ where: { account_id: acct.accountId, target_id: String(m.user.id) } })).map(
      (e) => e.action,
    );
    expect(actions).to.include('member.removed');
    expect(actions).to.not.include('user.deleted');
    // Access went; the PBX user stays (extension, SIP credentials) and leaves the member list.
    const kept = await app.call('GET', `/v1/users/${m.user.id}`, { token: acct.ownerToken });
    expect(kept.status).to.equal(200);
    expect(kept.body).to.include({ extension: m.user.extension, role: 'user', has_password: false });
    const listed = await app.call('GET', '/v1/members', { token: acct.ownerToken });
    expect(listed.body.data.map((x: any) => x.id)).to.not.include(m.user.id);
    expect(
      (await app.call('POST', '/v1/auth/token', { body: { grant_type: 'password', username: m.user.username, password: 'member-password-123' } })).status,
    ).to.equal(401);
    // A second removal finds no member.
    expect((await app.call('DELETE', `/v1/members/${m.user.id}`, { token: acct.ownerToken })).status).to.equal(404);
  });

  it('gives a removed member their kept PBX user back when they accept a new invitation (same extension, the new role)', async () => {
    const email = `back+${Date.now()}@acme.example`;
    const m = await createMember(app, acct.ownerToken, 'admin', { email });
    expect((await app.call('DELETE', `/v1/members/${m.user.id}`, { token: acct.ownerToken })).status).to.equal(204);
    const again = await invite(email, 'viewer');
    expect(again.status, JSON.stringify(again.body)).to.equal(201);
    const accepted = await app.call('POST', `/v1/invitations/${await mailedToken(email)}/accept`, {
      body: { name: 'Back Again', password: 'back-password-1' },
    });
    expect(accepted.status, JSON.stringify(accepted.body)).to.equal(201);
    expect(accepted.body).to.include({ username: m.user.username, extension: m.user.extension });
    expect(accepted.body.member).to.include({ id: m.user.id, role: 'viewer', status: 'active' });
    expect((await app.call('GET', '/v1/me', { token: accepted.body.access_token })).body).to.include({ user_id: m.user.id, role: 'viewer' });
    expect(await login(app, m.user.username, 'back-password-1')).to.be.a('string');
    expect((await invite(email, 'user')).body.error.code).to.equal('already_member');
  });

  it('removes a member and deletes their PBX user too with ?delete_user=true (extension, mailbox link, registrations)', async () => {
    const m = await createMember(app, acct.ownerToken, 'user', { mailbox: 'self' });
    const mailboxId = (await app.call('GET', `/v1/users/${m.user.id}`, { token: acct.ownerToken })).body.mailbox.id;
    await insertBinding(app, acct.accountId, m.user.id, `sip:${m.user.username}@${acct.sipDomain}`);
    expect(await app.services.db.models.Registration.count({ where: { user_id: m.user.id } })).to.equal(1);
    const r = await app.call('DELETE', `/v1/members/${m.user.id}?delete_user=true`, { token: acct.ownerToken });
    expect(r.status).to.equal(204);
    expect((await app.call('GET', `/v1/users/${m.user.id}`, { token: acct.ownerToken })).status).to.equal(404);
    expect(await app.services.db.models.Registration.count({ where: { user_id: m.user.id } })).to.equal(0);
    expect((await app.services.db.models.Mailbox.findByPk(mailboxId))!.owner_user_id).to.equal(null);
    const actions = (await app.services.db.models.AuditEntry.findAll({ where: { account_id: acct.accountId, target_id: String(m.user.id) } })).map(
      (e) => e.action,
    );
    expect(actions).to.include.members(['user.deleted', 'member.removed']);
  });

  it('transfers ownership to an active admin only, and only by the owner', async () => {
    const own = await createAccount(app);
    const admin = await createMember(app, own.ownerToken, 'admin');
    const viewer = await createMember(app, own.ownerToken, 'viewer');
    const byAdmin = await app.call('POST', '/v1/account/transfer-ownership', { token: admin.token, body: { user_id: admin.user.id } });
    expect(byAdmin.status).to.equal(403);
    expect(byAdmin.body.error.code).to.equal('owner_required');
    const toViewer = await app.call('POST', '/v1/account/transfer-ownership', { token: own.ownerToken, body: { user_id: viewer.user.id } });
    expect(toViewer.status).to.equal(422);
    expect(toViewer.body.error).to.include({ code: 'transfer_target_not_admin', field: 'user_id' });
    const foreign = await app.call('POST', '/v1/account/transfer-ownership', { token: own.ownerToken, body: { user_id: other.ownerId } });
    expect(foreign.status).to.equal(404);
    const ok = await app.call('POST', '/v1/account/transfer-ownership', { token: own.ownerToken, body: { user_id: admin.user.id } });
    expect(ok.status).to.equal(200);
    expect(ok.body).to.deep.equal({ previous_owner_id: own.ownerId, owner_id: admin.user.id });
    expect((await app.call('GET', '/v1/me', { token: admin.token })).body.role).to.equal('owner');
    // The old owner's sessions end with the ownership, like any demotion.
    expect((await app.call('GET', '/v1/me', { token: own.ownerToken })).status).to.equal(401);
    const formerToken = await login(app, own.ownerUsername, OWNER_PASSWORD);
    expect((await app.call('GET', '/v1/me', { token: formerToken })).body.role).to.equal('admin');
    expect((await app.call('GET', '/v1/account', { token: formerToken })).body.owner_user_id).to.equal(admin.user.id);
    // The former owner can now leave; the new owner cannot.
    const stuck = await app.call('POST', '/v1/account/leave', { token: admin.token });
    expect(stuck.status).to.equal(422);
    expect(stuck.body.error.code).to.equal('owner_cannot_leave');
    expect((await app.call('POST', '/v1/account/leave', { token: formerToken })).status).to.equal(204);
    expect((await app.call('GET', '/v1/me', { token: formerToken })).status).to.equal(401);
    // Leaving ends access; the PBX user stays for the admins.
    expect((await app.call('GET', `/v1/users/${own.ownerId}`, { token: admin.token })).status).to.equal(200);
  });

  it('keeps accounts apart and gives viewers 403 on every member mutation', async () => {
    const foreign = await createMember(app, other.ownerToken, 'user');
    expect((await app.call('DELETE', `/v1/members/${foreign.user.id}`, { token: acct.ownerToken })).status).to.equal(404);
    const otherInvite = await invite(`x${Date.now()}@other.example`, 'user', other.ownerToken);
    expect((await app.call('DELETE', `/v1/members/invitations/${otherInvite.body.invitation_id}`, { token: acct.ownerToken })).status).to.equal(404);
    expect((await app.call('POST', `/v1/members/invitations/${otherInvite.body.invitation_id}/resend`, { token: acct.ownerToken })).status).to.equal(404);
    const list = await app.call('GET', '/v1/members', { token: acct.ownerToken });
    expect(list.body.data.map((m: any) => m.email)).to.not.include(otherInvite.body.email);

    const viewer = await createMember(app, acct.ownerToken, 'viewer');
    const target = await createMember(app, acct.ownerToken, 'user');
    const pending = await invite(`p${Date.now()}@acme.example`);
    const attempts: Array<[string, string, unknown?]> = [
      ['POST', '/v1/members/invitations', { email: 'v@acme.example', role: 'user' }],
      ['POST', `/v1/members/invitations/${pending.body.invitation_id}/resend`],
      ['DELETE', `/v1/members/invitations/${pending.body.invitation_id}`],
      ['DELETE', `/v1/members/${target.user.id}`],
      ['PATCH', `/v1/members/${target.user.id}`, { role: 'admin' }],
      ['PATCH', `/v1/members/invitations/${pending.body.invitation_id}`, { role: 'admin' }],
      ['POST', '/v1/account/transfer-ownership', { user_id: target.user.id }],
      ['PATCH', '/v1/account', { name: 'Viewer was here' }],
      ['POST', '/v1/account/api-key/regenerate'],
    ];
    for (const [method, path, body] of attempts) {
      const r = await app.call(method, path, { token: viewer.token, body });
      expect(r.status, `${method} ${path}`).to.equal(403);
    }
    expect((await app.call('GET', '/v1/members', { token: viewer.token })).status).to.equal(200);
  });

  // Last in the file: a second app in this process re-binds the sequelize model classes.
  it('reports email_sent=false when SMTP is unreachable, and keeps the invitation', async () => {
    const dead = await startTestApp({ smtp: { url: 'smtp://127.0.0.1:1', timeoutMs: 1000 } });
    try {
      const a = await createAccount(dead);
      const r = await dead.call('POST', '/v1/members/invitations', { token: a.ownerToken, body: { email: 'nobody@acme.example', role: 'viewer' } });
      expect(r.status).to.equal(201);
      expect(r.body.email_sent).to.equal(false);
    } finally {
      await dead.stop();
    }
  });
});
