import { LRUCache } from 'lru-cache';

/**
 * Highest nonce-count seen per nonce (RFC 7616 §3.4: the server should
 * reject a request whose nc it has already seen for that nonce, to stop
 * replays). Kept in-process in a bounded LRU: a replay sent to *another*
 * process sharing the database is not caught within the nonce's lifetime —
 * the nonce TTL bounds that window. lru-cache evicts in O(1); a Map trimmed
 * from its front cost ~46 µs per new nonce once full (V8 walks every slot
 * deleted since its last rehash to find the first live one).
 */
export class NonceCountTracker {
  private readonly seen: LRUCache<number, number>;

  constructor(capacity: number) {
    // maxSize, not max: given max, lru-cache allocates its arrays for every entry up front (see src/shared/bounded-cache.ts).
    this.seen = new LRUCache({ maxSize: capacity, sizeCalculation: () => 1 });
  }

  /** Records nc for a nonce (by NonceService.replayKey); false when nc is not above the highest seen (a replay). */
  accept(nonceKey: number, nc: number): boolean {
    const last = this.seen.get(nonceKey);
    if (last !== undefined && nc <= last) return false;
    this.seen.set(nonceKey, nc);
    return true;
  }

  get size(): number {
    return this.seen.size;
  }
}
