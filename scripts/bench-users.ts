/**
 * npm run bench:users [-- --users 100000 --batch 1000 --duration 10 --connections 10]
 *
 * Creates N users through the service layer (UserService.createMany: the
 * same rules and audit entries as POST /v1/users, batched in transactions),
 * then measures over HTTP with concurrent keep-alive connections:
 *   GET /v1/users/{id}, GET /v1/users?role=admin&limit=50, GET /v1/users?name=<prefix>
 * printing requests/s and p50/p99 latency, and the database's query plan for
 * each list query (EXPLAIN), so a missing index shows up as a scan.
 *
 * Database: the configured one (DATABASE_URL) decides the dialect, but the
 * bench never touches it: SQLite gets a fresh file under the OS temp dir,
 * MySQL/MariaDB a database named <configured>_bench on the same server,
 * dropped before and after. bcrypt cost: the npm script sets BCRYPT_ROUNDS=4
 * (hashing a PIN at cost 12 for 100,000 users would take ~4 CPU-hours and
 * measures bcrypt, not the API).
 */
import '../bin/v8-tuning.js'; // before anything that loads Sequelize, as the entry points do
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { loadConfig } from '../src/config.js';
import { createApp } from '../src/app.js';
import { createHttpServer } from '../src/http/http-server.js';
import { parseDatabaseUrl } from '../src/db/database.js';
import { bootstrap } from '../src/runtime.js';
import { createLogger } from '../src/logger.js';
import type { Actor } from '../src/http/actor.js';
import type { CreateUserInput } from '../src/users/user-schemas.js';

const { values: args } = parseArgs({
  options: {
    users: { type: 'string', default: '100000' },
    batch: { type: 'string', default: '1000' },
    duration: { type: 'string', default: '10' },
    connections: { type: 'string', default: '10' },
  },
});
const N = Number(args.users);
const BATCH = Number(args.batch);
const DURATION = Number(args.duration);
const CONNECTIONS = Number(args.connections);

async function benchDatabaseUrl(configured: string): Promise<{ url: string; drop(): Promise<void> }> {
  const parsed = parseDatabaseUrl(configured);
  if (parsed.dialect === 'sqlite') {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-bench-'));
    return { url: `sqlite:${path.join(dir, 'bench.sqlite')}`, drop: () => Promise.resolve(fs.rmSync(dir, { recursive: true, force: true })) };
  }
  const u = parsed.url!;
  const name = `${parsed.storageOrName}_bench`;
  const { createConnection } = await import('mysql2/promise');
  const admin = () =>
    createConnection({
      host: u.hostname,
      port: Number(u.port || 3306),
      user: decodeURIComponent(u.username || 'root'),
      password: decodeURIComponent(u.password),
    });
  const drop = async () => {
    const c = await admin();
    try {
      await c.query(`DROP DATABASE IF EXISTS \`${name}\``);
    } finally {
      await c.end();
    }
  };
  await drop();
  const url = new URL(u.href);
  url.pathname = `/${name}`;
  return { url: url.href, drop };
}

function fmt(n: number): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: 1 });
}

async function main(): Promise<void> {
  const base = loadConfig();
  const db = await benchDatabaseUrl(base.database.url);
  const config = loadConfig({ database: { url: db.url }, secrets: { masterKey: crypto.randomBytes(32).toString('base64') }, log: { level: 'warn' } });
  const logger = createLogger('warn');
  const services = await bootstrap(config, { migrate: true, logger });
  const dialect = services.db.dialect;
  console.log(
    `# bench-users: ${fmt(N)} users on ${dialect} (bcrypt cost ${config.auth.bcryptRounds}), ${CONNECTIONS} keep-alive connections, ${DURATION}s per endpoint`,
  );

  try {
    const owner = await services.accounts.createWithOwner({
      name: 'Bench Account',
      sipDomain: 'bench.example',
      ownerEmail: 'owner@bench.example',
      ownerPassword: 'bench-owner-password',
    });
    const actor: Actor = {
      accountId: owner.account_id,
      userId: owner.owner_user_id,
      role: 'owner',
      kind: 'user',
      actorId: `user:${owner.owner_user_id}`,
      sourceIp: null,
    };

    // ---- create N users through the service layer ------------------------
    const started = process.hrtime.bigint();
    const ids: number[] = [];
    for (let from = 0; from < N; from += BATCH) {
      const inputs: CreateUserInput[] = [];
      for (let i = from; i < Math.min(N, from + BATCH); i++) {
        const k = String(i).padStart(6, '0');
        inputs.push({ name: `Bench ${k}`, extension: String(200000 + i), username: `bench${k}`, role: i % 10 === 0 ? 'admin' : 'user' });
      }
      const made = await services.users.createMany(actor, inputs);
      ids.push(...made.map((m) => m.id));
      if ((from / BATCH) % 10 === 9) process.stderr.write(`  ${fmt(ids.length)} users…\n`);
    }
    const secs = Number(process.hrtime.bigint() - started) / 1e9;
    console.log(`created ${fmt(ids.length)} users in ${fmt(secs)} s (${fmt(ids.length / secs)} users/s, each with its audit entry)`);

    // ---- HTTP ------------------------------------------------------------
    const server = createHttpServer(createApp(services));
    server.keepAliveTimeout = 65_000;
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const { access_token } = await services.accessTokens.issue({ id: owner.owner_user_id, account_id: owner.account_id }, 'password');
    const headers = { authorization: `Bearer ${access_token}` };

    // 1,000 ids spread over the table, so reads do not all hit one cached page.
    const sample = Array.from({ length: 1000 }, (_, i) => ids[Math.floor((i * ids.length) / 1000)]!);
    // e.g. "Bench 0500" matches Bench 050000 … 050099: 100 users out of 100,000.
    const prefix = `Bench ${String(Math.floor(N / 2))
      .padStart(6, '0')
      .slice(0, 4)}`;
    const scenarios: Array<{ label: string; requests: Array<{ method: 'GET'; path: string; headers: Record<string, string> }> }> = [
      { label: 'GET /v1/users/{id}', requests: sample.map((id) => ({ method: 'GET', path: `/v1/users/${id}`, headers })) },
      { label: 'GET /v1/users?role=admin&limit=50', requests: [{ method: 'GET', path: '/v1/users?role=admin&limit=50', headers }] },
      { label: `GET /v1/users?name=${prefix}&limit=50`, requests: [{ method: 'GET', path: `/v1/users?name=${encodeURIComponent(prefix)}&limit=50`, headers }] },
    ];

    // Correctness before speed: each query answers what it should.
    const check = async (p: string) => (await fetch(baseUrl + p, { headers })).json() as Promise<{ data: Array<{ role: string; name: string }> }>;
    const admins = await check('/v1/users?role=admin&limit=50');
    if (admins.data.length !== 50 || admins.data.some((u) => u.role !== 'admin')) throw new Error('role filter returned wrong users');
    const named = await check(`/v1/users?name=${encodeURIComponent(prefix)}&limit=50`);
    if (named.data.length !== 50 || named.data.some((u) => !u.name.startsWith(prefix))) throw new Error('name filter returned wrong users');

    // Query plans of the SQL these endpoints run (captured from Sequelize).
    const seq = services.db.sequelize;
    for (const s of scenarios.slice(1)) {
      const captured: string[] = [];
      const opts = (seq as unknown as { options: { logging: unknown } }).options;
      const before = opts.logging;
      opts.logging = (sql: string) => captured.push(sql.replace(/^Executing \([^)]*\): /, ''));
      await fetch(baseUrl + s.requests[0]!.path, { headers });
      opts.logging = before;
      const listSql = captured.find((q) => q.startsWith('SELECT') && q.includes('FROM `users`') && q.includes('LIMIT'));
      if (!listSql) continue;
      const [plan] = await seq.query(`${dialect === 'sqlite' ? 'EXPLAIN QUERY PLAN' : 'EXPLAIN'} ${listSql.replace(/;$/, '')}`);
      const lines = (plan as Array<Record<string, unknown>>).map((r) =>
        dialect === 'sqlite' ? String(r.detail) : `${String(r.type)} key=${String(r.key)} rows=${String(r.rows)} ${typeof r.Extra === 'string' ? r.Extra : ''}`,
      );
      console.log(`plan for ${s.label}: ${lines.join(' | ')}`);
    }

    console.log('\n| endpoint | requests/s | p50 ms | p99 ms | errors |\n|---|---:|---:|---:|---:|');
    for (const s of scenarios) {
      const r = await autocannon({ url: baseUrl, connections: CONNECTIONS, duration: DURATION, requests: s.requests });
      const bad = r.errors + r.timeouts + r.non2xx;
      console.log(`| ${s.label} | ${fmt(r.requests.average)} | ${r.latency.p50} | ${r.latency.p99} | ${bad} |`);
    }
    // Let requests autocannon abandoned at the deadline finish before the database closes.
    const closed = new Promise<void>((r) => server.close(() => r()));
    const idle = setInterval(() => server.closeIdleConnections(), 50);
    await closed;
    clearInterval(idle);
  } finally {
    await services.db.close();
    await db.drop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
