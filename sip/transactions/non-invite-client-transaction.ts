import { OutboundTimeoutError, type OutboundResponse } from './outbound-request-port.js';

export interface ClientTransactionTimers {
  /** RFC 3261 T1 (RTT estimate), 500 ms by default. */
  t1Ms: number;
  /** RFC 3261 T2, 4 s. */
  t2Ms?: number;
  /** Timer F, 64·T1 by default. */
  timeoutMs?: number;
}

/**
 * RFC 3261 §17.1.2 non-INVITE client transaction. Over an unreliable
 * transport the request is retransmitted by Timer E: T1, doubling up to T2
 * while Trying, every T2 once Proceeding (after a 1xx); Timer F ends it with
 * no final answer. Over TCP/TLS no retransmission (§17.1.2.2: E is not set).
 * The first final response completes it; retransmitted finals are the
 * transport's to drop (the branch is no longer pending).
 */
export class NonInviteClientTransaction {
  private timers: NodeJS.Timeout[] = [];
  private proceeding = false;
  private settle: ((r: OutboundResponse | Error) => void) | undefined;

  constructor(
    private readonly transmit: () => void,
    private readonly reliable: boolean,
    private readonly t: ClientTransactionTimers,
  ) {}

  start(): Promise<OutboundResponse> {
    const t2 = this.t.t2Ms ?? 4000;
    const timeout = this.t.timeoutMs ?? 64 * this.t.t1Ms;
    return new Promise<OutboundResponse>((resolve, reject) => {
      this.settle = (r) => {
        for (const x of this.timers) clearTimeout(x);
        this.timers = [];
        this.settle = undefined;
        if (r instanceof Error) reject(r);
        else resolve(r);
      };
      this.arm(setTimeout(() => this.settle?.(new OutboundTimeoutError(`no final response within ${timeout} ms (Timer F)`)), timeout));
      this.transmit();
      if (!this.reliable) {
        const again = (gap: number) =>
          this.arm(
            setTimeout(() => {
              if (!this.settle) return;
              this.transmit();
              again(this.proceeding ? t2 : Math.min(gap * 2, t2));
            }, gap),
          );
        again(this.t.t1Ms);
      }
    });
  }

  /** A response whose top Via branch is ours. */
  receive(response: OutboundResponse): void {
    if (response.status < 200) {
      this.proceeding = true;
      return;
    }
    this.settle?.(response);
  }

  /** The transport failed under us (connection reset): ends the transaction (§17.1.4). */
  fail(err: Error): void {
    this.settle?.(err);
  }

  private arm(t: NodeJS.Timeout): void {
    t.unref();
    this.timers.push(t);
  }
}
