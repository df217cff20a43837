/** RFC 3261 §17.2.2 (Figure 8) states of a non-INVITE server transaction. */
export enum NonInviteServerTransactionState {
  Trying = 'trying',
  Proceeding = 'proceeding',
  Completed = 'completed',
  Terminated = 'terminated',
}

/**
 * One non-INVITE server transaction: remembers what was last sent so a
 * retransmitted request is answered from here instead of reaching the
 * handler again (RFC 3261 §17.2.2).
 */
export class NonInviteServerTransaction {
  readonly key: string;
  state = NonInviteServerTransactionState.Trying;
  /** Last response sent (provisional in Proceeding, final in Completed); undefined when dropped silently. */
  lastResponse: string | Buffer | undefined;
  /** Epoch ms when Timer J fires; Infinity while the handler is working. */
  expiresAt = Number.POSITIVE_INFINITY;

  constructor(key: string) {
    this.key = key;
  }

  /**
   * What to send for a retransmission of the request. RFC 3261 §17.2.2:
   * in Trying it is absorbed; in Proceeding the last provisional is resent;
   * in Completed the final response is resent.
   */
  retransmissionResponse(): string | Buffer | undefined {
    return this.state === NonInviteServerTransactionState.Trying ? undefined : this.lastResponse;
  }

  sendProvisional(text: string): void {
    if (this.state === NonInviteServerTransactionState.Trying || this.state === NonInviteServerTransactionState.Proceeding) {
      this.state = NonInviteServerTransactionState.Proceeding;
      this.lastResponse = text;
    }
  }

  /** Evicted before Timer J (the table is full): nothing of it is needed any more. */
  forget(): void {
    this.state = NonInviteServerTransactionState.Terminated;
    this.lastResponse = undefined;
  }

  /** Record the final response (undefined: the request was dropped) and arm Timer J. */
  complete(text: string | Buffer | undefined, now: number, timerJMs: number): void {
    this.state = NonInviteServerTransactionState.Completed;
    this.lastResponse = text;
    this.expiresAt = now + timerJMs;
  }
}
