import { expect } from 'chai';
import { NonceCountTracker } from '../../sip/digest/nonce-count-tracker.js';
import { AuthFailureGuard } from '../../sip/registrar/auth-failure-guard.js';

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
  const options = { ipFailures: 2, usernameFailures: 100, windowSeconds: 60, banSeconds: 600, now: () => 1_000_000 };

  it('keeps a ban while other sources come and go within its bound', () => {
    const g = new AuthFailureGuard({ ...options, maxEntries: 3 });
    g.recordFailure('192.0.2.1', 'pbx.example', 'alice');
    expect(g.recordFailure('192.0.2.1', 'pbx.example', 'alice').ipBanned).to.equal(true);
    g.recordFailure('192.0.2.2', 'pbx.example', 'bob');
    expect(g.isIpBanned('192.0.2.1')).to.equal(true);
    g.recordFailure('192.0.2.3', 'pbx.example', 'carol');
    expect(g.isIpBanned('192.0.2.1')).to.equal(true);
  });

  it('is bounded: a spray from many addresses keeps at most maxEntries counters', () => {
    const g = new AuthFailureGuard({ ...options, maxEntries: 3 });
    g.recordFailure('192.0.2.1', 'pbx.example', 'alice');
    g.recordFailure('192.0.2.1', 'pbx.example', 'alice');
    for (let i = 0; i < 100_000; i++) g.recordFailure(`2001:db8::${i.toString(16)}`, 'pbx.example', undefined);
    expect(g.isIpBanned('192.0.2.1'), 'pushed out by newer sources').to.equal(false);
  });
});
