import { expect } from 'chai';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { createConnection, type Connection } from 'mysql2/promise';
import { repoRoot, statusOf, UdpClient } from '../sip/helpers.js';
import { authorize, createSipUser, parseChallenge, registerText, type SipTestUser } from '../sip/registrar-helpers.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';
import { createAccount, createUser } from '../helpers/factories.js';
import { startSmtpReceiver } from '../helpers/smtp-receiver.js';
import type { TickResult } from '../../src/jobs/oncall-reminder-job.js';
import { TEST_DIALECT } from '../helpers/test-database.js';
import { createMember } from '../helpers/factories.js';
import { SipPhone } from '../sip/sip-phone.js';

/**
 * Multi-primary: a 3-node MariaDB Galera cluster (scripts/galera/cluster.sh)
 * and two Switchboard processes on different nodes. Row locks do not cross
 * nodes there; what must hold is what the cluster certifies
 * (sip/registrar/galera-certification.ts). Runs in the MariaDB pass only;
 * in CI a missing galera-4 is a failure, not a skip.
 */
const run = promisify(execFile);
const SCRIPT = path.join(repoRoot, 'scripts/galera/cluster.sh');
const ROUNDS = 20;
const DEVICES = 100;
const MAX = 3;
const BAN_LIMIT = 4;

interface Target {
  udp: number;
  metrics: string;
  http: string;
}

if (TEST_DIALECT === 'mysql')
  describe('Galera multi-primary: two processes on two nodes', function () {
    this.timeout(180_000);
    let dir: string;
    let env: NodeJS.ProcessEnv;
    let urls: string[] = [];
    let app: TestApp;
    let node2: Connection;
    const children: ChildProcess[] = [];
    const targets: Target[] = [];
    let dbName: string;

    before(async function () {
      if (!fs.existsSync('/usr/lib/galera/libgalera_smm.so') && process.env.CI !== 'true') this.skip();
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-galera-'));
      env = { ...process.env, GALERA_DIR: dir, GALERA_BASE_PORT: String(await freeBase()) };
      const { stdout } = await run(SCRIPT, ['start'], { env, timeout: 150_000 });
      urls = stdout
        .trim()
        .split('\n')
        .filter((l) => l.startsWith('mysql://'));
      expect(urls).to.have.length(3);
      dbName = `sbgalera_${process.pid}_${crypto.randomBytes(3).toString('hex')}`;
      // The test app (node 1) owns the schema; the two servers share it and the master key.
      app = await startTestApp({ database: { url: `${urls[0]}/${dbName}` }, sip: { edge: 'none' } });
      node2 = await connect(urls[1]!, dbName);
      // The setting the README asks for on Galera: reads wait until the node has applied what the cluster certified
      // (a revocation through node 1 is seen by the next read on node 2). Global: the servers' connections are opened after.
      for (const url of urls) {
        const c = await connect(url, dbName);
        await c.query('SET GLOBAL wsrep_sync_wait = 1');
        await c.end();
      }
      for (let i = 0; i < 2; i++) {
        const child = spawn(process.execPath, [path.join(repoRoot, 'bin/switchboard.js'), 'serve'], {
          cwd: repoRoot,
          env: {
            ...process.env,
            NODE_ENV: 'test',
            DATABASE_URL: `${urls[i]}/${dbName}`,
            MASTER_KEY: app.config.secrets.masterKey,
            PORT: '0',
            HTTP_HOST: '127.0.0.1',
            LOG_LEVEL: 'info',
            SIP_EDGE: 'builtin',
            SIP_HOST: '127.0.0.1',
            SIP_PORT: '0',
            SIP_WS_PORT: '0',
            SIP_NODE_ID: `galera-${i}`,
            // Every device must reach the decision: the overload gate would answer some 503 on a loaded machine (a legitimate
            // answer, but not what these tests measure).
            // Small failure limits for the ban tests (their guessers use sources of their own, 127.0.0.x: the racing devices
            // above send right answers from 127.0.0.1 and never fail).
            NODE_CONFIG: JSON.stringify({
              auth: { throttle: { usernameFailures: BAN_LIMIT, ipFailures: 1000, windowSeconds: 300, blockSeconds: 300 } },
              sip: {
                registrar: { overload: { maxInFlight: 10_000, targetLatencyMs: 600_000 } },
                protection: { ipFailures: BAN_LIMIT, usernameFailures: BAN_LIMIT, windowSeconds: 300, banSeconds: 300 },
              },
            }),
          },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        children.push(child);
        targets.push(await listening(child));
      }
    });

    after(async () => {
      for (const c of children) {
        if (c.exitCode === null) {
          const exited = new Promise((r) => c.once('exit', r));
          c.kill('SIGTERM');
          await exited;
        }
      }
      await node2?.end().catch(() => undefined);
      await app?.stop().catch(() => undefined);
      if (dir) {
        await run(SCRIPT, ['stop'], { env, timeout: 120_000 }).catch(() => undefined);
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    /** A user created through node 1, once node 2 has applied it (replication is asynchronous). */
    async function userOnBothNodes(fields: Record<string, unknown>): Promise<SipTestUser> {
      const u = await createSipUser(app, fields);
      for (let i = 0; ; i++) {
        const [rows] = await node2.query('SELECT id FROM users WHERE id = ?', [u.id]);
        if ((rows as unknown[]).length) return u;
        if (i > 200) throw new Error('user never reached node 2');
        await new Promise((r) => setTimeout(r, 50));
      }
    }

    /** Bindings as the cluster holds them, read on node 2 after every write the cluster committed. */
    async function bindings(userId: number): Promise<Array<{ contact_uri: string; instance_id: string | null }>> {
      await node2.query('SET SESSION wsrep_sync_wait = 1');
      const [rows] = await node2.query('SELECT contact_uri, instance_id FROM registrations WHERE user_id = ?', [userId]);
      return rows as Array<{ contact_uri: string; instance_id: string | null }>;
    }

    it(`${ROUNDS} rounds of ${DEVICES} devices racing for ${MAX} slots through both nodes leave exactly ${MAX} every round`, async () => {
      for (let round = 0; round < ROUNDS; round++) {
        const u = await userOnBothNodes({ max_bindings: MAX });
        const statuses = await race(u, DEVICES, (i) => ({ contact: `<sip:r${round}d${i}@127.0.0.1:${20000 + i}>`, target: targets[i % 2]!.udp }));
        const stored = await bindings(u.id);
        const summary = `round ${round}: ${stored.length} stored; answers ${statuses.join(',')}`;
        expect(stored, summary).to.have.length(MAX);
        expect(statuses.filter((s) => s === 200).length, summary).to.equal(MAX);
        expect(statuses.filter((s) => s === 403).length, summary).to.equal(DEVICES - MAX);
      }
      // The conflicts happened and were retried, and the retries are counted.
      const retried = await Promise.all(targets.map((t) => counter(t.metrics, 'switchboard_sip_binding_conflict_retries_total')));
      expect(retried[0]! + retried[1]!).to.be.greaterThan(0);
    });

    it('first registrations of one instance through both nodes at once make one binding, every round', async () => {
      const u = await userOnBothNodes({ max_bindings: 10 });
      for (let round = 0; round < 8; round++) {
        // A new instance each round: every round races to insert its first binding, the case a node-local lock cannot order.
        const instance = `<urn:uuid:${crypto.randomUUID()}>`;
        const statuses = await race(u, 10, (i) => ({
          contact: `<sip:same${round}@127.0.0.1:${21000 + round * 10 + i}>;+sip.instance="${instance}"`,
          target: targets[i % 2]!.udp,
        }));
        expect(
          statuses.every((s) => s === 200),
          statuses.join(','),
        ).to.equal(true);
        const rows = (await bindings(u.id)).filter((r) => r.instance_id?.includes(instance.slice(1, -1)));
        expect(rows, `round ${round}: ${JSON.stringify(rows)}`).to.have.length(1);
      }
    });

    it('an API key revoked through node 1 is refused at once through node 2 (wsrep_sync_wait)', async () => {
      const acct = await createAccount(app);
      const b = targets[1]!.http;
      const me = async (access: string) => (await fetch(`${b}/v1/me`, { headers: { authorization: `Bearer ${access}` } })).status;
      for (let i = 0; i < 10; i++) {
        const key = (await app.call('POST', '/v1/api-keys', { token: acct.ownerToken, body: { name: `k${i}` } })).body as { token: string; secret: string };
        const access = (await app.call('POST', '/v1/auth/token', { body: { grant_type: 'api_key', token: key.token, secret: key.secret } })).body
          .access_token as string;
        expect(await me(access), `key ${i} works through node 2`).to.equal(200);
        expect((await app.call('DELETE', `/v1/api-keys/${key.token}`, { token: acct.ownerToken })).status).to.equal(204);
        // No wait, no poll: the very next request through the other node.
        expect(await me(access), `key ${i} revoked`).to.equal(401);
        const exchanged = await fetch(`${b}/v1/auth/token`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ grant_type: 'api_key', token: key.token, secret: key.secret }),
        });
        expect(exchanged.status).to.equal(401);
      }
    });

    /** The shared failure row as the cluster holds it (read on node 2 after every certified write). */
    async function counterRow(key: string): Promise<{ points: number; expireInMs: number } | undefined> {
      await node2.query('SET SESSION wsrep_sync_wait = 1');
      const [rows] = await node2.query('SELECT points, expire FROM failure_counters WHERE `key` = ?', [key]);
      const r = (rows as Array<{ points: number; expire: number }>)[0];
      return r ? { points: Number(r.points), expireInMs: Number(r.expire) - Date.now() } : undefined;
    }
    const phones: SipPhone[] = [];
    const phone = async (i: number, address: string) => {
      const p = await SipPhone.open('udp', targets[i]!.udp, address);
      phones.push(p);
      return p;
    };
    afterEach(async () => {
      for (const p of phones.splice(0)) await p.close();
    });

    it('a source banned through node 1 gets silence through node 2, and the ban is in the shared row for its whole length', async () => {
      const u = await userOnBothNodes({});
      const onA = await phone(0, '127.0.0.61');
      const onB = await phone(1, '127.0.0.61');
      const wrong = { user: u.username, domain: u.domain, password: 'Wrong-password-g1' };
      // Alternating nodes: each failure's upsert on one node must see the other node's, or certification makes it read again.
      for (let i = 0; i < BAN_LIMIT - 1; i++) expect(statusOf(await (i % 2 ? onB : onA).register(wrong)), `failure ${i + 1}`).to.equal(401);
      await (BAN_LIMIT % 2 ? onB : onA).register(wrong).catch(() => undefined);
      const row = await counterRow('sip-ip:127.0.0.61');
      expect(row?.points, 'every failure counted once in the shared row').to.equal(BAN_LIMIT);
      expect(row!.expireInMs, 'the ban, not the window, in the shared row').to.be.within(290_000, 300_000);
      const right = { user: u.username, domain: u.domain, password: u.password };
      await expectSilence(onB, right);
      await expectSilence(onA, right);
      const bans = await Promise.all(targets.map((t) => counter(t.metrics, 'switchboard_sip_bans_total{kind="ip"}')));
      expect(bans[0]! + bans[1]!, 'the ban started once, on one node').to.equal(1);
    });

    it(`failures of one user from ${BAN_LIMIT * 3} sources racing through both nodes block the user once, on both nodes`, async () => {
      const u = await userOnBothNodes({});
      const guessers = await Promise.all(Array.from({ length: BAN_LIMIT * 3 }, (_, i) => phone(i % 2, `127.0.0.${70 + i}`)));
      const before = await Promise.all(targets.map((t) => counter(t.metrics, 'switchboard_sip_bans_total{kind="username"}')));
      const answers = await Promise.all(guessers.map((g) => g.register({ user: u.username, domain: u.domain, password: 'Wrong-password-g2' })));
      expect(
        answers.every((a) => [401, 403].includes(statusOf(a))),
        answers.map((a) => a.split('\r\n')[0]).join(', '),
      ).to.equal(true);
      const after = await Promise.all(targets.map((t) => counter(t.metrics, 'switchboard_sip_bans_total{kind="username"}')));
      expect(after[0]! + after[1]! - before[0]! - before[1]!, 'exactly one failure, on one node, started the block').to.equal(1);
      const row = await counterRow(`sip-user:${u.domain}\0id:${u.id}`);
      expect(row?.points, 'the racing failures added up to the limit, none lost to a conflict').to.equal(BAN_LIMIT);
      expect(row!.expireInMs).to.be.within(290_000, 300_000);
      for (const i of [0, 1]) {
        const r = await guessers[i]!.register({ user: u.username, domain: u.domain, password: u.password });
        expect(statusOf(r), `right password from a guesser on node ${i + 1}`).to.equal(403);
      }
      const fresh = await phone(1, '127.0.0.99');
      expect(statusOf(await fresh.register({ user: u.username, domain: u.domain, password: u.password })), 'a new source on node 2').to.equal(403);
    });

    it('a login throttled through node 1 is refused through node 2 at once', async () => {
      const acct = await createAccount(app);
      const { user } = await createMember(app, acct.ownerToken, 'user');
      const login = (i: number, password: string) =>
        fetch(`${targets[i]!.http}/v1/auth/token`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ grant_type: 'password', username: user.username, password }),
        });
      for (let i = 0; i < BAN_LIMIT; i++) expect((await login(0, 'wrong-password')).status).to.equal(401);
      const r = await login(1, 'member-password-123');
      expect(r.status).to.equal(429);
      expect(Number(r.headers.get('retry-after'))).to.be.within(1, 300);
    });

    it('two processes on two nodes running the reminder job at once send one email per shift', async () => {
      const receiver = await startSmtpReceiver();
      try {
        const acct = await createAccount(app);
        const schedule = (await app.call('POST', '/v1/oncall/schedules', { token: acct.ownerToken, body: { name: 'Galera', timezone: 'UTC' } })).body.id;
        const now = Date.now();
        const ids: number[] = [];
        for (let i = 0; i < 12; i++) {
          const u = await createUser(app, acct.ownerToken, { oncall_remind_minutes: 15, email: `g${i}-${now}@example.org` });
          const r = await app.call('POST', `/v1/oncall/schedules/${schedule}/shifts`, {
            token: acct.ownerToken,
            body: { user_id: u.id, starts_at: new Date(now + 5 * 60_000).toISOString(), ends_at: new Date(now + 65 * 60_000).toISOString() },
          });
          ids.push(r.body.id);
        }
        const children = urls.slice(0, 2).map((url) =>
          spawn(
            process.execPath,
            [
              '--import',
              'tsx',
              'test/helpers/reminder-job-child.ts',
              JSON.stringify({
                database: { url: `${url}/${dbName}` },
                secrets: { masterKey: app.config.secrets.masterKey },
                smtp: { url: receiver.url },
                // Small batches so the two processes interleave claims instead of one taking everything in one UPDATE.
                jobs: { oncallReminders: { batchSize: 3, concurrency: 2 } },
              }),
            ],
            { cwd: repoRoot, env: { ...process.env, NODE_ENV: 'test' }, stdio: ['pipe', 'pipe', 'inherit'] },
          ),
        );
        try {
          const lines = children.map((c) => {
            const seen: string[] = [];
            let buf = '';
            c.stdout.on('data', (d: Buffer) => {
              buf += d.toString();
              const parts = buf.split('\n');
              buf = parts.pop()!;
              seen.push(...parts);
            });
            return seen;
          });
          const line = async (i: number, pred: (l: string) => boolean) => {
            for (let t = 0; t < 1200; t++) {
              const hit = lines[i]!.find(pred);
              if (hit) return hit;
              if (children[i]!.exitCode !== null) break;
              await new Promise((r) => setTimeout(r, 50));
            }
            throw new Error(`reminder child ${i}: ${lines[i]!.join('\n')}`);
          };
          await Promise.all([0, 1].map((i) => line(i, (l) => l === 'ready')));
          for (const c of children) c.stdin.write('go\n');
          const results = await Promise.all([0, 1].map(async (i) => JSON.parse(await line(i, (l) => l.startsWith('{'))) as TickResult));
          expect(results[0]!.sent + results[1]!.sent, JSON.stringify(results)).to.equal(ids.length);
          expect(receiver.messages).to.have.length(ids.length);
          expect(new Set(receiver.messages.map((m) => m.messageId)).size).to.equal(ids.length);
        } finally {
          for (const c of children) if (c.exitCode === null) c.kill();
        }
      } finally {
        await receiver.stop();
      }
    });
  });

/** Every device gets its challenge, then all answer at the same moment; returns the final statuses. */
async function race(u: SipTestUser, n: number, device: (i: number) => { contact: string; target: number }): Promise<number[]> {
  const clients = await Promise.all(Array.from({ length: n }, () => UdpClient.open()));
  try {
    const text = (i: number, callId: string, cseq: number, authorization?: string) =>
      registerText({
        user: u.username,
        domain: u.domain,
        callId,
        cseq,
        via: `Via: SIP/2.0/UDP 127.0.0.1:${clients[i]!.port};branch=z9hG4bK-${crypto.randomBytes(6).toString('hex')};rport`,
        contacts: [device(i).contact],
        expires: 600,
        ...(authorization ? { authorization } : {}),
      });
    const prepared = await Promise.all(
      clients.map(async (c, i) => {
        const callId = `g${i}-${crypto.randomBytes(5).toString('hex')}`;
        c.send(text(i, callId, 1), device(i).target);
        const ch = await c.next(20_000);
        if (!ch || statusOf(ch) !== 401) throw new Error(`device ${i}: no challenge (${ch?.split('\r\n')[0]})`);
        const www = /^WWW-Authenticate: (.*)$/m.exec(ch)![1]!.trim();
        return text(i, callId, 2, authorize(parseChallenge(www), u.username, u.password, `sip:${u.domain}`));
      }),
    );
    return await Promise.all(
      clients.map(async (c, i) => {
        c.send(prepared[i]!, device(i).target);
        // Provisional answers do not end the exchange.
        for (;;) {
          const r = await c.next(30_000);
          if (!r) return 0;
          const s = statusOf(r);
          if (s >= 200) return s;
        }
      }),
    );
  } finally {
    clients.forEach((c) => c.close());
  }
}

/** The phone gets no answer at all (a banned source is dropped). */
async function expectSilence(p: SipPhone, o: { user: string; domain: string; password: string }): Promise<void> {
  let answered: string | undefined;
  try {
    answered = await p.register(o);
  } catch (err) {
    expect(String(err)).to.contain('no SIP response');
    return;
  }
  expect.fail(`expected silence, got ${answered.split('\r\n')[0]}`);
}

async function connect(url: string, database: string): Promise<Connection> {
  const u = new URL(url);
  return createConnection({ host: u.hostname, port: Number(u.port), user: decodeURIComponent(u.username || 'root'), database });
}

async function counter(metricsUrl: string, name: string): Promise<number> {
  const text = await (await fetch(metricsUrl)).text();
  let sum = 0;
  for (const line of text.split('\n')) if (line.startsWith(name)) sum += Number(line.split(' ').pop());
  return sum;
}

/** A base port whose cluster ports (base..+2, +300.., +310.., +320..) are all free now. */
async function freeBase(): Promise<number> {
  for (let tries = 0; tries < 50; tries++) {
    const base = 20000 + Math.floor(Math.random() * 20000);
    const ports = [0, 1, 2].flatMap((i) => [base + i, base + 300 + i, base + 310 + i, base + 320 + i]);
    if ((await Promise.all(ports.map(isFree))).every(Boolean)) return base;
  }
  throw new Error('no free port range for the cluster');
}

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** Reads the child's JSON log until the HTTP API and the SIP listeners are up. */
function listening(child: ChildProcess): Promise<Target> {
  return new Promise((resolve, reject) => {
    let buf = '';
    let err = '';
    let udp: number | undefined;
    let http: number | undefined;
    const timer = setTimeout(() => reject(new Error(`server did not start: ${err.slice(-2000)}`)), 60_000);
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        try {
          const j = JSON.parse(line) as { msg?: string; port?: number; listeners?: Array<{ transport: string; port: number }> };
          if (j.msg === 'SIP registrar listening' && j.listeners) udp = j.listeners.find((l) => l.transport === 'udp')!.port;
          if (j.msg === 'switchboard HTTP API listening' && j.port) http = j.port;
          if (udp && http) {
            clearTimeout(timer);
            resolve({ udp, metrics: `http://127.0.0.1:${http}/metrics`, http: `http://127.0.0.1:${http}` });
          }
        } catch {
          /* not a log line */
        }
      }
    });
    child.once('exit', (code) => reject(new Error(`server exited with ${code}: ${err.slice(-2000)}`)));
  });
}
