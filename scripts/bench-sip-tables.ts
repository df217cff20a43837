/**
 * npm run bench:sip-tables
 *
 * Cost per new entry of the registrar's bounded in-memory tables once they
 * are full, which is their steady state under load: the server-transaction
 * table (65,536, Timer J 32 s; full from ~1,000 registrations/s per process),
 * the nonce-count table (100,000; a fresh nonce per registration) and the
 * auth-failure counters (100,000 sources). Each is filled past its cap and
 * timed over a further N entries; an eviction that walks the table shows up
 * here as tens of microseconds per entry.
 */
import { ServerTransactionTable } from '../sip/transactions/server-transaction-table.js';
import { NonceCountTracker } from '../sip/digest/nonce-count-tracker.js';
import { AuthFailureGuard } from '../sip/registrar/auth-failure-guard.js';
import { MemoryFailureStore } from '../src/throttle/failure-store.js';

const N = 300_000;

function time(label: string, run: (i: number) => void): void {
  for (let i = 0; i < N; i++) run(i); // past the cap, and warm
  const t0 = process.hrtime.bigint();
  for (let i = N; i < 2 * N; i++) run(i);
  const ns = Number(process.hrtime.bigint() - t0) / N;
  console.log(`${label.padEnd(44)} ${(ns / 1000).toFixed(2).padStart(7)} µs per new entry`);
}

const transactions = new ServerTransactionTable({ maxEntries: 65_536, timerT1Ms: 500 });
time('server transactions (cap 65,536, 5,000/s)', (i) => {
  const now = Math.floor(i / 5); // 5,000 transactions per simulated second: Timer J keeps 160,000
  const key = `udp 192.0.2.1 5060 z9hG4bK-${i} 192.0.2.1:5060 REGISTER 2 ${i}@192.0.2.1`;
  transactions.complete(transactions.receive(key, now).transaction, 'SIP/2.0 200 OK', now, false);
});

const nonces = new NonceCountTracker(100_000);
time('nonce counts (cap 100,000)', (i) => nonces.accept((i * 2_654_435_761) % 4_294_967_296, 1));

const guard = new AuthFailureGuard({
  store: new MemoryFailureStore(),
  ipFailures: 5,
  usernameFailures: 10,
  windowSeconds: 60,
  banSeconds: 600,
  trustedSourceSeconds: 0,
});
// The memory store counts synchronously; the promise only carries the answer.
time('auth-failure counters (cap 100,000 sources)', (i) => void guard.recordFailure(`2001:db8::${i.toString(16)}`, undefined));
