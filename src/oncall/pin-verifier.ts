import crypto from 'node:crypto';
import bcrypt from 'bcrypt';
import type { Models } from '../db/models/index.js';
import { ThrottledError } from '../errors.js';
import type { Actor } from '../http/actor.js';
import { requireAdmin } from '../shared/policy.js';
import { FailureCounter, retryAfterSeconds } from '../throttle/failure-counter.js';
import type { FailureStore } from '../throttle/failure-store.js';

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
 * guesser learns nothing more by continuing. Counters live in the shared
 * failure store (as for password login), so every node sees the same count.
 */
export class PinVerifier {
  private readonly byExtension: FailureCounter;
  private readonly byIp: FailureCounter;
  private dummyHash: Promise<string> | null = null;

  constructor(
    private readonly models: Models,
    private readonly bcryptRounds: number,
    store: FailureStore,
    s: PinThrottleSettings,
  ) {
    this.byExtension = new FailureCounter(store, 'pin-ext', { limit: s.userFailures, windowSeconds: s.windowSeconds, blockSeconds: s.blockSeconds });
    this.byIp = new FailureCounter(store, 'pin-ip', { limit: s.ipFailures, windowSeconds: s.windowSeconds, blockSeconds: s.blockSeconds });
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
      await this.byExtension.reset(extKey);
    } else {
      await Promise.all([this.byExtension.fail(extKey), this.byIp.fail(ipKey)]);
    }
    return valid;
  }

  private async assertAllowed(extKey: string, ipKey: string): Promise<void> {
    const ms = Math.max(...(await Promise.all([this.byExtension.blockedMs(extKey, 'always'), this.byIp.blockedMs(ipKey, 'always')])));
    if (ms > 0) throw new ThrottledError('Too many wrong OnCall PINs; try again later', retryAfterSeconds(ms));
  }

  private dummy(): Promise<string> {
    this.dummyHash ??= bcrypt.hash(crypto.randomBytes(16).toString('hex'), this.bcryptRounds);
    return this.dummyHash;
  }
}
