import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { startTestApp, type TestApp } from '../helpers/test-app.js';
import { startSmtpReceiver, type SmtpReceiver } from '../helpers/smtp-receiver.js';
import { createAccount, createUser, type TestAccount } from '../helpers/factories.js';
import type { TickResult } from '../../src/jobs/oncall-reminder-job.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const MIN = 60_000;

interface Child {
  proc: ChildProcessWithoutNullStreams;
  lines: string[];
  waitForLine(pred: (l: string) => boolean, timeoutMs?: number): Promise<string>;
  exited: Promise<number | null>;
}

function spawnChild(args: string[], env: Record<string, string> = {}): Child {
  const proc = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, NODE_ENV: 'test', ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let buf = '';
  let stderr = '';
  proc.stdout.on('data', (d: Buffer) => {
    buf += d.toString();
    const parts = buf.split('\n');
    buf = parts.pop()!;
    lines.push(...parts);
  });
  proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) =>
    proc.once('exit', (code) => {
      if (buf) lines.push(buf);
      if (code !== 0) process.stderr.write(stderr);
      resolve(code);
    }),
  );
  return {
    proc,
    lines,
    exited,
    async waitForLine(pred, timeoutMs = 15000) {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const hit = lines.find(pred);
        if (hit) return hit;
        if (Date.now() > until || proc.exitCode !== null) throw new Error(`child output: ${lines.join('\n')}\n${stderr}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    },
  };
}

describe('OnCall reminders across processes', function () {
  this.timeout(60_000);
  let receiver: SmtpReceiver;
  let app: TestApp;
  let acct: TestAccount;
  let scheduleId: number;

  before(async () => {
    receiver = await startSmtpReceiver();
    app = await startTestApp();
    acct = await createAccount(app);
    scheduleId = (await app.call('POST', '/v1/oncall/schedules', { token: acct.ownerToken, body: { name: 'Two processes', timezone: 'UTC' } })).body.id;
  });
  after(async () => {
    await app.stop();
    await receiver.stop();
  });
  beforeEach(() => {
    receiver.messages.length = 0;
  });

  /** Shifts whose reminder is already due by the real clock (the child processes use it). */
  async function dueShifts(n: number): Promise<number[]> {
    const ids: number[] = [];
    const now = Date.now();
    for (let i = 0; i < n; i++) {
      const u = await createUser(app, acct.ownerToken, { oncall_remind_minutes: 15, email: `p${i}-${now}@example.org` });
      const r = await app.call('POST', `/v1/oncall/schedules/${scheduleId}/shifts`, {
        token: acct.ownerToken,
        body: { user_id: u.id, starts_at: new Date(now + 5 * MIN).toISOString(), ends_at: new Date(now + 65 * MIN).toISOString() },
      });
      ids.push(r.body.id);
    }
    return ids;
  }

  const childConfig = () =>
    JSON.stringify({
      database: { url: app.config.database.url },
      secrets: { masterKey: app.config.secrets.masterKey },
      smtp: { url: receiver.url },
      // Small batches so the two processes interleave claims instead of one taking everything in one UPDATE.
      jobs: { oncallReminders: { batchSize: 3, concurrency: 2 } },
    });

  it('two processes running the job at the same moment send each reminder exactly once', async () => {
    const ids = await dueShifts(24);
    const children = [0, 1].map(() => spawnChild(['--import', 'tsx', 'test/helpers/reminder-job-child.ts', childConfig()]));
    try {
      await Promise.all(children.map((c) => c.waitForLine((l) => l === 'ready')));
      for (const c of children) c.proc.stdin.write('go\n');
      const results = await Promise.all(children.map(async (c) => JSON.parse(await c.waitForLine((l) => l.startsWith('{'))) as TickResult));
      expect(await Promise.all(children.map((c) => c.exited))).to.deep.equal([0, 0]);
      expect(results[0]!.sent + results[1]!.sent).to.equal(ids.length);
      expect(receiver.messages).to.have.length(ids.length);
      const perShift = new Set(receiver.messages.map((m) => m.messageId));
      expect(perShift.size).to.equal(ids.length);
      const rows = await app.services.db.models.OncallShift.findAll({ where: { id: ids } });
      expect(rows.every((r) => r.reminded_at !== null && r.claimed_by === null)).to.equal(true);
      expect(await app.services.db.models.AuditEntry.count({ where: { action: 'oncall_shift.reminder_sent', target_id: ids.map(String) } })).to.equal(
        ids.length,
      );
    } finally {
      for (const c of children) if (c.proc.exitCode === null) c.proc.kill();
    }
  });

  it('`switchboard jobs run oncall-reminders` runs one tick from the command line and prints what it did', async () => {
    const ids = await dueShifts(2);
    const cli = spawnChild(['bin/switchboard.js', 'jobs', 'run', 'oncall-reminders'], {
      DATABASE_URL: app.config.database.url,
      MASTER_KEY: app.config.secrets.masterKey,
      SMTP_URL: receiver.url,
    });
    expect(await cli.exited).to.equal(0);
    const result = JSON.parse(cli.lines.join('\n')) as TickResult;
    expect(result).to.include({ claimed: 2, sent: 2, failed: 0 });
    expect(receiver.messages.map((m) => m.to[0]).sort()).to.have.length(2);
    const rows = await app.services.db.models.OncallShift.findAll({ where: { id: ids } });
    expect(rows.every((r) => r.reminded_at !== null)).to.equal(true);
  });
});
