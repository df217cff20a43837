import { LRUCache } from 'lru-cache';

/**
 * A least-recently-used cache of at most `max` entries that takes memory as
 * it fills. Given `max`, lru-cache allocates and fills its index arrays for
 * every entry at construction (about 16 resident bytes an entry): the twenty
 * caches of a process sized for 100,000 users and sources held ~32 MB before
 * the first entry, in the serve process and in each SIP worker alike.
 * Bounded by `maxSize` with every entry of size 1 it evicts the same way and
 * grows its arrays instead.
 */
export function boundedCache<K extends NonNullable<unknown>, V extends NonNullable<unknown>>(max: number): LRUCache<K, V> {
  return new LRUCache<K, V>({ maxSize: max, sizeCalculation: () => 1 });
}
