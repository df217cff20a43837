import crypto from 'node:crypto';
import { expect } from 'chai';
import { startTestApp, type TestApp } from '../helpers/test-app.js';
import { createAccount, createMember, type TestAccount } from '../helpers/factories.js';
import { startCarrierApiServer, type CarrierApiServer } from '../helpers/carrier-api-server.js';
import { startBuiltinSip, type BuiltinSip } from '../../server/builtin-sip.js';
import { SipPhone } from './sip-phone.js';
import { authorize, md5Challenge } from './registrar-helpers.js';

const PUBLIC_URL = 'https://pbx.example.test';
let seq = 0;
const e164 = () => `+1628${String(process.pid % 1000).padStart(3, '0')}${String(++seq).padStart(4, '0')}`;

/**
 * SMS and the phones, over the real built-in edge as `serve` wires it
 * (server/builtin-sip.ts): an inbound SMS becomes a SIP MESSAGE on each
 * registered device's own socket, and a phone's MESSAGE to sip:+E164@domain
 * goes out through the carrier.
 */
describe('SMS to and from SIP phones (built-in edge)', () => {
  let app: TestApp;
  let carriers: CarrierApiServer;
  let sip: BuiltinSip;
  let udpPort: number;
  let tcpPort: number;
  let acct: TestAccount;
  const phones: SipPhone[] = [];

  before(async () => {
    carriers = await startCarrierApiServer();
    app = await startTestApp({
      publicUrl: PUBLIC_URL,
      telephony: { twilioApiBaseUrl: carriers.baseUrl, trunks: { enabled: false } },
      sip: { host: '127.0.0.1', udp: { port: 0 }, tcp: { port: 0 }, ws: { enabled: false }, tls: { enabled: false }, wss: { enabled: false } },
    });
    sip = await startBuiltinSip(app.services);
    udpPort = sip.boundAddresses().find((l) => l.transport === 'udp')!.port;
    tcpPort = sip.boundAddresses().find((l) => l.transport === 'tcp')!.port;
  });
  beforeEach(async () => {
    acct = await createAccount(app);
    carriers.sent.length = 0;
  });
  afterEach(async () => {
    await Promise.all(phones.splice(0).map((p) => p.close()));
  });
  after(async () => {
    await sip.stop();
    await app.stop();
    await carriers.stop();
  });

  async function setup(fields: Record<string, unknown> = {}) {
    const number = e164();
    carriers.twilio.numbers = [{ number, sms: true }];
    const p = await app.call('POST', '/v1/telephony/providers', {
      token: acct.ownerToken,
      body: { type: 'twilio', name: `main ${seq}`, credentials: { account_sid: carriers.twilio.sid, auth_token: carriers.twilio.token } },
    });
    expect(p.status, JSON.stringify(p.body)).to.equal(201);
    const member = await createMember(app, acct.ownerToken, 'user', { sms_enabled: true, outbound_sms_number: number, ...fields });
    return { provider: p.body, number, member, user: member.user };
  }

  async function registered(transport: 'udp' | 'tcp', user: { username: string; sip_password: string }): Promise<SipPhone> {
    const phone = await SipPhone.open(transport, transport === 'udp' ? udpPort : tcpPort);
    phones.push(phone);
    const r = await phone.register({ user: user.username, domain: acct.sipDomain, password: user.sip_password, userAgent: `Test ${transport} phone` });
    expect(r).to.match(/^SIP\/2\.0 200/);
    return phone;
  }

  it('delivers an inbound SMS as SIP MESSAGE to every registered device, with per-device status', async () => {
    const { provider, number, user } = await setup();
    const desk = await registered('udp', user);
    const app2 = await registered('tcp', user);
    app2.respond = (req) => (req.startsWith('MESSAGE ') ? 480 : 200);
    const sid = `SM${crypto.randomBytes(16).toString('hex')}`;
    const signed = carriers.webhook.twilio(provider.sms_webhook_url, { MessageSid: sid, From: '+15005550101', To: number, Body: 'Gate code is 4321' });
    const res = await fetch(app.baseUrl + new URL(provider.sms_webhook_url as string).pathname, { method: 'POST', headers: signed.headers, body: signed.body });
    expect(res.status).to.equal(200);

    const msg = await desk.nextRequest('MESSAGE');
    const [head, body] = msg.split('\r\n\r\n') as [string, string];
    // RFC 3428: a MESSAGE outside a dialog, text/plain, From the sender's number in our domain.
    expect(head).to.match(new RegExp(`^MESSAGE sip:phone-${desk.port}@127\\.0\\.0\\.1:${desk.port};transport=udp SIP/2\\.0`));
    expect(head).to.match(new RegExp(`\\r\\nFrom: <sip:\\+15005550101@${acct.sipDomain.replace(/\./g, '\\.')}>;tag=`, 'i'));
    expect(head).to.match(new RegExp(`\\r\\nTo: <sip:${user.username}@`, 'i'));
    expect(head).to.match(/\r\nContent-Type: text\/plain/i);
    expect(head).to.match(/\r\nCSeq: 1 MESSAGE/i);
    expect(body).to.equal('Gate code is 4321');
    await app2.nextRequest('MESSAGE');

    await app.services.messages.settled();
    const list = await app.call('GET', '/v1/messages', { token: acct.ownerToken });
    const read = await app.call('GET', `/v1/messages/${list.body.data[0].id}`, { token: acct.ownerToken });
    const byAgent = Object.fromEntries(
      (read.body.deliveries as Array<{ user_agent: string; status: string; sip_status: number }>).map((d) => [d.user_agent, d]),
    );
    expect(byAgent['Test udp phone']).to.include({ status: 'delivered', sip_status: 200 });
    expect(byAgent['Test tcp phone']).to.include({ status: 'failed', sip_status: 480 });
  });

  it('sends a MESSAGE from a registered phone to sip:+E164@domain out as SMS, after digest authentication', async () => {
    const { number, user } = await setup();
    const phone = await registered('udp', user);
    const uri = `sip:+15005550102@${acct.sipDomain}`;
    const message = (cseq: number, authorization?: string) =>
      phone.messageText({
        uri,
        from: `sip:${user.username}@${acct.sipDomain}`,
        key: 'm',
        callId: `msg-${phone.port}@127.0.0.1`,
        cseq,
        body: 'On my way!!',
        ...(authorization ? { authorization } : {}),
      });
    phone.send(message(1));
    const challenge = await phone.next();
    expect(challenge).to.match(/^SIP\/2\.0 401/);
    const ch = md5Challenge(challenge);
    // A wrong password is refused like a REGISTER's, and sends nothing.
    phone.send(message(2, authorize(ch, user.username, 'not-the-password-1A', uri, 1, { method: 'MESSAGE' })));
    expect(await phone.next()).to.match(/^SIP\/2\.0 401/);
    phone.send(message(3, authorize(ch, user.username, user.sip_password, uri, 2, { method: 'MESSAGE' })));
    expect(await phone.next()).to.match(/^SIP\/2\.0 202 Accepted/);
    expect(carriers.sent.map((s) => [s.from, s.to, s.body])).to.deep.equal([[number, '+15005550102', 'On my way!!']]);
    const out = await app.call('GET', '/v1/messages?direction=outbound', { token: acct.ownerToken });
    expect(out.body.data[0]).to.include({ source: 'sip', user_id: user.id, status: 'sent' });
  });

  it('refuses a phone MESSAGE with 403 when the user has SMS disabled, and sends nothing', async () => {
    const { user } = await setup({ sms_enabled: false });
    const phone = await registered('tcp', user);
    const uri = `sip:+15005550103@${acct.sipDomain}`;
    const send = (cseq: number, authorization?: string) =>
      phone.send(
        phone.messageText({
          uri,
          from: `sip:${user.username}@${acct.sipDomain}`,
          key: 'n',
          callId: `msg2-${phone.port}@127.0.0.1`,
          cseq,
          body: 'hi',
          contentType: 'text/plain',
          ...(authorization ? { authorization } : {}),
        }),
      );
    send(1);
    const challenge = await phone.next();
    send(2, authorize(md5Challenge(challenge), user.username, user.sip_password, uri, 1, { method: 'MESSAGE' }));
    const answer = await phone.next();
    expect(answer).to.match(/^SIP\/2\.0 403/);
    expect(answer).to.match(/Warning: 399 switchboard "SMS is not enabled/);
    expect(carriers.sent).to.have.length(0);
  });
});
