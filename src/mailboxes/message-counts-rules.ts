import { ConflictError, PreconditionFailedError, RuleError } from '../errors.js';

export interface MessageCounts {
  new: number;
  old: number;
  urgent_new: number;
  urgent_old: number;
}

export interface StoredCounts extends MessageCounts {
  seq: number;
}

/** The counts' ETag: changes with every applied update. */
export function countsEtag(mailboxId: number, seq: number): string {
  return `"mc${mailboxId}-${seq}"`;
}

/** RFC 3842 §5.2: urgent messages are a subset of the new (old) ones. */
export function urgentWithinTotal(c: MessageCounts): void {
  if (c.urgent_new > c.new) throw new RuleError('urgent_exceeds_total', `urgent_new (${c.urgent_new}) cannot exceed new (${c.new})`, 'urgent_new');
  if (c.urgent_old > c.old) throw new RuleError('urgent_exceeds_total', `urgent_old (${c.urgent_old}) cannot exceed old (${c.old})`, 'urgent_old');
}

export type CountsDecision = { kind: 'unchanged' } | { kind: 'apply'; seq: number; countsChanged: boolean };

/**
 * What an update does, given what is stored. An older update never
 * overwrites a newer one: with `sequence`, one below the stored number is
 * refused (409 stale_sequence) and the same number again is a replay (no
 * change, 200) — unless it carries other counts (409 sequence_reused);
 * with If-Match, the ETag must be the stored one (412). Without either the
 * update applies and the sequence moves on by one.
 */
export function decideCounts(mailboxId: number, stored: StoredCounts, next: MessageCounts, sequence?: number, ifMatch?: string): CountsDecision {
  if (ifMatch !== undefined && ifMatch !== '*' && ifMatch !== countsEtag(mailboxId, stored.seq)) {
    throw new PreconditionFailedError('etag_mismatch', 'The message counts changed since you read them; GET the mailbox again and retry');
  }
  const same = stored.new === next.new && stored.old === next.old && stored.urgent_new === next.urgent_new && stored.urgent_old === next.urgent_old;
  if (sequence !== undefined) {
    if (sequence < stored.seq)
      throw new ConflictError('stale_sequence', `Sequence ${sequence} is older than the last applied update (${stored.seq}); it was ignored`, 'sequence');
    if (sequence === stored.seq) {
      if (same) return { kind: 'unchanged' };
      throw new ConflictError('sequence_reused', `Sequence ${sequence} was already applied with other counts`, 'sequence');
    }
    return { kind: 'apply', seq: sequence, countsChanged: !same };
  }
  if (same) return { kind: 'unchanged' };
  return { kind: 'apply', seq: stored.seq + 1, countsChanged: true };
}
