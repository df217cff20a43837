/**
 * Call-plan read benchmark.
 *
 *   npm run bench:call-plan                      # SQLite (temporary file), 100,000 users and bindings
 *   npm run bench:call-plan -- mysql             # MariaDB/MySQL at MYSQL_URL (default mysql://root@127.0.0.1:3306)
 *   BENCH_USERS=5000 npm run bench:call-plan     # smaller
 *
 * Seeds BENCH_USERS users (10,000 per account), each with one live binding,
 * a primary mailbox and a direct number (a number of the account that is
 * their caller ID), every fifth with an E911 location, with bulk inserts
 * (one shared placeholder for the secrets: this is about reads). Then starts
 * the built server (`node bin/switchboard.js serve`, as deployed: run
 * `npm run build` first) on 127.0.0.1 in a process of its own, so the client
 * here is a separate program as a call engine is, and through HTTP with the
 * workspace key (what an engine sends, over kept-alive connections, with
 * a lean client: bench/http-client.ts) measures GET /v1/users/{id}/call-plan
 * and POST /v1/call-plans (by extension, and to the direct number as a call
 * from outside arrives):
 *   - cold: each user's first plan (profile read, cache filled)
 *   - warm: the same users again (stamp check + live bindings)
 *   - warm under BENCH_CONCURRENCY (default 8) requests in flight
 * (BENCH_NODE_ARGS go to the server's node, BENCH_SERVER_OUT=file keeps its stdout, e.g. for --trace-gc)
 * after 2,000 plans of users outside the sample (when there are that many)
 * have warmed the server up, and prints p50/p99 per phase, the server
 * process's CPU per request and the share of the machine's CPU time the
 * hypervisor stole meanwhile.
 *                                                          target p99 < 5 ms
 */
import type { ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import { loadConfig } from '../src/config.js';
import { benchDialect, scratchDatabase } from './bench/scratch-database.js';
import { requireCurrentBuild } from './bench/require-build.js';
import { cpuTicks, machineTicks, spawnBuiltServer } from './bench/server-process.js';
import { BenchHttpClient } from './bench/http-client.js';
import { freePort } from '../test/sip/real-drachtio-server.js';
import { bootstrap } from '../src/runtime.js';
import { createLogger } from '../src/logger.js';
import { systemActor } from '../src/http/actor.js';

const USERS = Number(process.env.BENCH_USERS) || 100_000;
const SAMPLE = Math.min(USERS, Number(process.env.BENCH_SAMPLE) || 5_000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY) || 8;
const WARMUP = 2_000;
const PER_ACCOUNT = 10_000;
const BATCH = 1_000;
const dialect = benchDialect();

async function main() {
  requireCurrentBuild();
  const scratch = scratchDatabase(dialect, 'callplan');
  const { tag } = scratch;
  const dbUrl = scratch.url;
  const cleanup = scratch.drop;
  const masterKey = crypto.randomBytes(32).toString('base64');
  const config = loadConfig({ database: { url: dbUrl }, secrets: { masterKey }, log: { level: 'warn' } });
  const services = await bootstrap(config, { migrate: true, logger: createLogger('warn', { toStderr: true }) });
  const { models, sequelize } = services.db;
  let server: ChildProcess | undefined;
  let client: BenchHttpClient | undefined;
  let servicesOpen = true;
  try {
    const t0 = performance.now();
    const accounts: Array<{ id: number; key: string; firstExtension: number }> = [];
    const now = Date.now();
    for (let a = 0; a * PER_ACCOUNT < USERS; a++) {
      const account = await models.Account.create({ name: `Bench ${a}`, sip_domain: `bench${a}-${tag}.example`, timezone: 'UTC' });
      const key = (await services.workspaceKey.reveal(systemActor(account.id))).api_key;
      const count = Math.min(PER_ACCOUNT, USERS - a * PER_ACCOUNT);
      const locations = [];
      for (let i = 0; i < Math.max(1, Math.ceil(count / 1000)); i++) {
        locations.push({
          account_id: account.id,
          name: `Site ${i}`,
          address_line1: `${i + 1} Main St`,
          address_line2: null,
          city: 'Springfield',
          region: 'IL',
          postal_code: '62701',
          country: 'US',
          callback_number: `+1555${String(a * 1000 + i).padStart(7, '0')}`,
        });
      }
      const locIds = (await models.Location.bulkCreate(locations)).map((l) => l.id);
      for (let i = 0; i < count; i += BATCH) {
        const rows = [];
        for (let j = i; j < Math.min(count, i + BATCH); j++) {
          rows.push({
            account_id: account.id,
            name: `User ${j}`,
            extension: String(100000 + j),
            username: `b${tag}a${a}u${j}`,
            email: null,
            password_hash: null,
            role: 'user' as const,
            binding_policy: null,
            sip_ha1_md5: 'x',
            sip_ha1_sha256: 'x',
            sip_password_enc: 'x',
            sip_prev_ha1_md5: null,
            sip_prev_ha1_sha256: null,
            sip_prev_valid_until: null,
            oncall_pin_hash: 'x',
            external_caller_id_name: null,
            // Each user's direct line: a number of the account that is their caller ID.
            external_caller_id_number: directNumber(a, j),
            mobile: null,
            forward_behavior: { mode: j % 3 ? ('ring_devices' as const) : ('forward_on_no_answer' as const), destination: j % 3 ? null : '+15550001111' },
            location_id: j % 5 === 0 ? locIds[j % locIds.length]! : null,
            mailbox_id: null,
            notification_email: null,
            voicemail_email: null,
            fax_service_id: null,
            oncall_remind_email: null,
            outbound_sms_number: null,
            sms_auto_response_text: null,
            otp_secret_enc: null,
            call_recording: j % 2 ? 'none' : 'inbound',
          });
        }
        const users = await models.User.bulkCreate(rows, { validate: false });
        await models.PhoneNumber.bulkCreate(
          users.map((u) => ({ account_id: account.id, e164: u.external_caller_id_number!, label: null })),
          { validate: false },
        );
        await models.Mailbox.bulkCreate(
          users.map((u) => ({ account_id: account.id, number: u.extension, name: u.name, pin_hash: null, owner_user_id: u.id })),
          { validate: false },
        );
        await models.Registration.bulkCreate(
          users.map((u, k) => ({
            account_id: account.id,
            user_id: u.id,
            aor: `sip:${u.username}@bench.example`,
            contact_uri: `sip:${u.username}@198.51.100.${k % 250}:5060`,
            contact_raw: `<sip:${u.username}@198.51.100.${k % 250}:5060>`,
            q: null,
            expires_at: new Date(now + 86_400_000),
            call_id: `bench-${u.id}`,
            cseq: 1,
            instance_id: null,
            reg_id: null,
            path: null,
            transport: 'udp',
            source_address: `198.51.100.${k % 250}`,
            source_port: 5060,
            connection_id: null,
            node_id: 'bench',
            user_agent: 'Bench/1.0',
            registered_at: new Date(now),
          })),
          { validate: false },
        );
      }
      accounts.push({ id: account.id, key, firstExtension: 100000 });
    }
    // Primary mailbox = the user's own (a correlated update both dialects run).
    await sequelize.query('UPDATE users SET mailbox_id = (SELECT m.id FROM mailboxes m WHERE m.owner_user_id = users.id) WHERE mailbox_id IS NULL');
    const seedMs = performance.now() - t0;
    const bindings = await models.Registration.count();

    const userIds = (await models.User.findAll({ attributes: ['id', 'account_id', 'extension', 'external_caller_id_number'], raw: true })) as Array<{
      id: number;
      account_id: number;
      extension: string;
      external_caller_id_number: string;
    }>;
    const keyOf = new Map(accounts.map((a) => [a.id, a.key]));
    const shuffled = shuffle(userIds);
    const sample = shuffled.slice(0, SAMPLE);
    // Users outside the sample warm the server up (JIT, connections, the read handle's pages) without
    // putting a sampled user in the cache: "cold" is a cache miss, not a process that just started.
    const warmup = shuffled.slice(SAMPLE, SAMPLE + WARMUP);
    await services.db.close();
    servicesOpen = false;
    const port = await freePort();
    server = startServer(dbUrl, masterKey, port);
    const base = `http://127.0.0.1:${port}`;
    await untilHealthy(base, server);
    const serverPid = server.pid!;
    const http = (client = new BenchHttpClient(base, CONCURRENCY));

    const get = async (u: (typeof sample)[number]) => {
      const s = performance.now();
      const r = await http.request('GET', `/v1/users/${u.id}/call-plan`, { 'x-api-key': keyOf.get(u.account_id)! });
      if (r.status !== 200) throw new Error(`GET call-plan ${r.status}: ${r.body}`);
      return performance.now() - s;
    };
    const postTo = (to: (u: (typeof sample)[number]) => string) => async (u: (typeof sample)[number]) => {
      const s = performance.now();
      const r = await http.request(
        'POST',
        '/v1/call-plans',
        { 'x-api-key': keyOf.get(u.account_id)!, 'content-type': 'application/json' },
        JSON.stringify({ to: to(u), from: '+15557654321' }),
      );
      if (r.status !== 200) throw new Error(`POST call-plans ${r.status}: ${r.body}`);
      return performance.now() - s;
    };
    const post = postTo((u) => u.extension);
    const sequential = async (f: (u: (typeof sample)[number]) => Promise<number>) => {
      const ms: number[] = [];
      for (const u of sample) ms.push(await f(u));
      return ms;
    };
    const concurrent = async (f: (u: (typeof sample)[number]) => Promise<number>) => {
      const ms: number[] = [];
      let next = 0;
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          while (next < sample.length) ms.push(await f(sample[next++]!));
        }),
      );
      return ms;
    };

    // Wall-clock percentiles move with whatever else the machine runs; the server's CPU per request (the app and, on
    // SQLite, the database engine; not the client) is the figure to compare between runs on a shared machine.
    const report = async (phase: string, run: () => Promise<number[]>) => {
      const cpu0 = cpuMicros(serverPid);
      const m0 = machineTicks();
      const ms = await run();
      const cpu = cpuMicros(serverPid) - cpu0;
      const m1 = machineTicks();
      const steal = ((100 * (m1.steal - m0.steal)) / Math.max(1, m1.total - m0.total)).toFixed(1);
      ms.sort((a, b) => a - b);
      const p = (q: number) => ms[Math.min(ms.length - 1, Math.floor(q * ms.length))]!.toFixed(2);
      const perReq = (cpu / ms.length).toFixed(0);
      console.log(
        `${phase.padEnd(34)} n=${ms.length}  p50 ${p(0.5)} ms  p99 ${p(0.99)} ms  max ${ms[ms.length - 1]!.toFixed(2)} ms  server cpu ${perReq} µs/req  steal ${steal}%`,
      );
    };
    console.log(
      JSON.stringify({
        dialect,
        users: USERS,
        bindings: Number(bindings),
        accounts: accounts.length,
        sample: SAMPLE,
        concurrency: CONCURRENCY,
        warmup: warmup.length,
        seed_ms: Math.round(seedMs),
      }),
    );
    for (const u of warmup) await get(u);
    await report('GET call-plan, cold (cache miss)', () => sequential(get));
    await report('GET call-plan, warm', () => sequential(get));
    await report(`GET call-plan, warm, ${CONCURRENCY} in flight`, () => concurrent(get));
    await report('POST call-plans by extension, warm', () => sequential(post));
    await report(`POST call-plans, warm, ${CONCURRENCY} in flight`, () => concurrent(post));
    await report('POST call-plans to a direct number', () => sequential(postTo((u) => u.external_caller_id_number)));
    console.log('[target p99 < 5 ms]');
  } finally {
    client?.close();
    if (server && server.exitCode === null) {
      server.kill('SIGTERM');
      await new Promise((r) => server!.once('exit', r));
    }
    if (servicesOpen) await services.db.close();
    await cleanup();
  }
}

/** The deployed server: the build in dist/, configured by the environment, with SIP on ports of its own choosing. */
function startServer(dbUrl: string, masterKey: string, port: number): ChildProcess {
  return spawnBuiltServer({
    DATABASE_URL: dbUrl,
    MASTER_KEY: masterKey,
    PORT: String(port),
    SIP_HOST: '127.0.0.1',
    SIP_PORT: '0',
    SIP_WS_PORT: '0',
    SIP_QUALIFY_ENABLED: 'false',
  });
}

async function untilHealthy(base: string, child: ChildProcess): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}`);
    try {
      if ((await fetch(`${base}/healthz`)).status === 200) return;
    } catch {
      /* not listening yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('server did not become healthy in 30 s');
}

/** A user's direct line: +1 700 and seven digits, unique across the accounts. */
function directNumber(account: number, index: number): string {
  return `+1700${String(account * PER_ACCOUNT + index).padStart(7, '0')}`;
}

/** User + system CPU of the server, µs. */
function cpuMicros(pid: number): number {
  const [user, system] = cpuTicks(pid);
  return (user + system) * 10_000;
}

function shuffle<T>(xs: T[]): T[] {
  const a = [...xs];
  for (let i = a.length - 1; i > 0; i--) {
    const j = crypto.randomInt(i + 1);
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

await main();
