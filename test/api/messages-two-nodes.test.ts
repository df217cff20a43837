import { expect } from 'chai';
import { startTestApp, type TestApp } from '../helpers/test-app.js';
import { createAccount, createMember, type TestAccount } from '../helpers/factories.js';
import { startCarrierApiServer, type CarrierApiServer } from '../helpers/carrier-api-server.js';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js';
import { TEST_DIALECT } from '../helpers/test-database.js';

const PUBLIC_URL = 'https://pbx.example.test';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// Two `switchboard serve` processes share one database only on MariaDB (SQLite is one machine's file).
if (TEST_DIALECT === 'mysql')
  describe('SMS auto-responder on two nodes (MariaDB)', () => {
    let app: TestApp;
    let carriers: CarrierApiServer;
    let acct: TestAccount;
    const nodes: ServerProcess[] = [];

    before(async function () {
      this.timeout(200_000);
      carriers = await startCarrierApiServer();
      app = await startTestApp({ publicUrl: PUBLIC_URL, telephony: { twilioApiBaseUrl: carriers.baseUrl } });
      const env = { PUBLIC_URL, TWILIO_API_BASE_URL: carriers.baseUrl, SIP_EDGE: 'none' };
      nodes.push(...(await Promise.all([0, 1].map(() => startServerProcess(app.config.database.url, app.config.secrets.masterKey, env, 90_000)))));
    });
    after(async () => {
      await Promise.all(nodes.map((n) => n.stop()));
      await app.stop();
      await carriers.stop();
    });

    it('sends one reply when both nodes receive an SMS from the same sender at the same moment', async () => {
      acct = await createAccount(app);
      const ours = `+1747${String(process.pid % 10000).padStart(4, '0')}001`;
      carriers.twilio.numbers = [{ number: ours, sms: true }];
      const p = await app.call('POST', '/v1/telephony/providers', {
        token: acct.ownerToken,
        body: { type: 'twilio', name: 'main', credentials: { account_sid: carriers.twilio.sid, auth_token: carriers.twilio.token } },
      });
      expect(p.status, JSON.stringify(p.body)).to.equal(201);
      await createMember(app, acct.ownerToken, 'user', {
        sms_enabled: true,
        outbound_sms_number: ours,
        sms_auto_responder_enabled: true,
        sms_auto_response_text: 'On a call, back soon',
      });
      const url = p.body.sms_webhook_url as string;
      const path = new URL(url).pathname;
      for (let round = 0; round < 3; round++) {
        const sender = `+1500555${String(round).padStart(4, '0')}`;
        const posts = nodes.map((n, i) => {
          const signed = carriers.webhook.twilio(url, { MessageSid: `SM${round}${i}${'0'.repeat(30)}`, From: sender, To: ours, Body: `hello ${i}` });
          return fetch(n.baseUrl + path, { method: 'POST', headers: signed.headers, body: signed.body });
        });
        const answers = await Promise.all(posts);
        expect(answers.map((a) => a.status)).to.deep.equal([200, 200]);
        // The replies go out after the answer; give both nodes time to send theirs if they were going to.
        for (let t = 0; t < 50 && !carriers.sent.some((s) => s.to === sender); t++) await sleep(100);
        await sleep(700);
        expect(carriers.sent.filter((s) => s.to === sender).map((s) => s.body)).to.deep.equal(['On a call, back soon']);
      }
      const inbound = await app.services.db.models.Message.count({ where: { account_id: acct.accountId, direction: 'inbound' } });
      const auto = await app.services.db.models.Message.count({ where: { account_id: acct.accountId, direction: 'outbound', auto: true } });
      expect([inbound, auto]).to.deep.equal([6, 3]);
    });
  });
