import { ThrottledError } from '../errors.js';
import { FailureCounter, retryAfterSeconds } from '../throttle/failure-counter.js';
import type { FailureStore } from '../throttle/failure-store.js';

export interface ThrottleSettings {
  usernameFailures: number;
  ipFailures: number;
  windowSeconds: number;
  blockSeconds: number;
}

/**
 * Counts failed logins per username and per source IP; the failure that
 * reaches a limit starts a block during which every attempt is refused with
 * 429 + Retry-After, even with the right password (otherwise the limit would
 * only slow a guesser down). The counters live in the shared failure store
 * (Redis or MySQL), so N nodes allow the same number of attempts as one.
 */
export class LoginThrottle {
  private readonly byUser: FailureCounter;
  private readonly byIp: FailureCounter;

  constructor(store: FailureStore, s: ThrottleSettings) {
    this.byUser = new FailureCounter(store, 'login-user', { limit: s.usernameFailures, windowSeconds: s.windowSeconds, blockSeconds: s.blockSeconds });
    this.byIp = new FailureCounter(store, 'login-ip', { limit: s.ipFailures, windowSeconds: s.windowSeconds, blockSeconds: s.blockSeconds });
  }

  async assertAllowed(username: string, ip: string): Promise<void> {
    const ms = Math.max(...(await Promise.all([this.byUser.blockedMs(username.toLowerCase(), 'always'), this.byIp.blockedMs(ip, 'always')])));
    if (ms > 0) throw new ThrottledError('Too many failed sign-in attempts; try again later', retryAfterSeconds(ms));
  }

  async recordFailure(username: string, ip: string): Promise<void> {
    await Promise.all([this.byUser.fail(username.toLowerCase()), this.byIp.fail(ip)]);
  }

  async recordSuccess(username: string): Promise<void> {
    await this.byUser.reset(username.toLowerCase());
  }
}
