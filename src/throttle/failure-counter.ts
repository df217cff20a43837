import type { LRUCache } from 'lru-cache';
import { boundedCache } from '../shared/bounded-cache.js';
import type { FailureRule, FailureState, FailureStore } from './failure-store.js';

export interface FailureCounterOptions {
  now?: () => number;
  /** Bound of the local view (blocks and recently failing keys). */
  maxEntries?: number;
}

/**
 * The one failure throttle (login, OnCall PIN, SIP digest): failures of a
 * key counted in a store every node shares, and a local view of it, so that
 * a request never waits on the store unless its key has failed lately.
 *
 * - Known blocks are cached here with their expiry: `blockedLocallyMs` is
 *   synchronous (the SIP edge asks it before parsing a datagram).
 * - A key that failed on this node in the last window + block is a
 *   "suspect": `blockedMs` asks the shared store about it, so failures split
 *   over nodes ban on every node that has seen that key fail.
 * - A key this node has never seen fail is not looked up (the REGISTER hot
 *   path stays free of store round trips); if it was blocked elsewhere, its
 *   next failure here reads the block from the store's answer. So a node that
 *   has never seen a source fail lets at most one more wrong guess through.
 */
export class FailureCounter {
  private readonly blocks: LRUCache<string, number>;
  private readonly suspects: LRUCache<string, number>;
  private readonly now: () => number;

  constructor(
    private readonly store: FailureStore,
    private readonly prefix: string,
    readonly rule: FailureRule,
    o: FailureCounterOptions = {},
  ) {
    this.now = o.now ?? Date.now;
    const max = o.maxEntries ?? 100_000;
    this.blocks = boundedCache(max);
    this.suspects = boundedCache(max);
  }

  /** Milliseconds left of a block this node knows of; 0 = none known. */
  blockedLocallyMs(key: string): number {
    const until = this.blocks.get(key);
    if (until === undefined) return 0;
    const left = until - this.now();
    if (left > 0) return left;
    this.blocks.delete(key);
    return 0;
  }

  /** This node saw the key fail recently (so it is worth asking the shared store about). */
  isSuspect(key: string): boolean {
    const until = this.suspects.get(key);
    return until !== undefined && until > this.now();
  }

  /**
   * Milliseconds left of the key's block; 0 = not blocked. `always` asks a
   * shared store every time (HTTP login: one round trip next to a bcrypt);
   * `suspects` only for keys this node has seen fail (REGISTER).
   */
  async blockedMs(key: string, consult: 'always' | 'suspects'): Promise<number> {
    const local = this.blockedLocallyMs(key);
    if (local > 0 || !this.store.shared) return local;
    if (consult === 'suspects' && !this.isSuspect(key)) return 0;
    return this.learn(key, await this.store.peek(this.prefix, key, this.rule)).blockedMs;
  }

  async fail(key: string): Promise<FailureState> {
    this.suspects.set(key, this.now() + (this.rule.windowSeconds + this.rule.blockSeconds) * 1000);
    return this.learn(key, await this.store.fail(this.prefix, key, this.rule));
  }

  async reset(key: string): Promise<void> {
    this.blocks.delete(key);
    this.suspects.delete(key);
    await this.store.reset(this.prefix, key, this.rule);
  }

  private learn(key: string, s: FailureState): FailureState {
    if (s.blockedMs > 0) this.blocks.set(key, this.now() + s.blockedMs);
    return s;
  }
}

/** Retry-After seconds for a block of `ms` milliseconds. */
export function retryAfterSeconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}
