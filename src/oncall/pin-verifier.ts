import crypto from 'node:crypto';
import bcrypt from 'bcrypt';
import { RateLimiterMemory } from 'rate-limiter-flexible';
import type { Models } from '../db/models/index.js';
import { ThrottledError } from '../errors.js';
import type { Actor } from '../http/actor.js';
import { requireAdmin } from '../shared/policy.js';

export interface PinThrottleSettings {
  userFailures: number;
  ipFailures: number;
  windowSeconds: number;
  blockSeconds: number;
}

/**
 * Checks an OnCall PIN for the IVR in front of the OnCall line.
 *
 * It must not become an oracle for which extensions exist: an unknown
 * extension costs the same bcrypt comparison (against a dummy hash of the
 * same cost) and answers the same {valid:false}; its failures count under the
 * same key shape as a real extension's. Failures are counted per extension
 * (in the caller's account) and per source address; past either limit every
 * attempt is refused with 429 until the block ends, even a correct PIN, so a
 * guesser learns nothing more by continuing. Counters are per process (as
 * for password login): N processes allow N× the attempts, still a bound.
 */
export class PinVerifier {
  private readonly byExtension: RateLimiterMemory;
  private readonly byIp: RateLimiterMemory;
  private dummyHash: Promise<string> | null = null;

  constructor(
    private readonly models: Models,
    private readonly bcryptRounds: number,
    s: PinThrottleSettings,
  ) {
    this.byExtension = new RateLimiterMemory({ keyPrefix: 'pin-ext', points: s.userFailures, duration: s.windowSeconds, blockDuration: s.blockSeconds });
    this.byIp = new RateLimiterMemory({ keyPrefix: 'pin-ip', points: s.ipFailures, duration: s.windowSeconds, blockDuration: s.blockSeconds });
  }

  async verify(actor: Actor, extension: string, pin: string): Promise<boolean> {
    // The IVR signs in with an account credential (workspace key or an admin's key); plain users may not probe PINs.
    requireAdmin(actor);
    const extKey = `${actor.accountId}:${extension}`;
    const ipKey = actor.sourceIp ?? 'unknown';
    await this.assertAllowed(extKey, ipKey);
    const user = await this.models.User.findOne({ where: { account_id: actor.accountId, extension }, attributes: ['id', 'oncall_pin_hash'] });
    const hash = user?.oncall_pin_hash ?? (await this.dummy());
    const matches = await bcrypt.compare(pin, hash);
    const valid = Boolean(user) && matches;
    if (valid) {
      await this.byExtension.delete(extKey);
    } else {
      await Promise.all([this.byExtension.consume(extKey).catch(() => undefined), this.byIp.consume(ipKey).catch(() => undefined)]);
    }
    return valid;
  }

  private async assertAllowed(extKey: string, ipKey: string): Promise<void> {
    const [e, i] = await Promise.all([this.byExtension.get(extKey), this.byIp.get(ipKey)]);
    const ms = Math.max(e && e.consumedPoints >= this.byExtension.points ? e.msBeforeNext : 0, i && i.consumedPoints >= this.byIp.points ? i.msBeforeNext : 0);
    if (ms > 0) throw new ThrottledError('Too many wrong OnCall PINs; try again later', Math.max(1, Math.ceil(ms / 1000)));
  }

  private dummy(): Promise<string> {
    this.dummyHash ??= bcrypt.hash(crypto.randomBytes(16).toString('hex'), this.bcryptRounds);
    return this.dummyHash;
  }
}
