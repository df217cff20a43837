import type { Logger } from '../logger.js';
import type { UsageEvent, UsageRecorder } from './usage-recorder.js';
import type { UsageEntry } from './usage-store.js';
import { combine, dayOf, isUsageType, PEAK_TYPE } from './usage-rules.js';
import { boundedCache } from '../shared/bounded-cache.js';

/** Entries per store write (one transaction each). */
const WRITE_SLICE = 500;
/** A user's held peak as one number (no object per user): UTC day × PEAK_DAY + devices (max_bindings is at most 100). */
const PEAK_DAY = 1_000_000;
const DAY_MS = 86_400_000;

export interface BufferedUsageRecorderOptions {
  /** Where a flush goes (UsageStore.add); it may fail, the amounts are then kept for the next flush. */
  write(entries: UsageEntry[]): Promise<void>;
  /** Told what a flush wrote, after it committed (the SMS threshold check). */
  onFlushed?(entries: UsageEntry[]): Promise<void> | void;
  flushIntervalMs: number;
  /** Distinct (account, user, type, day) keys held in memory at most. */
  maxKeys: number;
  logger: Logger;
  now?: () => Date;
}

/**
 * UsageRecorder for one process: record() only adds into an in-memory map
 * keyed by (account, user, type, day), so a burst of ten thousand API
 * requests by one user is one number, and the caller never waits on the
 * database. A timer (started by the first record) and stop() write the map
 * out through the store's upserts.
 *
 * Memory is bounded by maxKeys distinct keys, not by events: an amount for
 * a key already held is merged. When the map is full the recorder flushes
 * at once; while that flush (or a database outage) keeps it full, amounts
 * for new keys are dropped and counted (logged at most once a minute), the
 * one way usage can be lost short of a crash. A failed flush puts its
 * amounts back, merged with what arrived meanwhile; a crash loses at most
 * one flush interval.
 *
 * A user's active_devices_peak not above what this process already holds
 * for that user and day (buffered, or written: the rows keep the maximum)
 * changes nothing and is not buffered. The registrar reports the peak with
 * every 200, and nearly all of those are refreshes of the same devices:
 * buffering them rewrote a daily and a monthly row per registered user in
 * every flush (at 2,000 REGISTERs/s some 7,000 upserted rows a second that
 * said what the database already held).
 */
export class BufferedUsageRecorder implements UsageRecorder {
  private buffer = new Map<string, UsageEntry>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private stopped = false;
  private lastDropLog = 0;
  /** Per user id: the peak held for its day (UTC day × PEAK_DAY + devices); bounded like the buffer. */
  private readonly userPeaks: ReturnType<typeof boundedCache<number, number>>;
  /** Amounts not recorded: the map was full, or the event was invalid. */
  dropped = 0;
  private readonly now: () => Date;

  constructor(private readonly o: BufferedUsageRecorderOptions) {
    this.now = o.now ?? (() => new Date());
    this.userPeaks = boundedCache<number, number>(o.maxKeys);
  }

  get pendingKeys(): number {
    return this.buffer.size;
  }

  record(event: UsageEvent): void {
    try {
      const amount = event.amount ?? 1;
      if (!isUsageType(event.type) || !Number.isSafeInteger(amount) || amount < 0 || !Number.isInteger(event.accountId)) {
        this.drop('invalid usage event');
        return;
      }
      // Nothing to add (a peak of no device adds nothing either: the row's floor is 0).
      if (amount === 0) return;
      const at = event.at ?? this.now();
      // A user's device peak: its UTC day number, else -1.
      const peakDay = event.type === PEAK_TYPE && event.userId !== null ? Math.floor(at.getTime() / DAY_MS) : -1;
      if (peakDay >= 0 && this.heldPeak(event.userId!, peakDay) >= amount) return;
      const day = dayOf(at);
      const key = `${event.accountId}|${event.userId ?? ''}|${event.type}|${day}`;
      const cur = this.buffer.get(key);
      if (cur) cur.amount = combine(event.type, cur.amount, amount);
      else if (this.buffer.size >= this.o.maxKeys) {
        this.drop('usage buffer full; amounts for new keys are dropped until a flush succeeds');
        void this.flush();
        return;
      } else this.buffer.set(key, { accountId: event.accountId, userId: event.userId, type: event.type, day, amount });
      if (peakDay >= 0) this.holdPeak(event.userId!, peakDay, amount);
      this.startTimer();
    } catch (err) {
      this.drop(err instanceof Error ? err.message : 'usage event not recorded');
    }
  }

  /**
   * Writes what is held, WRITE_SLICE entries per write one after another
   * (each its own transaction in the store): one flush of ten thousand
   * users' amounts in one transaction held SQLite's single writer for
   * 100–200 ms, and every REGISTER queued behind it. Resolves when written;
   * a slice that fails is put back with every slice after it (the ones
   * before it committed and stay counted once). One flush at a time.
   */
  flush(): Promise<void> {
    if (this.flushing) return this.flushing.then(() => (this.buffer.size ? this.flush() : undefined));
    if (!this.buffer.size) return Promise.resolve();
    const taken = [...this.buffer];
    this.buffer = new Map();
    this.flushing = this.writeSlices(taken).finally(() => (this.flushing = undefined));
    return this.flushing;
  }

  private async writeSlices(taken: Array<[string, UsageEntry]>): Promise<void> {
    for (let i = 0; i < taken.length; i += WRITE_SLICE) {
      const slice = taken.slice(i, i + WRITE_SLICE);
      const entries = slice.map(([, e]) => e);
      try {
        await this.o.write(entries);
      } catch (err) {
        this.o.logger.warn({ err: { message: (err as Error).message } }, 'usage flush failed; kept for the next flush');
        this.putBack(taken.slice(i));
        return;
      }
      try {
        await this.o.onFlushed?.(entries);
      } catch (err) {
        this.o.logger.error({ err }, 'usage flush listener failed');
      }
    }
  }

  /** The peak this process holds for the user on that UTC day (0: none, or it holds another day). */
  private heldPeak(userId: number, day: number): number {
    const held = this.userPeaks.get(userId);
    return held !== undefined && Math.floor(held / PEAK_DAY) === day ? held % PEAK_DAY : 0;
  }

  /** Called only with an amount above heldPeak(userId, day). */
  private holdPeak(userId: number, day: number, amount: number): void {
    const held = this.userPeaks.get(userId);
    // A late event for an earlier day leaves the newer day's mark alone.
    if (held !== undefined && Math.floor(held / PEAK_DAY) > day) return;
    this.userPeaks.set(userId, day * PEAK_DAY + Math.min(amount, PEAK_DAY - 1));
  }

  private putBack(unwritten: Array<[string, UsageEntry]>): void {
    for (const [key, e] of unwritten) {
      const cur = this.buffer.get(key);
      if (cur) cur.amount = combine(e.type, cur.amount, e.amount);
      else if (this.buffer.size < this.o.maxKeys) this.buffer.set(key, e);
      else this.drop('usage buffer full after a failed flush');
    }
  }

  /** Stops the timer and writes what is left (shutdown); later records are still buffered but only flushed by hand. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
  }

  private startTimer(): void {
    if (this.timer || this.stopped) return;
    this.timer = setInterval(() => void this.flush(), this.o.flushIntervalMs);
    this.timer.unref();
  }

  private drop(reason: string): void {
    this.dropped++;
    const t = Date.now();
    if (t - this.lastDropLog < 60_000) return;
    this.lastDropLog = t;
    this.o.logger.warn({ dropped: this.dropped }, reason);
  }
}
