import crypto from 'node:crypto';
import { expect } from 'chai';
import { initModels } from '../../src/db/models/index.js';
import type { RunningServer } from '../../src/main.js';
import { serveForTest } from '../helpers/serve-for-test.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';
import { createAccount, createMember, type TestAccount } from '../helpers/factories.js';
import { startCarrierApiServer, type CarrierApiServer } from '../helpers/carrier-api-server.js';
import { SipPhone } from './sip-phone.js';
import { authorize, md5Challenge } from './registrar-helpers.js';

const PUBLIC_URL = 'https://pbx.example.test';
/** messaging.deviceTimeoutMs: a device that never answers is failed after this. */
const DEVICE_TIMEOUT_MS = 3000;
let seq = 0;
const e164 = () => `+1629${String(process.pid % 1000).padStart(3, '0')}${String(++seq).padStart(4, '0')}`;

interface Delivery {
  user_agent: string;
  status: string;
  sip_status: number;
  reason: string | null;
}

/**
 * SIP_WORKERS=2: the carrier's webhook reaches `serve`, which holds no SIP
 * socket, and the phones registered through the two worker processes. The
 * MESSAGE to each phone is sent by a worker (the one that holds a TCP
 * phone's connection), and its answer comes back to `serve` for the
 * per-device status; a phone's own MESSAGE, taken by a worker, goes out
 * through the carrier from that worker.
 */
describe('SMS to and from SIP phones with SIP_WORKERS=2', function () {
  this.timeout(90_000);
  let app: TestApp;
  let carriers: CarrierApiServer;
  let server: RunningServer | undefined;
  let acct: TestAccount;
  let base: string;
  let udpPort: number;
  let tcpPort: number;
  const phones: SipPhone[] = [];
  const users: Array<{ provider: { sms_webhook_url: string }; number: string; user: { id: number; username: string; sip_password: string } }> = [];

  before(async () => {
    carriers = await startCarrierApiServer();
    const telephony = { twilioApiBaseUrl: carriers.baseUrl, trunks: { enabled: false } };
    app = await startTestApp({ publicUrl: PUBLIC_URL, telephony });
    acct = await createAccount(app);
    // Each test's user has a number of its own on a provider of its own (set up before serve takes the models over).
    for (let i = 0; i < 4; i++) {
      const number = e164();
      carriers.twilio.numbers = [{ number, sms: true }];
      const p = await app.call('POST', '/v1/telephony/providers', {
        token: acct.ownerToken,
        body: { type: 'twilio', name: `workers ${i}`, credentials: { account_sid: carriers.twilio.sid, auth_token: carriers.twilio.token } },
      });
      expect(p.status, JSON.stringify(p.body)).to.equal(201);
      const member = await createMember(app, acct.ownerToken, 'user', { sms_enabled: true, outbound_sms_number: number });
      users.push({ provider: p.body, number, user: member.user });
    }
    server = await serveForTest(app, {
      publicUrl: PUBLIC_URL,
      telephony,
      messaging: { deviceTimeoutMs: DEVICE_TIMEOUT_MS },
      sip: { workers: 2, qualify: { enabled: false } },
    });
    base = `http://127.0.0.1:${server.httpPort}`;
    const sip = await health();
    expect(sip.workers).to.have.length(2);
    udpPort = sip.listeners.find((l) => l.transport === 'udp')!.port;
    tcpPort = sip.listeners.find((l) => l.transport === 'tcp')!.port;
  });
  afterEach(async () => {
    await Promise.all(phones.splice(0).map((p) => p.close()));
  });
  after(async () => {
    await server?.stop();
    // serve() bound the model classes to its own (now closed) connection: give them back to the test app's.
    initModels(app.services.db.sequelize);
    await app?.stop();
    await carriers?.stop();
  });

  const health = async () =>
    (
      (await (await fetch(`${base}/healthz`)).json()) as {
        sip: { listeners: Array<{ transport: string; port: number }>; workers: Array<{ nodeId: string; pid: number | null; ready: boolean }> };
      }
    ).sip;

  const api = async (path: string) => {
    const res = await fetch(base + path, { headers: { authorization: `Bearer ${acct.ownerToken}` } });
    return { status: res.status, body: await res.json() };
  };

  async function registered(transport: 'udp' | 'tcp', user: { username: string; sip_password: string }): Promise<SipPhone> {
    const phone = await SipPhone.open(transport, transport === 'udp' ? udpPort : tcpPort);
    phones.push(phone);
    const r = await phone.register({ user: user.username, domain: acct.sipDomain, password: user.sip_password, userAgent: `Worker ${transport} phone` });
    expect(r).to.match(/^SIP\/2\.0 200/);
    return phone;
  }

  async function inboundSms(u: (typeof users)[number], from: string, body: string): Promise<void> {
    const signed = carriers.webhook.twilio(u.provider.sms_webhook_url, {
      MessageSid: `SM${crypto.randomBytes(16).toString('hex')}`,
      From: from,
      To: u.number,
      Body: body,
    });
    const res = await fetch(base + new URL(u.provider.sms_webhook_url).pathname, { method: 'POST', headers: signed.headers, body: signed.body });
    expect(res.status).to.equal(200);
  }

  /** GET /v1/messages (the newest inbound SMS of the user), then its deliveries once every device has an outcome. */
  async function deliveries(userId: number, count: number, timeoutMs = 10_000): Promise<Record<string, Delivery>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const list = await api(`/v1/messages?user_id=${userId}&direction=inbound`);
      expect(list.status).to.equal(200);
      const id = list.body.data[0]?.id as number | undefined;
      if (id !== undefined) {
        const read = await api(`/v1/messages/${id}`);
        const rows = (read.body.deliveries ?? []) as Delivery[];
        if (rows.length >= count) return Object.fromEntries(rows.map((d) => [d.user_agent, d]));
      }
      if (Date.now() > deadline) throw new Error(`no ${count} deliveries recorded for user ${userId}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  it('delivers an inbound SMS to a UDP and a TCP phone through the workers, both delivered', async () => {
    const u = users[0]!;
    const udp = await registered('udp', u.user);
    const tcp = await registered('tcp', u.user);
    const bindings = await app.services.db.models.Registration.findAll({ where: { user_id: u.user.id } });
    // The bindings belong to the workers, not to serve.
    expect(bindings.map((b) => b.node_id.replace(/.*\//, '')).sort()).to.satisfy((ids: string[]) => ids.every((id) => /^w[12]$/.test(id)));

    await inboundSms(u, '+15005550111', 'Parcel at the front desk');
    for (const phone of [udp, tcp]) {
      const msg = await phone.nextRequest('MESSAGE', 0, 5000);
      const [head, body] = msg.split('\r\n\r\n') as [string, string];
      expect(head).to.match(new RegExp(`^MESSAGE sip:phone-${phone.port}@127\\.0\\.0\\.1:${phone.port}`));
      expect(head).to.match(new RegExp(`\\r\\nFrom: <sip:\\+15005550111@${acct.sipDomain.replace(/\./g, '\\.')}>;tag=`, 'i'));
      expect(head).to.match(new RegExp(`\\r\\nTo: <sip:${u.user.username}@`, 'i'));
      expect(head).to.match(/\r\nContent-Type: text\/plain/i);
      expect(head).to.match(/\r\nCSeq: 1 MESSAGE/i);
      // Sent from the workers' shared listener, not from a socket of serve (it has none).
      expect(head).to.match(new RegExp(`\\r\\nVia: SIP/2\\.0/${phone === udp ? 'UDP' : 'TCP'} 127\\.0\\.0\\.1:${phone === udp ? udpPort : tcpPort};`, 'i'));
      expect(body).to.equal('Parcel at the front desk');
    }
    const byAgent = await deliveries(u.user.id, 2);
    expect(byAgent['Worker udp phone']).to.include({ status: 'delivered', sip_status: 200 });
    expect(byAgent['Worker tcp phone']).to.include({ status: 'delivered', sip_status: 200 });
  });

  it('fails a device that does not answer after messaging.deviceTimeoutMs (408), and still delivers to the other', async () => {
    const u = users[1]!;
    await registered('udp', u.user);
    const silent = await registered('tcp', u.user);
    silent.respond = (req) => (req.startsWith('MESSAGE ') ? null : 200);
    const sentAt = Date.now();
    await inboundSms(u, '+15005550112', 'Anyone there?');
    await silent.nextRequest('MESSAGE', 0, 5000);
    const byAgent = await deliveries(u.user.id, 2);
    const waited = Date.now() - sentAt;
    expect(byAgent['Worker udp phone']).to.include({ status: 'delivered', sip_status: 200 });
    expect(byAgent['Worker tcp phone']).to.include({ status: 'failed', sip_status: 408 });
    expect(byAgent['Worker tcp phone']!.reason).to.match(/timeout/);
    // Timer F of the worker's transaction, not the relay's margin or a hang.
    expect(waited).to.be.at.least(DEVICE_TIMEOUT_MS - 100);
    expect(waited).to.be.below(DEVICE_TIMEOUT_MS + 5000);
  });

  it('sends a MESSAGE a phone sends to sip:+E164@domain out as SMS from the worker that took it', async () => {
    const u = users[2]!;
    carriers.sent.length = 0;
    const phone = await registered('tcp', u.user);
    const uri = `sip:+15005550113@${acct.sipDomain}`;
    const send = (cseq: number, authorization?: string) =>
      phone.send(
        phone.messageText({
          uri,
          from: `sip:${u.user.username}@${acct.sipDomain}`,
          key: 'w',
          callId: `wmsg-${phone.port}@127.0.0.1`,
          cseq,
          body: 'Back in five',
          ...(authorization ? { authorization } : {}),
        }),
      );
    send(1);
    const challenge = await phone.next();
    expect(challenge).to.match(/^SIP\/2\.0 401/);
    send(2, authorize(md5Challenge(challenge), u.user.username, u.user.sip_password, uri, 1, { method: 'MESSAGE' }));
    expect(await phone.next(5000)).to.match(/^SIP\/2\.0 202 Accepted/);
    expect(carriers.sent.map((s) => [s.from, s.to, s.body])).to.deep.equal([[u.number, '+15005550113', 'Back in five']]);
    const out = await api(`/v1/messages?user_id=${u.user.id}&direction=outbound`);
    expect(out.body.data[0]).to.include({ source: 'sip', user_id: u.user.id, status: 'sent' });
  });

  it('fails the MESSAGE with 408 at once when the worker sending it dies, not at Timer F', async () => {
    const u = users[3]!;
    const phone = await registered('tcp', u.user);
    phone.respond = (req) => (req.startsWith('MESSAGE ') ? null : 200);
    const binding = await app.services.db.models.Registration.findOne({ where: { user_id: u.user.id } });
    const owner = (await health()).workers.find((w) => w.nodeId === binding!.node_id)!;
    expect(owner.pid).to.be.a('number');
    const sentAt = Date.now();
    await inboundSms(u, '+15005550114', 'Are you still there?');
    await phone.nextRequest('MESSAGE', 0, 5000);
    process.kill(owner.pid!, 'SIGKILL');
    const byAgent = await deliveries(u.user.id, 1);
    expect(byAgent['Worker tcp phone']).to.include({ status: 'failed', sip_status: 408 });
    expect(Date.now() - sentAt).to.be.below(DEVICE_TIMEOUT_MS);
    // The server starts the worker again; the suite stops it with both workers up.
    const deadline = Date.now() + 20_000;
    while (!(await health()).workers.every((w) => w.ready && w.pid !== owner.pid)) {
      if (Date.now() > deadline) throw new Error('the killed worker was not started again');
      await new Promise((r) => setTimeout(r, 100));
    }
  });
});
