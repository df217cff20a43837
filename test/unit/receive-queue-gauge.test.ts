import { expect } from 'chai';
import { ReceiveQueueGauge } from '../../sip/transports/receive-queue-gauge.js';

/**
 * A UDP receive queue as Linux books it: each datagram takes `size` bytes
 * (its truesize), and what a read takes is given back in batches, once
 * the reads add up to `threshold` bytes or the queue is empty (0: at every
 * read, as kernels before 4.10 did). `read` takes the oldest datagram out
 * and reports the read to the gauge at the test's clock.
 */
function kernelQueue(o: { size?: number; threshold: number }) {
  const size = o.size ?? 1280;
  let queued = 0;
  let unreleased = 0;
  let readings = 0;
  const gauge = new ReceiveQueueGauge(() => {
    readings++;
    return queued * size + unreleased;
  });
  return {
    /** How often the gauge asked the kernel. */
    get readings() {
      return readings;
    },
    arrive(n: number) {
      queued += n;
    },
    read(atMs: number): number {
      queued -= 1;
      unreleased += size;
      if (unreleased >= o.threshold || queued === 0) unreleased = 0;
      return gauge.onRead(atMs);
    },
    get queued() {
      return queued;
    },
  };
}

/** Reads `reads` datagrams at `perMs` a millisecond from `startMs`, `burst` arriving every `burst` reads; the last estimate. */
function drain(q: ReturnType<typeof kernelQueue>, o: { reads: number; perMs: number; burst: number; startMs?: number }): number {
  let wait = 0;
  for (let i = 1; i <= o.reads; i++) {
    wait = q.read((o.startMs ?? 0) + i / o.perMs);
    if (o.burst && i % o.burst === 0) q.arrive(o.burst);
  }
  return wait;
}

describe('ReceiveQueueGauge', () => {
  it('estimates the wait as datagrams queued over datagrams read a millisecond, through batched releases', () => {
    // A standing queue of about 1,000 datagrams read at 4 a millisecond; the phones' datagrams come in bursts, 4 every 4 reads.
    const q = kernelQueue({ threshold: 300 * 1280 });
    q.arrive(1001);
    const wait = drain(q, { reads: 2000, perMs: 4, burst: 4 });
    // About 1,000 queued at 4/ms, whatever part of the reads the kernel has not given back yet.
    expect(q.queued).to.be.within(997, 1001);
    expect(wait).to.be.closeTo(q.queued / 4, 5);
  });

  it('learns at once where the kernel gives every read back (before Linux 4.10)', () => {
    const q = kernelQueue({ size: 2304, threshold: 0 });
    q.arrive(1001);
    const wait = drain(q, { reads: 800, perMs: 4, burst: 4 });
    expect(wait).to.be.closeTo(q.queued / 4, 5);
  });

  it('before its first release, assumes a page a datagram: the queue looks shorter than it is, never longer', () => {
    const q = kernelQueue({ threshold: 1_000_000 * 1280 });
    q.arrive(3000);
    const wait = drain(q, { reads: 800, perMs: 4, burst: 0 });
    expect(q.queued).to.equal(2200);
    expect(wait).to.be.greaterThan(0);
    expect(wait).to.be.lessThan(2200 / 4);
  });

  it('says 0 while the queue is empty, and before it has learned a read rate', () => {
    const q = kernelQueue({ threshold: 1000 });
    q.arrive(1);
    expect(q.read(1)).to.equal(0);
    // Deep at once, but no window of reads yet: nothing is known, nothing is claimed.
    q.arrive(500);
    expect(q.read(2)).to.equal(0);
  });

  it('forgets the read rate after an idle window, so the first queue of a burst is not taken for an endless one', () => {
    const q = kernelQueue({ threshold: 100 * 1280 });
    q.arrive(400);
    drain(q, { reads: 300, perMs: 1, burst: 0 });
    // Idle for 10 s, then a burst of 1,000.
    q.arrive(1000);
    expect(q.read(10_300)).to.equal(0);
    // Within the first window of the burst it still knows no rate; after one window it does.
    for (let t = 10_301; t < 10_400; t++) expect(q.read(t)).to.equal(0);
    expect(q.read(10_401)).to.be.greaterThan(0);
  });

  it('asks the kernel at most once per millisecond of its clock, and still follows the queue between readings', () => {
    // The process's clock ticks in whole milliseconds; 8 reads a millisecond, bursts of 8 every 8 reads.
    const q = kernelQueue({ threshold: 300 * 1280 });
    q.arrive(2001);
    let wait = 0;
    for (let i = 1; i <= 4000; i++) {
      wait = q.read(Math.floor(i / 8));
      if (i % 8 === 0) q.arrive(8);
    }
    expect(q.readings).to.be.at.most(501);
    expect(wait).to.be.closeTo(q.queued / 8, 8);
    // Draining without arrivals: the estimate falls with the reads between two readings.
    const before = q.read(600);
    const next = q.read(600);
    expect(next).to.be.lessThan(before);
  });

  it('does not learn the datagram size from a release it saw only several reads late', () => {
    // The queue empties (a release) at the fourth read of each odd millisecond, and four more arrive before the next
    // reading, which sees the fall only after eight reads: half the true size if taken at face value, and the queue
    // would then look twice as long as it is. Before anything is learned a page a datagram is assumed.
    const q = kernelQueue({ threshold: 1_000_000 * 1280 });
    for (let ms = 1; ms <= 400; ms += 2) {
      q.arrive(4);
      for (let r = 0; r < 4; r++) q.read(ms);
      q.arrive(4);
      for (let r = 0; r < 3; r++) q.read(ms);
      q.read(ms + 1);
    }
    q.arrive(2000);
    const wait = q.read(401);
    expect(q.queued).to.equal(1999);
    // About 4 reads a millisecond: the truth is some 500 ms; never more.
    expect(wait).to.be.greaterThan(0);
    expect(wait).to.be.at.most(1999 / 4);
  });
});
