import { expect } from 'chai';
import v8 from 'node:v8';
import vm from 'node:vm';
import { ServerTransactionTable } from '../../sip/transactions/server-transaction-table.js';
import { NonInviteServerTransactionState } from '../../sip/transactions/non-invite-server-transaction.js';

describe('ServerTransactionTable', () => {
  it('absorbs a retransmission while the handler works, then answers it from the cache', () => {
    const table = new ServerTransactionTable({ maxEntries: 10, timerT1Ms: 500 });
    const first = table.receive('k', 1000);
    expect(first.kind).to.equal('new');
    const during = table.receive('k', 1001);
    expect(during.kind).to.equal('retransmission');
    expect(during.transaction.retransmissionResponse()).to.equal(undefined);
    table.complete(first.transaction, 'SIP/2.0 200 OK', 1002, false);
    expect(table.receive('k', 1003).transaction.retransmissionResponse()).to.equal('SIP/2.0 200 OK');
  });

  it('forgets an unreliable transaction after Timer J = 64*T1', () => {
    const table = new ServerTransactionTable({ maxEntries: 10, timerT1Ms: 500 });
    table.complete(table.receive('k', 0).transaction, 'r', 0, false);
    expect(table.receive('k', 64 * 500 - 1).kind).to.equal('retransmission');
    expect(table.receive('k', 64 * 500).kind).to.equal('new');
  });

  it('terminates a reliable transaction at once (Timer J = 0)', () => {
    const table = new ServerTransactionTable({ maxEntries: 10, timerT1Ms: 500 });
    const tx = table.receive('k', 0).transaction;
    table.complete(tx, 'r', 0, true);
    expect(tx.state).to.equal(NonInviteServerTransactionState.Terminated);
    expect(table.size).to.equal(0);
  });

  it('evicts the oldest entry past the cap', () => {
    const table = new ServerTransactionTable({ maxEntries: 3, timerT1Ms: 500 });
    for (const k of ['a', 'b', 'c', 'd']) table.receive(k, 0);
    expect(table.size).to.equal(3);
    expect(table.receive('a', 1).kind).to.equal('new');
    expect(table.receive('d', 1).kind).to.equal('retransmission');
  });

  it('at the cap, lets a completed transaction go before one whose handler is still working', () => {
    const table = new ServerTransactionTable({ maxEntries: 2, timerT1Ms: 500 });
    table.receive('working', 0);
    const done = table.receive('done', 1).transaction;
    table.complete(done, 'SIP/2.0 200 OK', 1, false);
    expect(table.receive('next', 2).kind).to.equal('new');
    expect(done.state).to.equal(NonInviteServerTransactionState.Terminated);
    expect(table.receive('working', 3).kind, 'a retransmission of the working one is still absorbed').to.equal('retransmission');
    expect(table.size).to.equal(2);
  });

  it('stays at its cap under churn past it, answering the newest from the cache', () => {
    const table = new ServerTransactionTable({ maxEntries: 1000, timerT1Ms: 500 });
    for (let i = 0; i < 50_000; i++) table.complete(table.receive(`k${i}`, i).transaction, `r${i}`, i, false);
    expect(table.size).to.equal(1000);
    expect(table.receive('k49999', 50_000).transaction.retransmissionResponse()).to.equal('r49999');
    expect(table.receive('k49000', 50_000).transaction.retransmissionResponse()).to.equal('r49000');
    expect(table.receive('k48999', 50_000).kind).to.equal('new');
  });

  it('keeps no response for a transaction evicted at the cap, completed or still working', () => {
    const table = new ServerTransactionTable({ maxEntries: 2, timerT1Ms: 500 });
    const done = table.receive('done', 0).transaction;
    table.complete(done, 'SIP/2.0 200 OK', 0, false);
    const working = table.receive('working', 0).transaction;
    table.receive('x', 1);
    table.receive('y', 1);
    // Both were pushed out before Timer J: the completed one lets go of its response at once...
    expect(done.state).to.equal(NonInviteServerTransactionState.Terminated);
    expect(done.retransmissionResponse()).to.equal(undefined);
    // ...and the one whose handler was still working stores nothing when it finishes.
    table.complete(working, 'SIP/2.0 200 OK', 2, false);
    expect(working.retransmissionResponse()).to.equal(undefined);
    expect(table.size).to.equal(2);
  });

  it('lets go of an expired transaction and its response at once, not when the queue is next compacted', async () => {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    const table = new ServerTransactionTable({ maxEntries: 10, timerT1Ms: 500 });
    let tx: ReturnType<typeof table.receive>['transaction'] | undefined = table.receive('k', 0).transaction;
    table.complete(tx, 'SIP/2.0 200 OK', 0, false);
    const ref = new WeakRef(tx);
    tx = undefined;
    table.sweep(64 * 500);
    expect(table.size).to.equal(0);
    // WeakRefs are cleared only after the current job: let it end before collecting.
    await new Promise((r) => setImmediate(r));
    gc();
    expect(ref.deref()).to.equal(undefined);
  });

  it('sweeps expired entries', () => {
    const table = new ServerTransactionTable({ maxEntries: 10, timerT1Ms: 10 });
    table.complete(table.receive('a', 0).transaction, 'r', 0, false);
    table.receive('b', 0);
    table.sweep(10_000);
    expect(table.size).to.equal(1);
  });

  it('expires in completion order, keeps a newer transaction that reused an expired key, and stays small under churn', () => {
    const table = new ServerTransactionTable({ maxEntries: 100_000, timerT1Ms: 10 }); // Timer J = 640 ms
    const a = table.receive('a', 0).transaction;
    table.receive('b', 0);
    table.complete(a, 'r', 0, false);
    expect(table.receive('a', 640).kind).to.equal('new'); // the old 'a' expired; this one is in Trying
    table.sweep(10_000);
    expect(table.receive('a', 10_001).kind, "the new 'a' outlives the old one's expiry").to.equal('retransmission');
    // 20,000 transactions a second for 5 s: only Timer J's worth (640 ms) remains.
    for (let t = 0; t < 5000; t++) {
      for (let i = 0; i < 20; i++) table.complete(table.receive(`k${t}-${i}`, 20_000 + t).transaction, 'r', 20_000 + t, false);
    }
    expect(table.size).to.be.within(640 * 20, 642 * 20 + 2);
  });
});
