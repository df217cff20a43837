import crypto from 'node:crypto';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { startTestApp, type TestApp } from '../helpers/test-app.js';
import { createAccount, type TestAccount } from '../helpers/factories.js';
import { startSmtpReceiver, type SmtpReceiver } from '../helpers/smtp-receiver.js';

const run = promisify(execFile);

describe('Operator settings', () => {
  it('reads MAIL_INVITATION_FROM, WEBHOOKS_ALLOW_PRIVATE_TARGETS and PUBLIC_URL from the environment', async function () {
    this.timeout(60_000);
    const script =
      "import('./src/config.ts').then((m) => { const c = m.loadConfig(); console.log(JSON.stringify([c.mail.invitationFrom, c.webhooks.allowPrivateTargets, c.publicUrl])); })";
    const env = { ...process.env, NODE_ENV: 'test', DATABASE_URL: 'sqlite::memory:', MASTER_KEY: crypto.randomBytes(32).toString('base64') };
    const read = async (extra: Record<string, string>) =>
      JSON.parse((await run(process.execPath, ['--import', 'tsx', '-e', script], { env: { ...env, ...extra } })).stdout);
    expect(
      await read({ MAIL_INVITATION_FROM: 'Acme Admin <admin@acme.example>', WEBHOOKS_ALLOW_PRIVATE_TARGETS: 'true', PUBLIC_URL: 'https://pbx.acme.example' }),
    ).to.deep.equal(['Acme Admin <admin@acme.example>', true, 'https://pbx.acme.example']);
    const defaults = await read({});
    expect(defaults[1], 'private targets are off by default').to.equal(false);
  });

  describe('invitation sender', () => {
    let app: TestApp;
    let acct: TestAccount;
    let smtp: SmtpReceiver;

    before(async function () {
      this.timeout(60_000);
      smtp = await startSmtpReceiver();
      app = await startTestApp({
        smtp: { url: smtp.url, from: 'Switchboard OnCall <oncall@switchboard.test>', timeoutMs: 2000 },
        mail: { invitationFrom: 'Acme Admin <admin@acme.example>' },
      });
      acct = await createAccount(app);
    });
    after(async () => {
      await app.stop();
      await smtp.stop();
    });

    it('sends invitations from mail.invitationFrom, not from the OnCall sender', async () => {
      const email = `invitee${Date.now()}@acme.example`;
      const r = await app.call('POST', '/v1/members/invitations', { token: acct.ownerToken, body: { email, role: 'viewer' } });
      expect(r.status).to.equal(201);
      expect(r.body.email_sent).to.equal(true);
      const mail = smtp.messages.find((m) => m.to.includes(email))!;
      expect(mail.from).to.equal('admin@acme.example');
      expect(mail.raw).to.match(/^From: Acme Admin <admin@acme\.example>\r$/m);
    });
  });

  describe('webhook targets on a private network', () => {
    const PRIVATE = ['http://10.1.2.3/hook', 'http://192.168.10.20:8080/hook', 'http://172.16.0.9/hook', 'http://[fd12:3456::1]/hook'];
    const ALWAYS_REFUSED = ['http://169.254.169.254/latest/meta-data', 'http://100.64.0.1/hook', 'http://[fe80::1]/hook', 'http://0.0.0.0/hook'];

    async function create(app: TestApp, token: string, url: string) {
      return app.call('POST', '/v1/webhooks', { token, body: { url, events: ['user.created'] } });
    }

    it('refuses them by default and allows them with webhooks.allowPrivateTargets, never metadata or link-local', async function () {
      this.timeout(90_000);
      const strict = await startTestApp();
      try {
        const a = await createAccount(strict);
        for (const url of PRIVATE) {
          const refused = await create(strict, a.ownerToken, url);
          expect([refused.status, refused.body.error?.code], url).to.deep.equal([422, 'webhook_target_forbidden']);
        }
      } finally {
        await strict.stop();
      }
      const onPrem = await startTestApp({ webhooks: { allowPrivateTargets: true } });
      try {
        const b = await createAccount(onPrem);
        for (const url of PRIVATE) expect((await create(onPrem, b.ownerToken, url)).status, url).to.equal(201);
        for (const url of ALWAYS_REFUSED) {
          const r = await create(onPrem, b.ownerToken, url);
          expect([r.status, r.body.error?.code], url).to.deep.equal([422, 'webhook_target_forbidden']);
        }
      } finally {
        await onPrem.stop();
      }
    });
  });
});
