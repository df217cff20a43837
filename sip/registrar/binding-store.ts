import { Op, Transaction, type Sequelize } from 'sequelize';
import type { Models } from '../../src/db/models/index.js';
import type { Registration } from '../../src/db/models/registration.js';
import type { BindingPolicy } from '../../src/db/models/account.js';
import { planBindings, type LiveBinding, type RequestedContact } from './binding-plan.js';

/** Where a REGISTER came from, stored with each binding it creates or refreshes. */
export interface BindingOrigin {
  transport: string;
  sourceAddress: string;
  sourcePort: number;
  connectionId: string | null;
  nodeId: string;
  userAgent: string | null;
  /** Path values (RFC 3327), null when none. */
  path: string[] | null;
}

export interface ApplyRegisterInput {
  userId: number;
  accountId: number;
  /** The version the credentials were checked against; a different locked version means "re-authenticate". */
  expectedVersion: number;
  /** Policy when the user has none of its own. */
  accountPolicy: BindingPolicy;
  aor: string;
  contacts: RequestedContact[] | 'wildcard' | 'query';
  callId: string;
  cseq: number;
  origin: BindingOrigin;
  now: Date;
}

export type ApplyRegisterResult =
  | { kind: 'ok'; bindings: Registration[]; evicted: Registration[]; added: number; removed: number }
  | { kind: 'stale_credentials' }
  | { kind: 'user_disabled' }
  | { kind: 'rejected'; outcome: 'out_of_order' | 'too_many_bindings' | 'registration_disabled'; holders: Registration[]; maxBindings: number };

/**
 * Writes bindings under a per-user lock so that the max-bindings count and
 * the insert are one atomic step across every process sharing the
 * database: MySQL/MariaDB `SELECT … FOR UPDATE` on the user row; SQLite
 * `BEGIN IMMEDIATE` (one writer at a time for the whole file, also across
 * processes) behind an in-process queue.
 */
export class BindingStore {
  /** SQLite: writers queue here rather than in sqlite3's 4 worker threads (busy-waiting there starves the lock holder). */
  private sqliteQueue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly sequelize: Sequelize,
    private readonly models: Models,
    private readonly dialect: 'sqlite' | 'mysql',
  ) {}

  async apply(input: ApplyRegisterInput): Promise<ApplyRegisterResult> {
    if (this.dialect !== 'sqlite') return this.applyWithRetry(input);
    const run = this.sqliteQueue.then(() => this.applyWithRetry(input));
    this.sqliteQueue = run.catch(() => undefined);
    return run;
  }

  private async applyWithRetry(input: ApplyRegisterInput): Promise<ApplyRegisterResult> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.sequelize.transaction({ type: Transaction.TYPES.IMMEDIATE }, (tx) => this.applyIn(tx, input));
      } catch (err) {
        // InnoDB may pick this transaction as a deadlock victim (gap locks on the
        // registrations index); the whole step is safe to run again.
        if (attempt < 4 && isRetryable(err)) continue;
        throw err;
      }
    }
  }

  private async applyIn(tx: Transaction, input: ApplyRegisterInput): Promise<ApplyRegisterResult> {
    const { User, Registration } = this.models;
    const user = await User.findOne({
      where: { id: input.userId },
      attributes: ['id', 'version', 'status', 'max_bindings', 'binding_policy', 'account_id'],
      transaction: tx,
      lock: this.dialect === 'mysql' ? tx.LOCK.UPDATE : undefined,
    });
    if (!user || user.version !== input.expectedVersion) return { kind: 'stale_credentials' };
    if (user.status !== 'active') return { kind: 'user_disabled' };
    const policy: BindingPolicy = user.binding_policy ?? input.accountPolicy;

    const rows = await Registration.findAll({ where: { user_id: input.userId }, order: [['id', 'ASC']], transaction: tx });
    const expired = rows.filter((r) => r.expires_at.getTime() <= input.now.getTime());
    const live = rows.filter((r) => r.expires_at.getTime() > input.now.getTime());
    if (input.contacts === 'query') return { kind: 'ok', bindings: live, evicted: [], added: 0, removed: 0 };

    const plan = planBindings({
      live: live.map(toLive),
      contacts: input.contacts,
      callId: input.callId,
      cseq: input.cseq,
      maxBindings: user.max_bindings,
      policy,
    });
    if (plan.kind === 'rejected') {
      const holders = live.filter((r) => plan.holders.some((h) => h.id === Number(r.id)));
      return { kind: 'rejected', outcome: plan.outcome, holders, maxBindings: user.max_bindings };
    }

    const dropIds = [...expired.map((r) => Number(r.id)), ...plan.removeIds, ...plan.evictIds];
    if (dropIds.length) await Registration.destroy({ where: { id: { [Op.in]: dropIds } }, transaction: tx });
    const byId = new Map(live.map((r) => [Number(r.id), r]));
    const o = input.origin;
    const pathText = o.path && o.path.length ? JSON.stringify(o.path) : null;
    for (const u of plan.updates) {
      const row = byId.get(u.id)!;
      await row.update(
        {
          aor: input.aor,
          contact_uri: u.contact.uri,
          contact_raw: u.contact.raw,
          q: u.contact.q,
          expires_at: new Date(input.now.getTime() + u.contact.expires * 1000),
          call_id: input.callId,
          cseq: input.cseq,
          instance_id: u.contact.instanceId,
          reg_id: u.contact.regId,
          path: pathText,
          transport: o.transport,
          source_address: o.sourceAddress,
          source_port: o.sourcePort,
          connection_id: o.connectionId,
          node_id: o.nodeId,
          user_agent: o.userAgent,
          unreachable: false,
          updated_at: input.now,
        },
        { transaction: tx },
      );
    }
    const created: Registration[] = [];
    for (const c of plan.inserts) {
      created.push(
        await Registration.create(
          {
            account_id: input.accountId,
            user_id: input.userId,
            aor: input.aor,
            contact_uri: c.uri,
            contact_raw: c.raw,
            q: c.q,
            expires_at: new Date(input.now.getTime() + c.expires * 1000),
            call_id: input.callId,
            cseq: input.cseq,
            instance_id: c.instanceId,
            reg_id: c.regId,
            path: pathText,
            transport: o.transport,
            source_address: o.sourceAddress,
            source_port: o.sourcePort,
            connection_id: o.connectionId,
            node_id: o.nodeId,
            user_agent: o.userAgent,
            registered_at: input.now,
            updated_at: input.now,
          },
          { transaction: tx },
        ),
      );
    }
    const gone = new Set([...plan.removeIds, ...plan.evictIds]);
    const bindings = [...live.filter((r) => !gone.has(Number(r.id))), ...created];
    const evicted = live.filter((r) => plan.evictIds.includes(Number(r.id)));
    return { kind: 'ok', bindings, evicted, added: created.length, removed: plan.removeIds.length };
  }

  /** RFC-independent clean-up: bindings made over a stream connection that is gone (and without Path, so no edge proxy holds the flow). */
  async removeByConnection(connectionId: string, nodeId: string): Promise<number> {
    return this.models.Registration.destroy({ where: { connection_id: connectionId, node_id: nodeId, path: null } });
  }

  /** After a restart this node's old stream connections are gone: drop their bindings. */
  async removeStaleConnections(nodeId: string): Promise<number> {
    return this.models.Registration.destroy({ where: { node_id: nodeId, connection_id: { [Op.ne]: null }, path: null } });
  }

  async deleteExpired(now: Date): Promise<number> {
    return this.models.Registration.destroy({ where: { expires_at: { [Op.lte]: now } } });
  }
}

function toLive(r: Registration): LiveBinding {
  return {
    id: Number(r.id),
    contactUri: r.contact_uri,
    callId: r.call_id,
    cseq: Number(r.cseq),
    instanceId: r.instance_id,
    regId: r.reg_id,
    registeredAt: r.registered_at,
    unreachable: Boolean(r.unreachable),
    userAgent: r.user_agent,
  };
}

function isRetryable(err: unknown): boolean {
  const e = err as { parent?: { code?: string; errno?: number }; original?: { code?: string } };
  const code = e.parent?.code ?? e.original?.code;
  return code === 'ER_LOCK_DEADLOCK' || code === 'ER_LOCK_WAIT_TIMEOUT' || code === 'SQLITE_BUSY';
}
