import crypto from 'node:crypto';
import os from 'node:os';
import { QueryTypes, type Sequelize } from 'sequelize';
import type { AuditLog } from '../audit/audit-log.js';
import { systemActor } from '../http/actor.js';
import type { MailSender } from '../jobs/mail-sender.js';
import type { Logger } from '../logger.js';
import type { UsageEntry, UsageStore } from './usage-store.js';
import { THRESHOLD_TYPES, firstOfMonth, lastOfMonth, monthOf, smsThresholdFor } from './usage-rules.js';

export const SMS_THRESHOLD_ALERT = 'sms_monthly_threshold';

export interface UsageAlertSettings {
  /** SMS messages (in + out) per account and UTC month that trigger the email, where the account sets none (accounts.sms_monthly_threshold); 0 = off. */
  smsMonthlyThreshold: number;
  leaseSeconds: number;
  retrySeconds: number;
  maxAttempts: number;
}

export interface UsageAlertDeps {
  sequelize: Sequelize;
  store: UsageStore;
  audit: AuditLog;
  mail: MailSender;
  mailDomain: string;
  publicUrl: string;
  settings: UsageAlertSettings;
  logger: Logger;
  now: () => Date;
}

interface AlertRow {
  account_id: number;
  kind: string;
  period: string;
  threshold: number;
  total: number;
  attempts: number;
}

/**
 * The monthly SMS threshold email to an account's billing contacts, once
 * per account and month across every node:
 *
 * - After each flush, a node that wrote SMS amounts reads the account's
 *   month total (the account rows: at most 31 days × 2 types). At or past
 *   the threshold it inserts the alert row for (account, kind, month); the
 *   primary key lets one such row exist, whichever node inserts first.
 * - Sending needs the claim: one conditional UPDATE sets this attempt's
 *   token where the row is unsent and unclaimed (or its lease ran out).
 *   The database applies the UPDATEs one after the other, so one token
 *   wins; the result is written only where that token still holds.
 * - SMTP down: the claim is released with next_attempt_at later, and the
 *   next flush or the periodic retry sends it. A crash after the SMTP
 *   server accepted the message and before sent_at was written is the one
 *   case that sends it twice, with the same Message-ID.
 */
export class UsageAlerts {
  private readonly workerId = `${os.hostname()}:${process.pid}:${crypto.randomBytes(4).toString('hex')}`;
  private running: Promise<void> | undefined;

  constructor(private readonly d: UsageAlertDeps) {}

  /** Accounts and months a flush wrote SMS amounts for: create the alert row where the threshold is reached, then send what is due. */
  async check(periods: Array<{ accountId: number; month: string }>): Promise<void> {
    if (!periods.length) return;
    const thresholds = await this.thresholds([...new Set(periods.map((p) => p.accountId))]);
    for (const { accountId, month } of periods) {
      const threshold = thresholds.get(accountId) ?? 0;
      if (threshold <= 0) continue;
      const day = `${month}-01`;
      const total = await this.d.store.accountTotal(accountId, THRESHOLD_TYPES, { since: firstOfMonth(day), until: lastOfMonth(day) });
      if (total < threshold) continue;
      const now = this.d.now();
      const ignore = this.d.sequelize.getDialect() === 'mysql' ? 'INSERT IGNORE' : 'INSERT OR IGNORE';
      await this.d.sequelize.query(
        `${ignore} INTO usage_alerts (account_id, kind, period, threshold, total, attempts, next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, 0, ?, ?)`,
        { replacements: [accountId, SMS_THRESHOLD_ALERT, month, threshold, total, now, now], type: QueryTypes.INSERT },
      );
    }
    await this.runDue();
  }

  /** The recorder's flush listener: which (account, month) pairs got SMS amounts, for the threshold check. */
  checkFlushed(entries: UsageEntry[]): Promise<void> {
    const seen = new Map<string, { accountId: number; month: string }>();
    for (const e of entries)
      if (THRESHOLD_TYPES.includes(e.type as never)) seen.set(`${e.accountId}|${monthOf(e.day)}`, { accountId: e.accountId, month: monthOf(e.day) });
    return this.check([...seen.values()]);
  }

  /** At shutdown, after the recorder's last flush: sends what that flush made due, then closes the mail connection. */
  async stop(): Promise<void> {
    await this.runDue().catch(() => undefined);
    this.close();
  }

  close(): void {
    this.d.mail.close();
  }

  /** Each account's threshold: its own, else the configured one (an account gone since has none). */
  private async thresholds(accountIds: number[]): Promise<Map<number, number>> {
    const rows = await this.d.sequelize.query<{ id: number; sms_monthly_threshold: number | null }>(
      'SELECT id, sms_monthly_threshold FROM accounts WHERE id IN (?)',
      { replacements: [accountIds], type: QueryTypes.SELECT },
    );
    return new Map(
      rows.map((r) => [
        Number(r.id),
        smsThresholdFor(r.sms_monthly_threshold === null ? null : Number(r.sms_monthly_threshold), this.d.settings.smsMonthlyThreshold),
      ]),
    );
  }

  /** Sends every due, unsent alert this node can claim (one run at a time per process). */
  runDue(): Promise<void> {
    this.running ??= this.sendDue().finally(() => (this.running = undefined));
    return this.running;
  }

  private async sendDue(): Promise<void> {
    const now = this.d.now();
    const due = await this.d.sequelize.query<AlertRow>(
      'SELECT account_id, kind, period, threshold, total, attempts FROM usage_alerts WHERE sent_at IS NULL AND next_attempt_at <= ? AND attempts < ? ORDER BY next_attempt_at LIMIT 100',
      { replacements: [now, this.d.settings.maxAttempts], type: QueryTypes.SELECT },
    );
    for (const row of due) await this.sendOne(row);
  }

  private async sendOne(row: AlertRow): Promise<void> {
    const s = this.d.settings;
    const now = this.d.now();
    const token = `${this.workerId}:${crypto.randomBytes(6).toString('hex')}`;
    const lease = new Date(now.getTime() + s.leaseSeconds * 1000);
    const where = 'account_id = ? AND kind = ? AND period = ?';
    const key = [row.account_id, row.kind, row.period];
    await this.d.sequelize.query(
      `UPDATE usage_alerts SET claimed_by = ?, claim_expires_at = ?, next_attempt_at = ?, attempts = attempts + 1 WHERE ${where} AND sent_at IS NULL AND next_attempt_at <= ? AND (claimed_by IS NULL OR claim_expires_at < ?)`,
      { replacements: [token, lease, lease, ...key, now, now], type: QueryTypes.UPDATE },
    );
    const [mine] = await this.d.sequelize.query<{ n: number }>(`SELECT COUNT(*) AS n FROM usage_alerts WHERE ${where} AND claimed_by = ?`, {
      replacements: [...key, token],
      type: QueryTypes.SELECT,
    });
    if (!Number(mine?.n)) return;

    const account = await this.account(row.account_id);
    const recipients = account ? await this.recipients(row.account_id) : [];
    if (!account || !recipients.length) {
      await this.release(key, token, 'no billing contact, owner or email to send to', s.retrySeconds * 12);
      return;
    }
    const total = await this.d.store.accountTotal(row.account_id, THRESHOLD_TYPES, {
      since: `${row.period}-01`,
      until: lastOfMonth(`${row.period}-01`),
    });
    const messageId = `<usage-${row.account_id}-${row.period}-${row.kind}@${this.d.mailDomain}>`;
    const url = `${this.d.publicUrl.replace(/\/$/, '')}/settings/usage`;
    try {
      await this.d.mail.send({
        to: recipients.join(', '),
        subject: `${account.name}: ${total.toLocaleString('en-US')} SMS in ${row.period}, past the threshold of ${Number(row.threshold).toLocaleString('en-US')}`,
        text: [
          `The workspace ${account.name} has sent and received ${total.toLocaleString('en-US')} SMS messages in ${row.period} (UTC),`,
          `which passes the monthly threshold of ${Number(row.threshold).toLocaleString('en-US')} set for it.`,
          '',
          `See usage by day, type and user: ${url}`,
          '',
          'You receive this email because you are a billing contact of the workspace. It is sent once per month.',
        ].join('\n'),
        messageId,
      });
    } catch (err) {
      const message = (err as Error).message.slice(0, 400);
      this.d.logger.warn({ err: { message }, accountId: row.account_id, period: row.period }, 'usage threshold email not sent; retrying later');
      await this.release(key, token, message, s.retrySeconds);
      return;
    }
    await this.d.sequelize.transaction(async (tx) => {
      const sentAt = this.d.now();
      await this.d.sequelize.query(
        `UPDATE usage_alerts SET sent_at = ?, message_id = ?, recipients = ?, total = ?, claimed_by = NULL, claim_expires_at = NULL, last_error = NULL WHERE ${where} AND claimed_by = ?`,
        { replacements: [sentAt, messageId, recipients.join(', '), total, ...key, token], type: QueryTypes.UPDATE, transaction: tx },
      );
      await this.d.audit.record(tx, systemActor(row.account_id), {
        action: 'usage.threshold_alert_sent',
        targetType: 'account',
        targetId: row.account_id,
        after: { kind: row.kind, period: row.period, threshold: Number(row.threshold), total, recipients, message_id: messageId },
      });
    });
    this.d.logger.info({ accountId: row.account_id, period: row.period, total, recipients: recipients.length }, 'usage threshold email sent');
  }

  private async release(key: unknown[], token: string, error: string, retrySeconds: number): Promise<void> {
    const next = new Date(this.d.now().getTime() + retrySeconds * 1000);
    await this.d.sequelize.query(
      'UPDATE usage_alerts SET claimed_by = NULL, claim_expires_at = NULL, next_attempt_at = ?, last_error = ? WHERE account_id = ? AND kind = ? AND period = ? AND claimed_by = ?',
      { replacements: [next, error, ...key, token], type: QueryTypes.UPDATE },
    );
  }

  private async account(accountId: number): Promise<{ name: string } | undefined> {
    const [a] = await this.d.sequelize.query<{ name: string }>('SELECT name FROM accounts WHERE id = ?', {
      replacements: [accountId],
      type: QueryTypes.SELECT,
    });
    return a;
  }

  /** Seed 001: billing notifications go to the users flagged billing_contact; none flagged (or none with an email): the owner. */
  private async recipients(accountId: number): Promise<string[]> {
    const rows = await this.d.sequelize.query<{ email: string | null; notification_email: string | null; billing_contact: unknown; role: string }>(
      "SELECT email, notification_email, billing_contact, role FROM users WHERE account_id = ? AND status = 'active' AND (billing_contact = ? OR role = 'owner') ORDER BY id",
      { replacements: [accountId, true], type: QueryTypes.SELECT },
    );
    const address = (r: { email: string | null; notification_email: string | null }) => r.email || r.notification_email;
    const flagged = rows.filter((r) => Boolean(Number(r.billing_contact)) && address(r)).map((r) => address(r)!);
    if (flagged.length) return [...new Set(flagged)];
    return rows
      .filter((r) => r.role === 'owner' && address(r))
      .map((r) => address(r)!)
      .slice(0, 1);
  }
}
