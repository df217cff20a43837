import { expect } from 'chai';
import { TOTP, Secret } from 'otpauth';
import { startTestApp, type TestApp } from '../helpers/test-app.js';
import { createAccount, createMember, login, unique, type TestAccount } from '../helpers/factories.js';

const PASSWORD = 'member-password-123';
const token = (app: TestApp, username: string, password: string, otp?: string) =>
  app.call('POST', '/v1/auth/token', { body: { grant_type: 'password', username, password, ...(otp ? { otp } : {}) } });

describe('Authentication', () => {
  let app: TestApp;
  let acct: TestAccount;

  before(async () => {
    // Three failures per username; the per-IP limit is out of reach here (every test comes from 127.0.0.1).
    app = await startTestApp({ auth: { throttle: { usernameFailures: 3, ipFailures: 1000, windowSeconds: 60, blockSeconds: 60 } } });
    acct = await createAccount(app);
  });
  after(async () => app.stop());

  it('issues an opaque bearer token for the right password, stored only as a SHA-256 digest', async () => {
    const { user } = await createMember(app, acct.ownerToken, 'user');
    const r = await token(app, user.username, PASSWORD);
    expect(r.status).to.equal(200);
    expect(r.body).to.include({ token_type: 'Bearer', expires_in: app.config.auth.accessTokenTtlSeconds });
    expect(r.body.access_token).to.match(/^sbat_/);
    const rows = await app.services.db.models.AccessToken.findAll({ where: { user_id: user.id } });
    expect(rows.map((x) => x.token_hash)).to.not.include(r.body.access_token);
    expect((await app.call('GET', '/v1/me', { token: r.body.access_token })).body).to.include({ user_id: user.id, role: 'user' });
  });

  it('answers a wrong password and an unknown user with the same 401 code and message', async () => {
    const { user } = await createMember(app, acct.ownerToken, 'user');
    const wrong = await token(app, user.username, 'not-the-password');
    const unknown = await token(app, unique('nobody'), 'not-the-password');
    expect(wrong.status).to.equal(401);
    expect(unknown.status).to.equal(401);
    expect(wrong.body).to.deep.equal(unknown.body);
    expect(wrong.body.error.code).to.equal('invalid_credentials');
  });

  it('throttles a username after repeated failures with 429 and Retry-After, even with the right password', async () => {
    const { user } = await createMember(app, acct.ownerToken, 'user');
    for (let i = 0; i < 3; i++) expect((await token(app, user.username, 'wrong-password')).status).to.equal(401);
    const blocked = await token(app, user.username, PASSWORD);
    expect(blocked.status).to.equal(429);
    expect(blocked.body.error.code).to.equal('too_many_attempts');
    expect(Number(blocked.headers.get('retry-after'))).to.be.within(1, 60);
    // Only that username is blocked.
    const { user: other } = await createMember(app, acct.ownerToken, 'user');
    expect((await token(app, other.username, PASSWORD)).status).to.equal(200);
  });

  it('requires the one-time code once an authenticator is enrolled and OTP is required', async () => {
    const { user } = await createMember(app, acct.ownerToken, 'user');
    const enrol = await app.call('POST', `/v1/users/${user.id}/otp`, { token: acct.ownerToken });
    expect(enrol.status).to.equal(200);
    expect(enrol.body.otpauth_url).to.match(/^otpauth:\/\/totp\//);
    await app.call('PATCH', `/v1/users/${user.id}`, { token: acct.ownerToken, body: { otp_required: true } });
    const totp = new TOTP({ algorithm: 'SHA1', digits: 6, period: 30, secret: Secret.fromBase32(enrol.body.secret) });

    const none = await token(app, user.username, PASSWORD);
    expect(none.status).to.equal(401);
    expect(none.body.error).to.include({ code: 'otp_required', field: 'otp' });
    const right = totp.generate();
    const wrongCode = String((Number(right) + 500_000) % 1_000_000).padStart(6, '0');
    const wrong = await token(app, user.username, PASSWORD, wrongCode);
    expect(wrong.status).to.equal(401);
    expect(wrong.body.error.code).to.equal('invalid_otp');
    const ok = await token(app, user.username, PASSWORD, totp.generate());
    expect(ok.status).to.equal(200);
    expect(ok.body.access_token).to.match(/^sbat_/);
  });

  it('refuses an expired access token with 401', async () => {
    const { user, token: t } = await createMember(app, acct.ownerToken, 'user');
    expect((await app.call('GET', '/v1/me', { token: t })).status).to.equal(200);
    await app.services.db.models.AccessToken.update({ expires_at: new Date(Date.now() - 1000) }, { where: { user_id: user.id } });
    const r = await app.call('GET', '/v1/me', { token: t });
    expect(r.status).to.equal(401);
    expect(r.body.error.code).to.equal('invalid_token');
    expect(r.headers.get('www-authenticate')).to.match(/^Bearer/);
  });

  it("kills a disabled user's tokens at once and refuses its password", async () => {
    const { user, token: t } = await createMember(app, acct.ownerToken, 'admin');
    expect((await app.call('GET', '/v1/users', { token: t })).status).to.equal(200);
    await app.services.db.models.User.update({ status: 'disabled' }, { where: { id: user.id } });
    expect((await app.call('GET', '/v1/users', { token: t })).status).to.equal(401);
    expect((await token(app, user.username, PASSWORD)).status).to.equal(401);
  });

  it('refuses a request without credentials and a malformed Authorization header', async () => {
    const none = await app.call('GET', '/v1/users');
    expect(none.status).to.equal(401);
    expect(none.body.error.code).to.equal('authentication_required');
    const basic = await app.call('GET', '/v1/users', { headers: { authorization: 'Basic Zm9vOmJhcg==' } });
    expect(basic.status).to.equal(401);
    expect(basic.body.error.code).to.equal('invalid_authorization');
    expect(await login(app, acct.ownerUsername, 'owner-password-123')).to.match(/^sbat_/);
  });
});

// Its own describe and app: one process can hold one app at a time (models bind to one Sequelize instance).
describe('Authentication: per-IP throttle', () => {
  let ipApp: TestApp;

  before(async () => {
    ipApp = await startTestApp({ auth: { throttle: { usernameFailures: 1000, ipFailures: 4, windowSeconds: 60, blockSeconds: 60 } } });
  });
  after(async () => ipApp.stop());

  it('throttles a source IP that fails across many usernames with 429 and Retry-After', async () => {
    for (let i = 0; i < 4; i++) expect((await token(ipApp, unique('guess'), 'wrong-password')).status).to.equal(401);
    const r = await token(ipApp, unique('guess'), 'wrong-password');
    expect(r.status).to.equal(429);
    expect(Number(r.headers.get('retry-after'))).to.be.within(1, 60);
  });
});
