import { expect } from 'chai';
import { TOTP, Secret } from 'otpauth';
import { startTestApp, type TestApp } from '../helpers/test-app.js';
import { createAccount, createMember, OWNER_PASSWORD, type TestAccount } from '../helpers/factories.js';

/** The cookies a response sets, as "name=value" pairs plus their attributes. */
function cookiesOf(headers: Headers): Record<string, { value: string; attrs: string }> {
  const out: Record<string, { value: string; attrs: string }> = {};
  for (const line of headers.getSetCookie()) {
    const [pair, ...attrs] = line.split(';');
    const [name, ...value] = pair!.split('=');
    out[name!.trim()] = { value: value.join('='), attrs: attrs.join(';').toLowerCase() };
  }
  return out;
}

describe('Console session (POST/DELETE /v1/auth/session)', () => {
  let app: TestApp;
  let acct: TestAccount;

  before(async () => {
    app = await startTestApp({ auth: { throttle: { usernameFailures: 50, ipFailures: 1000, windowSeconds: 60, blockSeconds: 60 } } });
    acct = await createAccount(app);
  });
  after(async () => app.stop());

  async function signIn(username = acct.ownerUsername, password = OWNER_PASSWORD, otp?: string) {
    const r = await app.call('POST', '/v1/auth/session', { body: { username, password, ...(otp ? { otp } : {}) } });
    const cookies = cookiesOf(r.headers);
    return { r, cookies, cookie: `sb_session=${cookies.sb_session?.value}; sb_csrf=${cookies.sb_csrf?.value}` };
  }

  it('sets the token as an HttpOnly SameSite=Strict cookie and answers the CSRF token, which the readable cookie repeats', async () => {
    const { r, cookies, cookie } = await signIn();
    expect(r.status).to.equal(200);
    expect(r.headers.get('cache-control')).to.equal('no-store');
    expect(cookies.sb_session!.value).to.match(/^sbat_/);
    expect(cookies.sb_session!.attrs).to.include('httponly').and.include('samesite=strict').and.include('path=/');
    expect(cookies.sb_csrf!.attrs).to.not.include('httponly');
    expect(cookies.sb_csrf!.value).to.equal(r.body.csrf_token);
    expect(JSON.stringify(r.body)).to.not.include(cookies.sb_session!.value);
    const me = await app.call('GET', '/v1/me', { headers: { cookie } });
    expect(me.status).to.equal(200);
    expect(me.body).to.include({ user_id: acct.ownerId, credential: 'user' });
  });

  it('refuses an unsafe request authenticated by the cookie without the right X-CSRF-Token; bearer tokens need none', async () => {
    const { r, cookie } = await signIn();
    const body = { website: 'https://acme.example' };
    const none = await app.call('PATCH', '/v1/account', { headers: { cookie }, body });
    expect(none.status).to.equal(403);
    expect(none.body.error.code).to.equal('csrf_token_invalid');
    const wrong = await app.call('PATCH', '/v1/account', { headers: { cookie, 'x-csrf-token': 'x'.repeat(43) }, body });
    expect(wrong.status).to.equal(403);
    const right = await app.call('PATCH', '/v1/account', { headers: { cookie, 'x-csrf-token': r.body.csrf_token }, body });
    expect(right.status).to.equal(200);
    expect((await app.call('PATCH', '/v1/account', { token: acct.ownerToken, body })).status).to.equal(200);
  });

  it('asks for the one-time code when the user requires OTP, with the same codes as the token endpoint', async () => {
    const { user } = await createMember(app, acct.ownerToken, 'user');
    const enrol = await app.call('POST', `/v1/users/${user.id}/otp`, { token: acct.ownerToken });
    await app.call('PATCH', `/v1/users/${user.id}`, { token: acct.ownerToken, body: { otp_required: true } });
    const totp = new TOTP({ algorithm: 'SHA1', digits: 6, period: 30, secret: Secret.fromBase32(enrol.body.secret) });
    const without = await signIn(user.username, 'member-password-123');
    expect(without.r.status).to.equal(401);
    expect(without.r.body.error).to.include({ code: 'otp_required', field: 'otp' });
    expect(without.cookies.sb_session).to.equal(undefined);
    const bad = await signIn(acct.ownerUsername, 'not the password');
    expect(bad.r.body.error.code).to.equal('invalid_credentials');
    const withCode = await signIn(user.username, 'member-password-123', totp.generate());
    expect(withCode.r.status).to.equal(200);
    expect((await app.call('GET', '/v1/me', { headers: { cookie: withCode.cookie } })).body.user_id).to.equal(user.id);
  });

  it('signs out by revoking the token on the server and clearing both cookies; a stale cookie does not block signing in', async () => {
    const { r, cookie } = await signIn();
    const out = await app.call('DELETE', '/v1/auth/session', { headers: { cookie, 'x-csrf-token': r.body.csrf_token } });
    expect(out.status).to.equal(204);
    const cleared = cookiesOf(out.headers);
    expect(cleared.sb_session!.value).to.equal('');
    expect(cleared.sb_csrf!.value).to.equal('');
    const after = await app.call('GET', '/v1/me', { headers: { cookie } });
    expect(after.status).to.equal(401);
    expect(after.body.error.code).to.equal('authentication_required');
    const again = await app.call('POST', '/v1/auth/session', { headers: { cookie }, body: { username: acct.ownerUsername, password: OWNER_PASSWORD } });
    expect(again.status).to.equal(200);
  });
});
