import { expect } from 'chai';
import { startTestApp, type TestApp } from '../helpers/test-app.js';
import { createAccount, createMember, type TestAccount } from '../helpers/factories.js';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js';

async function callAt(baseUrl: string, method: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  const res = await fetch(baseUrl + path, { method, headers });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

describe('API keys and the workspace X-API-KEY', () => {
  let app: TestApp;
  let acct: TestAccount;
  let other: TestAccount;
  let second: ServerProcess;

  before(async () => {
    app = await startTestApp();
    acct = await createAccount(app);
    other = await createAccount(app);
    second = await startServerProcess(app.config.database.url, app.config.secrets.masterKey);
  });
  after(async () => {
    await second?.stop();
    await app.stop();
  });

  async function newKey(token: string, name = 'ci'): Promise<{ token: string; secret: string }> {
    const r = await app.call('POST', '/v1/api-keys', { token, body: { name } });
    expect(r.status).to.equal(201);
    return r.body;
  }
  async function exchange(token: string, secret: string) {
    return app.call('POST', '/v1/auth/token', { body: { grant_type: 'api_key', token, secret } });
  }

  describe('per-user keys', () => {
    it('returns the secret in exactly one response and lists keys without it', async () => {
      const created = await app.call('POST', '/myphones/api_key', { token: acct.ownerToken, body: { name: 'crm sync' } });
      expect(created.status).to.equal(201);
      expect(created.headers.get('cache-control')).to.equal('no-store');
      expect(created.body.token).to.match(/^sbk_[A-Za-z0-9_-]{22}$/);
      expect(created.body.secret).to.match(/^sbks_[A-Za-z0-9_-]{43}$/);
      const secret: string = created.body.secret;
      for (const path of ['/myphones/api_key', '/v1/api-keys']) {
        const list = await app.call('GET', path, { token: acct.ownerToken });
        expect(list.status).to.equal(200);
        // RingRx clients get a bare array (as its documentation describes); /v1 the usual page.
        const keys: any[] = path === '/myphones/api_key' ? list.body : list.body.data;
        expect(keys, path).to.be.an('array');
        const mine = keys.find((k: any) => k.token === created.body.token);
        expect(mine).to.include({ name: 'crm sync', last_used: null });
        expect(JSON.stringify(list.body)).to.not.include(secret);
      }
      const audit = await app.services.db.models.AuditEntry.findAll({ where: { account_id: acct.accountId } });
      expect(JSON.stringify(audit.map((a) => a.toJSON()))).to.not.include(secret);
      const row = await app.services.db.models.ApiKey.findOne({ where: { token: created.body.token } });
      expect(JSON.stringify(row!.toJSON())).to.not.include(secret);
    });

    it("exchanges token + secret for an access token with the key owner's role and records last use", async () => {
      const viewer = await createMember(app, acct.ownerToken, 'viewer');
      const key = await newKey(viewer.token);
      const r = await exchange(key.token, key.secret);
      expect(r.status).to.equal(200);
      const me = await app.call('GET', '/v1/me', { token: r.body.access_token });
      expect(me.body).to.include({ user_id: viewer.user.id, role: 'viewer', credential: 'api_key', account_id: acct.accountId });
      expect(me.body.account).to.include({ id: acct.accountId });
      const denied = await app.call('POST', '/v1/users', { token: r.body.access_token, body: { name: 'x', extension: '901', username: 'nope-x' } });
      expect(denied.status).to.equal(403);
      const list = await app.call('GET', '/v1/api-keys', { token: viewer.token });
      expect(list.body.data[0].last_used).to.be.a('string');
    });

    it('answers 401 invalid_api_key for a wrong secret, an unknown token and a malformed token alike', async () => {
      const key = await newKey(acct.ownerToken);
      for (const [t, s] of [
        [key.token, key.secret + 'x'],
        ['sbk_AAAAAAAAAAAAAAAAAAAAAA', key.secret],
        ['nope', key.secret],
      ]) {
        const r = await exchange(t!, s!);
        expect(r.status).to.equal(401);
        expect(r.body.error.code).to.equal('invalid_api_key');
      }
    });

    it('refuses a revoked key and its access tokens on the very next request, also in a second process', async () => {
      const key = await newKey(acct.ownerToken);
      const access = (await exchange(key.token, key.secret)).body.access_token as string;
      const auth = { authorization: `Bearer ${access}` };
      expect((await callAt(second.baseUrl, 'GET', '/v1/me', auth)).status).to.equal(200);
      const del = await app.call('DELETE', `/myphones/api_key/${key.token}`, { token: acct.ownerToken });
      expect(del.status).to.equal(204);
      expect((await app.call('GET', '/v1/me', { headers: auth })).status).to.equal(401);
      expect((await callAt(second.baseUrl, 'GET', '/v1/me', auth)).status).to.equal(401);
      expect((await exchange(key.token, key.secret)).status).to.equal(401);
      const viaSecond = await fetch(`${second.baseUrl}/v1/auth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ grant_type: 'api_key', token: key.token, secret: key.secret }),
      });
      expect(viaSecond.status).to.equal(401);
      const listed = await app.call('GET', '/v1/api-keys', { token: acct.ownerToken });
      expect(listed.body.data.map((k: any) => k.token)).to.not.include(key.token);
    });

    it("gives 404 for another account's key and lets a plain user revoke only their own", async () => {
      const key = await newKey(acct.ownerToken);
      const foreign = await app.call('DELETE', `/v1/api-keys/${key.token}`, { token: other.ownerToken });
      expect(foreign.status).to.equal(404);
      const user = await createMember(app, acct.ownerToken, 'user');
      expect((await app.call('DELETE', `/v1/api-keys/${key.token}`, { token: user.token })).status).to.equal(404);
      const own = await newKey(user.token);
      expect((await app.call('DELETE', `/v1/api-keys/${own.token}`, { token: user.token })).status).to.equal(204);
      expect((await exchange(key.token, key.secret)).status).to.equal(200);
    });

    it('kills the keys of a deleted user at once', async () => {
      const member = await createMember(app, acct.ownerToken, 'admin');
      const key = await newKey(member.token);
      expect((await app.call('DELETE', `/v1/users/${member.user.id}`, { token: acct.ownerToken })).status).to.equal(204);
      expect((await exchange(key.token, key.secret)).status).to.equal(401);
    });

    it('audits creation and revocation naming the key by token', async () => {
      const key = await newKey(acct.ownerToken, 'audited');
      await app.call('DELETE', `/v1/api-keys/${key.token}`, { token: acct.ownerToken });
      const entries = await app.services.db.models.AuditEntry.findAll({ where: { account_id: acct.accountId, target_id: key.token }, order: [['id', 'ASC']] });
      expect(entries.map((e) => e.action)).to.deep.equal(['api_key.created', 'api_key.revoked']);
    });
  });

  describe('workspace key (X-API-KEY)', () => {
    it('is revealed to admins only, audited, and acts with admin rights on its account', async () => {
      const viewer = await createMember(app, acct.ownerToken, 'viewer');
      const denied = await app.call('GET', '/v1/account/api-key', { token: viewer.token });
      expect(denied.status).to.equal(403);
      expect(denied.body.error.code).to.equal('admin_required');
      const r = await app.call('GET', '/v1/account/api-key', { token: acct.ownerToken });
      expect(r.status).to.equal(200);
      expect(r.body.api_key).to.match(/^sbwk_/);
      expect(r.body.last4).to.equal(r.body.api_key.slice(-4));
      const again = await app.call('GET', '/v1/account/api-key', { token: acct.ownerToken });
      expect(again.body.api_key).to.equal(r.body.api_key);
      const me = await app.call('GET', '/v1/me', { headers: { 'x-api-key': r.body.api_key } });
      expect(me.body).to.include({ account_id: acct.accountId, role: 'admin', credential: 'workspace_key', user_id: null });
      const created = await app.call('POST', '/v1/users', {
        headers: { 'x-api-key': r.body.api_key },
        body: { name: 'Via key', extension: '777', username: `viakey${Date.now()}` },
      });
      expect(created.status).to.equal(201);
      expect(created.body.account_id).to.equal(acct.accountId);
      const foreign = await app.call('GET', `/v1/users/${other.ownerId}`, { headers: { 'x-api-key': r.body.api_key } });
      expect(foreign.status).to.equal(404);
      const actions = (await app.services.db.models.AuditEntry.findAll({ where: { account_id: acct.accountId, target_type: 'account' } })).map((e) => e.action);
      expect(actions).to.include.members(['account.api_key_created', 'account.api_key_revealed']);
      const stored = await app.services.db.models.Account.findByPk(acct.accountId);
      expect(JSON.stringify(stored!.toJSON())).to.not.include(r.body.api_key);
    });

    it('refuses the old key from the moment it is regenerated, on every process', async () => {
      const old = (await app.call('GET', '/v1/account/api-key', { token: acct.ownerToken })).body.api_key as string;
      expect((await callAt(second.baseUrl, 'GET', '/v1/account', { 'x-api-key': old })).status).to.equal(200);
      const r = await app.call('POST', '/v1/account/api-key/regenerate', { token: acct.ownerToken });
      expect(r.status).to.equal(200);
      expect(r.body.api_key).to.not.equal(old);
      const a = await app.call('GET', '/v1/account', { headers: { 'x-api-key': old } });
      expect(a.status).to.equal(401);
      expect(a.body.error.code).to.equal('invalid_api_key');
      expect((await callAt(second.baseUrl, 'GET', '/v1/account', { 'x-api-key': old })).status).to.equal(401);
      expect((await callAt(second.baseUrl, 'GET', '/v1/account', { 'x-api-key': r.body.api_key })).status).to.equal(200);
    });

    it('never accepts a credential in the query string', async () => {
      const key = (await app.call('GET', '/v1/account/api-key', { token: acct.ownerToken })).body.api_key as string;
      for (const q of [`api_key=${key}`, `access_token=${acct.ownerToken}`, 'X-API-KEY=x']) {
        const r = await app.call('GET', `/v1/account?${q}`, { token: acct.ownerToken });
        expect(r.status, q).to.equal(400);
        expect(r.body.error.code).to.equal('credential_in_query');
      }
    });

    it('cannot hold per-user keys (they belong to a user)', async () => {
      const key = (await app.call('GET', '/v1/account/api-key', { token: acct.ownerToken })).body.api_key as string;
      const r = await app.call('POST', '/v1/api-keys', { headers: { 'x-api-key': key }, body: { name: 'x' } });
      expect(r.status).to.equal(422);
      expect(r.body.error.code).to.equal('user_credential_required');
    });
  });
});
