import { randomFillSync } from 'node:crypto';

// One call into the CSPRNG costs ~3 µs whatever the size: tags and nonce
// salts (a few bytes per response) are cut from a 4 KB pool instead.
const POOL = Buffer.alloc(4096);
let offset = POOL.length;

/** Copies `n` (≤ 64) fresh random bytes into `target` at `at`. */
export function fillRandom(target: Buffer, at: number, n: number): void {
  if (offset + n > POOL.length) {
    randomFillSync(POOL);
    offset = 0;
  }
  POOL.copy(target, at, offset, offset + n);
  // Never hand out the same bytes twice.
  POOL.fill(0, offset, offset + n);
  offset += n;
}

/** `n` random bytes as hex. */
export function randomHex(n: number): string {
  const b = Buffer.allocUnsafe(n);
  fillRandom(b, 0, n);
  return b.toString('hex');
}
