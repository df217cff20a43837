import { QueryTypes, type Sequelize } from 'sequelize';
import { retryConflicts } from '../db/conflict-retry.js';
import { FAILURE_COUNTER_TABLE, MemoryFailureStore, type FailureRule, type FailureState, type FailureStore } from './failure-store.js';

const NOT_BLOCKED: FailureState = { count: 0, blockedMs: 0, started: false };

export interface MySqlFailureStoreOptions {
  now?: () => number;
  /** Attempts per failure when another node's write to the same key wins (first included). */
  attempts?: number;
  /** Called on each conflict retry and when the last attempt lost too (metrics). */
  onRetry?: (code: string) => void;
  onGiveUp?: (code: string) => void;
  /** Called when the table could not be used and memory counted instead (logs). */
  onFallback?: (err: unknown) => void;
  /** How often rows expired for an hour are deleted (0 = never). */
  sweepMs?: number;
}

interface CounterRow {
  points: number | string;
  expire: number | string | null;
}

/**
 * Failure counters in the `failure_counters` table every node shares, one
 * row per key (`prefix:key`, the row shape migration 0010 made for
 * rate-limiter-flexible, so rows written before keep their meaning).
 *
 * Written for a multi-primary cluster as much as for one server. Each
 * failure is one transaction that reads the key's row and writes its new
 * state, the block included: the failure that reaches the limit writes the
 * ban's expiry in the same row write that counts it. On one server the
 * `FOR UPDATE` lock orders two nodes' failures of one key; on Galera that
 * lock is node-local, but both transactions write the same primary key, so
 * certification fails the later one (or a brute-force abort hits it), with
 * ER_LOCK_DEADLOCK; it is run again whole on fresh reads (conflict-retry).
 * So failures split over nodes add up exactly, and exactly one of them, on
 * one node, starts the ban.
 *
 * rate-limiter-flexible's MySQL store, used before, counted a failure and
 * then wrote the block in a second transaction, and sent any error,
 * a lost certification included, to its in-memory insurance limiter: on
 * Galera, failures racing on two nodes were lost from the shared count and
 * a ban could be left in one node's memory only.
 *
 * While the table cannot be used (the database down, or still losing after
 * the last attempt), that failure counts in this process's memory, so an
 * outage neither locks everyone out nor lifts every limit.
 */
export class MySqlFailureStore implements FailureStore {
  readonly kind = 'mysql' as const;
  readonly shared = true;
  private readonly now: () => number;
  private readonly fallback: MemoryFailureStore;
  private readonly sweeper: NodeJS.Timeout | undefined;

  constructor(
    private readonly sequelize: Sequelize,
    private readonly o: MySqlFailureStoreOptions = {},
  ) {
    this.now = o.now ?? Date.now;
    this.fallback = new MemoryFailureStore(this.now);
    const sweepMs = o.sweepMs ?? 300_000;
    if (sweepMs > 0) {
      this.sweeper = setInterval(() => void this.sweep().catch(() => undefined), sweepMs);
      this.sweeper.unref();
    }
  }

  async fail(prefix: string, key: string, rule: FailureRule): Promise<FailureState> {
    const id = rowKey(prefix, key);
    try {
      return await retryConflicts(() => this.failOnce(id, rule), this.retryOptions());
    } catch (err) {
      this.o.onFallback?.(err);
      return this.fallback.fail(prefix, key, rule);
    }
  }

  async peek(prefix: string, key: string, rule: FailureRule): Promise<FailureState> {
    let row: CounterRow | undefined;
    try {
      [row] = await this.sequelize.query<CounterRow>(`SELECT points, expire FROM ${FAILURE_COUNTER_TABLE} WHERE \`key\` = ?`, {
        replacements: [rowKey(prefix, key)],
        type: QueryTypes.SELECT,
      });
    } catch (err) {
      this.o.onFallback?.(err);
      return this.fallback.peek(prefix, key, rule);
    }
    return stateOf(row, rule, this.now());
  }

  async reset(prefix: string, key: string): Promise<void> {
    await this.fallback.reset(prefix, key);
    await retryConflicts(
      () => this.sequelize.query(`DELETE FROM ${FAILURE_COUNTER_TABLE} WHERE \`key\` = ?`, { replacements: [rowKey(prefix, key)] }),
      this.retryOptions(),
    );
  }

  /**
   * One upsert for the lot, in key order (two nodes' batches then lock rows
   * in the same order and never deadlock on one server; on Galera the later
   * of two overlapping batches loses certification and runs again). A row
   * past its window starts over at 1; a live one keeps its count and is
   * extended: a touch says "seen lately", it counts no failure.
   */
  async touch(prefix: string, keys: readonly string[], windowSeconds: number): Promise<void> {
    if (!keys.length) return;
    const t = this.now();
    const until = t + Math.max(1, windowSeconds) * 1000;
    const ids = [...new Set(keys)].sort().map((k) => rowKey(prefix, k));
    await retryConflicts(
      () =>
        this.sequelize.query(
          `INSERT INTO ${FAILURE_COUNTER_TABLE} (\`key\`, points, expire) VALUES ${ids.map(() => '(?, 1, ?)').join(', ')} ON DUPLICATE KEY UPDATE
             points = IF(expire IS NOT NULL AND expire <= ?, 1, points), expire = IF(expire IS NULL, NULL, GREATEST(expire, VALUES(expire)))`,
          { replacements: [...ids.flatMap((id) => [id, until]), t] },
        ),
      this.retryOptions(),
    );
  }

  close(): Promise<void> {
    if (this.sweeper) clearInterval(this.sweeper);
    return Promise.resolve();
  }

  /** Rows expired for an hour: a scan from many addresses must not grow the table without end. Bounded, so one sweep is one small write set. */
  async sweep(): Promise<number> {
    const [, meta] = await this.sequelize.query(`DELETE FROM ${FAILURE_COUNTER_TABLE} WHERE expire < ? LIMIT 1000`, {
      replacements: [this.now() - 3_600_000],
    });
    return Number((meta as { affectedRows?: number } | undefined)?.affectedRows ?? 0);
  }

  private retryOptions() {
    return { attempts: this.o.attempts ?? 8, onRetry: this.o.onRetry, onGiveUp: this.o.onGiveUp };
  }

  /** One attempt: read the row (locked on this node), decide, write the new state. Sequelize sends COMMIT as a statement of its own. */
  private failOnce(id: string, rule: FailureRule): Promise<FailureState> {
    return this.sequelize.transaction(async (transaction) => {
      const [row] = await this.sequelize.query<CounterRow>(`SELECT points, expire FROM ${FAILURE_COUNTER_TABLE} WHERE \`key\` = ? FOR UPDATE`, {
        replacements: [id],
        type: QueryTypes.SELECT,
        transaction,
      });
      const t = this.now();
      const next = nextCounter(row, rule, t);
      // During a block nothing is counted (as in memory): a guesser's flood writes nothing, so it conflicts with nothing either.
      if (next.write)
        await this.sequelize.query(
          `INSERT INTO ${FAILURE_COUNTER_TABLE} (\`key\`, points, expire) VALUES (?, ?, ?) ON DUPLICATE KEY UPDATE points = VALUES(points), expire = VALUES(expire)`,
          { replacements: [id, next.points, next.expire], transaction },
        );
      return next.state;
    });
  }
}

/** rate-limiter-flexible's key shape (`keyPrefix:key`), kept so rows from before read the same. */
function rowKey(prefix: string, key: string): string {
  return `${prefix}:${key}`;
}

/**
 * The counter after one more failure at `t`: a new window when there is no
 * row or its window (or block) is over; the limit-th failure starts the
 * block; a failure during a block changes nothing.
 */
export function nextCounter(
  row: CounterRow | undefined,
  rule: FailureRule,
  t: number,
): { write: boolean; points: number; expire: number; state: FailureState } {
  const points = row ? Number(row.points) : 0;
  const expire = row?.expire === null || row?.expire === undefined ? null : Number(row.expire);
  const live = row !== undefined && (expire === null || expire > t);
  if (live && points >= rule.limit && expire !== null) {
    return { write: false, points, expire, state: { count: points, blockedMs: expire - t, started: false } };
  }
  const count = live ? points + 1 : 1;
  if (count >= rule.limit) {
    const until = t + rule.blockSeconds * 1000;
    return { write: true, points: count, expire: until, state: { count, blockedMs: until - t, started: true } };
  }
  return {
    write: true,
    points: count,
    expire: live && expire !== null ? expire : t + rule.windowSeconds * 1000,
    state: { count, blockedMs: 0, started: false },
  };
}

function stateOf(row: CounterRow | undefined, rule: FailureRule, t: number): FailureState {
  if (!row) return NOT_BLOCKED;
  const expire = row.expire === null ? null : Number(row.expire);
  if (expire !== null && expire <= t) return NOT_BLOCKED;
  const points = Number(row.points);
  return { count: points, blockedMs: points >= rule.limit && expire !== null ? Math.max(1, expire - t) : 0, started: false };
}
