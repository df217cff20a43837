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
  private readonly ips = new Map<string, Counter>();
  private readonly users = new Map<string, Counter>();
  private readonly now: () => number;
  private readonly maxEntries: number;

  constructor(private readonly o: AuthFailureGuardOptions) {
    this.now = o.now ?? Date.now;
    this.maxEntries = o.maxEntries ?? 100_000;
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

  private banned(map: Map<string, Counter>, key: string): boolean {
    const c = map.get(key);
    return c !== undefined && c.bannedUntil > this.now();
  }

  private bump(map: Map<string, Counter>, key: string, limit: number): boolean {
    const t = this.now();
    let c = map.get(key);
    if (!c || t - c.windowStart > this.o.windowSeconds * 1000) {
      c = { windowStart: t, count: 0, bannedUntil: c?.bannedUntil ?? 0 };
      map.delete(key);
      map.set(ownString(key), c);
      if (map.size > this.maxEntries) map.delete(map.keys().next().value!);
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
