import type { LRUCache } from 'lru-cache';
import { boundedCache } from '../../src/shared/bounded-cache.js';
import { query, type RegistrarPool } from './mysql-pool.js';
import { readStatement, type SqlReader } from '../../src/db/sql-reader.js';
import type { BindingPolicy } from '../../src/db/models/account.js';
import type { SecretBox } from '../../src/crypto/secret-box.js';
import { ha1 } from '../../src/crypto/sip-credentials.js';
import { ownString } from '../message/own-string.js';

/** What the registrar needs to authenticate and admit a user. */
export interface SipCredential {
  userId: number;
  accountId: number;
  username: string;
  extension: string;
  realm: string;
  status: string;
  version: number;
  ha1Md5: string;
  ha1Sha256: string;
  prevHa1Md5: string | null;
  prevHa1Sha256: string | null;
  prevValidUntil: number | null;
  /** Previous HA1s for the extension as auth name (same grace deadline). */
  prevExtHa1Md5?: string | null;
  prevExtHa1Sha256?: string | null;
  passwordEnc: string;
  /** Epoch ms: answers to nonces issued before this are refused (a binding was removed over the API). */
  reauthAfter?: number | null;
  /** The account's at-limit policy (read with the credentials; the user's own policy is re-read under lock). */
  accountPolicy: BindingPolicy;
  /** The user's primary mailbox (users.mailbox_id): only a user with one has a message-waiting lamp to light when a device registers. */
  primaryMailboxId: number | null;
}

interface CredentialRow {
  id: number;
  account_id: number;
  username: string;
  extension: string;
  status: string;
  version: number;
  sip_ha1_md5: string;
  sip_ha1_sha256: string;
  sip_prev_ha1_md5: string | null;
  sip_prev_ha1_sha256: string | null;
  sip_prev_valid_until: Date | string | null;
  sip_prev_ext_ha1_md5: string | null;
  sip_prev_ext_ha1_sha256: string | null;
  sip_reauth_after: Date | string | null;
  sip_password_enc: string;
  sip_domain: string;
  account_binding_policy: string;
  mailbox_id: number | null;
}

// One indexed query: accounts.sip_domain is unique, users(account_id, username)
// and users(account_id, extension) are indexed; MySQL answers the OR with an index merge.
const LOOKUP_SQL = `SELECT u.id, u.account_id, u.username, u.extension, u.status, u.version,
  u.sip_ha1_md5, u.sip_ha1_sha256, u.sip_prev_ha1_md5, u.sip_prev_ha1_sha256, u.sip_prev_valid_until, u.sip_prev_ext_ha1_md5, u.sip_prev_ext_ha1_sha256, u.sip_reauth_after,
  u.sip_password_enc, u.mailbox_id, a.sip_domain, a.binding_policy AS account_binding_policy
  FROM accounts a JOIN users u ON u.account_id = a.id
  WHERE a.sip_domain = :realm AND (u.username = :user OR u.extension = :user)`;
const LOOKUP_MANY_SQL = LOOKUP_SQL.replace(':realm', '?').replace('u.username = :user OR u.extension = :user', 'u.username IN (?) OR u.extension IN (?)');
const LOOKUP = readStatement(LOOKUP_SQL);

/** Most stale entries one load drops (see SipCredentialStore.expire). */
export const EXPIRE_BATCH = 256;

/** The row for this name: username is unique everywhere, so it wins over another user's equal extension. */
function pick(rows: CredentialRow[], user: string): SipCredential | null {
  const row = rows.find((r) => r.username === user) ?? rows.find((r) => r.extension === user);
  return row ? toCredential(row) : null;
}

interface Waiter {
  resolve(v: SipCredential | null): void;
  reject(e: unknown): void;
}

/**
 * Credential look-up by (realm, user) where user is the username or the
 * extension. Rows are cached for `sip.registrar.credentialCacheSeconds`
 * (30 s): a REGISTER and its challenge answer arrive back to back, and the
 * challenge starts the look-up (prefetch) so the answer finds the row
 * loaded; a phone re-registering within the window needs no query. A stale cache
 * entry is harmless because the binding transaction re-reads the user's
 * `version` under lock and the registrar re-authenticates from the
 * database when it changed. Entries leave on time, not only at the cap:
 * at 100,000 phones a long-lived cache held 50,000 rows (~30 MB) that no
 * refresh an hour later would hit.
 */
export class SipCredentialStore {
  /**
   * Bounded (O(1) eviction at the cap; see NonceCountTracker). Look-ups
   * peek, which leaves the order alone: the cache stays in load order, so
   * the least recently set entries are the first to expire.
   */
  private readonly cache: LRUCache<string, { at: number; value: SipCredential | null }>;
  private readonly inflight = new Map<string, Promise<SipCredential | null>>();
  private readonly derived: LRUCache<string, { md5: string; sha256: string }>;
  private nextExpiry = 0;

  constructor(
    /**
     * The database's reader (src/db/sql-reader.ts): on SQLite a read-only
     * handle of its own with the statement prepared once. Through Sequelize
     * each look-up cost more of the one JavaScript thread than SQLite spent
     * answering it (the query object, a captured stack, the writer's query
     * wrapper); with every phone new (a restart), that thread was full at a
     * few hundred REGISTERs a second.
     */
    private readonly reader: SqlReader,
    private readonly secrets: SecretBox,
    private readonly cacheMs: number,
    private readonly now: () => number = Date.now,
    maxEntries = 50_000,
    /** MySQL: the registrar's own mysql2 pool, skipping Sequelize's per-query overhead on the hot path. */
    private readonly pool?: RegistrarPool,
  ) {
    this.cache = boundedCache(maxEntries);
    this.derived = boundedCache(maxEntries);
  }

  async lookup(realm: string, user: string, opts: { fresh?: boolean } = {}): Promise<SipCredential | null> {
    const key = `${realm}\0${user}`;
    if (!opts.fresh && this.cacheMs > 0) {
      const hit = this.cache.peek(key);
      if (hit && this.now() - hit.at < this.cacheMs) return hit.value;
      // The challenge's prefetch (or a retransmission) already asked: share its answer.
      const pending = this.inflight.get(key);
      if (pending) return pending;
    }
    const loading = this.load(key, realm, user);
    if (this.cacheMs > 0 && !opts.fresh) {
      this.inflight.set(key, loading);
      void loading.then(
        () => this.inflight.delete(key),
        () => this.inflight.delete(key),
      );
    }
    return loading;
  }

  /**
   * Start loading a user's row when its phone is challenged, without
   * waiting: the answer to the challenge arrives one round trip later and
   * finds it cached. The challenge itself never depends on the result (no
   * user enumeration by timing), and a failed prefetch is only a miss.
   */
  prefetch(realm: string, user: string): void {
    // lookup() answers a cached row or joins the query in flight without asking again.
    if (this.cacheMs > 0) this.lookup(realm, user).catch(() => undefined);
  }

  private async load(key: string, realm: string, user: string): Promise<SipCredential | null> {
    const t = this.now();
    const value = this.pool ? await this.batched(realm, user) : pick((await this.reader.select(LOOKUP, { realm, user })) as unknown as CredentialRow[], user);
    if (this.cacheMs > 0) {
      this.cache.set(ownString(key), { at: t, value });
      this.expire(t);
    }
    return value;
  }

  /**
   * Drop entries past their time, oldest first: at most EXPIRE_BATCH a
   * load, and once a second when fewer were left. After a quiet spell the
   * whole cache is past its time, and the first load after it dropped
   * 10,000 entries at once: a 13 ms stall of the one thread just when
   * phones come back.
   */
  private expire(t: number): void {
    if (t < this.nextExpiry) return;
    const stale: string[] = [];
    for (const key of this.cache.rkeys()) {
      if (stale.length === EXPIRE_BATCH || t - this.cache.peek(key)!.at < this.cacheMs) break;
      stale.push(key);
    }
    for (const key of stale) this.cache.delete(key);
    if (stale.length < EXPIRE_BATCH) this.nextExpiry = t + 1000;
  }

  /** Entries cached now (tests read it). */
  get cachedCount(): number {
    return this.cache.size;
  }

  private pending = new Map<string, Map<string, Waiter[]>>();

  /**
   * MySQL: the look-ups asked for in one event-loop turn go out as one
   * query per realm (after a restart every phone re-registers at once, and
   * each look-up alone is a round trip and a socket write).
   */
  private batched(realm: string, user: string): Promise<SipCredential | null> {
    return new Promise((resolve, reject) => {
      if (!this.pending.size) setImmediate(() => this.flush());
      let users = this.pending.get(realm);
      if (!users) this.pending.set(realm, (users = new Map<string, Waiter[]>()));
      const waiters = users.get(user);
      if (waiters) waiters.push({ resolve, reject });
      else users.set(user, [{ resolve, reject }]);
    });
  }

  private flush(): void {
    const batch = this.pending;
    this.pending = new Map();
    for (const [realm, users] of batch) {
      for (let i = 0, names = [...users.keys()]; i < names.length; i += 500) {
        const chunk = names.slice(i, i + 500);
        query<CredentialRow[]>(this.pool!, LOOKUP_MANY_SQL, [realm, chunk, chunk]).then(
          (rows) => {
            for (const name of chunk) for (const w of users.get(name)!) w.resolve(pick(rows, name));
          },
          (err: unknown) => {
            for (const name of chunk) for (const w of users.get(name)!) w.reject(err);
          },
        );
      }
    }
  }

  invalidate(realm: string, user: string): void {
    this.cache.delete(`${realm}\0${user}`);
  }

  /**
   * HA1 pair for the name the phone authenticated with. Stored HA1 is for
   * the username; a phone that authenticates with the extension needs
   * H(extension:realm:password), derived from the decrypted password and
   * memoised per user version (a password change bumps the version).
   */
  currentHa1(cred: SipCredential, authName: string): { md5: string; sha256: string } {
    if (authName === cred.username) return { md5: cred.ha1Md5, sha256: cred.ha1Sha256 };
    const key = `${cred.userId}:${cred.version}:${authName}`;
    let d = this.derived.get(key);
    if (!d) {
      const password = this.secrets.decrypt(cred.passwordEnc);
      d = { md5: ha1('md5', authName, cred.realm, password), sha256: ha1('sha256', authName, cred.realm, password) };
      this.derived.set(ownString(key), d);
    }
    return d;
  }
}

/**
 * The previous password's HA1 pair for the name the phone authenticated
 * with (username or extension), while the rotation grace window is open.
 */
export function previousHa1(cred: SipCredential, authName: string, nowMs: number): { md5: string | null; sha256: string | null } | null {
  if (cred.prevValidUntil === null || cred.prevValidUntil <= nowMs) return null;
  if (authName === cred.username) return { md5: cred.prevHa1Md5, sha256: cred.prevHa1Sha256 };
  if (authName === cred.extension) return { md5: cred.prevExtHa1Md5 ?? null, sha256: cred.prevExtHa1Sha256 ?? null };
  return null;
}

/**
 * One shared copy of values that repeat on every row (domain, status,
 * policy): a cached credential otherwise carries its own copy of each.
 * Bounded by the number of accounts; cleared if that ever runs away.
 */
const shared = new Map<string, string>();
function sharedString(s: string): string {
  const known = shared.get(s);
  if (known !== undefined) return known;
  if (shared.size >= 10_000) shared.clear();
  shared.set(s, s);
  return s;
}

function toCredential(r: CredentialRow): SipCredential {
  return {
    userId: Number(r.id),
    accountId: Number(r.account_id),
    username: r.username,
    extension: r.extension,
    realm: sharedString(r.sip_domain),
    status: sharedString(r.status),
    version: Number(r.version),
    ha1Md5: r.sip_ha1_md5,
    ha1Sha256: r.sip_ha1_sha256,
    prevHa1Md5: r.sip_prev_ha1_md5,
    prevHa1Sha256: r.sip_prev_ha1_sha256,
    prevExtHa1Md5: r.sip_prev_ext_ha1_md5,
    prevExtHa1Sha256: r.sip_prev_ext_ha1_sha256,
    prevValidUntil: r.sip_prev_valid_until === null ? null : new Date(r.sip_prev_valid_until).getTime(),
    passwordEnc: r.sip_password_enc,
    reauthAfter: r.sip_reauth_after === null ? null : new Date(r.sip_reauth_after).getTime(),
    accountPolicy: sharedString(r.account_binding_policy) as BindingPolicy,
    primaryMailboxId: r.mailbox_id === null ? null : Number(r.mailbox_id),
  };
}
