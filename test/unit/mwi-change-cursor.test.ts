import { expect } from 'chai';
import { ChangeCursor } from '../../sip/mwi/change-cursor.js';

describe('ChangeCursor (polling mwi_changes whose ids commit out of order)', () => {
  it('hands each id over once, including one that commits after a higher one was seen', () => {
    const c = new ChangeCursor(100, 2000);
    expect(c.take([101, 103], 0)).to.deep.equal([101, 103]);
    // 102 committed late: still read, because the cursor stays at its low mark inside the window.
    expect(c.low).to.equal(100);
    expect(c.take([101, 102, 103], 250)).to.deep.equal([102]);
    expect(c.take([101, 102, 103, 104], 500)).to.deep.equal([104]);
  });

  it('moves the low mark to what was seen a window ago, and forgets the ids below it', () => {
    const c = new ChangeCursor(0, 1000);
    c.take([1, 2], 0);
    c.take([1, 2, 5], 600);
    c.take([1, 2, 5], 1000);
    expect(c.low, 'the highest id seen at t=0').to.equal(2);
    c.take([5, 7], 1700);
    expect(c.low, 'seen by t=600').to.equal(5);
    expect(c.take([5, 7, 6], 1800), '6 came late, within the window of 5').to.deep.equal([6]);
    // Below the low mark: too late, never handed over again (nor for the first time).
    expect(c.take([3, 4], 1900)).to.deep.equal([]);
  });

  it('starts after the ids recorded before it (no replay on start)', () => {
    const c = new ChangeCursor(50, 2000);
    expect(c.take([49, 50, 51], 0)).to.deep.equal([51]);
  });
});
