import { expect } from 'chai';
import { startTestApp, type TestApp } from '../helpers/test-app.js';
import { createAccount, createMember, createUser, type TestAccount } from '../helpers/factories.js';
import { ha1 } from '../../src/crypto/sip-credentials.js';

describe('Account settings', () => {
  let app: TestApp;
  let acct: TestAccount;

  before(async () => {
    app = await startTestApp();
    acct = await createAccount(app);
  });
  after(async () => app.stop());

  it('GET /v1/account shows the settings with the account id; GET /v1/me names the caller and account', async () => {
    const r = await app.call('GET', '/v1/account', { token: acct.ownerToken });
    expect(r.status).to.equal(200);
    expect(r.body).to.include({ id: acct.accountId, sip_domain: acct.sipDomain, timezone: 'UTC', owner_user_id: acct.ownerId, logo_url: null });
    const me = await app.call('GET', '/v1/me', { token: acct.ownerToken });
    expect(me.body).to.include({ user_id: acct.ownerId, role: 'owner', account_id: acct.accountId, credential: 'user' });
    expect(me.body.account).to.deep.equal({ id: acct.accountId, name: r.body.name, sip_domain: acct.sipDomain, logo_url: null });
  });

  it('PATCH changes name, website, timezone and default caller ID, audited', async () => {
    await app.services.db.models.PhoneNumber.create({
      account_id: acct.accountId,
      e164: '+14155550199',
      label: null,
      voice: true,
      sms: false,
      fax: false,
      provider: 'default',
    });
    const r = await app.call('PATCH', '/v1/account', {
      token: acct.ownerToken,
      body: { name: 'Acme Ltd', website: 'https://acme.example', timezone: 'Europe/Paris', default_caller_id_number: '+14155550199' },
    });
    expect(r.status).to.equal(200);
    expect(r.body).to.include({ name: 'Acme Ltd', website: 'https://acme.example', timezone: 'Europe/Paris', default_caller_id_number: '+14155550199' });
    const entry = await app.services.db.models.AuditEntry.findOne({
      where: { account_id: acct.accountId, action: 'account.updated' },
      order: [['id', 'DESC']],
    });
    expect(entry!.after).to.include({ name: 'Acme Ltd', timezone: 'Europe/Paris' });
  });

  it('refuses a short name, a bad website, an unknown time zone and a foreign caller-ID number with field-level codes', async () => {
    const short = await app.call('PATCH', '/v1/account', { token: acct.ownerToken, body: { name: 'ab' } });
    expect(short.status).to.equal(400);
    expect(short.body.error.field).to.equal('name');
    const site = await app.call('PATCH', '/v1/account', { token: acct.ownerToken, body: { website: 'not a url' } });
    expect(site.status).to.equal(400);
    expect(site.body.error.field).to.equal('website');
    const ftp = await app.call('PATCH', '/v1/account', { token: acct.ownerToken, body: { website: 'ftp://acme.example' } });
    expect(ftp.status).to.equal(400);
    const tz = await app.call('PATCH', '/v1/account', { token: acct.ownerToken, body: { timezone: 'Mars/Olympus' } });
    expect(tz.status).to.equal(400);
    expect(tz.body.error).to.include({ code: 'validation_failed', field: 'timezone' });
    expect(tz.body.error.details).to.deep.include({ field: 'timezone', code: 'invalid_timezone', message: 'is not an IANA time zone (e.g. America/New_York)' });
    const cid = await app.call('PATCH', '/v1/account', { token: acct.ownerToken, body: { default_caller_id_number: '+14155550000' } });
    expect(cid.status).to.equal(422);
    expect(cid.body.error).to.include({ code: 'number_not_in_account', field: 'default_caller_id_number' });
  });

  it('gives 403 admin_required to viewers and users, for reading the settings too; GET /v1/me gives them name, logo and SIP domain', async () => {
    const own = await createAccount(app);
    const png = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.from('IHDR-me')]);
    const up = await fetch(`${app.baseUrl}/v1/account/logo`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${own.ownerToken}`, 'content-type': 'image/png' },
      body: new Uint8Array(png),
    });
    const settings = await up.json();
    expect(settings.logo_url).to.be.a('string');
    for (const role of ['viewer', 'user'] as const) {
      const m = await createMember(app, own.ownerToken, role);
      const r = await app.call('PATCH', '/v1/account', { token: m.token, body: { name: 'Hijacked' } });
      expect(r.status).to.equal(403);
      expect(r.body.error.code).to.equal('admin_required');
      const read = await app.call('GET', '/v1/account', { token: m.token });
      expect(read.status, role).to.equal(403);
      expect(read.body.error.code).to.equal('admin_required');
      const me = await app.call('GET', '/v1/me', { token: m.token });
      expect(me.status).to.equal(200);
      expect(me.body.account).to.deep.equal({ id: own.accountId, name: settings.name, sip_domain: own.sipDomain, logo_url: settings.logo_url });
    }
    const admin = await createMember(app, own.ownerToken, 'admin');
    expect((await app.call('GET', '/v1/account', { token: admin.token })).status).to.equal(200);
  });

  it('PATCH binding_policy sets the account policy (audited) and refuses an unknown one', async () => {
    const own = await createAccount(app);
    expect((await app.call('GET', '/v1/account', { token: own.ownerToken })).body.binding_policy).to.equal('reject');
    const r = await app.call('PATCH', '/v1/account', { token: own.ownerToken, body: { binding_policy: 'evict_oldest' } });
    expect(r.status, JSON.stringify(r.body)).to.equal(200);
    expect(r.body.binding_policy).to.equal('evict_oldest');
    expect((await app.services.db.models.Account.findByPk(own.accountId))!.binding_policy).to.equal('evict_oldest');
    const audit = await app.services.db.models.AuditEntry.findOne({
      where: { action: 'account.updated', target_id: String(own.accountId) },
      order: [['id', 'DESC']],
    });
    expect(audit!.before).to.include({ binding_policy: 'reject' });
    expect(audit!.after).to.include({ binding_policy: 'evict_oldest' });
    const bad = await app.call('PATCH', '/v1/account', { token: own.ownerToken, body: { binding_policy: 'unlimited' } });
    expect(bad.status).to.equal(400);
    expect(bad.body.error.code).to.equal('validation_failed');
  });

  it("re-derives every user's digest HA1 when the SIP domain changes, and refuses a taken domain", async () => {
    const u = await createUser(app, acct.ownerToken);
    const domain = `new-${Date.now()}.example`;
    const r = await app.call('PATCH', '/v1/account', { token: acct.ownerToken, body: { sip_domain: domain } });
    expect(r.status).to.equal(200);
    expect(r.body.sip_domain).to.equal(domain);
    const row = await app.services.db.models.User.findByPk(u.id);
    expect(row!.sip_ha1_md5).to.equal(ha1('md5', u.username, domain, u.sip_password));
    expect(row!.sip_ha1_sha256).to.equal(ha1('sha256', u.username, domain, u.sip_password));
    const other = await createAccount(app);
    const taken = await app.call('PATCH', '/v1/account', { token: acct.ownerToken, body: { sip_domain: other.sipDomain } });
    expect(taken.status).to.equal(409);
    expect(taken.body.error.code).to.equal('sip_domain_taken');
  });

  it('refuses a SIP domain change when a stored SIP password cannot be decrypted to re-derive HA1', async () => {
    const own = await createAccount(app);
    const u = await createUser(app, own.ownerToken);
    await app.services.db.models.User.update({ sip_password_enc: 'v1.unknown0.AAAA.AAAA.AAAA' }, { where: { id: u.id } });
    const r = await app.call('PATCH', '/v1/account', { token: own.ownerToken, body: { sip_domain: `x-${Date.now()}.example` } });
    expect(r.status).to.equal(422);
    expect(r.body.error).to.include({ code: 'sip_passwords_unavailable', field: 'sip_domain' });
    const still = await app.call('GET', '/v1/account', { token: own.ownerToken });
    expect(still.body.sip_domain).to.equal(own.sipDomain);
  });

  describe('logo', () => {
    const png = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.from('IHDR-png-body')]);
    const jpeg = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.from('jpeg-body')]);
    const webp = Buffer.concat([Buffer.from('RIFF'), Buffer.from([0x10, 0, 0, 0]), Buffer.from('WEBPVP8 body')]);
    const upload = (body: Buffer | string, token: string, type = 'image/png') =>
      fetch(`${app.baseUrl}/v1/account/logo`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${token}`, 'content-type': type },
        body: typeof body === 'string' ? body : new Uint8Array(body),
      });

    it('stores PNG, JPEG and WebP by content and serves each at a stable, content-addressed URL', async () => {
      for (const [bytes, type] of [
        [png, 'image/png'],
        [jpeg, 'image/jpeg'],
        [webp, 'image/webp'],
      ] as const) {
        // The declared type is ignored: the bytes decide.
        const r = await upload(bytes, acct.ownerToken, 'application/octet-stream');
        expect(r.status).to.equal(200);
        const account = await r.json();
        expect(account.logo_url).to.match(new RegExp(`^http://localhost:8080/logos/${acct.accountId}/[0-9a-f]{16}\\.(png|jpg|webp)$`));
        const path = new URL(account.logo_url).pathname;
        const got = await fetch(app.baseUrl + path);
        expect(got.status).to.equal(200);
        expect(got.headers.get('content-type')).to.equal(type);
        expect(got.headers.get('x-content-type-options')).to.equal('nosniff');
        expect(got.headers.get('cache-control')).to.include('immutable');
        expect(Buffer.from(await got.arrayBuffer()).equals(bytes)).to.equal(true);
        expect((await app.call('GET', '/v1/account', { token: acct.ownerToken })).body.logo_url).to.equal(account.logo_url);
      }
      const current = (await app.call('GET', '/v1/account', { token: acct.ownerToken })).body.logo_url as string;
      await upload(png, acct.ownerToken);
      expect((await fetch(app.baseUrl + new URL(current).pathname)).status).to.equal(404);
      const actions = (await app.services.db.models.AuditEntry.findAll({ where: { account_id: acct.accountId, action: 'account.logo_updated' } })).length;
      expect(actions).to.equal(4);
    });

    it('refuses SVG, non-images and files over 1 MB, and non-admins', async () => {
      const svg = await upload('<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"></svg>', acct.ownerToken, 'image/svg+xml');
      expect(svg.status).to.equal(422);
      expect((await svg.json()).error.code).to.equal('svg_not_accepted');
      const text = await upload('GIF89a not allowed either', acct.ownerToken, 'image/png');
      expect(text.status).to.equal(422);
      expect((await text.json()).error.code).to.equal('unsupported_image_type');
      const big = await upload(Buffer.concat([png, Buffer.alloc(1_048_577)]), acct.ownerToken);
      expect(big.status).to.equal(413);
      const viewer = await createMember(app, acct.ownerToken, 'viewer');
      const denied = await upload(png, viewer.token);
      expect(denied.status).to.equal(403);
      expect((await denied.json()).error.code).to.equal('admin_required');
      expect((await app.call('DELETE', '/v1/account/logo', { token: viewer.token })).status).to.equal(403);
      expect((await fetch(`${app.baseUrl}/v1/account/logo`, { method: 'PUT', body: new Uint8Array(png) })).status).to.equal(401);
    });

    it('removes the logo', async () => {
      const own = await createAccount(app);
      await upload(png, own.ownerToken);
      expect((await app.call('DELETE', '/v1/account/logo', { token: own.ownerToken })).status).to.equal(204);
      expect((await app.call('GET', '/v1/account', { token: own.ownerToken })).body.logo_url).to.equal(null);
      expect((await app.call('DELETE', '/v1/account/logo', { token: own.ownerToken })).status).to.equal(404);
    });
  });
});
