/**
 * How long the datagrams in a UDP socket's receive queue will wait before
 * this process reads them, estimated at each read.
 *
 * Node cannot see that wait: a datagram's `receivedAt` is when JavaScript
 * got it, not when the kernel did. Under overload it is the wait that
 * matters, because a phone retransmits a REGISTER after T1 (500 ms): a
 * queue holding more than T1 of work makes every REGISTER in it arrive
 * twice, and the process falls further behind the more it is behind.
 *
 * The kernel tells the queue's size in bytes (SO_MEMINFO), booked with
 * each datagram's buffer overhead (its `truesize`, which depends on the
 * driver: 1,280 bytes for a 600-byte REGISTER on loopback). Linux books a
 * read's memory back in batches (since 4.10, once the reads add up to a
 * quarter of the buffer, or the datagrams it took in at once are all
 * read), so between two releases the figure still counts what was read
 * since the last one. The gauge learns both things from the reads:
 *
 * - the figure never falls except at a release, and a release gives back
 *   exactly the datagrams read since the one before (datagrams arriving
 *   between two reads only make the fall smaller). Their size is the fall
 *   over their count; the gauge keeps a slowly decaying maximum, and too
 *   large a size only makes the wait look shorter (it never sheds early).
 *   Until the first release it could see (at low load each read empties
 *   the queue, so it sees none) it assumes ASSUMED_DATAGRAM_BYTES;
 * - the queue is then the figure over that size, less the datagrams read
 *   since the last release, and the wait is the queue over the datagrams
 *   read a millisecond in the last window of WINDOW_MS.
 *
 * The figure is read once per millisecond of the caller's clock at most:
 * reads in between only count, and a release is then seen some reads
 * late, so a size is learned only where that makes little difference.
 */
export class ReceiveQueueGauge {
  private lastBytes = 0;
  private readsSinceRelease = 0;
  private bytesPerDatagram = ASSUMED_DATAGRAM_BYTES;
  private learned = false;
  private windowStart = 0;
  private lastRead = -Infinity;
  private readsInWindow = 0;
  private readsPerMs = 0;
  /** When the kernel's figure was last read (the clock of onRead), and the reads since, this one included. */
  private lastSampleAt = NaN;
  private readsSinceSample = 0;
  /** Reads next to the last release seen that may have been before or after it. */
  private uncertainAtRelease = 0;

  /** `queuedBytes` reads the socket's receive queue (bytes as the kernel books them). */
  constructor(private readonly queuedBytes: () => number) {}

  /**
   * Call once per datagram read, after reading it. The estimated wait in
   * ms of the datagrams still queued behind it; 0 while nothing is known.
   */
  onRead(now: number): number {
    this.readsSinceRelease++;
    this.readsSinceSample++;
    this.countRead(now);
    // The kernel's figure at most once per millisecond of the clock (a system call per datagram took 2 % of a busy
    // registrar's time). Between two readings the estimate below shrinks by the reads, as if nothing arrived.
    if (now !== this.lastSampleAt) {
      const bytes = this.queuedBytes();
      if (bytes < 0) return 0;
      this.lastSampleAt = now;
      // A release seen at this reading happened at one of the reads since the last one: those may belong to either side.
      const uncertain = this.readsSinceSample - 1;
      this.readsSinceSample = 0;
      if (bytes < this.lastBytes) {
        // Learn only from a count known to a sixteenth (always, when every read is a reading): a size learned
        // too small would make the queue look longer than it is and shed early.
        if (16 * (uncertain + this.uncertainAtRelease) <= this.readsSinceRelease) {
          const size = (this.lastBytes - bytes) / this.readsSinceRelease;
          // The slow decay lets the size follow traffic whose datagrams became smaller.
          this.bytesPerDatagram = this.learned ? Math.max(size, this.bytesPerDatagram - this.bytesPerDatagram / 1024) : size;
          this.learned = true;
        }
        this.uncertainAtRelease = uncertain;
        this.readsSinceRelease = 0;
      }
      this.lastBytes = bytes;
    }
    if (this.lastBytes === 0 || this.readsPerMs <= 0) return 0;
    const queued = this.lastBytes / this.bytesPerDatagram - this.readsSinceRelease;
    return queued > 0 ? queued / this.readsPerMs : 0;
  }

  private countRead(now: number): void {
    if (now - this.lastRead > WINDOW_MS) {
      // Idle for a window: the rate before says nothing about now (it would make the first queue of a burst look endless).
      this.windowStart = now;
      this.readsInWindow = 0;
      this.readsPerMs = 0;
    }
    this.lastRead = now;
    this.readsInWindow++;
    const elapsed = now - this.windowStart;
    if (elapsed < WINDOW_MS) return;
    this.readsPerMs = this.readsInWindow / elapsed;
    this.windowStart = now;
    this.readsInWindow = 0;
  }
}

/**
 * A page: more than a SIP datagram takes on the drivers we know of
 * (loopback books 1,280 bytes for a 600-byte REGISTER, 2,304 for 1,400),
 * so before the gauge has learned the size, a queue looks shorter than it
 * is.
 */
const ASSUMED_DATAGRAM_BYTES = 4096;

/**
 * The read rate's window. Short enough to follow a burst within a few
 * windows; long enough to hold a few hundred reads at the rates where a
 * queue builds.
 */
const WINDOW_MS = 100;
