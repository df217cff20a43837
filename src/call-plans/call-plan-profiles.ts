import type { LRUCache } from 'lru-cache';
import { boundedCache } from '../shared/bounded-cache.js';
import { readStatement, type ReadStatement, type Row, type SqlReader } from '../db/sql-reader.js';
import type { ForwardBehavior } from '../db/models/user.js';
import { dispatchableAddress, type EmergencyLocation, type LiveBinding } from './call-plan-rules.js';

/** Everything about a user that a call plan reads, apart from the bindings. */
export interface CallPlanProfile {
  userId: number;
  accountId: number;
  name: string;
  extension: string;
  username: string;
  status: string;
  externalCallerIdName: string | null;
  externalCallerIdNumber: string | null;
  callTimeout: number;
  forward: ForwardBehavior;
  callRecording: string;
  playRecordingAnnouncement: boolean;
  account: { name: string; sipDomain: string; defaultCallerIdNumber: string | null };
  location: EmergencyLocation | null;
  mailbox: { id: number; number: string } | null;
}

interface Entry {
  stamp: string;
  profile: CallPlanProfile;
  /** Until then a matching stamp is not trusted (see SETTLE_MS). */
  trustedFrom: number;
}

/**
 * updated_at has millisecond resolution: two changes to one row within the
 * same millisecond would leave equal stamps, and a profile read between them
 * would look current. So an entry whose newest stamp is younger than this is
 * re-read on each use until the row has been quiet that long (users also
 * carry a version counter; the account, location and mailbox rows do not).
 * It also absorbs that far of clock skew between the nodes that write.
 */
export const SETTLE_MS = 2_000;

const JOINS = `FROM users u
  JOIN accounts a ON a.id = u.account_id
  LEFT JOIN locations l ON l.id = u.location_id AND l.account_id = u.account_id
  LEFT JOIN mailboxes m ON m.id = u.mailbox_id AND m.account_id = u.account_id
  WHERE u.id = :userId AND u.account_id = :accountId`;

const STAMP_COLUMNS = 'u.version AS u_version, u.updated_at AS u_at, a.updated_at AS a_at, l.updated_at AS l_at, m.updated_at AS m_at';

const STAMP_TEXT = `SELECT ${STAMP_COLUMNS} ${JOINS}`;

const PROFILE_TEXT = `SELECT ${STAMP_COLUMNS},
  u.id AS user_id, u.account_id, u.name, u.extension, u.username, u.status, u.external_caller_id_name, u.external_caller_id_number,
  u.call_timeout, u.forward_behavior, u.call_recording, u.play_recording_announcement,
  a.name AS account_name, a.sip_domain, a.default_caller_id_number,
  l.id AS location_id, l.name AS location_name, l.address_line1, l.address_line2, l.city, l.region, l.postal_code, l.country, l.callback_number,
  m.id AS mailbox_id, m.number AS mailbox_number
  ${JOINS}`;

// Unreachable = failed an OPTIONS qualify; such a device would only make the caller wait.
const LIVE = 'r.expires_at > :now AND (r.unreachable IS NULL OR r.unreachable = 0)';

const BINDINGS_SQL = readStatement(`SELECT r.id, r.contact_uri, r.transport, r.path, r.instance_id, r.q, r.source_address, r.source_port, r.registered_at
  FROM registrations r WHERE r.user_id = :userId AND r.account_id = :accountId AND ${LIVE}`);

/**
 * The user's live bindings joined to the user row: one row per binding, or
 * one row of NULL binding columns when there is none (no row: no such user).
 * Registrations are looked up by (user_id, expires_at), the index
 * registrations_user_expires.
 */
const BINDING_JOIN = `LEFT JOIN registrations r ON r.user_id = u.id AND r.account_id = u.account_id AND ${LIVE}`;
const BINDING_COLUMNS =
  'r.id AS r_id, r.contact_uri AS r_contact_uri, r.transport AS r_transport, r.path AS r_path, r.instance_id AS r_instance_id, r.q AS r_q, r.source_address AS r_source_address, r.source_port AS r_source_port, r.registered_at AS r_registered_at';
const withBindings = (text: string) =>
  text.replace('SELECT ', `SELECT ${BINDING_COLUMNS}, `).replace('WHERE u.id = :userId', `${BINDING_JOIN}\n  WHERE u.id = :userId`);

/** A plan for a call to the user: the stamp check and the bindings in one round trip; a changed profile costs one more. */
const STAMP_BINDINGS_SQL = readStatement(withBindings(STAMP_TEXT));
/** A user not cached yet: the profile and the bindings in one round trip. */
const PROFILE_BINDINGS_TEXT = withBindings(PROFILE_TEXT);
const PROFILE_BINDINGS_SQL = readStatement(PROFILE_BINDINGS_TEXT);
const STAMP_SQL = readStatement(STAMP_TEXT);
const PROFILE_SQL = readStatement(PROFILE_TEXT);

/**
 * A statement by user id made one by a dialled extension or username
 * (indexes users_account_extension, users.username), answering the user's
 * id too: the cached profile answers when the stamps match, as it does for
 * a user id.
 */
const byColumn = (text: string, column: DialColumn) =>
  readStatement(
    text
      .replace('SELECT ', 'SELECT u.id AS user_id, ')
      .replace('WHERE u.id = :userId AND u.account_id = :accountId', `WHERE u.${column} = :key AND u.account_id = :accountId`),
  );
const byEither = (text: string) => ({ extension: byColumn(text, 'extension'), username: byColumn(text, 'username') }) as const;
/** A call to a dialled user: stamps and bindings. */
const STAMP_BINDINGS_BY_SQL = byEither(withBindings(STAMP_TEXT));
/** A dialling user (a call's `from`): stamps only. */
const STAMP_BY_SQL = byEither(STAMP_TEXT);

/** How a call names a user of the account. */
export type DialKey = { extension: string } | { username: string };
type DialColumn = 'extension' | 'username';
const dialColumn = (by: DialKey): [DialColumn, string] => ('extension' in by ? ['extension', by.extension] : ['username', by.username]);

/** A profile (`cached`: the stamp check let the cache answer) and the user's live bindings. */
export interface ProfileWithBindings {
  profile: CallPlanProfile;
  cached: boolean;
  bindings: LiveBinding[];
}

/**
 * Call-plan reads with a per-user cache that is never stale, on any number
 * of processes.
 *
 * What is cached: the user's profile (user row joined with its account,
 * location and primary mailbox). Every read first fetches the change stamps
 * of those four rows (users.version, which every user write bumps, and each
 * row's updated_at) in one primary-key lookup, and uses the cached profile
 * only when the stamps are equal; otherwise it reads the profile again. A
 * change made by any process is therefore seen by the very next plan, with
 * no message bus and no edit to the write paths of other areas.
 *
 * What is read live: the bindings. They change at REGISTER rate (and
 * qualify flips reachability), so caching them would need the registrar to
 * invalidate on every refresh; one indexed range read per plan
 * (registrations_user_expires) costs less than that would. A plan for a
 * call to the user reads them in the same statement as the stamps (LEFT
 * JOIN on the user row), so a cache hit costs one statement, not two.
 * Statements go straight through the driver (db/sql-reader.ts).
 */
export class CallPlanProfiles {
  private readonly cache: LRUCache<number, Entry>;
  hits = 0;
  misses = 0;

  constructor(
    private readonly reader: SqlReader,
    maxEntries: number,
    private readonly settleMs = SETTLE_MS,
  ) {
    this.cache = boundedCache(maxEntries);
  }

  /** The profile, or null when the user is not in the account. `cached` says whether the stamp check let the cache answer. */
  async profile(accountId: number, userId: number, stale = false): Promise<{ profile: CallPlanProfile; cached: boolean } | null> {
    const entry = this.entryFor(accountId, userId);
    if (!stale && entry) {
      const rows = await this.reader.select(STAMP_SQL, { userId, accountId });
      if (!rows[0]) {
        this.cache.delete(userId);
        return null;
      }
      if (this.current(entry, rows[0])) return { profile: entry.profile, cached: true };
    }
    this.misses += 1;
    const rows = await this.reader.select(PROFILE_SQL, { userId, accountId });
    const row = rows[0];
    if (!row) {
      // Only this account's entry may go: probing another account's ids must not evict its users.
      if (entry) this.cache.delete(userId);
      return null;
    }
    return { profile: this.remember(row), cached: false };
  }

  /** The profile of the user an extension or username names (a call's `from`), or null: the user's id rides on the stamp check. */
  async profileBy(accountId: number, by: DialKey): Promise<{ profile: CallPlanProfile; cached: boolean } | null> {
    const [column, key] = dialColumn(by);
    const [row] = await this.reader.select(STAMP_BY_SQL[column], { key, accountId });
    if (!row) return null;
    const userId = Number(row.user_id);
    const entry = this.entryFor(accountId, userId);
    if (entry && this.current(entry, row)) return { profile: entry.profile, cached: true };
    return this.profile(accountId, userId, true);
  }

  /** This account's cache entry for the user (another account's never answers for it). */
  private entryFor(accountId: number, userId: number): Entry | undefined {
    const entry = this.cache.get(userId);
    return entry?.profile.accountId === accountId ? entry : undefined;
  }

  /** The entry may answer: the stamps just read are its own, and they have settled (SETTLE_MS). Counts a hit. */
  private current(entry: Entry, stamps: Row): boolean {
    if (stampOf(stamps) !== entry.stamp || Date.now() < entry.trustedFrom) return false;
    this.hits += 1;
    return true;
  }

  private remember(row: Row): CallPlanProfile {
    const profile = toProfile(row);
    this.cache.set(profile.userId, { stamp: stampOf(row), profile, trustedFrom: newestStamp(row) + this.settleMs });
    return profile;
  }

  /**
   * The profile and the bindings live now, for a call to the user: one
   * query when the cache answers or the user is not cached yet (the stamp
   * check rides on the bindings read), two when the profile changed.
   */
  async profileWithBindings(accountId: number, userId: number, now: Date): Promise<ProfileWithBindings | null> {
    const replacements = { userId, accountId, now };
    const entry = this.entryFor(accountId, userId);
    if (!entry) {
      this.misses += 1;
      return this.readWithBindings(PROFILE_BINDINGS_SQL, replacements);
    }
    const rows = await this.reader.select(STAMP_BINDINGS_SQL, replacements);
    if (!rows[0]) {
      this.cache.delete(userId);
      return null;
    }
    return this.fromStamps(accountId, userId, entry, rows);
  }

  /**
   * The user an extension or username names in the account, with the
   * profile and the live bindings, or null when no user has it: one
   * statement when the cached profile is current, two when it is not.
   */
  async dialledWithBindings(accountId: number, by: DialKey, now: Date): Promise<ProfileWithBindings | null> {
    const [column, key] = dialColumn(by);
    const rows = await this.reader.select(STAMP_BINDINGS_BY_SQL[column], { key, accountId, now });
    if (!rows[0]) return null;
    const userId = Number(rows[0].user_id);
    return this.fromStamps(accountId, userId, this.entryFor(accountId, userId), rows);
  }

  /** The cached profile when the stamps read with the bindings match it, else the profile read again. */
  private async fromStamps(accountId: number, userId: number, entry: Entry | undefined, rows: Row[]): Promise<ProfileWithBindings | null> {
    const bindings = joinedBindings(rows);
    if (entry && this.current(entry, rows[0]!)) return { profile: entry.profile, cached: true, bindings };
    const p = await this.profile(accountId, userId, true);
    return p && { ...p, bindings };
  }

  /** A profile-and-bindings statement (PROFILE_BINDINGS_SQL or a variant): the profile read fresh into the cache, and the bindings. */
  private async readWithBindings(sql: ReadStatement, replacements: Record<string, unknown>): Promise<ProfileWithBindings | null> {
    const rows = await this.reader.select(sql, replacements);
    if (!rows[0]) return null;
    return { profile: this.remember(rows[0]), cached: false, bindings: joinedBindings(rows) };
  }

  /** The user's bindings that are live now and not marked unreachable. */
  async liveBindings(accountId: number, userId: number, now: Date): Promise<LiveBinding[]> {
    const rows = await this.reader.select(BINDINGS_SQL, { userId, accountId, now });
    return rows.map((r) => toBinding(r, ''));
  }

  get size(): number {
    return this.cache.size;
  }
}

/** The bindings of a query that LEFT JOINed them to the user row (columns r_*; none when r_id is NULL). */
function joinedBindings(rows: Row[]): LiveBinding[] {
  const out: LiveBinding[] = [];
  for (const r of rows) if (r.r_id !== null && r.r_id !== undefined) out.push(toBinding(r, 'r_'));
  return out;
}

function toBinding(r: Row, p: '' | 'r_'): LiveBinding {
  const q = r[`${p}q`];
  return {
    id: Number(r[`${p}id`]),
    contact_uri: text(r[`${p}contact_uri`]),
    transport: text(r[`${p}transport`]),
    path: (r[`${p}path`] as string | null) ?? null,
    instance_id: (r[`${p}instance_id`] as string | null) ?? null,
    q: q === null || q === undefined ? null : Number(q),
    source_address: text(r[`${p}source_address`]),
    source_port: Number(r[`${p}source_port`]),
    registered_at: new Date(r[`${p}registered_at`] as string).getTime(),
  };
}

/** SQLite hands back date text, MariaDB Date objects: either way the stamp must keep milliseconds. */
function stampPart(v: unknown): string {
  if (v === null || v === undefined) return '-';
  if (v instanceof Date) return text(v.getTime());
  return text(v);
}

function newestStamp(r: Row): number {
  let newest = 0;
  for (const v of [r.u_at, r.a_at, r.l_at, r.m_at]) {
    if (v === null || v === undefined) continue;
    const t = v instanceof Date ? v.getTime() : new Date(text(v)).getTime();
    // An unparseable stamp: never trust the entry's age, only its stamp (re-read while unsure).
    newest = Math.max(newest, Number.isFinite(t) ? t : Number.MAX_SAFE_INTEGER / 2);
  }
  return newest;
}

function stampOf(r: Row): string {
  return [r.u_version, r.u_at, r.a_at, r.l_at, r.m_at].map(stampPart).join('|');
}

function toProfile(r: Row): CallPlanProfile {
  const fb = typeof r.forward_behavior === 'string' ? (JSON.parse(r.forward_behavior) as ForwardBehavior) : (r.forward_behavior as ForwardBehavior | null);
  const location: EmergencyLocation | null =
    r.location_id === null || r.location_id === undefined
      ? null
      : {
          location_id: Number(r.location_id),
          name: text(r.location_name),
          address_line1: text(r.address_line1),
          address_line2: (r.address_line2 as string | null) ?? null,
          city: text(r.city),
          region: text(r.region ?? ''),
          postal_code: text(r.postal_code ?? ''),
          country: text(r.country),
          callback_number: text(r.callback_number),
          dispatchable_address: '',
        };
  if (location) location.dispatchable_address = dispatchableAddress(location);
  return {
    userId: Number(r.user_id),
    accountId: Number(r.account_id),
    name: text(r.name),
    extension: text(r.extension),
    username: text(r.username),
    status: text(r.status ?? 'active'),
    externalCallerIdName: (r.external_caller_id_name as string | null) ?? null,
    externalCallerIdNumber: (r.external_caller_id_number as string | null) ?? null,
    callTimeout: Number(r.call_timeout),
    forward: fb ?? { mode: 'ring_devices', destination: null },
    callRecording: text(r.call_recording ?? 'none'),
    playRecordingAnnouncement: Boolean(Number(r.play_recording_announcement ?? 0)),
    account: { name: text(r.account_name), sipDomain: text(r.sip_domain), defaultCallerIdNumber: (r.default_caller_id_number as string | null) ?? null },
    location,
    mailbox: r.mailbox_id === null || r.mailbox_id === undefined ? null : { id: Number(r.mailbox_id), number: text(r.mailbox_number) },
  };
}

/** Column values as text: strings as they are, numbers and dates spelled out. */
function text(v: unknown): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') return String(v);
  if (v instanceof Date) return v.toISOString();
  return v === null || v === undefined ? '' : JSON.stringify(v);
}
