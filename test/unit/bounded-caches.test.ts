import { expect } from 'chai';
import { NonceCountTracker } from '../../sip/digest/nonce-count-tracker.js';
import { AuthFailureGuard } from '../../sip/registrar/auth-failure-guard.js';
import { MemoryFailureStore } from '../../src/throttle/failure-store.js';
import { boundedCache } from '../../src/shared/bounded-cache.js';

describe('boundedCache', () => {
  it('holds at most max entries, evicting the least recently used', () => {
    const c = boundedCache<number, string>(3);
    for (const n of [1, 2, 3]) c.set(n, String(n));
    c.get(1);
    c.set(4, '4');
    expect([...c.keys()].sort()).to.deep.equal([1, 3, 4]);
    for (let n = 10; n < 10_010; n++) c.set(n, String(n));
    expect(c.size).to.equal(3);
  });

  it('takes memory as it fills, not for its bound at construction', () => {
    const before = process.memoryUsage().arrayBuffers + process.memoryUsage().heapUsed;
    const caches = Array.from({ length: 20 }, () => boundedCache<number, number>(1_000_000));
    const grown = process.memoryUsage().arrayBuffers + process.memoryUsage().heapUsed - before;
    // Preallocated for max, twenty such caches would hold ~300 MB of index arrays.
    expect(grown).to.be.below(20 * 1024 * 1024);
    expect(caches).to.have.length(20);
  });
});

describe('NonceCountTracker', () => {
  it('accepts a rising nonce count and refuses a repeated or lower one', () => {
    const t = new NonceCountTracker(10);
    expect(t.accept(1, 1)).to.equal(true);
    expect(t.accept(1, 1)).to.equal(false);
    expect(t.accept(1, 3)).to.equal(true);
    expect(t.accept(1, 2)).to.equal(false);
    expect(t.accept(2, 1), 'another nonce counts on its own').to.equal(true);
  });

  it('holds at most its capacity, forgetting the nonce least recently used', () => {
    const t = new NonceCountTracker(3);
    for (const n of [1, 2, 3]) t.accept(n, 1);
    t.accept(1, 2); // nonce 1 in use again: nonce 2 is now the least recently used
    t.accept(4, 1);
    expect(t.size).to.equal(3);
    expect(t.accept(1, 2), 'nonce 1 is remembered').to.equal(false);
    expect(t.accept(2, 1), 'nonce 2 was forgotten').to.equal(true);
    for (let n = 100; n < 100_100; n++) t.accept(n, 1);
    expect(t.size).to.equal(3);
  });
});

describe('AuthFailureGuard', () => {
  const now = () => 1_000_000;
  const options = { ipFailures: 2, usernameFailures: 100, windowSeconds: 60, banSeconds: 600, trustedSourceSeconds: 0, now };

  it('keeps a ban while other sources come and go within its bound', async () => {
    const g = new AuthFailureGuard({ ...options, store: new MemoryFailureStore(now, 3), maxEntries: 3 });
    await g.recordFailure('192.0.2.1', 'pbx.example\0id:1');
    expect((await g.recordFailure('192.0.2.1', 'pbx.example\0id:1')).ipBanned).to.equal(true);
    await g.recordFailure('192.0.2.2', 'pbx.example\0id:2');
    expect(g.isIpBanned('192.0.2.1')).to.equal(true);
    await g.recordFailure('192.0.2.3', 'pbx.example\0id:3');
    expect(g.isIpBanned('192.0.2.1')).to.equal(true);
  });

  it('is bounded: a spray of banned addresses keeps at most maxEntries bans in view', async () => {
    const store = new MemoryFailureStore(now, 3);
    const g = new AuthFailureGuard({ ...options, store, maxEntries: 3 });
    await g.recordFailure('192.0.2.1', undefined);
    await g.recordFailure('192.0.2.1', undefined);
    for (let i = 0; i < 10_000; i++) {
      await g.recordFailure(`2001:db8::${i.toString(16)}`, undefined);
      await g.recordFailure(`2001:db8::${i.toString(16)}`, undefined);
    }
    expect(g.isIpBanned('192.0.2.1'), 'pushed out by newer bans').to.equal(false);
    expect((await store.peek('sip-ip', '192.0.2.1', { limit: 2, windowSeconds: 60, blockSeconds: 600 })).count, 'the store is bounded too').to.equal(0);
  });
});
