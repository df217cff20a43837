import crypto from 'node:crypto';
import { expect } from 'chai';
import { loadConfig } from '../../src/config.js';
import { serve } from '../../src/main.js';
import { createOncallReminderJob, type OncallReminderJob } from '../../src/jobs/oncall-reminder-job.js';
import { occurrencesBetween } from '../../src/oncall/rotation-materialiser.js';
import type { OncallRotation } from '../../src/db/models/index.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';
import { startSmtpReceiver, type SmtpReceiver } from '../helpers/smtp-receiver.js';
import { createAccount, createUser, type TestAccount } from '../helpers/factories.js';
import { startWebhookReceiver } from '../helpers/webhook-receiver.js';

const MIN = 60_000;
const H = 60 * MIN;
const iso = (ms: number) => new Date(ms).toISOString();

describe('OnCall reminder job', () => {
  let receiver: SmtpReceiver;
  let app: TestApp;
  let acct: TestAccount;
  let clock: number;
  let job: OncallReminderJob;
  let scheduleId: number;

  before(async () => {
    receiver = await startSmtpReceiver();
    app = await startTestApp({ smtp: { url: receiver.url, from: 'Switchboard OnCall <oncall@pbx.example>' } });
    acct = await createAccount(app);
    const s = await app.call('POST', '/v1/oncall/schedules', { token: acct.ownerToken, body: { name: 'Core Network', timezone: 'America/New_York' } });
    scheduleId = s.body.id;
    job = createOncallReminderJob(app.services, {
      now: () => new Date(clock),
      settings: { retryBaseSeconds: 30, retryMaxSeconds: 600, lateGraceSeconds: 120, leaseSeconds: 60 },
    });
  });
  after(async () => {
    job.close();
    await app.stop();
    await receiver.stop();
  });
  beforeEach(() => {
    receiver.messages.length = 0;
  });

  async function addShift(userId: number, startMs: number, endMs: number, sched = scheduleId): Promise<any> {
    const r = await app.call('POST', `/v1/oncall/schedules/${sched}/shifts`, {
      token: acct.ownerToken,
      body: { user_id: userId, starts_at: iso(startMs), ends_at: iso(endMs), note: 'Pager rota' },
    });
    expect(r.status, JSON.stringify(r.body)).to.equal(201);
    return r.body;
  }
  const readShift = async (id: number) => (await app.call('GET', `/v1/oncall/schedules/${scheduleId}/shifts/${id}`, { token: acct.ownerToken })).body;
  const tick = async (atMs: number) => {
    clock = atMs;
    return job.runOnce();
  };

  it("emails the user's OnCall address at the reminder time, with the schedule name and times in the schedule's time zone, once", async () => {
    const u = await createUser(app, acct.ownerToken, {
      name: 'Dana Duty',
      oncall_remind_minutes: 30,
      oncall_remind_email: 'dana.pager@example.org',
      notification_email: 'dana@example.org',
    });
    const start = Date.UTC(2030, 6, 1, 13, 0); // 09:00 EDT
    const sh = await addShift(u.id, start, start + 8 * H);
    expect((await tick(start - 31 * MIN)).sent).to.equal(0);
    expect(receiver.messages).to.have.length(0);
    const r = await tick(start - 30 * MIN);
    expect(r).to.include({ claimed: 1, sent: 1, late: 0 });
    expect(receiver.messages).to.have.length(1);
    const m = receiver.messages[0]!;
    expect(m.to).to.deep.equal(['dana.pager@example.org']);
    expect(m.from).to.equal('oncall@pbx.example');
    expect(m.subject).to.equal('OnCall reminder: Core Network starts Mon 2030-07-01 09:00 EDT');
    expect(m.text).to.include('You are on call for "Core Network"');
    expect(m.text).to.include('Starts: Mon 2030-07-01 09:00 EDT (UTC-04:00, America/New_York)');
    expect(m.text).to.include('Ends:   Mon 2030-07-01 17:00 EDT (UTC-04:00, America/New_York)');
    expect(m.text).to.include('Note:   Pager rota');
    expect(m.text).to.not.match(/pin/i);
    const after = await readShift(sh.id);
    expect(after.reminder).to.include({ status: 'sent', late: false, attempts: 1, reminded_at: iso(start - 30 * MIN) });
    const row = await app.services.db.models.OncallShift.findByPk(sh.id);
    expect(row!.message_id).to.equal(m.messageId);
    const audit = await app.services.db.models.AuditEntry.findOne({ where: { action: 'oncall_shift.reminder_sent', target_id: String(sh.id) } });
    expect(audit).to.not.equal(null);
    expect(audit!.actor_type).to.equal('system');
    expect(audit!.after).to.include({ to: 'dana.pager@example.org', message_id: m.messageId, late: false });
    // Later ticks send nothing more.
    expect((await tick(start - 29 * MIN)).claimed).to.equal(0);
    expect((await tick(start + H)).claimed).to.equal(0);
    expect(receiver.messages).to.have.length(1);
  });

  it('falls back to notification_email, then the login email, and skips (no_email) a user with no address at all', async () => {
    const a = await createUser(app, acct.ownerToken, { oncall_remind_minutes: 5, notification_email: 'notify@example.org', email: 'login-a@example.org' });
    const b = await createUser(app, acct.ownerToken, { oncall_remind_minutes: 5, email: 'login-b@example.org' });
    const c = await createUser(app, acct.ownerToken, { oncall_remind_minutes: 5 });
    const start = Date.UTC(2030, 7, 1, 12);
    await addShift(a.id, start, start + H);
    await addShift(b.id, start, start + H);
    const none = await addShift(c.id, start, start + H);
    const r = await tick(start - 5 * MIN);
    expect(r).to.include({ sent: 2, skipped: 1 });
    expect(receiver.messages.map((m) => m.to[0]).sort()).to.deep.equal(['login-b@example.org', 'notify@example.org']);
    expect((await readShift(none.id)).reminder).to.include({ status: 'skipped', skipped_reason: 'no_email' });
  });

  it('moving starts_at before the reminder went out reschedules it; deleting the shift cancels it', async () => {
    const u = await createUser(app, acct.ownerToken, { oncall_remind_minutes: 15, email: 'move@example.org' });
    const start = Date.UTC(2030, 8, 1, 12);
    const moved = await addShift(u.id, start, start + H);
    const gone = await addShift(u.id, start + 2 * H, start + 3 * H);
    const p = await app.call('PATCH', `/v1/oncall/schedules/${scheduleId}/shifts/${moved.id}`, {
      token: acct.ownerToken,
      body: { starts_at: iso(start + 4 * H), ends_at: iso(start + 5 * H) },
    });
    expect(p.status).to.equal(200);
    expect((await app.call('DELETE', `/v1/oncall/schedules/${scheduleId}/shifts/${gone.id}`, { token: acct.ownerToken })).status).to.equal(204);
    await tick(start - 15 * MIN);
    await tick(start + 2 * H - 15 * MIN);
    expect(receiver.messages).to.have.length(0);
    await tick(start + 4 * H - 15 * MIN);
    expect(receiver.messages).to.have.length(1);
    expect(receiver.messages[0]!.subject).to.include('2030-09-01 12:00 EDT');
  });

  it("changing the user's oncall_remind_minutes sends the pending reminder at the new time", async () => {
    const u = await createUser(app, acct.ownerToken, { oncall_remind_minutes: 10, email: 'minutes@example.org' });
    const start = Date.UTC(2030, 9, 1, 12);
    await addShift(u.id, start, start + H);
    expect((await app.call('PATCH', `/v1/users/${u.id}`, { token: acct.ownerToken, body: { oncall_remind_minutes: 120 } })).status).to.equal(200);
    await tick(start - 121 * MIN);
    expect(receiver.messages).to.have.length(0);
    await tick(start - 120 * MIN);
    expect(receiver.messages).to.have.length(1);
    expect(receiver.messages[0]!.text).to.include('120 minutes before');
  });

  it('retries with backoff while SMTP is down and delivers late, marked late, when it comes back', async () => {
    const u = await createUser(app, acct.ownerToken, { oncall_remind_minutes: 60, email: 'outage@example.org' });
    const start = Date.UTC(2030, 10, 1, 12);
    const sh = await addShift(u.id, start, start + 4 * H);
    await receiver.stop();
    try {
      const first = await tick(start - 60 * MIN);
      expect(first).to.include({ claimed: 1, failed: 1, sent: 0 });
      let s = await readShift(sh.id);
      expect(s.reminder).to.include({ status: 'retrying', attempts: 1, reminded_at: null });
      // Backoff: nothing is due 10 s later; the second attempt at +30 s fails again, the third waits 60 s.
      expect((await tick(start - 60 * MIN + 10_000)).claimed).to.equal(0);
      expect((await tick(start - 60 * MIN + 30_000)).failed).to.equal(1);
      expect((await tick(start - 60 * MIN + 60_000)).claimed).to.equal(0);
      s = await readShift(sh.id);
      expect(s.reminder.attempts).to.equal(2);
    } finally {
      await receiver.start();
    }
    const back = await tick(start - 50 * MIN);
    expect(back).to.include({ sent: 1, late: 1 });
    expect(receiver.messages).to.have.length(1);
    expect(receiver.messages[0]!.to).to.deep.equal(['outage@example.org']);
    const s = await readShift(sh.id);
    expect(s.reminder).to.include({ status: 'sent', late: true, attempts: 3 });
  });

  it('skips (and records why) a reminder whose shift ended before SMTP came back', async () => {
    const u = await createUser(app, acct.ownerToken, { oncall_remind_minutes: 10, email: 'ended@example.org' });
    const start = Date.UTC(2030, 11, 1, 12);
    const sh = await addShift(u.id, start, start + H);
    await receiver.stop();
    try {
      expect((await tick(start - 10 * MIN)).failed).to.equal(1);
    } finally {
      await receiver.start();
    }
    const r = await tick(start + 2 * H);
    expect(r).to.include({ skipped: 1, sent: 0 });
    expect(receiver.messages).to.have.length(0);
    expect((await readShift(sh.id)).reminder).to.include({ status: 'skipped', skipped_reason: 'shift_ended' });
  });

  it('queues one oncall.reminder_sent event per reminder sent, for a subscribed webhook, in the same transaction as reminded_at', async () => {
    const rx = await startWebhookReceiver();
    const hook = await app.call('POST', '/v1/webhooks', { token: acct.ownerToken, body: { url: rx.url, events: ['oncall.reminder_sent'] } });
    expect(hook.status, JSON.stringify(hook.body)).to.equal(201);
    try {
      const u = await createUser(app, acct.ownerToken, { oncall_remind_minutes: 15, oncall_remind_email: 'events@example.org' });
      const start = Date.UTC(2031, 1, 2, 9);
      const shifts: any[] = [];
      for (let i = 0; i < 4; i++) shifts.push(await addShift(u.id, start + i * 24 * H, start + i * 24 * H + 8 * H));
      for (let i = 0; i < 4; i++) expect((await tick(start + i * 24 * H - 15 * MIN)).sent).to.equal(1);
      expect(receiver.messages).to.have.length(4);
      expect(await app.services.webhookDelivery.runDue()).to.equal(4);
      const events = rx.received.map((r) => r.json);
      expect(events.map((e) => e.type)).to.deep.equal(Array(4).fill('oncall.reminder_sent'));
      expect(events.map((e) => e.data.shift_id).sort()).to.deep.equal(shifts.map((x) => x.id).sort());
      const first = events.find((e) => e.data.shift_id === shifts[0].id);
      expect(first.account_id).to.equal(acct.accountId);
      expect(first.data).to.include({
        schedule_id: scheduleId,
        user_id: u.id,
        to: 'events@example.org',
        late: false,
        attempts: 1,
        starts_at: iso(start),
        remind_at: iso(start - 15 * MIN),
        reminded_at: iso(start - 15 * MIN),
      });
      expect(events.map((e) => e.data.message_id).sort()).to.deep.equal(receiver.messages.map((m) => m.messageId).sort());
      // Nothing more is queued by later ticks.
      await tick(start + 4 * 24 * H);
      expect(await app.services.webhookDelivery.runDue()).to.equal(0);
    } finally {
      await app.call('DELETE', `/v1/webhooks/${hook.body.id}`, { token: acct.ownerToken });
      await rx.stop();
    }
  });

  it('skips (too_late, logged and audited) a reminder whose shift started longer ago than jobs.oncallReminders.maxLateMinutes, and still sends one within it', async () => {
    expect(app.config.jobs.oncallReminders.maxLateMinutes).to.equal(60);
    const u = await createUser(app, acct.ownerToken, { oncall_remind_minutes: 10, email: 'late@example.org' });
    const start = Date.UTC(2031, 2, 3, 12);
    const old = await addShift(u.id, start, start + 12 * H);
    const recent = await addShift(u.id, start + 24 * H, start + 36 * H);
    await receiver.stop();
    try {
      expect((await tick(start - 10 * MIN)).failed).to.equal(1);
    } finally {
      await receiver.start();
    }
    // SMTP is back three hours into the first shift: that reminder is dropped, not sent late.
    const r = await tick(start + 3 * H);
    expect(r).to.include({ skipped: 1, sent: 0 });
    expect(receiver.messages).to.have.length(0);
    expect((await readShift(old.id)).reminder).to.include({ status: 'skipped', skipped_reason: 'too_late', reminded_at: null });
    const audit = await app.services.db.models.AuditEntry.findOne({ where: { action: 'oncall_shift.reminder_skipped', target_id: String(old.id) } });
    expect(audit!.after).to.deep.equal({ reason: 'too_late' });
    // The job next runs 59 minutes into the second shift: within the cut-off, so sent, marked late.
    expect(await tick(start + 24 * H + 59 * MIN)).to.include({ sent: 1, late: 1 });
    expect(receiver.messages).to.have.length(1);
    expect((await readShift(recent.id)).reminder).to.include({ status: 'sent', late: true });
  });

  it('retries a reminder whose claim was left by a crashed process once the lease has expired, not before', async () => {
    const u = await createUser(app, acct.ownerToken, { oncall_remind_minutes: 10, email: 'crash@example.org' });
    const start = Date.UTC(2031, 0, 5, 12);
    const sh = await addShift(u.id, start, start + H);
    // What a process that claimed the row and died before sending leaves behind.
    const leaseEnd = new Date(start - 10 * MIN + 60_000);
    await app.services.db.models.OncallShift.update(
      { claimed_by: 'dead-host:1:abc:1', claim_expires_at: leaseEnd, next_attempt_at: leaseEnd },
      { where: { id: sh.id } },
    );
    expect((await tick(start - 10 * MIN + 30_000)).claimed).to.equal(0);
    expect(receiver.messages).to.have.length(0);
    const r = await tick(start - 10 * MIN + 61_000);
    expect(r.sent).to.equal(1);
    expect(receiver.messages).to.have.length(1);
  });

  it('extends a rotation past its horizon when the job runs days later', async () => {
    const a = await createUser(app, acct.ownerToken);
    const b = await createUser(app, acct.ownerToken);
    const startDate = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
    const r = await app.call('POST', `/v1/oncall/schedules/${scheduleId}/rotations`, {
      token: acct.ownerToken,
      body: { name: 'Daily', user_ids: [a.id, b.id], period_unit: 'days', period_count: 1, start_date: startDate, handoff_time: '08:30', horizon_days: 7 },
    });
    expect(r.status).to.equal(201);
    const before = await app.services.db.models.OncallShift.count({ where: { rotation_id: r.body.id } });
    const res = await tick(Date.now() + 3 * 86_400_000);
    expect(res.rotationShiftsCreated).to.be.within(2, 4);
    const after = await app.services.db.models.OncallShift.findAll({ where: { rotation_id: r.body.id }, order: [['rotation_seq', 'ASC']] });
    expect(after.length).to.equal(before + res.rotationShiftsCreated);
    expect(new Set(after.map((s) => s.rotation_seq)).size).to.equal(after.length);
    expect(await app.services.db.models.AuditEntry.count({ where: { action: 'oncall_rotation.materialised', target_id: String(r.body.id) } })).to.equal(1);
  });
});

describe('Rotation periods across a DST change', () => {
  const rotation = (over: Partial<OncallRotation>) =>
    ({ user_ids: [1, 2], period_unit: 'days', period_count: 1, start_date: '2027-03-12', handoff_time: '09:00', ...over }) as OncallRotation;

  it('keeps a daily 09:00 handoff at 09:00 New York time across the spring-forward night (a 23 h shift)', () => {
    const occ = occurrencesBetween(rotation({}), 'America/New_York', new Date('2027-03-12T00:00:00Z'), new Date('2027-03-16T00:00:00Z'));
    expect(occ.map((o) => o.startsAt.toISOString())).to.deep.equal([
      '2027-03-12T14:00:00.000Z',
      '2027-03-13T14:00:00.000Z',
      '2027-03-14T13:00:00.000Z',
      '2027-03-15T13:00:00.000Z',
    ]);
    expect(occ.map((o) => (o.endsAt.getTime() - o.startsAt.getTime()) / H)).to.deep.equal([24, 23, 24, 24]);
    expect(occ.map((o) => o.userId)).to.deep.equal([1, 2, 1, 2]);
  });

  it('gives a weekly rotation a 169 h week across the fall-back night and moves a 02:30 handoff out of the spring gap', () => {
    const weekly = occurrencesBetween(
      rotation({ period_unit: 'weeks', start_date: '2027-11-01', handoff_time: '10:00' }),
      'America/New_York',
      new Date('2027-11-01T00:00:00Z'),
      new Date('2027-11-09T00:00:00Z'),
    );
    expect((weekly[0]!.endsAt.getTime() - weekly[0]!.startsAt.getTime()) / H).to.equal(7 * 24 + 1);
    const gap = occurrencesBetween(
      rotation({ start_date: '2027-03-14', handoff_time: '02:30' }),
      'America/New_York',
      new Date('2027-03-14T00:00:00Z'),
      new Date('2027-03-14T12:00:00Z'),
    );
    expect(gap[0]!.startsAt.toISOString()).to.equal('2027-03-14T07:30:00.000Z'); // 03:30 EDT
  });
});

describe('Catch-up when the service starts', () => {
  let receiver: SmtpReceiver;
  let app: TestApp;

  before(async () => {
    receiver = await startSmtpReceiver();
    app = await startTestApp();
  });
  after(async () => {
    await app.stop();
    await receiver.stop();
  });

  it('sends reminders that came due while it was down (marked late) and skips those of shifts that ended (skipped_reason shift_ended, logged)', async () => {
    const acct = await createAccount(app);
    const s = await app.call('POST', '/v1/oncall/schedules', { token: acct.ownerToken, body: { name: 'Restart', timezone: 'Europe/Berlin' } });
    const u = await createUser(app, acct.ownerToken, { oncall_remind_minutes: 30, email: 'catchup@example.org' });
    const now = Date.now();
    const due = await app.call('POST', `/v1/oncall/schedules/${s.body.id}/shifts`, {
      token: acct.ownerToken,
      body: { user_id: u.id, starts_at: iso(now + 5 * MIN), ends_at: iso(now + H) },
    });
    const ended = await app.call('POST', `/v1/oncall/schedules/${s.body.id}/shifts`, {
      token: acct.ownerToken,
      body: { user_id: u.id, starts_at: iso(now - 3 * H), ends_at: iso(now - 2 * H) },
    });
    const future = await app.call('POST', `/v1/oncall/schedules/${s.body.id}/shifts`, {
      token: acct.ownerToken,
      body: { user_id: u.id, starts_at: iso(now + 5 * H), ends_at: iso(now + 6 * H) },
    });
    const config = loadConfig({
      database: { url: app.config.database.url },
      secrets: { masterKey: crypto.randomBytes(32).toString('base64') },
      smtp: { url: receiver.url },
      jobs: { enabled: true },
      http: { host: '127.0.0.1', port: 0 },
    });
    const server = await serve(config);
    try {
      await receiver.waitFor(1);
      const OncallShift = app.services.db.models.OncallShift;
      let endedRow = await OncallShift.findByPk(ended.body.id);
      for (let i = 0; i < 100 && !endedRow?.skipped_reason; i++) {
        await new Promise((r) => setTimeout(r, 20));
        endedRow = await OncallShift.findByPk(ended.body.id);
      }
      expect(endedRow!.skipped_reason).to.equal('shift_ended');
      const dueRow = await OncallShift.findByPk(due.body.id);
      expect(dueRow!.reminded_at).to.not.equal(null);
      expect(Boolean(dueRow!.late)).to.equal(true);
      expect((await OncallShift.findByPk(future.body.id))!.reminded_at).to.equal(null);
      expect(receiver.messages.map((m) => m.to[0])).to.deep.equal(['catchup@example.org']);
    } finally {
      await server.stop();
    }
  });
});
