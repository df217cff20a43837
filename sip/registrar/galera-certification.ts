import { query, type RegistrarPool } from './mysql-pool.js';

/**
 * What makes the registrar's cross-node invariants hold on a multi-primary
 * cluster (MariaDB Galera), where the rules differ from one server:
 *
 * - A `SELECT … FOR UPDATE` lock exists only on the node that took it.
 *   Another node's transaction never waits for it.
 * - At commit a transaction's write set (the rows it inserted, updated or
 *   deleted, by primary key and unique keys) is certified against every
 *   write set committed meanwhile on any node; on overlap the later one
 *   fails with ER_LOCK_DEADLOCK (1213). A replicated write set that touches
 *   a row a local transaction has locked aborts the local one (a
 *   brute-force abort), also reported as 1213. Rows only read are never
 *   compared.
 * - `GET_LOCK()` and `LOCK TABLES` are node-local too (or refused).
 *
 * So an invariant spanning rows ("at most max_bindings rows for this
 * user") holds across nodes only if every transaction that can break it
 * writes one row in common. Here that row is the user's: every REGISTER
 * transaction that changes a user's bindings (insert, update, delete,
 * eviction, instance replacement) increments `users.binding_seq` (migration
 * 0017) in the same transaction. Two such transactions for one user on two
 * nodes then conflict at commit; the loser is retried from its reads
 * (conflict-retry.ts), sees the winner's rows and decides again: a 403 at
 * the limit, a replacement of the same +sip.instance (RFC 5626 §4.2) instead
 * of a second binding, the refusal of an out-of-order CSeq of the same Call-ID (RFC 3261
 * §10.3 step 7). The row lock stays: on one node it still serialises
 * REGISTERs of a user without aborts.
 *
 * On a single server (no wsrep) the counter is not written: every such
 * transaction takes that user row's `FOR UPDATE` lock, which already orders
 * them across processes, and the counter was one of the two row writes
 * a new registration cost MariaDB.
 *
 * What does not need the counter: a REGISTER answered 403 (or any decision
 * that writes nothing) read committed state and changes nothing; a deferred
 * refresh (refresh-write-behind.ts) changes no slot count and its UPDATE is
 * guarded by the Call-ID/CSeq it was decided on, so a concurrent rewrite of
 * that row on another node (certified: same row) wins; removals by the
 * sweepers only lower counts.
 *
 * Not `users.version`: that is the API's optimistic-lock token (If-Match),
 * which a REGISTER must not change.
 *
 * The README's other cross-node claims, by the same rules: one reminder per
 * OnCall shift, one send per webhook delivery attempt and one node keeping
 * each SIP trunk registered are conditional UPDATEs of the shared row
 * (oncall-reminder-job.ts, webhook-delivery-job.ts, trunk-registrar-client.ts),
 * certified like any write. Token and API-key revocation is a write on one
 * node that another node's next read must see: certified at commit but
 * applied on the other nodes a moment later, so it needs wsrep_sync_wait=1
 * there (README, Supported database topologies). The login and SIP failure
 * counters live in the shared failure store (src/throttle): in Redis, or in
 * the failure_counters table, where each failure is one transaction that
 * reads the key's row and writes its next state, the ban's expiry included
 * (mysql-failure-store.ts). Two nodes counting one key at the same instant
 * write the same primary key, so one of them loses certification and runs
 * again on the winner's row: failures split over nodes add up exactly and
 * one of them starts the ban (test/galera: a ban earned through one node
 * holds on the other). A node that has never seen a key fail does not read
 * the store for it (failure-counter.ts), so it lets one more guess through
 * before it learns the ban from the store's answer to that guess.
 */
export const BUMP_BINDING_SEQ = 'UPDATE users SET binding_seq = binding_seq + 1 WHERE id = ?';

/**
 * Whether the server is a Galera node with replication on. MySQL has no
 * such variable (the query fails): not Galera.
 */
export async function isGalera(pool: RegistrarPool): Promise<boolean> {
  try {
    const rows = await query<Array<{ on: unknown }>>(pool, 'SELECT @@global.wsrep_on AS `on`');
    return Number(rows[0]?.on) === 1;
  } catch {
    return false;
  }
}

/*
 * Why mysql-register-writer.ts sends the COMMIT in a round trip of its own on Galera. Measured on
 * MariaDB 10.11 + galera-4: a transaction brute-force aborted while the
 * client's writes-and-COMMIT multi-statement was running answered every
 * statement, COMMIT included, with OK, and its rows were gone (a REGISTER
 * answered 200 whose binding was never stored, about once in 200 contested
 * rounds). A COMMIT sent as its own command is refused with
 * ER_LOCK_DEADLOCK when the transaction was aborted, and the retry decides
 * again.
 */
