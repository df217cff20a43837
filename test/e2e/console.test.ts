import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { chromium, type Browser, type BrowserContext, type Page, type Request } from 'playwright-core';
import { createAccount, createMember, createUser, nextExtension, OWNER_PASSWORD, type TestAccount } from '../helpers/factories.js';
import { startSmtpReceiver, type SmtpReceiver } from '../helpers/smtp-receiver.js';
import { startCarrierApiServer, type CarrierApiServer } from '../helpers/carrier-api-server.js';
import { startRegistrar, type RegistrarHarness } from '../sip/registrar-helpers.js';
import { SipPhone } from '../sip/sip-phone.js';

/** The Debian chromium package (CI installs it); nothing here downloads a browser. */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** CONSOLE_SCREENSHOTS=docs/screenshots refreshes the README's pictures from this run. */
const randomDigits = (n: number) => Array.from(crypto.randomBytes(n), (b) => String(b % 10)).join('');
const SHOTS = process.env.CONSOLE_SCREENSHOTS;

describe('Web console in Chromium', function () {
  this.timeout(60_000);
  // A failed test prints what its last page shows, the browser's failed requests and those still
  // unanswered, with their age: a page that never left "Loading…" with nothing pending was the console
  // missing its first GET /v1/me answer (console/src/state.ts), which retries had hidden.
  let h: RegistrarHarness;
  let smtp: SmtpReceiver;
  let carriers: CarrierApiServer;
  let browser: Browser;
  let acct: TestAccount;
  const cspViolations: string[] = [];
  const failedRequests: string[] = [];
  const pendingRequests = new Map<Request, number>();

  before(async function () {
    this.timeout(120_000);
    if (!fs.existsSync('console/dist/index.html')) throw new Error('console/dist is missing: run `npm run build` first (npm test does)');
    if (!fs.existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: apt-get install chromium (.ci/run does)`);
    smtp = await startSmtpReceiver();
    carriers = await startCarrierApiServer();
    h = await startRegistrar({
      edge: ['udp'],
      realClock: true,
      usage: true,
      app: {
        smtp: { url: smtp.url, from: 'Switchboard <noreply@switchboard.test>', timeoutMs: 5000 },
        publicUrl: 'https://pbx.example',
        telephony: { twilioApiBaseUrl: carriers.baseUrl, telnyxApiBaseUrl: carriers.baseUrl, plivoApiBaseUrl: `${carriers.baseUrl}/` },
      },
      // SIP trunks register from the test's own edge (quick ticks and retries, so a state change shows within a poll or two).
      trunks: { tickSeconds: 0.2, leaseSeconds: 2, verifySeconds: 5, refreshBeforeSeconds: 30, retryMinSeconds: 0.5, retryMaxSeconds: 2, t1Ms: 100 },
    });
    acct = await createAccount(h.app, { name: 'Acme Dental' });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      // No network beyond loopback here: background fetches only flood refused connections.
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
      // Playwright gives every launch a fresh temporary profile (--user-data-dir) and removes it on close.
    });
  });
  after(async () => {
    await browser?.close();
    h?.app.services.mailer.close();
    await h?.stop();
    await smtp?.stop();
    await carriers?.stop();
  });
  let lastPage: Page | undefined;
  afterEach(async function () {
    if (this.currentTest?.state === 'failed' && lastPage) {
      const shown = await lastPage
        .locator('body')
        .innerText()
        .catch(() => '(unreadable)');
      console.log(`the page showed: ${shown.slice(0, 300)}`);
    }
    // The console must run under its CSP (no inline script or style): any violation fails the test that caused it.
    const v = cspViolations.splice(0);
    const failed = failedRequests.splice(0);
    const pending = [...pendingRequests].map(([r, t]) => `${r.method()} ${r.url()}: no answer after ${Date.now() - t} ms`);
    pendingRequests.clear();
    if (this.currentTest?.state === 'failed' && failed.length) console.log(`requests that failed in the browser:\n  ${failed.join('\n  ')}`);
    if (this.currentTest?.state === 'failed' && pending.length) console.log(`requests still unanswered:\n  ${pending.join('\n  ')}`);
    if (this.currentTest?.state === 'passed') expect(v, 'CSP violations').to.deep.equal([]);
  });

  async function newPage(): Promise<{ ctx: BrowserContext; page: Page }> {
    const ctx = await browser.newContext({ baseURL: h.app.baseUrl, viewport: { width: 1200, height: 860 } });
    await ctx.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: h.app.baseUrl });
    const page = await ctx.newPage();
    lastPage = page;
    page.on('request', (r) => pendingRequests.set(r, Date.now()));
    page.on('requestfinished', (r) => pendingRequests.delete(r));
    page.on('requestfailed', (r) => {
      pendingRequests.delete(r);
      failedRequests.push(`${r.method()} ${r.url()}: ${r.failure()?.errorText ?? '?'}`);
    });
    page.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
    });
    return { ctx, page };
  }

  async function signIn(page: Page, username: string, password: string) {
    await page.goto('/');
    await page.getByLabel('Username').fill(username);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('navigation', { name: 'Main' }).waitFor();
  }

  async function shot(page: Page, name: string) {
    if (!SHOTS) return;
    fs.mkdirSync(SHOTS, { recursive: true });
    await page.screenshot({ path: path.join(SHOTS, `${name}.png`) });
  }

  async function confirmDialog(page: Page, expectText: RegExp) {
    const dialog = page.getByRole('alertdialog');
    await dialog.waitFor();
    expect(await dialog.textContent()).to.match(expectText);
    await dialog.getByRole('button').last().click();
    await dialog.waitFor({ state: 'detached' });
  }

  it('serves the console at / and at deep links, with its CSP, while the API keeps its JSON 404', async () => {
    for (const p of ['/', '/settings', '/invitations/abc']) {
      const r = await fetch(h.app.baseUrl + p, { headers: { accept: 'text/html' } });
      expect(r.status, p).to.equal(200);
      expect(r.headers.get('content-security-policy')).to.include("script-src 'self'");
      expect(await r.text()).to.include('<div id="app">');
    }
    const api = await fetch(h.app.baseUrl + '/v1/nothing', { headers: { accept: 'text/html' } });
    expect(api.status).to.equal(404);
    expect(((await api.json()) as { error: { code: string } }).error.code).to.equal('route_not_found');
  });

  it('signs in with a password, keeps the session in an HttpOnly cookie, and signs out', async () => {
    const { ctx, page } = await newPage();
    await page.goto('/');
    await shot(page, 'sign-in');
    await signIn(page, acct.ownerUsername, OWNER_PASSWORD);
    await page.getByRole('heading', { name: 'Users' }).waitFor();
    const cookies = await ctx.cookies();
    const session = cookies.find((c) => c.name === 'sb_session')!;
    expect(session.httpOnly).to.equal(true);
    expect(session.sameSite).to.equal('Strict');
    // Script on the page cannot read the session token.
    expect(await page.evaluate(() => document.cookie)).to.not.include('sb_session');
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    // The token is revoked on the server, not only forgotten by the browser.
    const r = await fetch(h.app.baseUrl + '/v1/me', { headers: { cookie: `sb_session=${session.value}` } });
    expect(r.status).to.equal(401);
    await ctx.close();
  });

  it('refuses an unsafe request authenticated by the cookie without the CSRF token', async () => {
    const login = await fetch(h.app.baseUrl + '/v1/auth/session', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: acct.ownerUsername, password: OWNER_PASSWORD }),
    });
    const { csrf_token } = (await login.json()) as { csrf_token: string };
    const cookie = login.headers
      .getSetCookie()
      .map((c) => c.split(';')[0])
      .join('; ');
    const body = JSON.stringify({ name: 'Renamed by a forged request' });
    const forged = await fetch(h.app.baseUrl + '/v1/account', { method: 'PATCH', headers: { cookie, 'content-type': 'application/json' }, body });
    expect(forged.status).to.equal(403);
    expect(((await forged.json()) as { error: { code: string } }).error.code).to.equal('csrf_token_invalid');
    const real = await fetch(h.app.baseUrl + '/v1/account', {
      method: 'PATCH',
      headers: { cookie, 'content-type': 'application/json', 'x-csrf-token': csrf_token },
      body: JSON.stringify({ name: 'Acme Dental' }),
    });
    expect(real.status).to.equal(200);
  });

  it('creates a user and shows the SIP password and PIN once', async () => {
    const extension = nextExtension();
    const { ctx, page } = await newPage();
    await signIn(page, acct.ownerUsername, OWNER_PASSWORD);
    await page.getByRole('button', { name: 'New user' }).click();
    const name = `Dana Scully ${extension}`;
    await page.getByLabel('Name', { exact: true }).fill(name);
    await page.getByLabel('Extension', { exact: true }).fill(extension);
    await page.getByLabel('Username', { exact: true }).fill(`dana-${acct.accountId}-${extension}`);
    await page.getByRole('button', { name: 'Create user' }).click();
    const secret = page.locator('[data-secret="SIP password"]');
    await secret.waitFor();
    await shot(page, 'user-created');
    const shown = (await secret.textContent())!.trim();
    const list = await h.app.call('GET', `/v1/users?extension=${extension}`, { token: acct.ownerToken });
    const id = list.body.data[0].id as number;
    const revealed = await h.app.call('GET', `/v1/users/${id}/sip-password`, { token: acct.ownerToken });
    expect(shown).to.equal(revealed.body.sip_password);
    expect((await page.locator('[data-secret="OnCall PIN"]').textContent())!.trim()).to.match(/^\d{4,}$/);
    // Once: the user's page shows it masked until an admin reveals it (audited).
    await page.getByRole('link', { name: `Open ${name}`, exact: true }).click();
    await page.getByRole('heading', { name }).waitFor();
    expect(await page.getByTestId('sip-password').textContent()).to.not.include(shown);
    await page.getByRole('button', { name: /Reveal the SIP password/ }).click();
    await page.getByTestId('sip-password').filter({ hasText: shown }).waitFor();
    await ctx.close();
  });

  it("edits a user's field and shows a rule's error next to that field", async () => {
    // The factory's extensions: a retried attempt must not meet its first attempt's users (409).
    const taken = await createUser(h.app, acct.ownerToken, { name: 'Fox Mulder' });
    const u = await createUser(h.app, acct.ownerToken, { name: 'Walter Skinner' });
    const fresh = nextExtension();
    const { ctx, page } = await newPage();
    await signIn(page, acct.ownerUsername, OWNER_PASSWORD);
    await page.goto(`/users/${u.id}`);
    const ext = page.locator('[data-field="extension"]');
    await ext.getByRole('textbox').fill(taken.extension);
    await page.getByRole('button', { name: 'Save changes' }).click();
    const err = ext.locator('.error');
    await err.waitFor();
    expect(await err.textContent()).to.include(taken.extension);
    expect(await ext.getByRole('textbox').getAttribute('aria-invalid')).to.equal('true');
    // A schema rule (digits only) lands next to its field too; a valid change is saved.
    await ext.getByRole('textbox').fill('42x');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await ext.locator('.error', { hasText: /digits/ }).waitFor();
    await shot(page, 'user-edit');
    await ext.getByRole('textbox').fill(fresh);
    await page.locator('[data-field="call_timeout"]').getByRole('spinbutton').fill('45');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByText('Saved').waitFor();
    const after = await h.app.call('GET', `/v1/users/${u.id}`, { token: acct.ownerToken });
    expect(after.body).to.include({ extension: fresh, call_timeout: 45 });
    await ctx.close();
  });

  it('invites a member by email; the emailed link accepts the invitation and signs the member in', async () => {
    const { ctx, page } = await newPage();
    await signIn(page, acct.ownerUsername, OWNER_PASSWORD);
    await page.goto('/settings/members');
    const email = `newbie-${acct.accountId}-${crypto.randomBytes(3).toString('hex')}@clinic.example`;
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Role', { exact: true }).selectOption('viewer');
    const before = smtp.messages.length;
    await page.getByRole('button', { name: 'Invite' }).click();
    await page.locator(`tr[data-email="${email}"]`, { hasText: 'invited' }).waitFor();
    await shot(page, 'settings-members');
    await smtp.waitFor(before + 1, 10_000);
    const mail = smtp.messages.find((m) => m.to.includes(email))!;
    const link = /https?:\/\/\S+\/invitations\/\S+/.exec(mail.text)![0];
    await ctx.close();

    // The invitee: a fresh browser, the link from the email (publicUrl points at this server's console).
    const invitee = await newPage();
    await invitee.page.goto(new URL(link).pathname);
    await invitee.page.getByRole('heading', { name: 'Join the workspace' }).waitFor();
    await shot(invitee.page, 'invitation');
    await invitee.page.getByLabel('Your name').fill('Nora Newbie');
    await invitee.page.getByLabel('Password').fill('newbie-password-123');
    await invitee.page.getByRole('button', { name: 'Accept the invitation' }).click();
    await invitee.page.getByRole('heading', { name: 'Welcome aboard' }).waitFor();
    await invitee.page.getByRole('button', { name: 'Open the console' }).click();
    await invitee.page.getByRole('navigation', { name: 'Main' }).getByText('Nora Newbie').waitFor();
    const members = await h.app.call('GET', '/v1/members?limit=200', { token: acct.ownerToken });
    expect(members.body.data.find((m: { email: string }) => m.email === email)).to.include({ status: 'active', role: 'viewer', name: 'Nora Newbie' });
    await invitee.ctx.close();
  });

  it('reveals, copies and regenerates the workspace API key; the old key is refused at once', async () => {
    const { ctx, page } = await newPage();
    await signIn(page, acct.ownerUsername, OWNER_PASSWORD);
    await page.goto('/settings/api-key');
    const key = page.getByTestId('workspace-key');
    expect(await key.textContent()).to.match(/^•+/);
    await page.getByRole('button', { name: 'Reveal the API key' }).click();
    await key.filter({ hasText: /^[^•]+$/ }).waitFor();
    const oldKey = (await key.textContent())!.trim();
    expect((await fetch(h.app.baseUrl + '/v1/me', { headers: { 'x-api-key': oldKey } })).status).to.equal(200);
    await page.getByRole('button', { name: 'Copy the API key' }).click();
    await page.getByText('Copied to the clipboard').waitFor();
    expect(await page.evaluate(() => navigator.clipboard.readText())).to.equal(oldKey);
    await shot(page, 'settings-api-key');
    await page.getByRole('button', { name: 'Regenerate' }).click();
    await confirmDialog(page, /stops working immediately/);
    await key
      .filter({ hasNotText: oldKey })
      .filter({ hasText: /^[^•]+$/ })
      .waitFor();
    const newKey = (await key.textContent())!.trim();
    expect(newKey).to.not.equal(oldKey);
    expect((await fetch(h.app.baseUrl + '/v1/me', { headers: { 'x-api-key': oldKey } })).status).to.equal(401);
    expect((await fetch(h.app.baseUrl + '/v1/me', { headers: { 'x-api-key': newKey } })).status).to.equal(200);
    await ctx.close();
  });

  it('shows a non-admin who opens /settings a permission error and offers only their own phone', async () => {
    const m = await createMember(h.app, acct.ownerToken, 'user', { name: 'Plain User' });
    const { ctx, page } = await newPage();
    await signIn(page, m.user.username, 'member-password-123');
    await page.goto('/settings');
    await page
      .getByRole('alert')
      .filter({ hasText: /permission/i })
      .waitFor();
    await page.getByRole('heading', { name: 'My phone' }).waitFor();
    expect(new URL(page.url()).pathname).to.equal('/me');
    const nav = await page.getByRole('navigation', { name: 'Main' }).getByRole('link').allTextContents();
    expect(nav).to.deep.equal(['My phone']);
    await shot(page, 'my-phone');
    await ctx.close();
  });

  it('shows a viewer everything read-only', async () => {
    const m = await createMember(h.app, acct.ownerToken, 'viewer', { name: 'Vera Viewer' });
    const target = await createUser(h.app, acct.ownerToken);
    const { ctx, page } = await newPage();
    await signIn(page, m.user.username, 'member-password-123');
    await page.getByRole('heading', { name: 'Users' }).waitFor();
    expect(await page.getByRole('button', { name: 'New user' }).count()).to.equal(0);
    await page.goto(`/users/${target.id}`);
    await page.locator('[data-field="name"] input').waitFor();
    expect(await page.locator('[data-field="name"] input').isDisabled()).to.equal(true);
    expect(await page.getByRole('button', { name: 'Save changes' }).count()).to.equal(0);
    await ctx.close();
  });

  it('shows a SIP client that registers on a real socket without a reload, and kicks it', async () => {
    // The factory's own extension: a retried attempt must not meet its first attempt's user (409).
    const u = await createUser(h.app, acct.ownerToken, { name: 'Phone Owner' });
    const { ctx, page } = await newPage();
    await signIn(page, acct.ownerUsername, OWNER_PASSWORD);
    await page.goto('/devices');
    await page.getByText('No device is registered.').waitFor();
    await page.evaluate(() => ((window as unknown as { marker: number }).marker = 42));

    const phone = await SipPhone.open('udp', h.edge!.port('udp'));
    try {
      const r = await phone.register({ user: u.username, domain: acct.sipDomain, password: u.sip_password, expires: 600, userAgent: 'Yealink T54W' });
      expect(r).to.match(/^SIP\/2.0 200/);
      const row = page.locator('tr', { hasText: 'Yealink T54W' });
      await row.waitFor({ timeout: 15_000 });
      expect(await row.textContent()).to.include('udp');
      expect(await row.textContent()).to.include('127.0.0.1');
      expect(await page.evaluate(() => (window as unknown as { marker?: number }).marker)).to.equal(42);
      await shot(page, 'devices');
      await row.getByRole('button', { name: /Kick/ }).click();
      await confirmDialog(page, /removed now/);
      await row.waitFor({ state: 'detached' });
      const left = await h.app.call('GET', `/v1/users/${u.id}/registrations`, { token: acct.ownerToken });
      expect(left.body.data).to.deep.equal([]);
    } finally {
      await phone.close();
    }
    await ctx.close();
  });

  it('shows recorded usage in Settings → Usage by day, user and type, and downloads it as CSV', async () => {
    const shop = await createAccount(h.app, { name: 'Usage Clinic' });
    const agent = await createUser(h.app, shop.ownerToken, { name: 'Rita Reception' });
    // A registration through the registrar on a real socket, and SMS amounts as the messaging service records them.
    const phone = await SipPhone.open('udp', h.edge!.port('udp'));
    try {
      expect(await phone.register({ user: agent.username, domain: shop.sipDomain, password: agent.sip_password, expires: 600 })).to.match(/^SIP\/2.0 200/);
    } finally {
      await phone.close();
    }
    h.app.services.usage.recorder.record({ accountId: shop.accountId, userId: agent.id, type: 'sms_outbound', amount: 7 });
    h.app.services.usage.recorder.record({ accountId: shop.accountId, userId: null, type: 'sms_inbound', amount: 3 });
    await h.app.services.usage.flush();
    const today = new Date().toISOString().slice(0, 10);

    const { ctx, page } = await newPage();
    await signIn(page, shop.ownerUsername, OWNER_PASSWORD);
    await page.goto('/settings/usage');
    const cell = (key: string, col: string) => page.locator(`[data-testid="usage-table"] tr[data-key="${key}"] td[data-col="${col}"]`);
    await cell(today, 'registrations').filter({ hasText: '1' }).waitFor();
    expect(await cell(today, 'sms_outbound').textContent()).to.equal('7');
    expect(await cell(today, 'sms_inbound').textContent()).to.equal('3');
    expect(await cell(today, 'active_devices_peak').textContent()).to.equal('1');
    await shot(page, 'settings-usage');

    await page.getByLabel('Group by').selectOption('user');
    await page.locator('[data-testid="usage-table"] tr', { hasText: 'Rita Reception' }).waitFor();
    expect(await cell(String(agent.id), 'sms_outbound').textContent()).to.equal('7');
    expect(await cell('none', 'sms_inbound').textContent()).to.equal('3');
    await page.getByLabel('Group by').selectOption('type');
    const reg = page.locator('[data-testid="usage-table"] tr[data-type="registrations"]');
    await reg.waitFor();
    expect(await reg.textContent()).to.include('1');

    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Download CSV' }).click()]);
    const file = await download.path();
    const csv = fs.readFileSync(file, 'utf8');
    expect(download.suggestedFilename()).to.match(/^usage-type-\d{4}-\d\d-01-to-\d{4}-\d\d-\d\d\.csv$/);
    expect(csv.split('\r\n').slice(0, 3)).to.deep.equal(['type,amount,aggregation', 'sms_inbound,3,sum', 'sms_outbound,7,sum']);

    // A range the API refuses shows its message next to the field.
    await page.getByLabel('From').fill('2020-01-01');
    await page.locator('[data-field="usage-until"] .error').waitFor();
    expect(await page.locator('[data-field="usage-until"] .error').textContent()).to.match(/366/);
    await ctx.close();
  });

  it("disables a user from their page, so that user's password sign-in is refused, and enables them again", async () => {
    const admin = await createMember(h.app, acct.ownerToken, 'admin', { name: 'Ada Admin' });
    // A name of this attempt's own: a retried attempt must not find the first attempt's (disabled) user in the list.
    const name = `Otto Target ${nextExtension()}`;
    const target = await createMember(h.app, acct.ownerToken, 'user', { name });
    const grant = async () =>
      (
        await h.app.call('POST', '/v1/auth/token', {
          body: { grant_type: 'password', username: target.user.username, password: 'member-password-123' },
        })
      ).status;
    expect(await grant()).to.equal(200);
    const { ctx, page } = await newPage();
    await signIn(page, admin.user.username, 'member-password-123');

    await page.goto(`/users/${target.user.id}`);
    await page.getByRole('heading', { name }).waitFor();
    await page.getByRole('button', { name: 'Disable', exact: true }).click();
    await confirmDialog(page, /Sign-in, tokens, API keys and phones stop/);
    await page.getByTestId('user-status').filter({ hasText: 'disabled' }).waitFor();
    expect(await grant()).to.equal(401);
    // The token it held before ends too.
    expect((await h.app.call('GET', '/v1/me', { token: target.token })).status).to.equal(401);
    // The list shows the status.
    await page.goto('/users');
    await page
      .getByRole('row', { name: new RegExp(name) })
      .getByText('disabled')
      .waitFor();

    await page.goto(`/users/${target.user.id}`);
    await page.getByRole('button', { name: 'Enable', exact: true }).click();
    await page.getByTestId('user-status').filter({ hasText: 'active' }).waitFor();
    expect(await grant()).to.equal(200);

    // The API refuses to disable the owner; the console shows its reason.
    await page.goto(`/users/${acct.ownerId}`);
    await page.getByRole('button', { name: 'Disable', exact: true }).click();
    await confirmDialog(page, /stop at once/);
    const err = page.locator('.toast.error');
    await err.waitFor();
    const refusal = await h.app.call('PATCH', `/v1/users/${acct.ownerId}`, { token: admin.token, body: { status: 'disabled' } });
    expect(refusal.status).to.be.within(400, 499);
    expect((await err.textContent())!.trim()).to.equal(refusal.body.error.message);
    expect((await h.app.call('GET', `/v1/users/${acct.ownerId}`, { token: acct.ownerToken })).body.status).to.equal('active');
    await ctx.close();
  });

  it("changes a member's and an invitation's role, and removes a member keeping or deleting the phone user", async () => {
    const keep = await createMember(h.app, acct.ownerToken, 'viewer', {
      email: `keep-${acct.accountId}-${crypto.randomBytes(3).toString('hex')}@clinic.example`,
    });
    const gone = await createMember(h.app, acct.ownerToken, 'viewer', {
      email: `gone-${acct.accountId}-${crypto.randomBytes(3).toString('hex')}@clinic.example`,
    });
    const inviteEmail = `later-${acct.accountId}-${crypto.randomBytes(3).toString('hex')}@clinic.example`;
    const inv = await h.app.call('POST', '/v1/members/invitations', { token: acct.ownerToken, body: { email: inviteEmail, role: 'user' } });
    expect(inv.status).to.equal(201);
    const { ctx, page } = await newPage();
    await signIn(page, acct.ownerUsername, OWNER_PASSWORD);
    await page.goto('/settings/members');

    await page.getByLabel(`Role of ${keep.user.email}`).selectOption('admin');
    await page.locator('.toast.ok', { hasText: 'Role changed' }).waitFor();
    expect((await h.app.call('GET', `/v1/users/${keep.user.id}`, { token: acct.ownerToken })).body.role).to.equal('admin');
    await page.getByLabel(`Role of ${inviteEmail}`).selectOption('viewer');
    await page.locator('.toast.ok', { hasText: 'Invitation role changed' }).waitFor();
    const invs = await h.app.call('GET', '/v1/members/invitations', { token: acct.ownerToken });
    expect(invs.body.data.find((m: { email: string }) => m.email === inviteEmail)).to.include({ role: 'viewer' });

    // Remove, box unticked: the member's access ends, the PBX user stays.
    await page.locator(`tr[data-email="${keep.user.email}"]`).getByRole('button', { name: 'Remove' }).click();
    await confirmDialog(page, /stays unless you tick the box/);
    await page.locator(`tr[data-email="${keep.user.email}"]`).waitFor({ state: 'detached' });
    expect((await h.app.call('GET', `/v1/users/${keep.user.id}`, { token: acct.ownerToken })).status).to.equal(200);
    expect((await h.app.call('GET', '/v1/me', { token: keep.token })).status).to.equal(401);

    // Remove with the box ticked: the PBX user is deleted too.
    await page.locator(`tr[data-email="${gone.user.email}"]`).getByRole('button', { name: 'Remove' }).click();
    const dialog = page.getByRole('alertdialog');
    await dialog.getByLabel('Also delete the phone user').check();
    await dialog.getByRole('button', { name: 'Remove' }).click();
    await page.locator(`tr[data-email="${gone.user.email}"]`).waitFor({ state: 'detached' });
    expect((await h.app.call('GET', `/v1/users/${gone.user.id}`, { token: acct.ownerToken })).status).to.equal(404);
    await ctx.close();
  });

  it('lets the owner delete the workspace after typing its name; the old access token is refused afterwards', async () => {
    const doomed = await createAccount(h.app, { name: 'Doomed Clinic' });
    const { ctx, page } = await newPage();
    await signIn(page, doomed.ownerUsername, OWNER_PASSWORD);
    await page.goto('/settings/general');
    await page.getByRole('button', { name: 'Delete workspace' }).click();
    const dialog = page.getByRole('alertdialog');
    await dialog.waitFor();
    const go = dialog.getByRole('button', { name: 'Delete workspace' });
    expect(await go.isDisabled()).to.equal(true);
    await dialog.getByRole('textbox').fill('Doomed Clinic?');
    expect(await go.isDisabled()).to.equal(true);
    await dialog.getByRole('textbox').fill('Doomed Clinic');
    await go.click();
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    expect((await h.app.call('GET', '/v1/me', { token: doomed.ownerToken })).status).to.equal(401);
    expect(
      (await h.app.call('POST', '/v1/auth/token', { body: { grant_type: 'password', username: doomed.ownerUsername, password: OWNER_PASSWORD } })).status,
    ).to.equal(401);
    // The workspace the other tests use is untouched.
    expect((await h.app.call('GET', '/v1/me', { token: acct.ownerToken })).status).to.equal(200);
    await ctx.close();
  });

  it('connects a Twilio account on Your telephony (carrier errors shown in place), syncs it, and lists its numbers with their provider', async () => {
    const ws = await createAccount(h.app, { name: 'Byoc Clinic' });
    // Numbers are unique across workspaces: each attempt draws its own.
    const [n1, n2, n3, n4] = [1, 2, 3, 4].map((i) => `+1415${randomDigits(5)}${i}0`);
    carriers.twilio.numbers = [
      { number: n1!, name: 'Front desk' },
      { number: n2!, name: 'Fax line', voice: false, sms: true, fax: true },
      { number: n3!, name: 'Night line' },
    ];
    const { ctx, page } = await newPage();
    await signIn(page, ws.ownerUsername, OWNER_PASSWORD);
    await page.goto('/settings/telephony');
    await page.getByText('No provider yet').waitFor();
    await page.getByRole('button', { name: 'Add provider' }).click();
    const form = page.getByTestId('add-provider');
    await form.getByLabel('Provider', { exact: true }).selectOption('twilio');
    await form.getByLabel('Name', { exact: true }).fill('Twilio main');
    await form.getByLabel('Account SID').fill(carriers.twilio.sid);
    await form.getByLabel('Auth token').fill('wrong-token-0000');
    await form.getByRole('button', { name: 'Save' }).click();
    // 422 provider_auth_failed: the carrier's own words, next to the credentials.
    await form
      .getByRole('alert')
      .filter({ hasText: /refused the credentials: Authenticate/ })
      .waitFor();
    // 502 provider_unavailable: the carrier down; nothing is saved either time.
    carriers.failWith503('/2010-04-01');
    try {
      await form.getByLabel('Auth token').fill(carriers.twilio.token);
      await form.getByRole('button', { name: 'Save' }).click();
      await form
        .getByTestId('form-error')
        .filter({ hasText: /unavailable|503|answered/i })
        .waitFor();
    } finally {
      carriers.failWith503(null);
    }
    expect((await h.app.call('GET', '/v1/telephony/providers', { token: ws.ownerToken })).body.data).to.deep.equal([]);
    await form.getByRole('button', { name: 'Save' }).click();
    const created = page.getByTestId('provider-created');
    await created.waitFor();
    expect(await created.locator('[data-count="added"] strong').textContent()).to.equal('3');
    const card = page.locator('section.provider[data-provider="Twilio main"]');
    await card.waitFor();
    expect(await card.textContent()).to.include(`••••${carriers.twilio.token.slice(-4)}`);
    expect(await page.content()).to.not.include(carriers.twilio.token);
    await shot(page, 'settings-telephony');

    // The carrier gains a number and loses one: Sync now says so.
    carriers.twilio.numbers = [...carriers.twilio.numbers.filter((n) => n.number !== n3), { number: n4!, name: 'Sales' }];
    await card.getByRole('button', { name: 'Sync now' }).click();
    const result = card.getByTestId('sync-result');
    await result.waitFor();
    expect(await result.locator('[data-count="added"]').textContent()).to.include(n4);
    expect(await result.locator('[data-count="missing"]').textContent()).to.include(`${n3} (removed)`);
    expect(await result.locator('[data-count="conflicts"] strong').textContent()).to.equal('0');

    // Rename, and rotate the credentials (a wrong token is refused in place first).
    await card.getByRole('button', { name: 'Rename' }).click();
    await card.getByLabel('New name').fill('Twilio US');
    await card.getByRole('button', { name: 'Save name' }).click();
    const renamed = page.locator('section.provider[data-provider="Twilio US"]');
    await renamed.waitFor();
    await renamed.getByRole('button', { name: 'Rotate credentials' }).click();
    await renamed.getByLabel('Account SID').fill(carriers.twilio.sid);
    await renamed.getByLabel('Auth token').fill('still-wrong-1111');
    await renamed.getByRole('button', { name: 'Save credentials' }).click();
    await renamed
      .getByTestId('form-error')
      .filter({ hasText: /Authenticate/ })
      .waitFor();
    await renamed.getByLabel('Auth token').fill(carriers.twilio.token);
    await renamed.getByRole('button', { name: 'Save credentials' }).click();
    await page.locator('.toast.ok', { hasText: 'New credentials saved' }).waitFor();

    // The Numbers page shows each imported number with its provider.
    await created.getByRole('link', { name: 'Numbers' }).click();
    await page.getByRole('heading', { name: 'Phone numbers' }).waitFor();
    for (const n of [n1!, n2!, n4!]) {
      await page.getByRole('row', { name: new RegExp(`\\${n}.*Twilio US \\(Twilio\\)`) }).waitFor();
    }
    expect(await page.getByRole('row', { name: new RegExp(`\\${n3}`) }).count()).to.equal(0);
    await shot(page, 'numbers');

    // Delete while a number is the workspace's default caller ID: 409 in_use, with what refers to it.
    expect((await h.app.call('PATCH', '/v1/account', { token: ws.ownerToken, body: { default_caller_id_number: n1 } })).status).to.equal(200);
    await page.goto('/settings/telephony');
    const again = page.locator('section.provider[data-provider="Twilio US"]');
    await again.getByRole('button', { name: 'Delete' }).click();
    await confirmDialog(page, /keep it from being deleted/);
    const inUse = again.getByTestId('in-use');
    await inUse.waitFor();
    expect(await inUse.textContent()).to.match(/account/);
    await inUse.getByRole('link', { name: 'workspace default caller ID' }).waitFor();
    expect((await h.app.call('PATCH', '/v1/account', { token: ws.ownerToken, body: { default_caller_id_number: null } })).status).to.equal(200);
    await again.getByRole('button', { name: 'Delete' }).click();
    await confirmDialog(page, /keep it from being deleted/);
    await again.waitFor({ state: 'detached' });
    expect((await h.app.call('GET', '/v1/numbers', { token: ws.ownerToken })).body.data).to.deep.equal([]);
    await ctx.close();
  });

  it('adds a SIP trunk that registers with a carrier on loopback, shows its registration state without a reload, and unregisters on delete', async () => {
    // The carrier: a registrar on a real socket (this Switchboard's own, for another workspace), with the trunk's account on it.
    const carrier = await createAccount(h.app, { name: 'Carrier Co' });
    const line = await createUser(h.app, carrier.ownerToken, { extension: '7001', name: 'Trunk line' });
    const ws = await createAccount(h.app, { name: 'Trunk Clinic' });
    const { ctx, page } = await newPage();
    await signIn(page, ws.ownerUsername, OWNER_PASSWORD);
    await page.goto('/settings/telephony');
    await page.evaluate(() => ((window as unknown as { marker: number }).marker = 7));
    await page.getByRole('button', { name: 'Add provider' }).click();
    const form = page.getByTestId('add-provider');
    await form.getByLabel('Provider', { exact: true }).selectOption('sip_trunk');
    await form.getByLabel('Name', { exact: true }).fill('Carrier trunk');
    await form.getByLabel('Username', { exact: true }).fill(line.username);
    await form.getByLabel('Password').fill(line.sip_password);
    await form.getByLabel('Registrar / proxy host').fill('127.0.0.1');
    await form.getByLabel('Port', { exact: true }).fill(String(h.edge!.port('udp')));
    await form.getByLabel('Digest realm (optional)').fill(carrier.sipDomain);
    await form.getByLabel(/From domain/).fill(carrier.sipDomain);
    await form.getByLabel('Register with the carrier').check();
    await form.getByRole('button', { name: 'Save' }).click();
    const card = page.locator('section.provider[data-provider="Carrier trunk"]');
    await card.locator('[data-state="registered"]').waitFor({ timeout: 20_000 });
    expect(await page.evaluate(() => (window as unknown as { marker?: number }).marker)).to.equal(7);
    expect(await card.getByTestId('registration').textContent()).to.include('200');
    const bindings = async () => (await h.app.call('GET', `/v1/users/${line.id}/registrations`, { token: carrier.ownerToken })).body.data as unknown[];
    expect(await bindings()).to.have.length(1);
    await shot(page, 'settings-telephony-trunk');

    // A trunk's numbers are entered by hand on the Numbers page, with the trunk as their provider.
    await page.goto('/numbers');
    const trunkNumber = `+1312${randomDigits(7)}`;
    await page.getByLabel('Number (E.164)').fill(trunkNumber);
    await page.getByLabel('Provider', { exact: true }).selectOption({ label: 'Carrier trunk (SIP trunk)' });
    await page.getByRole('button', { name: 'Add', exact: true }).click();
    await page.getByRole('row', { name: new RegExp(`\\${trunkNumber}.*Carrier trunk \\(SIP trunk\\)`) }).waitFor();

    await page.goto('/settings/telephony');
    await card.getByRole('button', { name: 'Delete' }).click();
    await confirmDialog(page, /unregistered/);
    await card.waitFor({ state: 'detached' });
    // Expires: 0 reached the carrier: its binding is gone.
    const deadline = Date.now() + 15_000;
    while ((await bindings()).length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    expect(await bindings()).to.deep.equal([]);
    await ctx.close();
  });

  it('reaches every row of a list longer than the API page (201 numbers, Load more)', async function () {
    // Setup is 201 API calls; on a loaded machine they alone may take most of the default minute.
    this.timeout(120_000);
    const ws = await createAccount(h.app, { name: 'Many Numbers' });
    const prefix = `+1646${randomDigits(3)}`;
    const all = Array.from({ length: 201 }, (_, i) => `${prefix}${String(i).padStart(4, '0')}`);
    // Concurrent calls: SQLite commits those that wait together in one transaction.
    for (let i = 0; i < all.length; i += 67) {
      await Promise.all(
        all.slice(i, i + 67).map(async (e164) => {
          const r = await h.app.call('POST', '/v1/numbers', { token: ws.ownerToken, body: { e164, label: `Line ${e164.slice(-4)}` } });
          expect(r.status, JSON.stringify(r.body)).to.equal(201);
        }),
      );
    }
    const { ctx, page } = await newPage();
    await signIn(page, ws.ownerUsername, OWNER_PASSWORD);
    await page.goto('/numbers');
    const count = page.getByTestId('count-numbers');
    await count.filter({ hasText: '100 numbers shown; more exist' }).waitFor();
    await page.getByRole('button', { name: 'Load more numbers' }).click();
    await count.filter({ hasText: '200 numbers shown; more exist' }).waitFor();
    await page.getByRole('button', { name: 'Load more numbers' }).click();
    await count.filter({ hasText: /^201 numbers shown$/ }).waitFor();
    expect(await page.getByRole('button', { name: 'Load more numbers' }).count()).to.equal(0);
    const shown = (await page.locator('tbody tr td:first-child').allTextContents()).map((t) => t.trim());
    expect([...shown].sort()).to.deep.equal([...all].sort());
    // A change reads the loaded rows again, keeping the reader's place (all of them, not the first page).
    await page.locator('tbody tr', { hasText: all[200]! }).getByRole('button', { name: 'Delete' }).click();
    await confirmDialog(page, /deleted/);
    await count.filter({ hasText: /^200 numbers shown$/ }).waitFor();
    await ctx.close();
  });

  it('lays the main pages out at phone width', async () => {
    const { ctx, page } = await newPage();
    await page.setViewportSize({ width: 390, height: 800 });
    await signIn(page, acct.ownerUsername, OWNER_PASSWORD);
    await page.getByRole('heading', { name: 'Users' }).waitFor();
    // Nothing wider than the screen: the page does not scroll sideways.
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).to.be.at.most(390);
    if (SHOTS) {
      await page.setViewportSize({ width: 1200, height: 860 });
      for (const [p, name] of [
        ['/users', 'users'],
        ['/settings/general', 'settings-general'],
      ]) {
        await page.goto(p!);
        await page.getByRole('heading').first().waitFor();
        await page.waitForLoadState('networkidle');
        await shot(page, name!);
      }
    }
    await ctx.close();
  });
});
