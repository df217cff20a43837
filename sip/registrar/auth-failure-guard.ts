import { LRUCache } from 'lru-cache';
import { ownString } from '../message/own-string.js';

export interface AuthFailureGuardOptions {
  ipFailures: number;
  usernameFailures: number;
  windowSeconds: number;
  banSeconds: number;
  now?: () => number;
  maxEntries?: number;
}

interface Counter {
  windowStart: number;
  count: number;
  bannedUntil: number;
}

/**
 * Counts digest failures per source IP and per realm/username in a fixed
 * window and bans for a while past a threshold. Synchronous, so the edge
 * can ask before parsing (banned UDP sources get silence). In-process: each
 * node bans on what it sees; fail2ban on the log line covers a cluster.
 */
export class AuthFailureGuard {
  // Bounded LRUs: a scan from many addresses (an IPv6 /64 is plenty) must not grow them without end, nor make
  // each new entry dear (a Map trimmed from its front walks every slot deleted since V8's last rehash).
  private readonly ips: LRUCache<string, Counter>;
  private readonly users: LRUCache<string, Counter>;
  private readonly now: () => number;

  constructor(private readonly o: AuthFailureGuardOptions) {
    this.now = o.now ?? Date.now;
    const max = o.maxEntries ?? 100_000;
    this.ips = new LRUCache({ max });
    this.users = new LRUCache({ max });
  }

  isIpBanned(ip: string): boolean {
    return this.banned(this.ips, ip);
  }

  isUsernameBlocked(realm: string, username: string): boolean {
    return this.banned(this.users, `${realm}\0${username}`);
  }

  /** Records one failure; returns which bans it started. */
  recordFailure(ip: string, realm: string, username: string | undefined): { ipBanned: boolean; usernameBlocked: boolean } {
    const ipBanned = this.bump(this.ips, ip, this.o.ipFailures);
    const usernameBlocked = username !== undefined ? this.bump(this.users, `${realm}\0${username}`, this.o.usernameFailures) : false;
    return { ipBanned, usernameBlocked };
  }

  /** Seconds until the username block lifts (Retry-After). */
  retryAfterSeconds(realm: string, username: string): number {
    const c = this.users.get(`${realm}\0${username}`);
    return c ? Math.max(1, Math.ceil((c.bannedUntil - this.now()) / 1000)) : 1;
  }

  private banned(map: LRUCache<string, Counter>, key: string): boolean {
    const c = map.get(key);
    return c !== undefined && c.bannedUntil > this.now();
  }

  private bump(map: LRUCache<string, Counter>, key: string, limit: number): boolean {
    const t = this.now();
    let c = map.get(key);
    if (!c || t - c.windowStart > this.o.windowSeconds * 1000) {
      c = { windowStart: t, count: 0, bannedUntil: c?.bannedUntil ?? 0 };
      map.set(ownString(key), c);
    }
    c.count += 1;
    if (c.count >= limit && c.bannedUntil <= t) {
      c.bannedUntil = t + this.o.banSeconds * 1000;
      c.count = 0;
      c.windowStart = t;
      return true;
    }
    return false;
  }
}

/** Case-insensitive substring match of the User-Agent against known SIP scanners. */
export function isScannerUserAgent(userAgent: string | undefined, patterns: readonly string[]): boolean {
  if (!userAgent || patterns.length === 0) return false;
  const ua = userAgent.toLowerCase();
  return patterns.some((p) => ua.includes(p.toLowerCase()));
}
