/**
 * Where a node's poll of `mwi_changes` stands. Auto-increment ids are
 * handed out when a row is inserted, not when its transaction commits: with
 * concurrent counts updates on MySQL, id 105 can be visible before 104, and
 * a poller that moved past 105 would never see 104 (seen: 1,000 updates
 * with 20 in flight left phones unlit). So each poll reads again every id
 * above the highest one seen `windowMs` ago, and skips the ids it already
 * handled. On Galera ids also step by the cluster size, so gaps are normal
 * and nothing waits for one to fill.
 *
 * A change whose transaction commits more than `windowMs` after a later
 * change was seen is missed; the next change of that mailbox, or the
 * device's next REGISTER, brings the counts.
 */
export class ChangeCursor {
  private readonly seen = new Set<number>();
  /** The highest id seen, by when: the low mark follows it windowMs behind. */
  private readonly marks: Array<{ at: number; maxId: number }> = [];
  private maxId: number;

  constructor(
    /** Every id up to this one is done (the newest when the node starts: earlier changes are not replayed). */
    private lowId: number,
    private readonly windowMs: number,
  ) {
    this.maxId = lowId;
  }

  /** Read ids above this. */
  get low(): number {
    return this.lowId;
  }

  /** The ids of a poll's rows not handled before (the caller handles them now). */
  take(ids: readonly number[], now: number): number[] {
    const fresh: number[] = [];
    for (const id of ids) {
      if (id <= this.lowId || this.seen.has(id)) continue;
      this.seen.add(id);
      fresh.push(id);
      if (id > this.maxId) this.maxId = id;
    }
    this.marks.push({ at: now, maxId: this.maxId });
    while (this.marks.length && this.marks[0]!.at <= now - this.windowMs) this.lowId = Math.max(this.lowId, this.marks.shift()!.maxId);
    for (const id of this.seen) if (id <= this.lowId) this.seen.delete(id);
    return fresh;
  }
}
