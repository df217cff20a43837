/**
 * OnCall reminder job benchmark.
 *
 *   npm run bench:oncall                     # SQLite (temporary file)
 *   npm run bench:oncall -- mysql            # MariaDB/MySQL at MYSQL_URL (default mysql://root@127.0.0.1:3306)
 *
 * Seeds one account with 10,000 users, each with an upcoming shift (1,000 of
 * them due at the benchmark instant T, the rest later) plus a past shift, then
 * measures, with the job's injected clock:
 *   - ticks with nothing due (before T)           target < 50 ms
 *   - the tick at T that sends the 1,000 reminders target < 10 s
 *     through nodemailer's SMTP pool to a local smtp-server on 127.0.0.1
 *   - ticks with nothing due right after it
 * Users are inserted in bulk with one shared PIN hash: the benchmark is about
 * the job, not about bcrypt at user creation.
 */
import crypto from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { loadConfig } from '../src/config.js';
import { benchDialect, scratchDatabase } from './bench/scratch-database.js';
import { bootstrap } from '../src/runtime.js';
import { createLogger } from '../src/logger.js';
import { createOncallReminderJob } from '../src/jobs/oncall-reminder-job.js';
import { armedReminder } from '../src/oncall/reminder-timing.js';

// BENCH_USERS / BENCH_DUE only to check the script at a small size; the figures are for the defaults.
const USERS = Number(process.env.BENCH_USERS) || 10_000;
const DUE = Math.min(USERS, Number(process.env.BENCH_DUE) || 1_000);
const dialect = benchDialect();
const MIN = 60_000;

async function main() {
  const scratch = scratchDatabase(dialect, 'oncall');
  const { tag } = scratch;
  const dbUrl = scratch.url;
  const cleanup = scratch.drop;

  let received = 0;
  const smtp = new SMTPServer({
    logger: false,
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    closeTimeout: 100,
    onData(stream, _s, cb) {
      stream.on('data', () => undefined);
      stream.on('end', () => {
        received += 1;
        cb();
      });
    },
  });
  await new Promise<void>((r) => smtp.listen(0, '127.0.0.1', () => r()));
  const smtpPort = (smtp.server.address() as AddressInfo).port;

  const config = loadConfig({
    database: { url: dbUrl },
    secrets: { masterKey: crypto.randomBytes(32).toString('base64') },
    smtp: { url: `smtp://127.0.0.1:${smtpPort}` },
    log: { level: 'warn' },
  });
  const services = await bootstrap(config, { migrate: true, logger: createLogger('warn', { toStderr: true }) });
  const { models } = services.db;
  try {
    const t0 = performance.now();
    const account = await models.Account.create({ name: 'Bench account', sip_domain: `bench-${tag}.example`, timezone: 'Europe/Paris' });
    const schedule = await models.OncallSchedule.create({ account_id: account.id, name: 'Bench schedule', timezone: 'Europe/Paris', description: null });
    const pinHash = '$2b$04$abcdefghijklmnopqrstuuGQm0zZ1k8mTn6gVhA1D0hQ1f4n7Yp2e';
    const T = Date.UTC(2031, 0, 15, 8, 0);
    for (let i = 0; i < USERS; i += 1000) {
      const rows = [];
      for (let j = i; j < Math.min(USERS, i + 1000); j++) {
        rows.push({
          account_id: account.id,
          name: `User ${j}`,
          extension: String(100000 + j),
          username: `bench${tag}u${j}`,
          email: `user${j}@bench.example`,
          password_hash: null,
          role: 'user' as const,
          binding_policy: null,
          sip_ha1_md5: 'x',
          sip_ha1_sha256: 'x',
          sip_password_enc: 'x',
          sip_prev_ha1_md5: null,
          sip_prev_ha1_sha256: null,
          sip_prev_valid_until: null,
          oncall_pin_hash: pinHash,
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
    const users = await models.User.findAll({ where: { account_id: account.id }, attributes: ['id'], order: [['id', 'ASC']] });
    const shifts = [];
    for (const [i, u] of users.entries()) {
      // Upcoming shift: the first DUE users' reminders fall due at T, the others over the following days.
      const start = i < DUE ? T + 15 * MIN : T + (i + 1) * 30 * MIN;
      shifts.push({
        account_id: account.id,
        schedule_id: schedule.id,
        user_id: u.id,
        rotation_id: null,
        rotation_seq: null,
        starts_at: new Date(start),
        ends_at: new Date(start + 8 * 60 * MIN),
        note: null,
        ...armedReminder(new Date(start), 15),
      });
      // A past shift whose reminder went out long ago (history the due query must not wade through).
      const past = T - 30 * 24 * 60 * MIN + i * MIN;
      shifts.push({
        account_id: account.id,
        schedule_id: schedule.id,
        user_id: u.id,
        rotation_id: null,
        rotation_seq: null,
        starts_at: new Date(past),
        ends_at: new Date(past + 30 * MIN),
        note: null,
        ...armedReminder(new Date(past), 15),
        next_attempt_at: null,
        reminded_at: new Date(past - 15 * MIN),
      });
    }
    for (let i = 0; i < shifts.length; i += 1000) await models.OncallShift.bulkCreate(shifts.slice(i, i + 1000));
    const seedMs = performance.now() - t0;

    let clock = T - MIN;
    const concurrency = Number(process.env.BENCH_CONCURRENCY) || config.jobs.oncallReminders.concurrency;
    const job = createOncallReminderJob(services, { now: () => new Date(clock), settings: { concurrency } });
    const idle = async (n: number) => {
      const ms: number[] = [];
      for (let i = 0; i < n; i++) {
        const s = performance.now();
        const r = await job.runOnce();
        ms.push(performance.now() - s);
        if (r.claimed) throw new Error('expected nothing due');
      }
      ms.sort((a, b) => a - b);
      return { median: ms[Math.floor(n / 2)]!, max: ms[n - 1]! };
    };
    await idle(3); // warm-up (connections, prepared models)
    const before = await idle(20);
    clock = T;
    const s = performance.now();
    const busy = await job.runOnce();
    const busyMs = performance.now() - s;
    const after = await idle(20);
    job.close();
    const f = (x: number) => x.toFixed(1);
    console.log(JSON.stringify({ dialect, users: USERS, shifts: shifts.length, concurrency, seed_ms: Math.round(seedMs) }));
    console.log(`idle tick (nothing due, before T): median ${f(before.median)} ms, max ${f(before.max)} ms  [target < 50 ms]`);
    console.log(`busy tick at T: ${busy.sent} sent, ${busy.failed} failed, ${received} received by SMTP in ${f(busyMs)} ms  [target < 10000 ms]`);
    console.log(`idle tick (nothing due, after T): median ${f(after.median)} ms, max ${f(after.max)} ms`);
    if (busy.sent !== DUE || received !== DUE) process.exitCode = 1;
  } finally {
    await services.db.close();
    await new Promise<void>((r) => smtp.close(() => r()));
    await cleanup();
  }
}

await main();
