/**
 * Usage report benchmark: a year of daily rows for 10,000 users.
 *
 *   npm run bench:usage                  # SQLite (temporary file)
 *   npm run bench:usage -- mysql         # MariaDB/MySQL at MYSQL_URL (default mysql://root@127.0.0.1:3306)
 *
 * Seeds one account with BENCH_USERS (10,000) users and, for every user and
 * every day of 2025, one daily row per type in BENCH_TYPES (default
 * api_requests, registrations, active_devices_peak, sms_outbound: 14.6
 * million rows), then the monthly and account rows a flush writes beside
 * them (derived with one INSERT … SELECT each). Then GET /v1/usage over HTTP
 * (a real listening app, bearer token), BENCH_RUNS times per query after one
 * warm-up: by day, by type and by user (first page, and a later one) over
 * the calendar year, by user over a year that starts mid-month (partial
 * months from the daily rows), one user's year by day, and the whole
 * by-user CSV (every user). Prints p50 / p95 / max in ms. Target: under
 * 100 ms for the JSON reports.
 */
import '../bin/v8-tuning.js'; // before anything that loads Sequelize, as the entry points do
import crypto from 'node:crypto';
import os from 'node:os';
import type { AddressInfo } from 'node:net';
import { QueryTypes } from 'sequelize';
import { loadConfig } from '../src/config.js';
import { benchDialect, scratchDatabase } from './bench/scratch-database.js';
import { bootstrap } from '../src/runtime.js';
import { createLogger } from '../src/logger.js';
import { createApp } from '../src/app.js';
import { createHttpServer } from '../src/http/http-server.js';
import { addDays } from '../src/usage/usage-rules.js';

const USERS = Number(process.env.BENCH_USERS ?? 10_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 20);
const TYPES = (process.env.BENCH_TYPES ?? 'api_requests,registrations,active_devices_peak,sms_outbound').split(',');
const dialect = benchDialect();
const FIRST_DAY = '2025-01-01';
const DAYS = 365;

async function main() {
  const scratch = scratchDatabase(dialect, 'usage');
  const { tag } = scratch;
  const dbUrl = scratch.url;
  const cleanup = scratch.drop;
  const config = loadConfig({
    env: 'development',
    database: { url: dbUrl },
    secrets: { masterKey: crypto.randomBytes(32).toString('base64') },
    auth: { bcryptRounds: 4 },
    log: { level: 'warn' },
    jobs: { enabled: false },
    sip: { edge: 'none' },
    usage: { flushIntervalMs: 300_000 },
  });
  const services = await bootstrap(config, { migrate: true, logger: createLogger('warn') });
  const { sequelize, models } = services.db;
  const server = createHttpServer(createApp(services));
  try {
    const t0 = Date.now();
    const owner = await services.accounts.createWithOwner({
      name: 'Bench usage',
      sipDomain: `bench-usage-${tag.replace(/_/g, '-')}.example`,
      ownerEmail: 'owner@bench.example',
      ownerPassword: 'bench-owner-password',
      ownerUsername: `bench-${tag.replace(/_/g, '-')}-owner`,
    });
    const accountId = owner.account_id;
    for (let i = 0; i < USERS; i += 1000) {
      const rows = [];
      for (let j = i; j < Math.min(USERS, i + 1000); j++) {
        rows.push({
          account_id: accountId,
          name: `Agent ${j}`,
          extension: String(100000 + j),
          username: `bench${tag}u${j}`,
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
          external_caller_id_number: null,
          mobile: null,
          forward_behavior: { mode: 'ring_devices' as const, destination: null },
          location_id: null,
          mailbox_id: null,
          notification_email: null,
          voicemail_email: null,
          fax_service_id: null,
          oncall_remind_minutes: 15,
          oncall_remind_email: null,
          outbound_sms_number: null,
          sms_auto_response_text: null,
          otp_secret_enc: null,
        });
      }
      await models.User.bulkCreate(rows);
    }
    const userIds = (await models.User.findAll({ where: { account_id: accountId }, attributes: ['id'], order: [['id', 'ASC']], raw: true })).map((u) => u.id);
    console.log(`seeded ${userIds.length} users in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

    // Generated inside the database (a day table crossed with the users), one statement per type and month, in primary-key order.
    const t1 = Date.now();
    await sequelize.query('CREATE TABLE bench_days (d INTEGER NOT NULL, day VARCHAR(10) NOT NULL, PRIMARY KEY (d))');
    await sequelize.query(`INSERT INTO bench_days (d, day) VALUES ${Array.from({ length: DAYS }, (_, d) => `(${d}, '${addDays(FIRST_DAY, d)}')`).join(', ')}`);
    for (const type of TYPES) {
      const amount = type === 'active_devices_peak' ? '1 + (u.id % 3)' : '1 + ((u.id * 7 + b.d) % 40)';
      for (let m = 1; m <= 12; m++) {
        const month = `2025-${String(m).padStart(2, '0')}`;
        await sequelize.query(
          `INSERT INTO usage_daily (account_id, user_id, type, day, amount) SELECT u.account_id, u.id, '${type}', b.day, ${amount} FROM users u CROSS JOIN bench_days b WHERE u.account_id = ${accountId} AND b.day LIKE '${month}-%'`,
        );
      }
      console.log(`  ${type}: a year of daily rows (${((Date.now() - t1) / 1000).toFixed(0)} s)`);
    }
    await sequelize.query('DROP TABLE bench_days');
    const peak = "'active_devices_peak'";
    await sequelize.query(
      `INSERT INTO usage_monthly (account_id, user_id, type, month, amount) SELECT account_id, user_id, type, SUBSTR(day, 1, 7), CASE WHEN type = ${peak} THEN MAX(amount) ELSE SUM(amount) END FROM usage_daily GROUP BY account_id, user_id, type, SUBSTR(day, 1, 7)`,
    );
    // The account's peak stands in as the sum of its users' (in production it is sampled).
    await sequelize.query(
      'INSERT INTO usage_account_daily (account_id, type, day, amount) SELECT account_id, type, day, SUM(amount) FROM usage_daily GROUP BY account_id, type, day',
    );
    if (dialect === 'mysql') for (const t of ['usage_daily', 'usage_monthly', 'usage_account_daily', 'users']) await sequelize.query(`ANALYZE TABLE ${t}`);
    else await sequelize.query('ANALYZE');
    const count = async (t: string) =>
      Number((await sequelize.query<{ n: number }>(`SELECT COUNT(*) AS n FROM ${t}`, { type: QueryTypes.SELECT }))[0]!.n).toLocaleString('en-US');
    console.log(
      `seeded ${await count('usage_daily')} daily, ${await count('usage_monthly')} monthly, ${await count('usage_account_daily')} account rows (${TYPES.length} types) in ${((Date.now() - t1) / 1000).toFixed(0)} s`,
    );

    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const auth = (await (
      await fetch(`${base}/v1/auth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ grant_type: 'password', username: owner.owner_username, password: 'bench-owner-password' }),
      })
    ).json()) as { access_token: string };
    const headers = { authorization: `Bearer ${auth.access_token}` };
    const get = async (q: string) => {
      const started = process.hrtime.bigint();
      const res = await fetch(q ? `${base}/v1/usage${q}` : `${base}/v1/me`, { headers });
      const text = await res.text();
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      if (res.status !== 200) throw new Error(`${q}: ${res.status} ${text.slice(0, 200)}`);
      return { ms, text };
    };
    const firstPage = JSON.parse((await get('?group_by=user&since=2025-01-01&until=2025-12-31&limit=200')).text) as { next_cursor: string };
    let later = firstPage.next_cursor;
    let page = 1;
    for (; page < 21 && later; page++) {
      const next = (
        JSON.parse((await get(`?group_by=user&since=2025-01-01&until=2025-12-31&limit=200&cursor=${later}`)).text) as { next_cursor: string | null }
      ).next_cursor;
      if (!next) break;
      later = next;
    }
    const cases: Array<[string, string, number]> = [
      ['baseline: GET /v1/me (HTTP, token, no usage)', '', RUNS],
      ['by day, calendar year', '?group_by=day&since=2025-01-01&until=2025-12-31', RUNS],
      ['by type, calendar year', '?group_by=type&since=2025-01-01&until=2025-12-31', RUNS],
      ['by user, calendar year, first page of 200', '?group_by=user&since=2025-01-01&until=2025-12-31&limit=200', RUNS],
      ...(later
        ? ([[`by user, calendar year, page ${page + 1} of 200`, `?group_by=user&since=2025-01-01&until=2025-12-31&limit=200&cursor=${later}`, RUNS]] as Array<
            [string, string, number]
          >)
        : []),
      ['by user, year from mid-January, first page of 200', '?group_by=user&since=2025-01-15&until=2026-01-14&limit=200', RUNS],
      ['one user by day, calendar year', `?group_by=day&since=2025-01-01&until=2025-12-31&user_id=${userIds[USERS >> 1]}`, RUNS],
      ['by user as CSV, every user, calendar year', '?group_by=user&since=2025-01-01&until=2025-12-31&format=csv', Math.max(3, RUNS >> 2)],
    ];
    console.log(
      `\n${dialect}: GET /v1/usage over HTTP, ${USERS.toLocaleString('en-US')} users, ms (p50 / p95 / max); load average ${os
        .loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')} on ${os.cpus().length} cores`,
    );
    for (const [label, q, runs] of cases) {
      await get(q);
      const times: number[] = [];
      let bytes = 0;
      for (let i = 0; i < runs; i++) {
        const r = await get(q);
        times.push(r.ms);
        bytes = r.text.length;
      }
      times.sort((a, b) => a - b);
      const at = (p: number) => times[Math.min(times.length - 1, Math.floor(p * times.length))]!.toFixed(1);
      console.log(
        `  ${label.padEnd(52)} ${at(0.5).padStart(7)} / ${at(0.95).padStart(7)} / ${times.at(-1)!.toFixed(1).padStart(7)}   (${(bytes / 1024).toFixed(0)} KB)`,
      );
    }
  } finally {
    server.closeAllConnections();
    server.close();
    await services.usage.stop();
    await services.failureStore.close();
    await services.db.close();
    await cleanup();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
