import { expect } from 'chai';
import { RetainedResponses } from '../../sip/transactions/retained-responses.js';

describe('RetainedResponses (UDP responses kept for Timer J)', () => {
  it('keeps each response as its exact UTF-8 bytes, unaffected by the ones written after it', () => {
    const store = new RetainedResponses();
    const texts = Array.from({ length: 400 }, (_, i) => `SIP/2.0 200 OK\r\nTo: "Zoë ${i}" <sip:${i}@bü.example>\r\nContent-Length: 0\r\n\r\n`);
    // 400 responses of ~80 bytes cross the 64 KB block boundary at least once... and their views must not overlap.
    const kept = texts.map((t) => store.copy(t));
    kept.forEach((b, i) => expect(b.toString('utf8')).to.equal(texts[i]));
    expect(kept[0]!.buffer).to.equal(kept[1]!.buffer);
  });

  it('starts a new block when one is full, and gives a large response an allocation of its own', () => {
    const store = new RetainedResponses();
    const chunk = 'x'.repeat(10_000);
    const first = store.copy(chunk);
    const views = Array.from({ length: 7 }, () => store.copy(chunk));
    expect(views.map((v) => v.buffer === first.buffer)).to.include(false);
    expect(views.every((v) => v.toString() === chunk)).to.equal(true);
    const big = store.copy('y'.repeat(40_000));
    expect(big.length).to.equal(40_000);
    expect(big.buffer).to.not.equal(views[views.length - 1]!.buffer);
  });
});
