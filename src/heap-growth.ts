import v8 from 'node:v8';

/**
 * After each full GC V8 sets the next old-generation limit to the live heap
 * times a factor it picks from allocation speed: up to 4 in a busy
 * registrar, i.e. 330–407 MB resident for ~115 MB live (100,000 bindings at
 * 800 REGISTERs/s), RSS rising until V8 gets round to collecting. A fixed
 * factor of 1 + percent/100 bounds that. Each full GC stalls the event loop
 * for 30–65 ms (the latency tail), so the factor trades memory for p99:
 * measured, 50 → 240–254 MB at 100,000 bindings but p99 24–32 ms at
 * 1,000/s; 75 → 260–276 MB and 12–16 ms; 100 → 276–295 MB and 8–16 ms.
 * The flag is read at each limit computation, so setting it after start
 * takes effect from the next GC.
 */
export function applyHeapGrowth(percent: number): void {
  if (percent > 0) v8.setFlagsFromString(`--heap-growing-percent=${percent}`);
}
