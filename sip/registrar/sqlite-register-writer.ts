import type { Transaction } from 'sequelize';
import type { SqliteWriter } from '../../src/db/sqlite-writer.js';
import type { BindingStoreHooks } from './binding-hooks.js';
import { decideRegister, type ApplyRegisterInput, type ApplyRegisterResult, type LockedUser, type RegisterDecision } from './register-decision.js';
import { BINDING_COLUMNS, LOCKED_USER_COLUMNS, dbDateText, isRetryable, toStored, withRetry, type BindingRow } from './binding-rows.js';

/**
 * REGISTERs on SQLite, many per transaction. The REGISTERs waiting when the
 * process's writer (src/db/sqlite-writer.ts) gets to this job are decided
 * together: three reads for the whole batch (the users, their bindings,
 * which accounts want registration events), every write as one
 * multi-statement, and the COMMIT the writer shares with whatever API
 * writes are queued. A REGISTER per transaction with six statements each
 * through Sequelize drained about 240 a second; the work per REGISTER is
 * now the decision and its share of one statement list.
 *
 * One REGISTER per user per batch: a second one of the same user must see
 * the first one's rows, so it waits for the next batch. The answer is
 * given only after the COMMIT (the writer settles the job then), so a
 * process crash never loses a binding a phone was told about.
 */
interface Pending {
  input: ApplyRegisterInput;
  resolve(r: ApplyRegisterResult): void;
  reject(err: unknown): void;
}

type Handle = {
  all(sql: string, params: unknown[], cb: (err: Error | null, rows: unknown[]) => void): void;
  exec(sql: string, cb: (err: Error | null) => void): void;
};

export class SqliteRegisterWriter {
  private queue: Pending[] = [];
  private jobQueued = false;

  constructor(
    private readonly writer: SqliteWriter,
    private readonly hooks: BindingStoreHooks,
    /** Look for registration.* webhooks (false when no outbox is wired). */
    private readonly eventsWired: boolean,
    private readonly maxSize = 256,
  ) {}

  apply(input: ApplyRegisterInput): Promise<ApplyRegisterResult> {
    return new Promise((resolve, reject) => {
      this.queue.push({ input, resolve, reject });
      this.schedule();
    });
  }

  /** One job in the writer's queue at a time; it takes the REGISTERs waiting when it starts, not when it was queued. */
  private schedule(): void {
    if (this.jobQueued || !this.queue.length) return;
    this.jobQueued = true;
    let taken: Pending[] = [];
    this.writer
      .enqueue({
        savepoint: true,
        fn: (tx) => {
          this.jobQueued = false;
          taken = this.take();
          this.schedule();
          return this.run(tx, taken);
        },
      })
      .then(
        (results) => taken.forEach((p, i) => p.resolve(results[i]!)),
        (err: unknown) => this.failed(taken, err),
      );
  }

  /** The batch failed (or its COMMIT did): one REGISTER's failure must not fail the others, so each is tried alone. */
  private failed(batch: Pending[], err: unknown): void {
    if (batch.length === 1 && !isRetryable(err)) return batch[0]!.reject(err);
    for (const p of batch)
      void withRetry(() => this.writer.enqueue({ savepoint: true, fn: (tx) => this.run(tx, [p]) })).then(
        (r) => p.resolve(r[0]!),
        (e: unknown) => p.reject(e),
      );
  }

  private take(): Pending[] {
    const batch: Pending[] = [];
    const users = new Set<number>();
    const rest: Pending[] = [];
    for (const p of this.queue) {
      if (batch.length < this.maxSize && !users.has(p.input.userId)) {
        batch.push(p);
        users.add(p.input.userId);
      } else rest.push(p);
    }
    this.queue = rest;
    return batch;
  }

  private async run(tx: Transaction, batch: Pending[]): Promise<ApplyRegisterResult[]> {
    if (!batch.length) return [];
    const conn = (tx as unknown as { connection: Handle }).connection;
    const all = <T>(sql: string, params: unknown[]) => new Promise<T[]>((res, rej) => conn.all(sql, params, (e, rows) => (e ? rej(e) : res(rows as T[]))));
    const userIds = batch.map((p) => p.input.userId);
    const marks = userIds.map(() => '?').join(', ');
    const users = await all<LockedUser & { id: number }>(`SELECT id, ${LOCKED_USER_COLUMNS} FROM users WHERE id IN (${marks})`, userIds);
    const rows = await all<BindingRow>(`SELECT ${BINDING_COLUMNS.join(', ')} FROM registrations WHERE user_id IN (${marks}) ORDER BY id`, userIds);
    const accountIds = [...new Set(batch.map((p) => p.input.accountId))];
    const withEvents = this.eventsWired
      ? new Set(
          (
            await all<{ account_id: number }>(
              `SELECT DISTINCT account_id FROM webhooks WHERE active = 1 AND events LIKE '%"registration.%' AND account_id IN (${accountIds.map(() => '?').join(', ')})`,
              accountIds,
            )
          ).map((r) => Number(r.account_id)),
        )
      : new Set<number>();
    const userById = new Map(users.map((u) => [Number(u.id), u]));
    const byUser = new Map<number, BindingRow[]>();
    for (const r of rows) {
      const list = byUser.get(Number(r.user_id));
      if (list) list.push(r);
      else byUser.set(Number(r.user_id), [r]);
    }
    const decisions: RegisterDecision[] = batch.map((p) =>
      decideRegister(userById.get(p.input.userId), (byUser.get(p.input.userId) ?? []).map(toStored), p.input),
    );

    const statements: string[] = [];
    let nextId: number | undefined;
    for (const d of decisions) {
      if (d.kind === 'done') continue;
      if (d.drop.length) statements.push(`DELETE FROM registrations WHERE id IN (${d.drop.map(literal).join(', ')})`);
      for (const u of d.updates)
        statements.push(
          `UPDATE registrations SET ${Object.entries(u.values)
            .map(([k, v]) => `${k} = ${literal(v)}`)
            .join(', ')} WHERE id = ${literal(u.id)}`,
        );
      if (d.inserts.length && nextId === undefined) nextId = await this.lastId(all);
      d.inserts.forEach((values, i) => {
        // The writer holds the file's write lock: ids past AUTOINCREMENT's high-water mark are this batch's own.
        const id = ++nextId!;
        d.change.created[i]!.id = id;
        const keys = ['id', ...Object.keys(values)];
        statements.push(`INSERT INTO registrations (${keys.join(', ')}) VALUES (${[id, ...Object.values(values)].map(literal).join(', ')})`);
      });
    }
    if (statements.length) await new Promise<void>((res, rej) => conn.exec(statements.join(';\n'), (e) => (e ? rej(e) : res())));

    // Webhook outbox rows, in this same transaction, only for accounts whose webhooks want registration events.
    for (let i = 0; i < batch.length; i++) {
      const input = batch[i]!.input;
      if (!withEvents.has(input.accountId)) continue;
      const d = decisions[i]!;
      if (d.kind === 'write') await this.hooks.onChange?.(tx, d.change);
      else if (d.rejection) await this.hooks.onRejected?.(tx, input, d.rejection);
    }
    return decisions.map((d) => d.result);
  }

  /** The highest id registrations ever had (AUTOINCREMENT never reuses one, even of a deleted row). */
  private async lastId(all: <T>(sql: string, params: unknown[]) => Promise<T[]>): Promise<number> {
    const [row] = await all<{ id: number | null }>(
      "SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'registrations'), 0), COALESCE((SELECT MAX(id) FROM registrations), 0)) AS id",
      [],
    );
    return Number(row?.id ?? 0);
  }
}

/**
 * A value as SQLite literal text: the batch's writes go as one
 * multi-statement (sqlite3's exec binds no parameters). Strings are
 * quoted with '' doubled; dates in the text format the model layer writes.
 */
function literal(v: unknown): string {
  if (v === null || v === undefined) return 'NULL';
  if (v instanceof Date) return literal(dbDateText(v, 'sqlite'));
  if (typeof v === 'boolean') return v ? '1' : '0';
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new Error(`not a finite number: ${v}`);
    return String(v);
  }
  // eslint-disable-next-line @typescript-eslint/no-base-to-string -- column values: strings here (the rest is handled above)
  const s = String(v);
  // exec reads the SQL as a C string: a NUL would end it early.
  if (s.includes('\0')) throw new Error('a binding value holds a NUL character');
  return `'${s.replace(/'/g, "''")}'`;
}
