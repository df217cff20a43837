import crypto from 'node:crypto';
import os from 'node:os';
import { Op, type Sequelize } from 'sequelize';
import type { AppConfig } from '../config.js';
import { retryConflicts } from '../db/conflict-retry.js';
import type { Models, OncallSchedule, OncallShift, User } from '../db/models/index.js';
import type { AuditLog } from '../audit/audit-log.js';
import { systemActor } from '../http/actor.js';
import type { Logger } from '../logger.js';
import type { OncallService } from '../oncall/oncall-service.js';
import { remindAt, retryDelaySeconds } from '../oncall/reminder-timing.js';
import type { Services } from '../services.js';
import type { WebhookOutbox } from '../webhooks/webhook-outbox.js';
import { fromDomain, smtpMailSender, type MailSender } from './mail-sender.js';
import { reminderEmail } from './reminder-email.js';

export type ReminderSettings = AppConfig['jobs']['oncallReminders'];

export interface OncallReminderJobDeps {
  sequelize: Sequelize;
  models: Models;
  audit: AuditLog;
  logger: Logger;
  oncall: OncallService;
  mailer: MailSender;
  /** oncall.reminder_sent is queued in the transaction that records the reminder. */
  outbox: WebhookOutbox;
  mailDomain: string;
  settings: ReminderSettings;
  /** Injected so tests control the clock. */
  now: () => Date;
  /** Names this process in claims (host:pid:random); must differ between processes. */
  workerId?: string;
}

export interface TickResult {
  due: number;
  claimed: number;
  sent: number;
  late: number;
  failed: number;
  skipped: number;
  rescheduled: number;
  rotationShiftsCreated: number;
  ms: number;
}

type Outcome =
  | { kind: 'sent'; shift: OncallShift; to: string; messageId: string; late: boolean }
  | { kind: 'failed'; shift: OncallShift; error: string }
  | { kind: 'skipped'; shift: OncallShift; reason: 'shift_ended' | 'too_late' | 'no_email' | 'user_missing' }
  | { kind: 'rescheduled'; shift: OncallShift; remindAt: Date };

/**
 * Sends each due OnCall reminder exactly once, across any number of
 * processes sharing the database.
 *
 * - Claim: one UPDATE … SET claimed_by=<this tick's unique token>,
 *   claim_expires_at=next_attempt_at=now+lease WHERE id IN (due ids) AND
 *   next_attempt_at <= now AND reminded_at IS NULL AND (claimed_by IS NULL OR
 *   claim_expires_at < now), then read back which rows carry the token. The
 *   database serialises the UPDATEs row by row (InnoDB row locks re-check the
 *   WHERE on the latest version; SQLite has one writer), so a row goes to
 *   exactly one process. It is the per-row "UPDATE … WHERE id=? … / check
 *   affected rows" in two statements per batch instead of one per reminder.
 * - Crash between claim and send: the lease expires, next_attempt_at (set to
 *   the lease end) comes due, and the next tick anywhere claims it again.
 *   The one window left is a crash after the SMTP server accepted the message
 *   and before the result is written: that reminder is sent again, with the
 *   same Message-ID so the receiving side can drop the duplicate. No
 *   database+SMTP system can close that window without a two-phase SMTP.
 * - SMTP failure: attempts+1, retried after exponential backoff; when it
 *   finally goes out after remind_at + grace it is marked late; once the
 *   shift has ended it is skipped (and logged) instead.
 * - Reschedule/cancel: the API moves remind_at/next_attempt_at or deletes the
 *   row; the result is written only WHERE claimed_by = token AND remind_at is
 *   still the one this tick saw, so a concurrent change is never overwritten.
 */
export class OncallReminderJob {
  private readonly workerId: string;
  private tick = 0;

  constructor(private readonly d: OncallReminderJobDeps) {
    this.workerId = d.workerId ?? `${os.hostname().slice(0, 30)}:${process.pid}:${crypto.randomBytes(3).toString('hex')}`;
  }

  async runOnce(): Promise<TickResult> {
    const started = performance.now();
    const now = this.d.now();
    const result: TickResult = { due: 0, claimed: 0, sent: 0, late: 0, failed: 0, skipped: 0, rescheduled: 0, rotationShiftsCreated: 0, ms: 0 };
    result.rotationShiftsCreated = await this.d.oncall.materialiseDueRotations(now);
    const { batchSize } = this.d.settings;
    // Batches until nothing is due; a bounded number so one tick cannot run forever.
    for (let batch = 0; batch < 20; batch++) {
      const due = await this.d.models.OncallShift.findAll({
        where: { next_attempt_at: { [Op.lte]: now } },
        attributes: ['id'],
        order: [['next_attempt_at', 'ASC']],
        limit: batchSize,
      });
      result.due += due.length;
      if (!due.length) break;
      const claimed = await this.claim(
        due.map((s) => s.id),
        now,
      );
      result.claimed += claimed.length;
      await this.deliver(claimed, now, result);
      if (due.length < batchSize) break;
    }
    result.ms = Math.round((performance.now() - started) * 10) / 10;
    if (result.claimed || result.rotationShiftsCreated) this.d.logger.info({ job: 'oncall-reminders', ...result }, 'oncall reminder tick');
    return result;
  }

  close(): void {
    this.d.mailer.close();
  }

  private async claim(ids: number[], now: Date): Promise<OncallShift[]> {
    this.tick += 1;
    const token = `${this.workerId}:${this.tick}`;
    const leaseEnd = new Date(now.getTime() + this.d.settings.leaseSeconds * 1000);
    const claimed: OncallShift[] = [];
    for (let i = 0; i < ids.length; i += 500) {
      const chunk = ids.slice(i, i + 500);
      // Holds on a multi-primary (Galera) cluster too: two nodes' claims of one shift write the same row, so
      // certification lets only the first commit; the other fails (ER_LOCK_DEADLOCK, or the server re-runs the
      // autocommit UPDATE, which then matches nothing). No lock is involved, so none has to cross nodes. The loser
      // runs the UPDATE again: it now matches only the shifts the winner did not take.
      const [affected] = await retryConflicts(() =>
        this.d.models.OncallShift.update(
          { claimed_by: token, claim_expires_at: leaseEnd, next_attempt_at: leaseEnd },
          {
            where: {
              id: chunk,
              next_attempt_at: { [Op.lte]: now },
              reminded_at: null,
              [Op.or]: [{ claimed_by: null }, { claim_expires_at: { [Op.lt]: now } }],
            },
          },
        ),
      );
      if (affected > 0) claimed.push(...(await this.d.models.OncallShift.findAll({ where: { id: chunk, claimed_by: token } })));
    }
    return claimed;
  }

  private async deliver(shifts: OncallShift[], now: Date, result: TickResult): Promise<void> {
    if (!shifts.length) return;
    const [users, schedules] = await Promise.all([
      this.d.models.User.findAll({
        where: { id: [...new Set(shifts.map((s) => s.user_id))] },
        attributes: ['id', 'name', 'email', 'notification_email', 'oncall_remind_email', 'oncall_remind_minutes'],
      }),
      this.d.models.OncallSchedule.findAll({ where: { id: [...new Set(shifts.map((s) => s.schedule_id))] } }),
    ]);
    const userById = new Map(users.map((u) => [u.id, u]));
    const scheduleById = new Map(schedules.map((s) => [s.id, s]));
    const { concurrency } = this.d.settings;
    for (let i = 0; i < shifts.length; i += concurrency) {
      const chunk = shifts.slice(i, i + concurrency);
      const outcomes = await Promise.all(chunk.map((s) => this.attempt(s, userById.get(s.user_id), scheduleById.get(s.schedule_id), now)));
      await this.record(outcomes, now, result);
    }
  }

  private async attempt(shift: OncallShift, user: User | undefined, schedule: OncallSchedule | undefined, now: Date): Promise<Outcome> {
    if (!user || !schedule) return { kind: 'skipped', shift, reason: 'user_missing' };
    if (new Date(shift.ends_at).getTime() <= now.getTime()) return { kind: 'skipped', shift, reason: 'shift_ended' };
    // "Your shift starts in 15 minutes" hours after it started helps no one and
    // reads as a new alert; past the cut-off the reminder is dropped (and logged).
    if (now.getTime() > new Date(shift.starts_at).getTime() + this.d.settings.maxLateMinutes * 60_000) return { kind: 'skipped', shift, reason: 'too_late' };
    // The user may have changed oncall_remind_minutes after this row was armed
    // (the API re-arms at once; this re-check covers writes that bypass it).
    const expected = remindAt(new Date(shift.starts_at), user.oncall_remind_minutes);
    if (expected.getTime() !== new Date(shift.remind_at).getTime() && expected.getTime() > now.getTime()) {
      return { kind: 'rescheduled', shift, remindAt: expected };
    }
    const to = user.oncall_remind_email ?? user.notification_email ?? user.email;
    if (!to) return { kind: 'skipped', shift, reason: 'no_email' };
    const mail = reminderEmail({
      userName: user.name,
      scheduleName: schedule.name,
      timeZone: schedule.timezone,
      startsAt: new Date(shift.starts_at),
      endsAt: new Date(shift.ends_at),
      note: shift.note,
      remindMinutes: user.oncall_remind_minutes,
    });
    try {
      const sent = await this.d.mailer.send({
        to,
        ...mail,
        messageId: `<oncall-shift-${shift.id}-${new Date(shift.remind_at).getTime()}@${this.d.mailDomain}>`,
      });
      const sentAt = this.d.now();
      const late = sentAt.getTime() > new Date(shift.remind_at).getTime() + this.d.settings.lateGraceSeconds * 1000;
      return { kind: 'sent', shift, to, messageId: sent.messageId, late };
    } catch (err) {
      // SMTP errors carry server replies and addresses, never our credentials.
      return { kind: 'failed', shift, error: String((err as Error).message ?? err).slice(0, 280) };
    }
  }

  /** Writes a chunk's results in one transaction (one commit per chunk, not per email). */
  private async record(outcomes: Outcome[], now: Date, result: TickResult): Promise<void> {
    const { models, audit, logger } = this.d;
    await this.d.sequelize.transaction(async (tx) => {
      for (const o of outcomes) {
        const s = o.shift;
        // Only if we still hold the claim and nobody moved the reminder meanwhile.
        const mine = { id: s.id, claimed_by: s.claimed_by, remind_at: s.remind_at };
        const actor = systemActor(s.account_id);
        if (o.kind === 'sent') {
          const reminded = this.d.now();
          const [n] = await models.OncallShift.update(
            {
              reminded_at: reminded,
              message_id: o.messageId.slice(0, 255),
              late: o.late,
              attempts: s.attempts + 1,
              last_error: null,
              next_attempt_at: null,
              claimed_by: null,
              claim_expires_at: null,
            },
            { where: mine, transaction: tx },
          );
          if (n === 0) {
            logger.warn({ shiftId: s.id }, 'shift changed while its reminder was being sent; the new reminder time stands');
            await models.OncallShift.update({ claimed_by: null, claim_expires_at: null }, { where: { id: s.id, claimed_by: s.claimed_by }, transaction: tx });
          }
          const sent = {
            to: o.to,
            message_id: o.messageId,
            late: o.late,
            attempts: s.attempts + 1,
            remind_at: new Date(s.remind_at).toISOString(),
            reminded_at: reminded.toISOString(),
          };
          await audit.record(tx, actor, { action: 'oncall_shift.reminder_sent', targetType: 'oncall_shift', targetId: s.id, after: sent });
          // Same transaction as the shift's reminded_at: one event per recorded reminder, none for a rolled-back one.
          if (n > 0) {
            await this.d.outbox.enqueue(tx, s.account_id, 'oncall.reminder_sent', {
              shift_id: s.id,
              schedule_id: s.schedule_id,
              user_id: s.user_id,
              starts_at: new Date(s.starts_at).toISOString(),
              ends_at: new Date(s.ends_at).toISOString(),
              ...sent,
            });
          }
          result.sent += 1;
          if (o.late) result.late += 1;
        } else if (o.kind === 'failed') {
          const attempts = s.attempts + 1;
          const retryAt = new Date(now.getTime() + retryDelaySeconds(attempts, this.d.settings.retryBaseSeconds, this.d.settings.retryMaxSeconds) * 1000);
          await models.OncallShift.update(
            { attempts, last_error: o.error, next_attempt_at: retryAt, claimed_by: null, claim_expires_at: null },
            { where: mine, transaction: tx },
          );
          logger.warn({ shiftId: s.id, attempts, retryAt: retryAt.toISOString(), error: o.error }, 'oncall reminder not sent; will retry');
          result.failed += 1;
        } else if (o.kind === 'skipped') {
          await models.OncallShift.update(
            { skipped_reason: o.reason, next_attempt_at: null, claimed_by: null, claim_expires_at: null },
            { where: mine, transaction: tx },
          );
          logger.info(
            { shiftId: s.id, userId: s.user_id, scheduleId: s.schedule_id, reason: o.reason, endsAt: new Date(s.ends_at).toISOString() },
            'oncall reminder skipped',
          );
          await audit.record(tx, actor, { action: 'oncall_shift.reminder_skipped', targetType: 'oncall_shift', targetId: s.id, after: { reason: o.reason } });
          result.skipped += 1;
        } else {
          await models.OncallShift.update(
            { remind_at: o.remindAt, next_attempt_at: o.remindAt, claimed_by: null, claim_expires_at: null },
            { where: mine, transaction: tx },
          );
          result.rescheduled += 1;
        }
      }
    });
  }
}

/** The job as `serve` and the CLI run it: SMTP from config, the real clock. */
export function createOncallReminderJob(
  services: Services,
  opts: { now?: () => Date; mailer?: MailSender; settings?: Partial<ReminderSettings> } = {},
): OncallReminderJob {
  const { config } = services;
  const settings = { ...config.jobs.oncallReminders, ...opts.settings };
  return new OncallReminderJob({
    sequelize: services.db.sequelize,
    models: services.db.models,
    audit: services.audit,
    logger: services.logger,
    oncall: services.oncall,
    mailer: opts.mailer ?? smtpMailSender(config.smtp, settings.concurrency),
    outbox: services.webhookOutbox,
    mailDomain: fromDomain(config.smtp.from),
    settings,
    now: opts.now ?? (() => new Date()),
  });
}
