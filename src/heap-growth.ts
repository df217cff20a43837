import v8 from 'node:v8';

/**
 * After each full GC V8 sets the next old-generation limit to the live heap
 * times a factor it picks from allocation speed: up to 4 in a busy
 * registrar, i.e. 330–400 MB resident for ~115 MB live (100,000 bindings at
 * 800 REGISTERs/s), RSS rising until V8 gets round to collecting. A fixed
 * factor of 1 + percent/100 keeps the heap near 1.5× live (RSS flat at
 * 230–245 MB in the same run) for a full GC every ~30 s at that rate, most
 * of it concurrent. The flag is read at each limit computation, so setting
 * it after start takes effect from the next GC.
 */
export function applyHeapGrowth(percent: number): void {
  if (percent > 0) v8.setFlagsFromString(`--heap-growing-percent=${percent}`);
}
