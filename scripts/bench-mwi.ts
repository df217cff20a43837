/**
 * npm run bench:mwi [-- mysql]  (BENCH_MWI=1000 devices by default; mysql: a scratch database at MYSQL_URL)
 *
 * Message-waiting fan-out: N users, each with their own primary mailbox and
 * one phone registered over UDP on 127.0.0.1 (a real REGISTER with digest
 * from its own socket, as `serve` wires the built-in edge); then the counts
 * of all N mailboxes are changed through PUT /v1/mailboxes/{id}/message-counts
 * (20 requests in flight) and we measure until every phone has received its
 * NOTIFY with the new counts and answered it 200, and the server has matched
 * every answer to its transaction. SQLite in a temporary directory (or MariaDB),
 * sip.mwi defaults (pollMs 250, concurrency 256). Prints one JSON line.
 */
import '../bin/v8-tuning.js'; // before anything that loads Sequelize, as the entry points do
import crypto from 'node:crypto';
import { benchDialect, scratchDatabase } from './bench/scratch-database.js';
import dgram from 'node:dgram';
import type { AddressInfo } from 'node:net';
import { loadConfig } from '../src/config.js';
import { bootstrap } from '../src/runtime.js';
import { createApp } from '../src/app.js';
import { createHttpServer } from '../src/http/http-server.js';
import { startBuiltinSip } from '../server/builtin-sip.js';
import type { Actor } from '../src/http/actor.js';

const N = Number(process.env.BENCH_MWI ?? 1000);
const DOMAIN = 'mwi.bench.test';
const scratch = scratchDatabase(benchDialect(), 'mwi', { sqliteFile: 'db.sqlite' });
const config = loadConfig({
  database: { url: scratch.url },
  secrets: { masterKey: crypto.randomBytes(32).toString('base64') },
  log: { level: 'silent' },
  jobs: { enabled: false },
  telephony: { trunks: { enabled: false } },
  sip: {
    host: '127.0.0.1',
    udp: { port: 0 },
    tcp: { enabled: false },
    ws: { enabled: false },
    tls: { enabled: false },
    wss: { enabled: false },
    // Probes would only add traffic to the sockets being measured.
    qualify: { enabled: false },
  },
});
const services = await bootstrap(config, { migrate: true });
const owner = await services.accounts.createWithOwner({
  name: 'Bench MWI',
  sipDomain: DOMAIN,
  ownerEmail: 'owner@mwi.bench.test',
  ownerPassword: 'a long bench passphrase',
  ownerUsername: 'bench-owner',
});
const actor: Actor = {
  accountId: owner.account_id,
  userId: owner.owner_user_id,
  role: 'owner',
  kind: 'user',
  actorId: `user:${owner.owner_user_id}`,
  sourceIp: null,
};
const users: Array<{ id: number; username: string; password: string; mailboxId: number }> = [];
for (let from = 0; from < N; from += 500) {
  const inputs = Array.from({ length: Math.min(500, N - from) }, (_, k) => {
    const i = from + k;
    return { name: `Bench ${i}`, extension: String(300000 + i), username: `mwi${String(i).padStart(5, '0')}`, mailbox: 'self' as const };
  });
  const made = await services.users.createMany(actor, inputs);
  for (const [k, m] of made.entries()) users.push({ id: m.id, username: inputs[k]!.username, password: m.sipPassword, mailboxId: 0 });
}
const rows = await services.db.models.User.findAll({ where: { id: users.map((u) => u.id) }, attributes: ['id', 'mailbox_id'] });
const mailboxOf = new Map(rows.map((r) => [r.id, Number(r.get('mailbox_id'))]));
for (const u of users) u.mailboxId = mailboxOf.get(u.id)!;

const server = createHttpServer(createApp(services));
server.keepAliveTimeout = 65_000;
await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
const { access_token } = await services.accessTokens.issue({ id: owner.owner_user_id, account_id: owner.account_id }, 'password');
const sip = await startBuiltinSip(services);
const sipPort = sip.boundAddresses().find((b) => b.transport === 'udp')!.port;

/** One phone: its own UDP socket, registers with MD5 digest, answers every NOTIFY 200 and notes when the new counts came. */
class Phone {
  readonly socket = dgram.createSocket('udp4');
  private responses: Array<(text: string) => void> = [];
  /** When the NOTIFY with `Voice-Message: 1/0` first arrived (performance.now()). */
  litAt: number | undefined;
  notifies = 0;
  constructor(readonly user: (typeof users)[number]) {}

  async open(): Promise<void> {
    await new Promise<void>((r) => this.socket.bind(0, '127.0.0.1', r));
    this.socket.on('message', (buf, rinfo) => {
      const text = buf.toString('utf8');
      if (text.startsWith('SIP/2.0 ')) return this.responses.shift()?.(text);
      if (!text.startsWith('NOTIFY ')) return;
      this.notifies += 1;
      if (this.litAt === undefined && text.includes('Voice-Message: 1/0')) this.litAt = performance.now();
      const head = text.split('\r\n\r\n')[0]!.split('\r\n').slice(1);
      const copy = head.filter((l) => /^(via|from|call-id|cseq)\s*:/i.test(l));
      const to = head.find((l) => /^to\s*:/i.test(l))!;
      this.socket.send([`SIP/2.0 200 OK`, ...copy, /;tag=/.test(to) ? to : `${to};tag=p`, 'Content-Length: 0', '', ''].join('\r\n'), rinfo.port, rinfo.address);
    });
  }

  private exchange(text: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no answer to REGISTER of ${this.user.username}`)), 10_000);
      this.responses.push((t) => {
        clearTimeout(timer);
        resolve(t);
      });
      this.socket.send(text, sipPort, '127.0.0.1');
    });
  }

  async register(): Promise<void> {
    const port = this.socket.address().port;
    const callId = crypto.randomBytes(8).toString('hex');
    const req = (cseq: number, auth?: string) =>
      [
        `REGISTER sip:${DOMAIN} SIP/2.0`,
        `Via: SIP/2.0/UDP 127.0.0.1:${port};branch=z9hG4bK-${crypto.randomBytes(6).toString('hex')};rport`,
        'Max-Forwards: 70',
        `From: <sip:${this.user.username}@${DOMAIN}>;tag=${port}`,
        `To: <sip:${this.user.username}@${DOMAIN}>`,
        `Call-ID: ${callId}`,
        `CSeq: ${cseq} REGISTER`,
        `Contact: <sip:${this.user.username}@127.0.0.1:${port}>`,
        'Expires: 3600',
        ...(auth ? [`Authorization: ${auth}`] : []),
        'User-Agent: bench-mwi',
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n');
    const challenge = await this.exchange(req(1));
    const line = challenge.split('\r\n').find((l) => /^www-authenticate:.*algorithm=MD5/i.test(l));
    if (!line) throw new Error(`no MD5 challenge: ${challenge.split('\r\n')[0]}`);
    const nonce = /nonce="([^"]+)"/.exec(line)![1]!;
    const md5 = (s: string) => crypto.createHash('md5').update(s).digest('hex');
    const uri = `sip:${DOMAIN}`;
    const cnonce = crypto.randomBytes(6).toString('hex');
    const response = md5(`${md5(`${this.user.username}:${DOMAIN}:${this.user.password}`)}:${nonce}:00000001:${cnonce}:auth:${md5(`REGISTER:${uri}`)}`);
    const ok = await this.exchange(
      req(
        2,
        `Digest username="${this.user.username}", realm="${DOMAIN}", nonce="${nonce}", uri="${uri}", response="${response}", algorithm=MD5, qop=auth, nc=00000001, cnonce="${cnonce}"`,
      ),
    );
    if (!ok.startsWith('SIP/2.0 200')) throw new Error(`REGISTER of ${this.user.username}: ${ok.split('\r\n')[0]}`);
  }
}

async function pool<T>(items: T[], width: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

const phones = users.map((u) => new Phone(u));
await pool(phones, 50, async (p) => {
  await p.open();
  await p.register();
});
// Each registration was answered with an unsolicited NOTIFY of the current counts (0): let those finish first.
const settle = async (what: string, done: () => boolean, timeoutMs = 60_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
};
await settle('registration NOTIFYs', () => phones.every((p) => p.notifies >= 1) && sip.devices.inFlight === 0);

const putDone = new Map<number, number>();
const t0 = performance.now();
await pool(phones, 20, async (p) => {
  const res = await fetch(`${base}/v1/mailboxes/${p.user.mailboxId}/message-counts`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${access_token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ new: 1, old: 0 }),
  });
  if (res.status !== 200) throw new Error(`PUT message-counts: ${res.status} ${await res.text()}`);
  await res.arrayBuffer();
  putDone.set(p.user.id, performance.now());
});
const tApi = performance.now();
await settle('every phone lit and every answer matched', () => phones.every((p) => p.litAt !== undefined) && sip.devices.inFlight === 0);
const tAll = performance.now();

const lit = phones.map((p) => p.litAt! - putDone.get(p.user.id)!).sort((a, b) => a - b);
const q = (f: number) => Math.max(0, lit[Math.min(lit.length - 1, Math.floor(f * lit.length))]!).toFixed(0);
const lastLit = Math.max(...phones.map((p) => p.litAt!));
console.log(
  JSON.stringify({
    devices: N,
    poll_ms: config.sip.mwi.pollMs,
    api_all_puts_ms: Math.round(tApi - t0),
    all_lit_ms: Math.round(lastLit - t0),
    all_lit_and_answered_ms: Math.round(tAll - t0),
    after_own_put_p50_ms: q(0.5),
    after_own_put_p99_ms: q(0.99),
    notifies_received: phones.reduce((s, p) => s + p.notifies, 0) - N,
  }),
);

for (const p of phones) p.socket.close();
await sip.stop();
server.close();
await services.failureStore.close();
await services.db.close();
await scratch.drop();
