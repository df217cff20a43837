import type { ResultSetHeader } from 'mysql2';
import { execute, type RegistrarPool } from './mysql-pool.js';
import { ownString } from '../message/own-string.js';
import type { ApplyRegisterInput, RegisterDecision } from './register-decision.js';
import { asDate, type BindingRow } from './binding-rows.js';

/**
 * Refreshes written behind (MySQL/MariaDB). Most REGISTERs a registrar sees
 * are refreshes: the same device, from the same address, pushing its expiry
 * forward. Such a REGISTER changes nobody's slot count, so max_bindings does
 * not need it to be written before the 200; it needs the database never to
 * show a live binding as expired. That holds as long as every deferred
 * refresh reaches the database before the expiry the database already has
 * for it, so a refresh is only deferred while that stored expiry is at
 * least `safetyMs` away, and is flushed within `flushMs` (≪ safetyMs).
 *
 * Each flush is one statement (one redo-log flush) for every refresh
 * deferred since the last one, instead of a transaction per REGISTER. A deferred
 * write applies only if the row still holds the Call-ID and CSeq it was
 * decided against: a binding removed or rewritten meanwhile (unregister,
 * API delete, connection close, a REGISTER from a new address) keeps the
 * newer state.
 *
 * The trade, stated: if the process dies, the refreshes of its last
 * `flushMs` are lost; those bindings keep their previous expiry (still at
 * least `safetyMs` in the future) and the devices' next refresh puts them
 * right. Kamailio's usrloc in db_mode 2 makes the same trade for every
 * binding change, new ones included; here new, removed, evicted and moved
 * bindings are always committed before the answer.
 */
export interface RefreshWriteBehindOptions {
  flushMs: number;
  safetyMs: number;
  /** Refreshes per flush transaction (a larger backlog takes several). */
  maxBatch: number;
  onError(err: unknown, lost: number): void;
  /** Node ids sharing this node's sockets (SIP workers): a UDP binding refreshed through another of them stays where it is. */
  socketSiblings?: ReadonlySet<string>;
  now?: () => number;
}

interface Deferred {
  /** The row as the decision read it: the write applies only while it still holds these. */
  readCallId: string;
  readCseq: number;
  callId: string;
  cseq: number;
  expiresAt: Date;
  updatedAt: Date;
  /** Epoch ms past which the write must not be attempted any more (the stored expiry minus the safety margin). */
  deadline: number;
}

/** Besides node_id, the columns that must be unchanged for a refresh to be deferred (it writes only Call-ID, CSeq and expiry). */
const IDENTITY_COLUMNS = [
  'aor',
  'contact_uri',
  'contact_raw',
  'q',
  'instance_id',
  'reg_id',
  'path',
  'transport',
  'source_address',
  'source_port',
  'connection_id',
  'user_agent',
] as const;

export class RefreshWriteBehind {
  private pending = new Map<number, Deferred>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private readonly now: () => number;
  private readonly siblings: ReadonlySet<string>;

  constructor(
    private readonly pool: RegistrarPool,
    private readonly o: RefreshWriteBehindOptions,
  ) {
    this.now = o.now ?? Date.now;
    this.siblings = o.socketSiblings ?? new Set();
  }

  get size(): number {
    return this.pending.size;
  }

  /**
   * The binding rows as this node will have written them: the stored rows
   * with this node's deferred refreshes laid over, so the next REGISTER of
   * the same device is ordered (Call-ID/CSeq) and answered (expires) against
   * what the last 200 said.
   */
  overlay(rows: BindingRow[]): BindingRow[] {
    if (!this.pending.size) return rows;
    return rows.map((r) => {
      const d = this.pending.get(Number(r.id));
      return d ? { ...r, call_id: d.callId, cseq: d.cseq, expires_at: d.expiresAt, updated_at: d.updatedAt } : r;
    });
  }

  /**
   * Defers the decision's write when it is a plain refresh: one binding
   * updated, nothing created, removed or evicted, the same device from the
   * same place (only Call-ID, CSeq and expiry change), reachable, and its
   * stored expiry far enough away. Answers false when the REGISTER must be
   * written under the user lock instead.
   */
  tryDefer(decision: RegisterDecision, stored: BindingRow[], input: ApplyRegisterInput): boolean {
    if (decision.kind !== 'write') return false;
    const c = decision.change;
    if (decision.inserts.length || decision.updates.length !== 1 || c.removed.length || c.evicted.length) return false;
    const update = decision.updates[0]!;
    const row = stored.find((r) => Number(r.id) === update.id);
    if (!row || Boolean(Number(row.unreachable))) return false;
    const v = update.values;
    for (const k of IDENTITY_COLUMNS) if (!sameValue(row[k], v[k])) return false;
    if (!sameValue(row.node_id, v.node_id) && !(row.connection_id === null && this.siblings.has(String(row.node_id)) && this.siblings.has(String(v.node_id))))
      return false;
    // The stored row (not the overlay): what the database holds until the flush.
    const storedExpiry = asDate(row.expires_at).getTime();
    const nowMs = input.now.getTime();
    if (storedExpiry - nowMs < this.o.safetyMs + this.o.flushMs) return false;
    this.pending.set(update.id, {
      // Guarded by the row as read now: an earlier deferral of this binding is superseded either way.
      readCallId: String(row.call_id),
      readCseq: Number(row.cseq),
      // A copy: the request's Call-ID is a view on the whole datagram text, which would otherwise stay reachable until the flush.
      callId: ownString(String(v.call_id)),
      cseq: Number(v.cseq),
      expiresAt: v.expires_at as Date,
      updatedAt: v.updated_at as Date,
      deadline: storedExpiry - this.o.safetyMs,
    });
    if (this.pending.size >= this.o.maxBatch) void this.flush();
    return true;
  }

  start(): void {
    this.timer = setInterval(() => void this.flush(), this.o.flushMs);
    this.timer.unref();
  }

  /** Writes what is pending; on stop, call it (after the edge stopped taking requests) before closing the pool. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
  }

  /** One flush at a time; a call during a flush waits for it and then writes what came in since. */
  async flush(): Promise<void> {
    while (this.flushing) await this.flushing;
    if (!this.pending.size) return;
    this.flushing = this.write().finally(() => {
      this.flushing = undefined;
    });
    await this.flushing;
  }

  private async write(): Promise<void> {
    const taken = this.pending;
    this.pending = new Map();
    const entries = [...taken];
    for (let i = 0; i < entries.length; i += this.o.maxBatch) {
      const chunk = entries.slice(i, i + this.o.maxBatch);
      try {
        await this.writeChunk(chunk);
      } catch (err) {
        // Kept for the next flush unless a newer refresh came in meanwhile or the deadline passed.
        const nowMs = this.now();
        let lost = 0;
        for (const [id, d] of chunk) {
          if (this.pending.has(id)) continue;
          if (d.deadline > nowMs + this.o.flushMs) this.pending.set(id, d);
          else lost++;
        }
        this.o.onError(err, lost);
      }
    }
  }

  /**
   * One UPDATE for the whole chunk, joined to the refreshes passed as one
   * JSON parameter (JSON_TABLE: MariaDB 10.6+, MySQL 8.0+). A statement per
   * refresh cost MariaDB ~2.5 times as much: at 1,000 refreshes a second
   * that was a 100 ms burst each flush on a core the REGISTER reads share.
   * A single statement commits on its own (autocommit): one redo-log flush.
   *
   * Building it is work on the one thread the REGISTERs share, done at once
   * for a second's refreshes: dates go as epoch milliseconds (MariaDB turns
   * them into DATETIMEs by arithmetic, no time zone involved) and the JSON as
   * a prepared statement's parameter, sent as it is. Formatting 2,000 dates
   * and escaping every quote of the JSON into the SQL text took 5-9 ms a
   * flush at 1,000/s, the registrar's longest pauses.
   */
  private async writeChunk(chunk: Array<[number, Deferred]>): Promise<void> {
    const rows = chunk.map(([id, d]) => [id, d.readCallId, d.readCseq, d.callId, d.cseq, d.expiresAt.getTime(), d.updatedAt.getTime()]);
    await execute<ResultSetHeader>(this.pool, FLUSH_SQL, [JSON.stringify(rows)]);
  }
}

/** Epoch milliseconds (a JSON_TABLE column) as a UTC DATETIME, the way the models store dates. */
const fromEpochMs = (column: string) => `TIMESTAMPADD(MICROSECOND, v.${column} * 1000, '1970-01-01 00:00:00')`;

const FLUSH_SQL = `UPDATE registrations r JOIN JSON_TABLE(?, '$[*]' COLUMNS (
    id BIGINT PATH '$[0]', read_call_id VARCHAR(255) PATH '$[1]', read_cseq BIGINT PATH '$[2]',
    call_id VARCHAR(255) PATH '$[3]', cseq BIGINT PATH '$[4]', expires_ms BIGINT PATH '$[5]', updated_ms BIGINT PATH '$[6]'
  )) v ON r.id = v.id AND r.call_id = v.read_call_id COLLATE utf8mb4_bin AND r.cseq = v.read_cseq
  SET r.call_id = v.call_id, r.cseq = v.cseq, r.expires_at = ${fromEpochMs('expires_ms')}, r.updated_at = ${fromEpochMs('updated_ms')}, r.unreachable = 0`;

/** Column values as mysql2 returns them against the values a decision would write (numbers as numbers, absent as null). */
function sameValue(stored: unknown, next: unknown): boolean {
  if (stored === null || stored === undefined) return next === null || next === undefined;
  if (typeof next === 'number') return Number(stored) === next;
  // eslint-disable-next-line @typescript-eslint/no-base-to-string -- driver values: strings, numbers, Dates
  return String(stored) === String(next);
}
