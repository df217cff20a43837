import { Redis } from 'ioredis';
import type { LRUCache } from 'lru-cache';
import { boundedCache } from '../shared/bounded-cache.js';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Sequelize } from 'sequelize';
import { MySqlFailureStore } from './mysql-failure-store.js';

/** `limit` failures within `windowSeconds` start a block of `blockSeconds`. */
export interface FailureRule {
  limit: number;
  windowSeconds: number;
  blockSeconds: number;
}

export interface FailureState {
  /** Failures counted in the current window. */
  count: number;
  /** Milliseconds until the block ends; 0 = not blocked. */
  blockedMs: number;
  /** This very failure started the block (so a ban is logged and counted once, whichever node saw it). */
  started: boolean;
}

/**
 * Where failure counters live. `shared` stores (Redis, MySQL) are seen by
 * every node; the memory store is this process only (SQLite deployments run
 * one process).
 */
export interface FailureStore {
  readonly kind: 'memory' | 'mysql' | 'redis';
  readonly shared: boolean;
  fail(prefix: string, key: string, rule: FailureRule): Promise<FailureState>;
  peek(prefix: string, key: string, rule: FailureRule): Promise<FailureState>;
  reset(prefix: string, key: string, rule: FailureRule): Promise<void>;
  /**
   * Marks each key live (peek counts it) until at least `windowSeconds`
   * from now: a record that something happened, in as few round trips as
   * the store allows. Never blocks anyone.
   */
  touch(prefix: string, keys: readonly string[], windowSeconds: number): Promise<void>;
  close(): Promise<void>;
}

/** The rule a touch counts under in stores that only know failures: a window that never reaches its limit. */
export function touchRule(windowSeconds: number): FailureRule {
  return { limit: 2_000_000_000, windowSeconds: Math.max(1, windowSeconds), blockSeconds: 1 };
}

/** The table migration 0010 creates (rate-limiter-flexible's row shape; mysql-failure-store.ts reads and writes it). */
export const FAILURE_COUNTER_TABLE = 'failure_counters';

const NOT_BLOCKED: FailureState = { count: 0, blockedMs: 0, started: false };

interface MemoryCounter {
  windowStart: number;
  count: number;
  blockedUntil: number;
}

/**
 * In-process counters in a bounded LRU: a scan from many addresses (an IPv6
 * /64 is plenty) must not grow them without end, nor cost a timer per key
 * (rate-limiter-flexible's memory store keeps one per key and no bound).
 */
export class MemoryFailureStore implements FailureStore {
  readonly kind = 'memory' as const;
  readonly shared = false;
  private readonly counters: LRUCache<string, MemoryCounter>;

  constructor(
    private readonly now: () => number = Date.now,
    maxEntries = 100_000,
  ) {
    this.counters = boundedCache(maxEntries);
  }

  fail(prefix: string, key: string, rule: FailureRule): Promise<FailureState> {
    const t = this.now();
    const id = `${prefix}\0${key}`;
    let c = this.counters.get(id);
    if (c && c.blockedUntil > t) return Promise.resolve({ count: c.count, blockedMs: c.blockedUntil - t, started: false });
    if (!c || t - c.windowStart >= rule.windowSeconds * 1000 || c.blockedUntil > 0) {
      c = { windowStart: t, count: 0, blockedUntil: 0 };
      this.counters.set(id, c);
    }
    c.count += 1;
    if (c.count < rule.limit) return Promise.resolve({ count: c.count, blockedMs: 0, started: false });
    c.blockedUntil = t + rule.blockSeconds * 1000;
    return Promise.resolve({ count: c.count, blockedMs: rule.blockSeconds * 1000, started: true });
  }

  peek(prefix: string, key: string, rule: FailureRule): Promise<FailureState> {
    const t = this.now();
    const c = this.counters.peek(`${prefix}\0${key}`);
    if (!c) return Promise.resolve(NOT_BLOCKED);
    if (c.blockedUntil > t) return Promise.resolve({ count: c.count, blockedMs: c.blockedUntil - t, started: false });
    if (c.blockedUntil > 0 || t - c.windowStart >= rule.windowSeconds * 1000) return Promise.resolve(NOT_BLOCKED);
    return Promise.resolve({ count: c.count, blockedMs: 0, started: false });
  }

  reset(prefix: string, key: string): Promise<void> {
    this.counters.delete(`${prefix}\0${key}`);
    return Promise.resolve();
  }

  async touch(prefix: string, keys: readonly string[], windowSeconds: number): Promise<void> {
    const rule = touchRule(windowSeconds);
    for (const key of keys) await this.fail(prefix, key, rule);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/**
 * Counters every node shares in Redis, through rate-limiter-flexible (atomic
 * increments, so failures split over nodes add up). Its own block option only starts on the failure after
 * the limit; an explicit block() at the limit keeps "the Nth failure bans",
 * the rule the memory store follows.
 */
class RateLimiterFailureStore implements FailureStore {
  readonly shared = true;
  private readonly limiters = new Map<string, RateLimiterAbstract>();

  constructor(
    readonly kind: 'redis',
    private readonly build: (prefix: string, rule: FailureRule) => RateLimiterAbstract,
    private readonly onClose: () => Promise<void>,
  ) {}

  async fail(prefix: string, key: string, rule: FailureRule): Promise<FailureState> {
    const l = this.limiter(prefix, rule);
    let res: RateLimiterRes;
    try {
      res = await l.consume(key, 1);
    } catch (err) {
      // Past the limit consume() rejects with the counter's state; anything else is the store failing.
      if (!(err instanceof RateLimiterRes)) throw err;
      res = err;
    }
    if (res.consumedPoints < rule.limit) return { count: res.consumedPoints, blockedMs: 0, started: false };
    if (res.consumedPoints === rule.limit) {
      // Increments are atomic: exactly one failure, on one node, reaches the limit and starts the block.
      await l.block(key, rule.blockSeconds);
      return { count: res.consumedPoints, blockedMs: rule.blockSeconds * 1000, started: true };
    }
    return { count: res.consumedPoints, blockedMs: Math.max(1, res.msBeforeNext), started: false };
  }

  async peek(prefix: string, key: string, rule: FailureRule): Promise<FailureState> {
    const res = await this.limiter(prefix, rule).get(key);
    if (!res) return NOT_BLOCKED;
    return { count: res.consumedPoints, blockedMs: res.consumedPoints >= rule.limit ? Math.max(1, res.msBeforeNext) : 0, started: false };
  }

  async reset(prefix: string, key: string, rule: FailureRule): Promise<void> {
    await this.limiter(prefix, rule).delete(key);
  }

  async touch(prefix: string, keys: readonly string[], windowSeconds: number): Promise<void> {
    // ioredis pipelines commands issued in the same turn: one round trip for the lot.
    const rule = touchRule(windowSeconds);
    await Promise.all(keys.map((key) => this.fail(prefix, key, rule)));
  }

  close(): Promise<void> {
    return this.onClose();
  }

  private limiter(prefix: string, rule: FailureRule): RateLimiterAbstract {
    const id = `${prefix}/${rule.limit}/${rule.windowSeconds}/${rule.blockSeconds}`;
    let l = this.limiters.get(id);
    if (!l) {
      l = this.build(prefix, rule);
      this.limiters.set(id, l);
    }
    return l;
  }
}

export interface FailureStoreSettings {
  /** Empty = no Redis. */
  redisUrl: string;
  redisKeyPrefix: string;
  dialect: 'sqlite' | 'mysql';
  sequelize: Sequelize;
  now?: () => number;
}

/**
 * Redis when configured (one round trip, the fastest shared store), else
 * the MySQL database every node already shares, else (SQLite: one process)
 * memory. While the shared store is unreachable, counting falls back to
 * memory (for Redis rate-limiter-flexible's insurance limiter), so an
 * outage neither locks everyone out nor lifts every limit.
 */
export function createFailureStore(s: FailureStoreSettings): FailureStore {
  const insurance = (prefix: string, rule: FailureRule) =>
    new RateLimiterMemory({ keyPrefix: `insurance:${prefix}`, points: rule.limit, duration: rule.windowSeconds });
  if (s.redisUrl) {
    // ioredis: reconnects by itself and queues commands while it does; rate-limiter-flexible's Redis store is written for it.
    const redis = new Redis(s.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1, enableOfflineQueue: true });
    redis.on('error', () => undefined); // each failed command rejects, and the insurance limiter answers; nothing more to do here
    return new RateLimiterFailureStore(
      'redis',
      (prefix, rule) =>
        new RateLimiterRedis({
          storeClient: redis,
          keyPrefix: `${s.redisKeyPrefix}${prefix}`,
          points: rule.limit,
          duration: rule.windowSeconds,
          insuranceLimiter: insurance(prefix, rule),
        }),
      async () => {
        await redis.quit().catch(() => redis.disconnect());
      },
    );
  }
  // Our own store, not rate-limiter-flexible's MySQL one: on Galera that one lost failures racing on two nodes (mysql-failure-store.ts).
  if (s.dialect === 'mysql') return new MySqlFailureStore(s.sequelize, { now: s.now });
  return new MemoryFailureStore(s.now);
}
