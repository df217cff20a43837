import type { SipRequestContext } from '../message/types.js';
import type { ParsedSipRequest } from '../message/sip-request.js';
import { ownString } from '../message/own-string.js';
import { NonInviteServerTransaction, NonInviteServerTransactionState } from './non-invite-server-transaction.js';

export interface ServerTransactionTableOptions {
  /** Cap on remembered transactions; the oldest is evicted past it. */
  maxEntries: number;
  /** RFC 3261 T1 (default 500 ms); Timer J = 64*T1 on unreliable transports. */
  timerT1Ms: number;
}

export type ReceiveOutcome = { kind: 'new'; transaction: NonInviteServerTransaction } | { kind: 'retransmission'; transaction: NonInviteServerTransaction };

const MAGIC_COOKIE = 'z9hG4bK';

/**
 * The transaction-matching key (RFC 3261 §17.2.3). With the magic cookie:
 * branch + sent-by + method. Without it (RFC 2543 peers, or a bare
 * `z9hG4bK` as in RFC 4475 §3.2.1): Request-URI, tags, Call-ID, CSeq and
 * the top Via. Added on top: the transport and source address, so one
 * client cannot replay another's branch to read its cached response; and
 * Call-ID + CSeq number, because some phones reuse a branch for the
 * authenticated retry of a REGISTER — a pure branch match would answer
 * that retry with the cached 401 forever. A true retransmission repeats
 * both, so RFC-conformant matching is unchanged.
 */
export function transactionKey(req: ParsedSipRequest, ctx: SipRequestContext): string {
  const via = req.topVia;
  const origin = `${ctx.transport} ${ctx.source.address} ${ctx.source.port}`;
  const branch = via.branch;
  if (branch !== undefined && branch.length > MAGIC_COOKIE.length && branch.startsWith(MAGIC_COOKIE)) {
    return ownString(`${origin} ${branch} ${via.host}:${via.port ?? ''} ${req.method} ${req.cseq.seq} ${req.callId}`);
  }
  return ownString(
    `${origin} 2543 ${req.uri} ${req.to.params['tag'] ?? ''} ${req.from.params['tag'] ?? ''} ${req.callId} ${req.cseq.seq} ${req.method} ${via.raw}`,
  );
}

/**
 * Non-INVITE server transactions by key, bounded in memory. Completed
 * transactions also wait in a queue in completion order: Timer J is the
 * same for every one of them, so the queue's head is always the next to
 * expire and expiry costs O(expired). (Walking the Map from its start
 * instead skips every slot deleted since V8 last rehashed it: at 3,000
 * transactions/s that walk was a few percent of the process.)
 */
export class ServerTransactionTable {
  private readonly entries = new Map<string, NonInviteServerTransaction>();
  private expiring: Array<NonInviteServerTransaction | undefined> = [];
  private head = 0;
  private readonly options: ServerTransactionTableOptions;

  constructor(options: ServerTransactionTableOptions) {
    this.options = options;
  }

  get size(): number {
    return this.entries.size;
  }

  /** Timer J for a transport: 64*T1 when unreliable, 0 when reliable (RFC 3261 §17.2.2). */
  timerJ(reliable: boolean): number {
    return reliable ? 0 : 64 * this.options.timerT1Ms;
  }

  receive(key: string, now: number): ReceiveOutcome {
    const existing = this.entries.get(key);
    if (existing && existing.expiresAt > now) return { kind: 'retransmission', transaction: existing };
    if (existing) this.entries.delete(key);
    this.expire(now);
    while (this.entries.size >= this.options.maxEntries) {
      if (!this.evictOldestCompleted() && !this.evictOldest()) break;
    }
    const transaction = new NonInviteServerTransaction(key);
    this.entries.set(key, transaction);
    return { kind: 'new', transaction };
  }

  complete(transaction: NonInviteServerTransaction, response: string | Buffer | undefined, now: number, reliable: boolean): void {
    // Evicted at the cap while the handler worked: nothing can match it any more, so keep nothing.
    if (transaction.state === NonInviteServerTransactionState.Terminated) return;
    const timerJ = this.timerJ(reliable);
    transaction.complete(response, now, timerJ);
    if (timerJ === 0) {
      transaction.state = NonInviteServerTransactionState.Terminated;
      this.unmap(transaction);
    } else {
      this.expiring.push(transaction);
    }
  }

  /** The request was answered statelessly (RFC 3261 §8.2.7): nothing is kept, and a retransmission is a new request. */
  release(transaction: NonInviteServerTransaction): void {
    transaction.state = NonInviteServerTransactionState.Terminated;
    this.unmap(transaction);
  }

  /**
   * At the cap, the oldest completed transaction goes first: it is the head
   * of the expiry queue, so this is O(1). (Taking the Map's first entry
   * instead walks every slot deleted since V8 last rehashed the table: at
   * the cap that was ~17 µs per new transaction.) One still in its handler
   * keeps absorbing retransmissions while a completed one can go.
   */
  private evictOldestCompleted(): boolean {
    const q = this.expiring;
    while (this.head < q.length) {
      const tx = q[this.head]!;
      q[this.head++] = undefined;
      if (!this.unmap(tx)) continue; // already gone
      tx.forget();
      return true;
    }
    return false;
  }

  /**
   * Removes the transaction's key unless the key now belongs to another one
   * (a key reused after this transaction ended or was evicted); true when it was removed.
   */
  private unmap(tx: NonInviteServerTransaction): boolean {
    if (this.entries.get(tx.key) !== tx) return false;
    this.entries.delete(tx.key);
    return true;
  }

  /** Every transaction is still in its handler: the oldest of them goes (it will store nothing when it completes). */
  private evictOldest(): boolean {
    const oldest = this.entries.entries().next();
    if (oldest.done) return false;
    this.entries.delete(oldest.value[0]);
    oldest.value[1].forget();
    return true;
  }

  /** Drop every transaction whose Timer J has fired (the edge calls this periodically). */
  sweep(now: number): void {
    this.expire(now);
  }

  clear(): void {
    this.entries.clear();
    this.expiring = [];
    this.head = 0;
  }

  private expire(now: number): void {
    const q = this.expiring;
    let i = this.head;
    while (i < q.length && q[i]!.expiresAt <= now) {
      const tx = q[i]!;
      // Let go of it now: the queue is compacted only when half of it is spent, and until then
      // the slot would keep the transaction and its response reachable (a third of the table's memory).
      q[i++] = undefined;
      tx.state = NonInviteServerTransactionState.Terminated;
      this.unmap(tx);
    }
    if (i > 4096 && i * 2 > q.length) {
      this.expiring = q.slice(i);
      i = 0;
    }
    this.head = i;
  }
}
