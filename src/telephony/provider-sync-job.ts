import type { Logger } from '../logger.js';
import { systemActor } from '../http/actor.js';
import type { NumberSync } from './number-sync.js';

/**
 * The periodic import (telephony.syncIntervalMinutes). Every node may run it:
 * NumberSync.claimDue hands each due provider to one node.
 */
export class ProviderSyncJob {
  constructor(
    private readonly sync: NumberSync,
    private readonly intervalMinutes: number,
    private readonly logger: Logger,
  ) {}

  async runDue(): Promise<number> {
    if (this.intervalMinutes <= 0) return 0;
    const due = await this.sync.claimDue(this.intervalMinutes);
    for (const p of due) {
      try {
        await this.sync.sync(systemActor(p.account_id), p.id);
      } catch (err) {
        this.logger.warn({ err, provider_id: p.id }, 'scheduled number import failed');
      }
    }
    return due.length;
  }
}
