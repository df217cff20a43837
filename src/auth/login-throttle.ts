import { RateLimiterMemory } from 'rate-limiter-flexible';
import { ThrottledError } from '../errors.js';

export interface ThrottleSettings {
  usernameFailures: number;
  ipFailures: number;
  windowSeconds: number;
  blockSeconds: number;
}

/**
 * Counts failed logins per username and per source IP; past the limit every
 * attempt is refused with 429 + Retry-After until the block ends, even with
 * the right password (otherwise the limit would only slow a guesser down).
 * Counters are per process: N processes allow N× the attempts, which still
 * bounds online guessing; a shared store can replace RateLimiterMemory.
 */
export class LoginThrottle {
  private readonly byUser: RateLimiterMemory;
  private readonly byIp: RateLimiterMemory;

  constructor(s: ThrottleSettings) {
    this.byUser = new RateLimiterMemory({ keyPrefix: 'u', points: s.usernameFailures, duration: s.windowSeconds, blockDuration: s.blockSeconds });
    this.byIp = new RateLimiterMemory({ keyPrefix: 'ip', points: s.ipFailures, duration: s.windowSeconds, blockDuration: s.blockSeconds });
  }

  async assertAllowed(username: string, ip: string): Promise<void> {
    const [u, i] = await Promise.all([this.byUser.get(username.toLowerCase()), this.byIp.get(ip)]);
    const blocked = [u && u.consumedPoints >= this.byUser.points ? u.msBeforeNext : 0, i && i.consumedPoints >= this.byIp.points ? i.msBeforeNext : 0];
    const ms = Math.max(...blocked);
    if (ms > 0) throw new ThrottledError('Too many failed sign-in attempts; try again later', Math.max(1, Math.ceil(ms / 1000)));
  }

  async recordFailure(username: string, ip: string): Promise<void> {
    // consume() rejects once the limit is passed (and starts the block); that is expected here.
    await Promise.all([this.byUser.consume(username.toLowerCase()).catch(() => undefined), this.byIp.consume(ip).catch(() => undefined)]);
  }

  async recordSuccess(username: string): Promise<void> {
    await this.byUser.delete(username.toLowerCase());
  }
}
