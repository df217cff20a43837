import { AsyncLocalStorage } from 'node:async_hooks';
import { Transaction, type Sequelize } from 'sequelize';

/**
 * The one writer of an SQLite file in this process.
 *
 * SQLite lets one connection write at a time, for the whole file. Sequelize
 * opens a fresh sqlite3 handle per transaction, so concurrent transactions
 * used to race for the lock on BEGIN IMMEDIATE: each loser busy-waited in
 * one of libuv's four threads (starving the holder's queries) and gave up
 * with SQLITE_BUSY, which reached API clients as a 500.
 *
 * Here every write of the process — managed transactions, autocommit
 * INSERT/UPDATE/DELETE, the registrar's REGISTER batches — is a job in one
 * FIFO queue. The writer runs the jobs that are waiting in one transaction
 * on one long-lived handle (group commit): each transaction job inside its
 * own savepoint, so a job that throws rolls back alone, and a job's promise
 * settles only once the COMMIT that carries it is done. Under light load a
 * batch is one job; under load one BEGIN/COMMIT serves many.
 */
export interface SqliteWriterOptions {
  /** Most jobs one transaction carries. */
  maxBatch: number;
}

export interface WriterJob<T> {
  fn: (tx: Transaction) => Promise<T>;
  /** Run inside a savepoint (a job of several statements that must roll back alone when it throws). */
  savepoint: boolean;
}

interface Queued {
  fn: (tx: Transaction) => Promise<unknown>;
  savepoint: boolean;
  resolve(v: unknown): void;
  reject(err: unknown): void;
}

/** The fixed transaction id of the writer's handle: Sequelize keys its sqlite3 handles by transaction id. */
export const WRITER_CONNECTION_ID = 'switchboard-sqlite-writer';

type Managed = <T>(options: Record<string, unknown>, fn: (tx: Transaction) => Promise<T>) => Promise<T>;

export class SqliteWriter {
  private queue: Queued[] = [];
  private draining = false;
  private readonly context = new AsyncLocalStorage<Transaction>();
  /** Transactions committed and jobs carried, for the batching test and metrics. */
  readonly stats = { commits: 0, jobs: 0 };

  constructor(
    private readonly sequelize: Sequelize,
    /** Sequelize's own transaction(), before SqliteWriter.install wrapped it. */
    private readonly managed: Managed,
    private readonly o: SqliteWriterOptions = { maxBatch: 256 },
  ) {}

  /** The writer's transaction when called from inside a job (any depth of await), else undefined. */
  get current(): Transaction | undefined {
    const tx = this.context.getStore();
    // Work a job started and did not wait for (a delivery kick, a timer) outlives its batch: it is not inside any more.
    return tx && !(tx as unknown as { finished?: string }).finished ? tx : undefined;
  }

  get pending(): number {
    return this.queue.length;
  }

  /** Queues a job; it runs with whatever else is queued when the writer gets to it. */
  run<T>(job: WriterJob<T>): Promise<T> {
    const inside = this.current;
    // Called from inside a job (a service that opens a transaction in another's callback): part of that job.
    if (inside) return job.savepoint ? this.managed({ transaction: inside }, job.fn) : job.fn(inside);
    return this.enqueue(job);
  }

  /** Queues a job of its own, also when called from inside another job (which it then does not join: it runs in a later batch). */
  enqueue<T>(job: WriterJob<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ fn: job.fn, savepoint: job.savepoint, resolve, reject });
      if (!this.draining) {
        this.draining = true;
        // Start on the next turn, so the jobs queued in this one share the first transaction.
        setImmediate(() => void this.drain());
      }
    });
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length) await this.batch(this.queue.splice(0, this.o.maxBatch));
    } finally {
      this.draining = false;
    }
  }

  private async batch(jobs: Queued[]): Promise<void> {
    const done: Array<{ job: Queued; value: unknown }> = [];
    try {
      await this.inTransaction(async (tx) => {
        for (const job of jobs) {
          try {
            const value = await this.context.run(tx, () => (job.savepoint ? this.managed({ transaction: tx }, job.fn) : job.fn(tx)));
            done.push({ job, value });
          } catch (err) {
            job.reject(err);
          }
        }
      });
    } catch (err) {
      // The COMMIT (or BEGIN) failed: nothing of the batch is written.
      for (const d of done) d.job.reject(err);
      return;
    }
    this.stats.commits++;
    this.stats.jobs += done.length;
    for (const d of done) d.job.resolve(d.value);
  }

  /** BEGIN IMMEDIATE … COMMIT on the writer's long-lived handle (Sequelize's managed flow, with a fixed id). */
  private async inTransaction(body: (tx: Transaction) => Promise<void>): Promise<void> {
    const tx = new Transaction(this.sequelize, { type: Transaction.TYPES.IMMEDIATE });
    const t = tx as unknown as { id: string; name: string; finished?: string; prepareEnvironment(useCls: boolean): Promise<void> };
    t.id = t.name = WRITER_CONNECTION_ID;
    await t.prepareEnvironment(false);
    try {
      await body(tx);
      await tx.commit();
    } catch (err) {
      if (!t.finished) {
        try {
          await tx.rollback();
        } catch {
          // SQLite already ended the transaction (e.g. it rolled back on its own): start the next batch on a new handle.
          closeWriterConnection(this.sequelize);
        }
      }
      throw err;
    }
  }

  /**
   * Makes the writer the path of every write on this Sequelize instance:
   * managed transactions (`sequelize.transaction(fn)`) become savepoint
   * jobs, autocommit INSERT/UPDATE/DELETE become single-statement jobs,
   * and a query made from inside a job without a transaction joins it
   * (on another handle it would wait for the writer's own lock).
   */
  static install(sequelize: Sequelize, options?: SqliteWriterOptions): SqliteWriter {
    const s = sequelize as unknown as {
      transaction: (...args: unknown[]) => Promise<unknown>;
      query: (sql: unknown, options?: Record<string, unknown>) => Promise<unknown>;
      connectionManager: { releaseConnection(conn: { uuid?: string }, force?: boolean): unknown };
    };
    const transaction = s.transaction.bind(sequelize);
    const query = s.query.bind(sequelize);
    const managed: Managed = (opts, fn) => transaction(opts, fn) as Promise<never>;
    const writer = new SqliteWriter(sequelize, managed, options);
    s.transaction = (...args: unknown[]) => {
      const [a, b] = args;
      const fn = (typeof a === 'function' ? a : b) as ((tx: Transaction) => Promise<unknown>) | undefined;
      const opts = (typeof a === 'object' && a !== null ? a : {}) as { transaction?: Transaction };
      // Unmanaged transactions and explicit savepoints keep Sequelize's own behaviour.
      if (!fn || opts.transaction) return transaction(...args);
      return writer.run({ fn, savepoint: true });
    };
    s.query = (sql: unknown, opts?: Record<string, unknown>) => {
      if (opts?.transaction) return query(sql, opts);
      const inside = writer.current;
      if (inside) return query(sql, { ...opts, transaction: inside });
      if (typeof sql === 'string' && WRITE_STATEMENT.test(sql)) return writer.run({ fn: (tx) => query(sql, { ...opts, transaction: tx }), savepoint: false });
      return query(sql, opts);
    };
    // The writer's handle lives as long as the Sequelize instance (close() closes it with the others).
    const cm = s.connectionManager;
    const release = cm.releaseConnection.bind(cm);
    cm.releaseConnection = (conn, force) => (conn.uuid === WRITER_CONNECTION_ID && force !== true ? undefined : release(conn, force));
    return writer;
  }
}

const WRITE_STATEMENT = /^\s*(INSERT|UPDATE|DELETE|REPLACE)\b/i;

function closeWriterConnection(sequelize: Sequelize): void {
  const cm = (sequelize as unknown as { connectionManager: { connections: Record<string, { close(cb?: () => void): void }> } }).connectionManager;
  const conn = cm.connections[WRITER_CONNECTION_ID];
  if (!conn) return;
  delete cm.connections[WRITER_CONNECTION_ID];
  conn.close(() => undefined);
}
