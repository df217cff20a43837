import type { SipRequest, SipRequestContext, SipResponseSpec } from '../message/types.js';

export interface OverloadGateOptions {
  /** REGISTERs worked on at once; the next one is refused. */
  maxInFlight: number;
  /** Base of the Retry-After sent with the 503; each answer adds up to as much again at random. */
  retryAfterSeconds: number;
  /** Called for each refused REGISTER (metrics). */
  onShed?(): void;
}

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
 */
export class OverloadGate {
  private inFlight = 0;

  constructor(private readonly o: OverloadGateOptions) {}

  get current(): number {
    return this.inFlight;
  }

  wrap(register: Register): Register {
    return async (req, ctx) => {
      if (this.inFlight >= this.o.maxInFlight) {
        this.o.onShed?.();
        return this.overloaded();
      }
      this.inFlight++;
      try {
        return await register(req, ctx);
      } finally {
        this.inFlight--;
      }
    };
  }

  private overloaded(): SipResponseSpec {
    const base = this.o.retryAfterSeconds;
    const retryAfter = base + Math.floor(Math.random() * (base + 1));
    return { status: 503, reason: 'Service Unavailable', headers: [['Retry-After', String(retryAfter)]] };
  }
}
