const BLOCK_BYTES = 64 * 1024;

/**
 * The bytes of UDP responses kept for Timer J (32 s), carved one after the
 * other out of 64 KB blocks of their own. A response kept as a JS string
 * lives in the old generation for 32 s: at 1,000 registrations/s that was
 * a megabyte promoted per second and tens of MB for every full GC to mark.
 * Here each response is a small view on off-heap bytes. Responses expire in
 * the order they were written, so a block's views die within a second of
 * each other and the block is freed whole; a block of Node's shared pool
 * (Buffer.from) would instead be pinned by one kept response among
 * short-lived buffers.
 */
export class RetainedResponses {
  private block = Buffer.allocUnsafeSlow(BLOCK_BYTES);
  private used = 0;

  /** The UTF-8 bytes of `text`, in retained storage. */
  copy(text: string): Buffer {
    const length = Buffer.byteLength(text);
    if (length > BLOCK_BYTES / 4) {
      const own = Buffer.allocUnsafeSlow(length);
      own.write(text);
      return own;
    }
    if (this.used + length > BLOCK_BYTES) {
      this.block = Buffer.allocUnsafeSlow(BLOCK_BYTES);
      this.used = 0;
    }
    const start = this.used;
    this.used += this.block.write(text, start);
    return this.block.subarray(start, this.used);
  }
}
