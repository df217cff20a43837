/**
 * Highest nonce-count seen per nonce (RFC 7616 §3.4: the server should
 * reject a request whose nc it has already seen for that nonce, to stop
 * replays). Kept in-process in a bounded LRU (a Map in insertion order):
 * a replay sent to *another* process sharing the database is not caught
 * within the nonce's lifetime — the nonce TTL bounds that window.
 */
export class NonceCountTracker {
  private readonly seen = new Map<number, number>();

  constructor(private readonly capacity: number) {}

  /** Records nc for a nonce (by NonceService.replayKey); false when nc is not above the highest seen (a replay). */
  accept(nonceKey: number, nc: number): boolean {
    const last = this.seen.get(nonceKey);
    if (last !== undefined && nc <= last) return false;
    this.seen.delete(nonceKey);
    this.seen.set(nonceKey, nc);
    if (this.seen.size > this.capacity) {
      const oldest = this.seen.keys().next().value;
      if (oldest !== undefined) this.seen.delete(oldest);
    }
    return true;
  }

  get size(): number {
    return this.seen.size;
  }
}
