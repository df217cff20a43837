import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { startTestApp, type TestApp } from '../helpers/test-app.js';
import { createAccount, type TestAccount } from '../helpers/factories.js';

const run = promisify(execFile);

/** Sends raw bytes as the body (fetch would re-encode a string). */
async function postBytes(app: TestApp, path: string, token: string, bytes: Buffer, contentType = 'application/json'): Promise<{ status: number; body: any }> {
  const res = await fetch(app.baseUrl + path, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': contentType },
    body: new Uint8Array(bytes),
  });
  return { status: res.status, body: await res.json() };
}

describe('HTTP guards', () => {
  let app: TestApp;
  let acct: TestAccount;

  before(async function () {
    this.timeout(60_000);
    app = await startTestApp();
    acct = await createAccount(app);
  });
  after(async () => app.stop());

  describe('credentials in the query string', () => {
    const NAMES = [
      'token',
      'key',
      'bearer',
      'access_token',
      'api_key',
      'apikey',
      'apiKey',
      'X-API-KEY',
      'x_api_key',
      'secret',
      'password',
      'auth',
      'Authorization',
      'TOKEN',
    ];

    it('refuses every credential-looking parameter with 400 credential_in_query, with or without a valid credential', async () => {
      for (const name of NAMES) {
        for (const token of [acct.ownerToken, undefined]) {
          const r = await app.call('GET', `/v1/account?${encodeURIComponent(name)}=abc`, token ? { token } : {});
          expect(r.status, name).to.equal(400);
          expect(r.body.error, name).to.include({ code: 'credential_in_query', field: name });
          expect(r.body.error.details, name).to.deep.equal([{ field: name, code: 'credential_in_query', message: r.body.error.details[0].message }]);
        }
      }
    });

    it('refuses it before validation and before authentication, on every kind of route', async () => {
      // An unknown query parameter would be validation_failed; a bad token 401; neither is reached.
      const users = await app.call('GET', '/v1/users?token=x&page=2', { token: acct.ownerToken });
      expect(users.body.error.code).to.equal('credential_in_query');
      const forged = await app.call('GET', '/v1/users?key=x', { token: 'sbat_forged' });
      expect([forged.status, forged.body.error.code]).to.deep.equal([400, 'credential_in_query']);
      const login = await app.call('POST', '/v1/auth/token?password=x', { body: { grant_type: 'password', username: 'nobody', password: 'nothing-at-all' } });
      expect([login.status, login.body.error.code]).to.deep.equal([400, 'credential_in_query']);
      const unknown = await app.call('GET', '/v1/nowhere?bearer=x');
      expect([unknown.status, unknown.body.error.code]).to.deep.equal([400, 'credential_in_query']);
    });

    it('leaves ordinary parameters alone', async () => {
      const r = await app.call('GET', '/v1/users?limit=5&sort=name', { token: acct.ownerToken });
      expect(r.status).to.equal(200);
    });
  });

  describe('JSON bodies', () => {
    it('refuses a body that is not well-formed UTF-8 with 400 invalid_json and stores nothing', async () => {
      const before = await app.services.db.models.Location.count();
      const bad = Buffer.concat([Buffer.from('{"name":"'), Buffer.from([0xc3, 0x28, 0xff, 0xfe]), Buffer.from('","address_line1":"1 Main"}')]);
      const r = await postBytes(app, '/v1/locations', acct.ownerToken, bad);
      expect(r.status).to.equal(400);
      expect(r.body.error.code).to.equal('invalid_json');
      expect(await app.services.db.models.Location.count()).to.equal(before);
      // Overlong encodings and lone surrogates encoded as UTF-8 are not UTF-8 either.
      for (const bytes of [
        [0xc0, 0xaf],
        [0xed, 0xa0, 0x80],
      ]) {
        const body = Buffer.concat([Buffer.from('{"name":"'), Buffer.from(bytes), Buffer.from('"}')]);
        expect((await postBytes(app, '/v1/oncall/schedules', acct.ownerToken, body)).body.error.code).to.equal('invalid_json');
      }
    });

    it('keeps well-formed multi-byte UTF-8 exactly', async () => {
      const r = await postBytes(app, '/v1/oncall/schedules', acct.ownerToken, Buffer.from(JSON.stringify({ name: 'Bereitschaft Zürich ☎ 𝄞' }), 'utf8'));
      expect(r.status).to.equal(201);
      expect(r.body.name).to.equal('Bereitschaft Zürich ☎ 𝄞');
    });

    it('refuses UTF-16 JSON with 415 unsupported_encoding (RFC 8259 §8.1)', async () => {
      const r = await postBytes(app, '/v1/oncall/schedules', acct.ownerToken, Buffer.from('{"name":"x"}', 'utf16le'), 'application/json; charset=utf-16le');
      expect(r.status).to.equal(415);
      expect(r.body.error.code).to.equal('unsupported_encoding');
    });
  });

  describe('security headers', () => {
    const csp = (h: Headers) =>
      Object.fromEntries(
        (h.get('content-security-policy') ?? '')
          .split(';')
          .map((d) => d.trim().split(/\s+/))
          .filter((d) => d[0])
          .map(([k, ...v]) => [k, v.join(' ')]),
      );

    it('sends nosniff, frame denial, no referrer and the console CSP on the API and elsewhere', async () => {
      for (const p of ['/v1/account', '/v1/nowhere', '/healthz', '/openapi.json']) {
        const r = await app.call('GET', p, { token: acct.ownerToken });
        expect(r.headers.get('x-content-type-options'), p).to.equal('nosniff');
        expect(r.headers.get('x-frame-options'), p).to.equal('DENY');
        expect(r.headers.get('referrer-policy'), p).to.equal('no-referrer');
        expect(csp(r.headers), p).to.include({
          'default-src': "'self'",
          'script-src': "'self'",
          'style-src': "'self'",
          'img-src': "'self' data:",
          'connect-src': "'self'",
          'frame-ancestors': "'none'",
          'object-src': "'none'",
        });
        expect(r.headers.get('strict-transport-security'), `${p} over plain HTTP`).to.equal(null);
      }
    });

    it('sends Cache-Control: no-store on every /v1 answer, errors included', async () => {
      for (const [p, token] of [
        ['/v1/account', acct.ownerToken],
        ['/v1/users', undefined],
        ['/v1/nowhere', acct.ownerToken],
        ['/myphones/api_key', acct.ownerToken],
      ] as const) {
        const r = await app.call('GET', p, token ? { token } : {});
        expect(r.headers.get('cache-control'), p).to.equal('no-store');
      }
    });

    it('sends HSTS when the request came over TLS through a trusted proxy', async function () {
      this.timeout(60_000);
      const proxied = await startTestApp({ http: { trustProxy: true } });
      try {
        const tls = await proxied.call('GET', '/healthz', { headers: { 'x-forwarded-proto': 'https' } });
        expect(tls.headers.get('strict-transport-security')).to.equal('max-age=31536000');
        expect((await proxied.call('GET', '/healthz')).headers.get('strict-transport-security')).to.equal(null);
      } finally {
        await proxied.stop();
      }
      // Without a trusted proxy, anyone could claim https.
      expect((await app.call('GET', '/healthz', { headers: { 'x-forwarded-proto': 'https' } })).headers.get('strict-transport-security')).to.equal(null);
    });

    it('gives /docs the same policy except inline styles, which Swagger UI needs', async () => {
      const r = await fetch(`${app.baseUrl}/docs/`);
      expect(r.status).to.equal(200);
      const policy = csp(r.headers);
      expect(policy).to.include({ 'script-src': "'self'", 'style-src': "'self' 'unsafe-inline'", 'frame-ancestors': "'none'" });
      expect(await r.text()).to.not.match(/<script>(?!\s*<\/script>)/);
    });

    it('renders Swagger UI in a real browser under that policy, with no CSP violation', async function () {
      this.timeout(90_000);
      const profile = await mkdtemp(path.join(os.tmpdir(), 'sb-chromium-'));
      try {
        const { stdout, stderr } = await run(
          'chromium',
          [
            '--headless=new',
            '--no-sandbox',
            '--disable-gpu',
            '--no-first-run',
            `--user-data-dir=${profile}`,
            '--enable-logging=stderr',
            '--v=0',
            '--virtual-time-budget=15000',
            '--dump-dom',
            `${app.baseUrl}/docs/`,
          ],
          { timeout: 80_000, maxBuffer: 64 * 1024 * 1024 },
        );
        // The operations are rendered by the bundle: scripts ran. The title comes from the document.
        expect(stdout).to.include('Switchboard provisioning API');
        expect(stdout).to.include('opblock-tag');
        expect(stderr).to.not.match(/Content Security Policy|Refused to/);
      } finally {
        await rm(profile, { recursive: true, force: true });
      }
    });
  });
});
