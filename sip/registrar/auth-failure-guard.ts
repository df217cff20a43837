import type { LRUCache } from 'lru-cache';
import { boundedCache } from '../../src/shared/bounded-cache.js';
import { ownString } from '../message/own-string.js';
import { FailureCounter } from '../../src/throttle/failure-counter.js';
import { touchRule, type FailureRule, type FailureStore } from '../../src/throttle/failure-store.js';

/** Trust marks written to the shared store together: at most this many, at most this long after the first. */
const TRUST_BATCH = 2000;
const TRUST_FLUSH_MS = 1000;

export interface AuthFailureGuardOptions {
  store: FailureStore;
  ipFailures: number;
  usernameFailures: number;
  windowSeconds: number;
  banSeconds: number;
  /** A source that authenticated as a user this recently is not held by that user's block (0 = never). */
  trustedSourceSeconds: number;
  now?: () => number;
  maxEntries?: number;
}

/**
 * SIP digest failures, counted per source IP and per user (the user's
 * username and extension are one key: both name the same password) in the
 * shared failure store, with bans past a threshold.
 *
 * - A banned source gets silence; `isIpBanned` is synchronous (the edge asks
 *   before parsing), from this node's view of the bans.
 * - A blocked user refuses sources that are not trusted for that user: a
 *   guesser from elsewhere cannot lock the owner's phones out, because a
 *   source that authenticated as the user within trustedSourceSeconds goes on
 *   to the normal digest check (and its own failures still count to its IP).
 *   Trust is shared through the store, so the owner's phone may refresh on
 *   any node.
 */
export class AuthFailureGuard {
  private readonly ips: FailureCounter;
  private readonly users: FailureCounter;
  /** `${userKey}\0${ip}` → trusted until (ms), as this node knows it. */
  private readonly trusted: LRUCache<string, number>;
  private readonly now: () => number;
  /** Trust marks in the shared store: a count of successes in a window of trustedSourceSeconds that never blocks. */
  private readonly trustRule: FailureRule;
  private readonly pendingTrust = new Set<string>();
  private trustTimer: NodeJS.Timeout | undefined;

  constructor(private readonly o: AuthFailureGuardOptions) {
    this.now = o.now ?? Date.now;
    const local = { now: this.now, maxEntries: o.maxEntries ?? 100_000 };
    this.ips = new FailureCounter(o.store, 'sip-ip', { limit: o.ipFailures, windowSeconds: o.windowSeconds, blockSeconds: o.banSeconds }, local);
    this.users = new FailureCounter(o.store, 'sip-user', { limit: o.usernameFailures, windowSeconds: o.windowSeconds, blockSeconds: o.banSeconds }, local);
    this.trusted = boundedCache(o.maxEntries ?? 100_000);
    this.trustRule = touchRule(o.trustedSourceSeconds);
  }

  /** Bans this node knows of (no I/O). */
  isIpBanned(ip: string): boolean {
    return this.ips.blockedLocallyMs(ip) > 0;
  }

  /** Also asks the shared store, for a source that failed on this node lately (a ban may have started on another node). */
  async ipBanned(ip: string): Promise<boolean> {
    return (await this.ips.blockedMs(ip, 'suspects')) > 0;
  }

  /** Milliseconds left of the user's block (0 = none), for a source that is not trusted for that user. */
  async userBlockedMs(userKey: string, ip: string): Promise<number> {
    const ms = await this.users.blockedMs(userKey, 'suspects');
    return ms > 0 && !(await this.isTrusted(userKey, ip)) ? ms : 0;
  }

  /**
   * Records a successful authentication of the user from this source. The
   * shared store learns it once per trustedSourceSeconds (not on every
   * REGISTER, and without waiting for it), so a phone that authenticated on
   * one node is trusted by every node.
   */
  trust(userKey: string, ip: string): void {
    if (this.o.trustedSourceSeconds <= 0) return;
    const key = `${userKey}\0${ip}`;
    const known = this.trusted.get(key);
    const t = this.now();
    if (known !== undefined && known > t) return;
    this.trusted.set(ownString(key), t + this.o.trustedSourceSeconds * 1000);
    if (this.o.store.shared) this.shareTrust(ownString(key));
  }

  /**
   * Trust marks reach the shared store in batches (one write a second at
   * most, or sooner past TRUST_BATCH): a restart or a network outage brings
   * every phone back within seconds, and a transaction per phone would be
   * the costliest part of each REGISTER. A mark lost to a crash before its
   * flush costs that phone nothing: this node trusts it already, and
   * another node only asks while the user is blocked.
   */
  private shareTrust(key: string): void {
    this.pendingTrust.add(key);
    if (this.pendingTrust.size >= TRUST_BATCH) void this.flushTrust();
    else if (!this.trustTimer) {
      this.trustTimer = setTimeout(() => void this.flushTrust(), TRUST_FLUSH_MS);
      this.trustTimer.unref();
    }
  }

  /** Writes the pending trust marks (the timer calls it; stop() and tests may too). Never throws. */
  async flushTrust(): Promise<void> {
    if (this.trustTimer) clearTimeout(this.trustTimer);
    this.trustTimer = undefined;
    if (!this.pendingTrust.size) return;
    const keys = [...this.pendingTrust];
    this.pendingTrust.clear();
    await this.o.store.touch('sip-trust', keys, this.o.trustedSourceSeconds).catch(() => undefined);
  }

  /** Asked only while the user is blocked: this node's view first, then the shared store. */
  async isTrusted(userKey: string, ip: string): Promise<boolean> {
    if (this.o.trustedSourceSeconds <= 0) return false;
    const key = `${userKey}\0${ip}`;
    const until = this.trusted.get(key);
    if (until !== undefined && until > this.now()) return true;
    if (!this.o.store.shared) return false;
    return (await this.o.store.peek('sip-trust', key, this.trustRule)).count > 0;
  }

  /** Records one failure; returns which bans it started (on whichever node: the store says which failure reached the limit). */
  async recordFailure(ip: string, userKey: string | undefined): Promise<{ ipBanned: boolean; ipBanStarted: boolean; usernameBlockStarted: boolean }> {
    const [i, u] = await Promise.all([this.ips.fail(ownString(ip)), userKey !== undefined ? this.users.fail(ownString(userKey)) : undefined]);
    return { ipBanned: i.blockedMs > 0, ipBanStarted: i.started, usernameBlockStarted: u?.started ?? false };
  }
}

/**
 * The key a user's failures count under: the user id when the name is a
 * user (username and extension alike), else the name as given (an unknown
 * name locks out nobody, and the same answer keeps it from being told apart).
 */
export function sipUserKey(realm: string, userId: number | undefined, authName: string): string {
  return userId !== undefined ? `${realm}\0id:${userId}` : `${realm}\0name:${authName}`;
}

/**
 * Case-insensitive substring match of the User-Agent against known SIP
 * scanners. Every request asks, so the patterns are lower-cased once here.
 */
export function scannerUserAgentMatcher(patterns: readonly string[]): (userAgent: string | undefined) => boolean {
  const lowered = patterns.map((p) => p.toLowerCase());
  return (userAgent) => {
    if (!userAgent || lowered.length === 0) return false;
    const ua = userAgent.toLowerCase();
    return lowered.some((p) => ua.includes(p));
  };
}
