import { QueryTypes, Transaction, type Sequelize } from 'sequelize';
import { combine, PEAK_TYPE, monthOf, type DayRange } from './usage-rules.js';

/** One aggregated amount, ready to be added into its rows. userId null: no user (counters) or the account itself (the peak). */
export interface UsageEntry {
  accountId: number;
  userId: number | null;
  type: string;
  day: string;
  amount: number;
}

export interface StoredAmount {
  key: string;
  type: string;
  amount: number;
}

/** The row key of "no user" in usage_daily/usage_monthly (a NULL in a primary key would never conflict). */
export const NO_USER = 0;

const RETRYABLE = new Set(['ER_LOCK_DEADLOCK', 'ER_LOCK_WAIT_TIMEOUT', 'SQLITE_BUSY']);
/** Rows per INSERT: 5 parameters each, well under every driver's limit. */
const CHUNK = 150;

/**
 * Usage rows on SQLite and MySQL/MariaDB. A flush adds its amounts into
 * the daily, monthly and account rows in one transaction with upserts the
 * database applies to whatever the row holds at that moment (`amount +
 * new`, or the greater of the two for active_devices_peak), so any number
 * of processes can flush into the same rows at once and nothing is lost or
 * counted twice. Rows are written in key order, so two nodes' flushes take
 * row locks in the same order and do not deadlock each other; a conflict
 * that still happens (Galera certification) runs the whole flush again.
 */
export class UsageStore {
  constructor(
    private readonly sequelize: Sequelize,
    private readonly dialect: 'sqlite' | 'mysql',
  ) {}

  async add(entries: UsageEntry[]): Promise<void> {
    if (!entries.length) return;
    const daily = new Map<string, [number, number, string, string, number]>();
    const monthly = new Map<string, [number, number, string, string, number]>();
    const account = new Map<string, [number, string, string, number]>();
    const put = <T extends unknown[]>(m: Map<string, T>, key: string, row: T, type: string) => {
      const cur = m.get(key);
      const i = row.length - 1;
      if (cur) cur[i] = combine(type, cur[i] as number, row[i] as number);
      else m.set(key, row);
    };
    for (const e of entries) {
      const month = monthOf(e.day);
      // The account's own peak is a sample of all its devices: it goes to the account row only.
      if (!(e.type === PEAK_TYPE && e.userId === null)) {
        const u = e.userId ?? NO_USER;
        put(daily, `${e.accountId}|${u}|${e.type}|${e.day}`, [e.accountId, u, e.type, e.day, e.amount], e.type);
        put(monthly, `${e.accountId}|${u}|${e.type}|${month}`, [e.accountId, u, e.type, month, e.amount], e.type);
      }
      put(account, `${e.accountId}|${e.type}|${e.day}`, [e.accountId, e.type, e.day, e.amount], e.type);
    }
    const sorted = <T extends unknown[]>(m: Map<string, T>) => [...m.values()].sort(compareRows);
    await retry(() =>
      this.sequelize.transaction({ type: Transaction.TYPES.IMMEDIATE }, async (tx) => {
        await this.upsert(tx, 'usage_daily', ['account_id', 'user_id', 'type', 'day'], sorted(daily));
        await this.upsert(tx, 'usage_monthly', ['account_id', 'user_id', 'type', 'month'], sorted(monthly));
        await this.upsert(tx, 'usage_account_daily', ['account_id', 'type', 'day'], sorted(account));
      }),
    );
  }

  private async upsert(tx: Transaction, table: string, keys: string[], rows: unknown[][]): Promise<void> {
    const cols = [...keys, 'amount'].join(', ');
    const marks = `(${[...keys, 'amount'].map(() => '?').join(', ')})`;
    const peak = `'${PEAK_TYPE}'`;
    const onConflict =
      this.dialect === 'mysql'
        ? `ON DUPLICATE KEY UPDATE amount = IF(type = ${peak}, GREATEST(amount, VALUES(amount)), amount + VALUES(amount))`
        : `ON CONFLICT (${keys.join(', ')}) DO UPDATE SET amount = CASE WHEN ${table}.type = ${peak} THEN MAX(${table}.amount, excluded.amount) ELSE ${table}.amount + excluded.amount END`;
    for (let i = 0; i < rows.length; i += CHUNK) {
      const chunk = rows.slice(i, i + CHUNK);
      await this.sequelize.query(`INSERT INTO ${table} (${cols}) VALUES ${chunk.map(() => marks).join(', ')} ${onConflict}`, {
        replacements: chunk.flat(),
        transaction: tx,
        type: QueryTypes.RAW,
      });
    }
  }

  /**
   * Raises the day's and the month's active_devices_peak to the live
   * bindings counted now, per user and per account, where the count is
   * higher than the row holds. The database counts, compares and writes:
   * at 100,000 bindings, reading the counts into the process and writing
   * them back cost every node seconds of event-loop time a minute (and
   * held 100,000 keys in the usage buffer), while a node that finds the
   * peaks unchanged now writes no row at all. On MySQL the reads are
   * consistent reads (READ COMMITTED), so the REGISTERs that write
   * registrations meanwhile wait on no lock of this statement.
   */
  async raiseDevicePeaks(now: Date, day: string): Promise<void> {
    const month = monthOf(day);
    const raise = (table: string, keys: string[], period: string) => {
      const join = keys.map((k) => `d.${k} = c.${k}`).join(' AND ');
      const upsert =
        this.dialect === 'mysql'
          ? `ON DUPLICATE KEY UPDATE amount = GREATEST(${table}.amount, VALUES(amount))`
          : `ON CONFLICT (${[...keys, 'type', period].join(', ')}) DO UPDATE SET amount = MAX(${table}.amount, excluded.amount)`;
      return `INSERT INTO ${table} (${keys.join(', ')}, type, ${period}, amount)
        SELECT ${keys.map((k) => `c.${k}`).join(', ')}, :type, :${period}, c.n
        FROM (SELECT ${keys.join(', ')}, COUNT(*) AS n FROM registrations WHERE expires_at > :now GROUP BY ${keys.join(', ')}) c
        LEFT JOIN ${table} d ON ${join} AND d.type = :type AND d.${period} = :${period}
        WHERE d.amount IS NULL OR d.amount < c.n
        ${upsert}`;
    };
    const statements = [
      raise('usage_daily', ['account_id', 'user_id'], 'day'),
      raise('usage_monthly', ['account_id', 'user_id'], 'month'),
      raise('usage_account_daily', ['account_id'], 'day'),
    ];
    const replacements = { now, day, month, type: PEAK_TYPE };
    await retry(() =>
      this.sequelize.transaction(
        this.dialect === 'mysql' ? { isolationLevel: Transaction.ISOLATION_LEVELS.READ_COMMITTED } : { type: Transaction.TYPES.IMMEDIATE },
        async (tx) => {
          for (const sql of statements) await this.sequelize.query(sql, { replacements, transaction: tx, type: QueryTypes.RAW });
        },
      ),
    );
  }

  /** The account's rows per day and type (its totals; the peak is the account's own). */
  accountDays(accountId: number, r: DayRange): Promise<Array<{ day: string; type: string; amount: number }>> {
    return this.select('SELECT day, type, amount FROM usage_account_daily WHERE account_id = ? AND day BETWEEN ? AND ?', [accountId, r.since, r.until]);
  }

  /** One user's rows per day and type (userId NO_USER: usage of no user). */
  userDays(accountId: number, userId: number, r: DayRange): Promise<Array<{ day: string; type: string; amount: number }>> {
    return this.select('SELECT day, type, amount FROM usage_daily WHERE account_id = ? AND user_id = ? AND day BETWEEN ? AND ?', [
      accountId,
      userId,
      r.since,
      r.until,
    ]);
  }

  /** The next users (in id order, after `afterUserId`) with any usage row in the given months. */
  async usersWithUsage(accountId: number, afterUserId: number, firstMonth: string, lastMonth: string, limit: number): Promise<number[]> {
    const rows = await this.select<{ user_id: number }>(
      'SELECT DISTINCT user_id FROM usage_monthly WHERE account_id = ? AND user_id > ? AND month BETWEEN ? AND ? ORDER BY user_id LIMIT ?',
      [accountId, afterUserId, firstMonth, lastMonth, limit],
    );
    return rows.map((r) => Number(r.user_id));
  }

  /**
   * Sum and maximum per user and type over whole months (monthly rows) and
   * day ranges (daily rows). The user ids and types go in as IN lists, so
   * both databases seek the primary key (account, user, type, period) per
   * pair instead of scanning every period of every user in between.
   */
  async perUser(
    accountId: number,
    userIds: number[],
    types: readonly string[],
    months: string[],
    dayRanges: DayRange[],
  ): Promise<Array<{ user_id: number; type: string; total: number; peak: number }>> {
    if (!userIds.length) return [];
    const inUsers = userIds.map(() => '?').join(', ');
    const inTypes = types.map(() => '?').join(', ');
    const out: Array<{ user_id: number; type: string; total: number; peak: number }> = [];
    const run = async (sql: string, params: unknown[]) => {
      for (const r of await this.select<{ user_id: number; type: string; total: number; peak: number }>(sql, params)) {
        out.push({ user_id: Number(r.user_id), type: r.type, total: Number(r.total), peak: Number(r.peak) });
      }
    };
    if (months.length) {
      await run(
        `SELECT user_id, type, SUM(amount) AS total, MAX(amount) AS peak FROM usage_monthly WHERE account_id = ? AND user_id IN (${inUsers}) AND type IN (${inTypes}) AND month IN (${months.map(() => '?').join(', ')}) GROUP BY user_id, type`,
        [accountId, ...userIds, ...types, ...months],
      );
    }
    for (const r of dayRanges) {
      await run(
        `SELECT user_id, type, SUM(amount) AS total, MAX(amount) AS peak FROM usage_daily WHERE account_id = ? AND user_id IN (${inUsers}) AND type IN (${inTypes}) AND day BETWEEN ? AND ? GROUP BY user_id, type`,
        [accountId, ...userIds, ...types, r.since, r.until],
      );
    }
    return out;
  }

  /** The account's total of the given counter types over a day range (the threshold's measure). */
  async accountTotal(accountId: number, types: readonly string[], r: DayRange): Promise<number> {
    const [row] = await this.select<{ total: number | null }>(
      `SELECT SUM(amount) AS total FROM usage_account_daily WHERE account_id = ? AND type IN (${types.map(() => '?').join(', ')}) AND day BETWEEN ? AND ?`,
      [accountId, ...types, r.since, r.until],
    );
    return Number(row?.total ?? 0);
  }

  private async select<T = { day: string; type: string; amount: number }>(sql: string, params: unknown[]): Promise<T[]> {
    const rows = await this.sequelize.query<Record<string, unknown>>(sql, { replacements: params, type: QueryTypes.SELECT });
    return rows.map((r) => ('amount' in r ? { ...r, amount: Number(r.amount) } : r)) as T[];
  }
}

function compareRows(a: unknown[], b: unknown[]): number {
  for (let i = 0; i < a.length - 1; i++) {
    const x = a[i] as string | number;
    const y = b[i] as string | number;
    if (x < y) return -1;
    if (x > y) return 1;
  }
  return 0;
}

/** A flush that lost a conflict runs again whole (bounded, jittered, so two nodes do not collide in lockstep). */
async function retry<T>(step: () => Promise<T>, attempts = 6): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await step();
    } catch (err) {
      const e = err as { parent?: { code?: string }; original?: { code?: string }; code?: string };
      const code = e.parent?.code ?? e.original?.code ?? e.code;
      if (!code || !RETRYABLE.has(code) || attempt >= attempts) throw err;
      await new Promise((r) => setTimeout(r, Math.random() * Math.min(200, 5 * 2 ** attempt)));
    }
  }
}
