import type { Sequelize } from 'sequelize';
import type { Models } from '../db/models/index.js';
import { ForbiddenError } from '../errors.js';
import type { Actor } from '../http/actor.js';
import { isAdmin } from '../shared/policy.js';
import { decodeCursor, encodeCursor } from '../shared/pagination.js';
import { z } from 'zod';
import type { UsageRecorder } from './usage-recorder.js';
import { NO_USER, type UsageStore } from './usage-store.js';
import {
  PEAK_TYPE,
  USAGE_TYPES,
  accumulate,
  dayOf,
  daysOf,
  emptyTotals,
  monthOf,
  resolveRange,
  splitRange,
  toCsv,
  type DayRange,
  type UsageTotals,
} from './usage-rules.js';
import type { UsageAlerts } from './usage-alerts.js';

export type GroupBy = 'day' | 'user' | 'type';

export interface UsageQuery {
  since?: string | undefined;
  until?: string | undefined;
  group_by: GroupBy;
  user_id?: number | undefined;
  limit: number;
  cursor?: string | undefined;
}

export type UsageDayRow = { day: string } & UsageTotals;
export type UsageUserRow = { user_id: number | null; name: string | null; extension: string | null } & UsageTotals;
export interface UsageTypeRow {
  type: string;
  amount: number;
  /** How the type's daily amounts combine over the range: counters add up, the device peak keeps its highest day. */
  aggregation: 'sum' | 'max';
}

export interface UsageReport {
  since: string;
  until: string;
  group_by: GroupBy;
  user_id: number | null;
  data: Array<UsageDayRow | UsageUserRow | UsageTypeRow>;
  next_cursor: string | null;
}

const UserCursor = z.object({ u: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER) }).strict();
/** Users per page read when the CSV carries the whole list. */
const CSV_PAGE = 1000;

export interface UsageServiceDeps {
  sequelize: Sequelize;
  models: Models;
  store: UsageStore;
  recorder: UsageRecorder & { flush(): Promise<void>; stop(): Promise<void> };
  alerts: UsageAlerts;
  now: () => Date;
}

/**
 * GET /v1/usage and the work around it: the report (admins, the caller's
 * account only), the device-peak sampler and the flush hook that checks
 * the SMS threshold. Producers do not come here: they call the recorder.
 */
export class UsageService {
  constructor(private readonly d: UsageServiceDeps) {}

  get recorder(): UsageServiceDeps['recorder'] {
    return this.d.recorder;
  }

  /** Writes what this process holds, then checks the threshold for what it wrote (tests and shutdown). */
  flush(): Promise<void> {
    return this.d.recorder.flush();
  }

  async stop(): Promise<void> {
    await this.d.recorder.stop();
    await this.d.alerts.stop();
  }

  /** Retries alerts whose email failed (the periodic job). */
  runDueAlerts(): Promise<void> {
    return this.d.alerts.runDue();
  }

  /**
   * Samples live bindings per user and per account into
   * active_devices_peak. Every node may run it: the rows keep the maximum,
   * so a second sample of the same moment changes nothing.
   */
  async sampleDevices(): Promise<void> {
    const now = this.d.now();
    await this.d.store.raiseDevicePeaks(now, dayOf(now));
  }

  async report(actor: Actor, q: UsageQuery): Promise<UsageReport> {
    if (!isAdmin(actor)) throw new ForbiddenError('admin_required', 'Only the owner or an admin can read usage');
    const range = resolveRange(q, this.d.now());
    const base = { since: range.since, until: range.until, group_by: q.group_by, user_id: q.user_id ?? null };
    // A cursor is checked whatever the grouping: a bad one is a 400 everywhere, as on every list.
    const after = q.cursor ? decodeCursor(q.cursor, UserCursor).u : -1;
    if (q.group_by === 'user') {
      const page = await this.userPage(actor.accountId, range, after, q.limit, q.user_id);
      return { ...base, data: page.rows, next_cursor: page.last === null ? null : encodeCursor({ u: page.last }) };
    }
    const rows =
      q.user_id !== undefined ? await this.d.store.userDays(actor.accountId, q.user_id, range) : await this.d.store.accountDays(actor.accountId, range);
    if (q.group_by === 'day') {
      const byDay = new Map(daysOf(range).map((day) => [day, emptyTotals()]));
      for (const r of rows) {
        const t = byDay.get(r.day);
        if (t) accumulate(t, r.type, r.amount);
      }
      return { ...base, data: [...byDay].map(([day, t]) => ({ day, ...t })), next_cursor: null };
    }
    const totals = emptyTotals();
    for (const r of rows) accumulate(totals, r.type, r.amount);
    return {
      ...base,
      data: USAGE_TYPES.map((type) => ({ type, amount: totals[type], aggregation: type === PEAK_TYPE ? ('max' as const) : ('sum' as const) })),
      next_cursor: null,
    };
  }

  /** The same report as CSV: every row (group_by=user: every user, not one page). */
  async csv(actor: Actor, q: UsageQuery): Promise<{ filename: string; text: string }> {
    let rows: UsageReport['data'] = [];
    let first: UsageReport | undefined;
    if (q.group_by === 'user') {
      let cursor = q.cursor;
      for (;;) {
        const page = await this.report(actor, { ...q, limit: CSV_PAGE, cursor });
        first ??= page;
        rows = rows.concat(page.data);
        if (!page.next_cursor) break;
        cursor = page.next_cursor;
      }
    } else {
      first = await this.report(actor, q);
      rows = first.data;
    }
    const filename = `usage-${first.group_by}-${first.since}-to-${first.until}.csv`;
    if (q.group_by === 'type') {
      return {
        filename,
        text: toCsv(
          ['type', 'amount', 'aggregation'],
          (rows as UsageTypeRow[]).map((r) => [r.type, r.amount, r.aggregation]),
        ),
      };
    }
    const lead = q.group_by === 'day' ? ['day'] : ['user_id', 'name', 'extension'];
    const text = toCsv(
      [...lead, ...USAGE_TYPES],
      rows.map((r) => [...lead.map((k) => (r as unknown as Record<string, unknown>)[k]), ...USAGE_TYPES.map((t) => (r as UsageTotals)[t])]),
    );
    return { filename, text };
  }

  /**
   * One page of users with usage in the range, in id order (the row of no
   * user first, as user_id null). Whole months come from the monthly rows
   * and the partial months at the ends from the daily rows, so a year costs
   * 12 rows per user and type plus at most two short day ranges. A user
   * whose only rows in those months fall outside the range is left out,
   * so a page may hold fewer rows than the limit; next_cursor says if more follow.
   */
  private async userPage(
    accountId: number,
    range: DayRange,
    after: number,
    limit: number,
    onlyUser: number | undefined,
  ): Promise<{ rows: UsageUserRow[]; last: number | null }> {
    const parts = splitRange(range);
    const candidates =
      onlyUser !== undefined
        ? after < onlyUser
          ? [onlyUser]
          : []
        : await this.d.store.usersWithUsage(accountId, after, monthOf(range.since), monthOf(range.until), limit + 1);
    const more = candidates.length > limit;
    const ids = candidates.slice(0, limit);
    const amounts = await this.d.store.perUser(accountId, ids, USAGE_TYPES, parts.months, parts.dayRanges);
    const totals = new Map<number, UsageTotals>();
    for (const a of amounts) {
      let t = totals.get(a.user_id);
      if (!t) totals.set(a.user_id, (t = emptyTotals()));
      accumulate(t, a.type, a.type === PEAK_TYPE ? a.peak : a.total);
    }
    const userIds = ids.filter((id) => id !== NO_USER);
    const users = userIds.length
      ? await this.d.models.User.findAll({ where: { id: userIds, account_id: accountId }, attributes: ['id', 'name', 'extension'], raw: true })
      : [];
    const byId = new Map(users.map((u) => [Number(u.id), u]));
    const rows: UsageUserRow[] = [];
    for (const id of ids) {
      const t = totals.get(id);
      if (!t) continue;
      const u = byId.get(id);
      rows.push({ user_id: id === NO_USER ? null : id, name: u?.name ?? null, extension: u?.extension ?? null, ...t });
    }
    return { rows, last: more ? ids[ids.length - 1]! : null };
  }
}
