/**
 * Inbound SMS → SIP MESSAGE latency: a signed Twilio webhook POSTed to the
 * API, until the registered phone (a UDP socket on 127.0.0.1) receives the
 * MESSAGE, which it answers 200. SQLite in a temporary directory, the
 * built-in edge as `serve` wires it. BENCH_SMS (default 500) messages, one
 * at a time; prints p50/p99/max in ms.
 */
import '../bin/v8-tuning.js'; // before anything that loads Sequelize, as the entry points do
import crypto from 'node:crypto';
import dgram from 'node:dgram';
import type { AddressInfo } from 'node:net';
import { loadConfig } from '../src/config.js';
import { scratchDatabase } from './bench/scratch-database.js';
import { bootstrap } from '../src/runtime.js';
import { createApp } from '../src/app.js';
import { createHttpServer } from '../src/http/http-server.js';
import { startBuiltinSip } from '../server/builtin-sip.js';
import { twilioSignature } from '../src/messaging/carrier-webhooks.js';

const N = Number(process.env.BENCH_SMS ?? 500);
const scratch = scratchDatabase('sqlite', 'sms', { sqliteFile: 'db.sqlite' });
const PUBLIC_URL = 'https://pbx.bench.test';
const config = loadConfig({
  database: { url: scratch.url },
  secrets: { masterKey: crypto.randomBytes(32).toString('base64') },
  publicUrl: PUBLIC_URL,
  log: { level: 'silent' },
  jobs: { enabled: false },
  telephony: { trunks: { enabled: false } },
  sip: { host: '127.0.0.1', udp: { port: 0 }, tcp: { enabled: false }, ws: { enabled: false }, tls: { enabled: false }, wss: { enabled: false } },
});
const services = await bootstrap(config, { migrate: true });
const m = services.db.models;
const created = await services.accounts.createWithOwner({
  name: 'Bench SMS',
  sipDomain: 'sms.bench.test',
  ownerEmail: 'owner@sms.bench.test',
  ownerPassword: 'a long bench passphrase',
  ownerUsername: 'bench-owner',
});
const token = crypto.randomBytes(16).toString('hex');
const provider = await m.TelephonyProvider.create({
  account_id: created.account_id,
  type: 'twilio',
  name: 'bench',
  credentials_enc: services.secrets.encrypt(JSON.stringify({ account_sid: `AC${'0'.repeat(32)}`, auth_token: token })),
  credentials_hint: token.slice(-4),
  settings: '{}',
  enabled: true,
});
const ours = '+14155550100';
await m.PhoneNumber.create({ account_id: created.account_id, e164: ours, label: null, voice: true, sms: true, fax: false, provider_id: provider.id });
await m.User.update({ sms_enabled: true, outbound_sms_number: ours }, { where: { id: created.owner_user_id } });

const server = createHttpServer(createApp(services));
await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
const sip = await startBuiltinSip(services);

// The phone: a UDP socket with a live binding that answers every MESSAGE with 200.
const phone = dgram.createSocket('udp4');
await new Promise<void>((r) => phone.bind(0, '127.0.0.1', r));
const phonePort = phone.address().port;
let arrived: (() => void) | null = null;
phone.on('message', (buf, rinfo) => {
  const text = buf.toString('utf8');
  if (!text.startsWith('MESSAGE ')) return;
  const head = text.split('\r\n\r\n')[0]!.split('\r\n').slice(1);
  const copy = head.filter((l) => /^(via|from|to|call-id|cseq)\s*:/i.test(l));
  phone.send([`SIP/2.0 200 OK`, ...copy, 'Content-Length: 0', '', ''].join('\r\n'), rinfo.port, rinfo.address);
  arrived?.();
});
const now = new Date();
await m.Registration.create({
  account_id: created.account_id,
  user_id: created.owner_user_id,
  aor: `sip:bench-owner@sms.bench.test`,
  contact_uri: `sip:bench@127.0.0.1:${phonePort}`,
  contact_raw: `<sip:bench@127.0.0.1:${phonePort}>`,
  q: null,
  expires_at: new Date(now.getTime() + 3_600_000),
  call_id: 'bench-call',
  cseq: 1,
  instance_id: null,
  reg_id: null,
  path: null,
  transport: 'udp',
  source_address: '127.0.0.1',
  source_port: phonePort,
  connection_id: null,
  node_id: sip.runtime.nodeId,
  user_agent: 'bench phone',
  registered_at: now,
});

const url = `${PUBLIC_URL}/v1/telephony/providers/${provider.id}/sms`;
const pathname = new URL(url).pathname;
const samples: number[] = [];
for (let i = 0; i < N + 20; i++) {
  const form: Record<string, string> = { MessageSid: `SM${crypto.randomBytes(16).toString('hex')}`, From: '+15005550006', To: ours, Body: `bench ${i}` };
  const got = new Promise<void>((r) => (arrived = r));
  const t0 = performance.now();
  const res = await fetch(base + pathname, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': twilioSignature(token, url, Object.entries(form)) },
    body: new URLSearchParams(form).toString(),
  });
  await res.text();
  await got;
  // The first 20 warm the code up.
  if (i >= 20) samples.push(performance.now() - t0);
}
await services.messages.settled();
samples.sort((a, b) => a - b);
const q = (p: number) => samples[Math.min(samples.length - 1, Math.floor(p * samples.length))]!.toFixed(1);
console.log(JSON.stringify({ messages: N, p50_ms: q(0.5), p99_ms: q(0.99), max_ms: samples[samples.length - 1]!.toFixed(1) }));
phone.close();
await sip.stop();
server.close();
await services.failureStore.close();
await services.db.close();
await scratch.drop();
