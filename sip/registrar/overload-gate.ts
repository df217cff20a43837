import type { SipRequest, SipRequestContext, SipResponseSpec } from '../message/types.js';

export interface OverloadGateOptions {
  /** REGISTERs worked on at once; the next one is refused. */
  maxInFlight: number;
  /**
   * Also refused while answers take longer than this (a moving average of
   * the REGISTERs that reached the store) and at least LATENCY_RULE_MIN_IN_FLIGHT are in
   * progress: a bound on the count alone lets the wait grow to count ÷ drain
   * rate when the drain rate falls (a slow disk, a starved CPU).
   */
  targetLatencyMs: number;
  /**
   * Also refused while the requests queued in the kernel behind this one
   * will wait longer than this before they are read (UDP, where the edge
   * can tell: `SipRequestContext.queueWaitMs`); 0 turns the rule off. A
   * REGISTER that starts a registration (no credentials) is refused past
   * it, one that answers a challenge only past twice it: that phone's
   * first request is already paid for, and finishing it takes it out of
   * the queue for an hour where refusing it brings it back.
   */
  maxQueueWaitMs: number;
  /** Base of the Retry-After sent with the 503; each answer adds up to as much again at random. */
  retryAfterSeconds: number;
  /** Called for each refused REGISTER (metrics), with the rule that refused it. */
  onShed?(reason: ShedReason): void;
  /** Called with each REGISTER's queue wait where the edge measures it (metrics). */
  onQueueWait?(ms: number): void;
  now?: () => number;
}

/**
 * Below this many in progress the latency rule never refuses: the work in
 * progress is what brings the average back down, and a few slow answers on
 * a busy host (a GC pause, a neighbour's burst) are not an overload.
 */
export const LATENCY_RULE_MIN_IN_FLIGHT = 32;
/** Weight of the newest answer in the moving average. */
const ALPHA = 0.1;

export type ShedReason = 'in_flight' | 'latency' | 'queue';

type Register = (req: SipRequest, ctx: SipRequestContext) => Promise<SipResponseSpec | null>;

/**
 * Bounds the REGISTERs a process works on. Without a bound a burst past
 * what the database drains queues without limit: memory grows and every
 * answer comes after the phone gave up (RFC 3261 Timer F, 32 s), so the
 * backlog keeps the registrar useless long after the burst. With it, a
 * REGISTER past the bound costs one parse and one 503 (RFC 3261 §21.5.4)
 * whose Retry-After tells the phone when to come back; the jitter keeps
 * the refused phones from coming back in step. The work in progress
 * stays small, so the moment a burst ends new REGISTERs are served at once.
 *
 * A retransmission of a REGISTER still being worked on never gets here:
 * the server transaction (sip/transactions) absorbs it.
 *
 * The count and the latency see only the work this process has accepted.
 * Under CPU overload the backlog builds in the kernel's receive queue
 * instead, where every REGISTER waiting longer than T1 (500 ms) is
 * retransmitted before it is read: the load grows the further behind the
 * process is, and stays that way after the burst. The queue rule refuses
 * new work while that wait is long; a refusal costs a parse and a send,
 * so the queue drains faster than it fills.
 */
export class OverloadGate {
  private inFlight = 0;
  private latencyMs = 0;
  private readonly now: () => number;

  constructor(private readonly o: OverloadGateOptions) {
    this.now = o.now ?? Date.now;
  }

  /** The moving average of answer times (ms) the latency rule reads. */
  get latency(): number {
    return this.latencyMs;
  }

  get current(): number {
    return this.inFlight;
  }

  wrap(register: Register): Register {
    return async (req, ctx) => {
      if (ctx.queueWaitMs !== undefined) this.o.onQueueWait?.(ctx.queueWaitMs);
      const refused = this.refusal(req, ctx);
      if (refused) {
        this.o.onShed?.(refused);
        return this.overloaded();
      }
      this.inFlight++;
      const started = this.now();
      let status = 0;
      try {
        const response = await register(req, ctx);
        status = response?.status ?? 0;
        return response;
      } finally {
        this.inFlight--;
        // A challenge (401) never waits for the store: it would only pull the average down.
        if (status !== 401) this.latencyMs += (this.now() - started - this.latencyMs) * ALPHA;
      }
    };
  }

  private refusal(req: SipRequest, ctx: SipRequestContext): ShedReason | null {
    if (this.inFlight >= this.o.maxInFlight) return 'in_flight';
    if (this.inFlight >= LATENCY_RULE_MIN_IN_FLIGHT && this.latencyMs > this.o.targetLatencyMs) return 'latency';
    const wait = ctx.queueWaitMs;
    const max = this.o.maxQueueWaitMs;
    if (max > 0 && wait !== undefined && wait > max && (wait > 2 * max || req.header('authorization') === undefined)) return 'queue';
    return null;
  }

  private overloaded(): SipResponseSpec {
    const base = this.o.retryAfterSeconds;
    const retryAfter = base + Math.floor(Math.random() * (base + 1));
    return { status: 503, reason: 'Service Unavailable', headers: [['Retry-After', String(retryAfter)]] };
  }
}
