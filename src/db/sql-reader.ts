import mysql, { type Pool, type PoolOptions } from 'mysql2';
import sqlite3 from 'sqlite3';
import { QueryTypes, type Sequelize } from 'sequelize';

export type Row = Record<string, unknown>;

/** A statement with named parameters (`:name`), compiled once to the driver's positional form. */
export interface ReadStatement {
  readonly sql: string;
  /** The parameter names in the order of their `?`. */
  readonly names: readonly string[];
}

export function readStatement(namedSql: string): ReadStatement {
  const names: string[] = [];
  const sql = namedSql.replace(/:([A-Za-z_]\w*)/g, (_m, name: string) => {
    names.push(name);
    return '?';
  });
  return { sql, names };
}

/**
 * Reads on a hot path, straight through the driver. A statement through
 * Sequelize costs this process more CPU than the database spends answering
 * it (the query object, the stack it captures, replacement escaping, moment
 * for dates, the row mapping); a call engine asks for a plan on every call.
 * SELECTs only: writes keep going through Sequelize (and, on SQLite, the
 * process's one writer).
 */
export interface SqlReader {
  select(statement: ReadStatement, params: Readonly<Record<string, unknown>>): Promise<Row[]>;
  close(): Promise<void>;
}

function positional(statement: ReadStatement, params: Readonly<Record<string, unknown>>, date: (d: Date) => unknown): unknown[] {
  return statement.names.map((n) => {
    if (!(n in params)) throw new Error(`read statement parameter :${n} has no value`);
    const v = params[n];
    if (v instanceof Date) return date(v);
    if (typeof v === 'boolean') return v ? 1 : 0;
    return v;
  });
}

/** How Sequelize writes a DATE on SQLite; text comparisons against stored dates need the same spelling. */
export function sqliteDateText(d: Date): string {
  return d.toISOString().replace('T', ' ').replace('Z', ' +00:00');
}

/**
 * A read-only handle of its own on the SQLite file. Under WAL it reads the
 * last committed state while the process's writer commits, and statements
 * prepared once are reused (SQLite parses a statement on every prepare).
 */
class SqliteFileReader implements SqlReader {
  private readonly handle: Promise<sqlite3.Database>;
  /** By SQL text; the promise is kept, so reads that arrive while a statement is being prepared share it. */
  private readonly prepared = new Map<string, Promise<sqlite3.Statement>>();

  constructor(file: string) {
    this.handle = new Promise((resolve, reject) => {
      const db = new sqlite3.Database(file, sqlite3.OPEN_READONLY, (err) => {
        if (err) return reject(err);
        // The writer's checkpoint can hold the WAL index for a moment; wait rather than fail the read.
        db.run('PRAGMA busy_timeout = 5000', (e) => (e ? reject(e) : resolve(db)));
      });
    });
  }

  async select(statement: ReadStatement, params: Readonly<Record<string, unknown>>): Promise<Row[]> {
    const values = positional(statement, params, sqliteDateText);
    const db = await this.handle;
    let prepared = this.prepared.get(statement.sql);
    if (!prepared) {
      prepared = new Promise<sqlite3.Statement>((resolve, reject) => {
        const st = db.prepare(statement.sql, (err) => (err ? reject(err) : resolve(st)));
      });
      this.prepared.set(statement.sql, prepared);
      // A statement that failed to prepare is not kept: the next read tries again.
      prepared.catch(() => this.prepared.delete(statement.sql));
    }
    const s = await prepared;
    return new Promise((resolve, reject) => s.all(values, (err: Error | null, rows: Row[]) => (err ? reject(err) : resolve(rows))));
  }

  async close(): Promise<void> {
    const db = await this.handle.catch(() => null);
    if (!db) return;
    for (const p of this.prepared.values()) {
      const s = await p.catch(() => null);
      if (s) await new Promise<void>((r) => s.finalize(() => r()));
    }
    this.prepared.clear();
    await new Promise<void>((resolve, reject) => db.close((err) => (err ? reject(err) : resolve())));
  }
}

/** A small mysql2 pool of its own, through the callback API (the promise wrapper captures a stack per query). */
class MysqlReader implements SqlReader {
  private readonly pool: Pool;

  constructor(options: PoolOptions) {
    this.pool = mysql.createPool(options);
  }

  async select(statement: ReadStatement, params: Readonly<Record<string, unknown>>): Promise<Row[]> {
    const values = positional(statement, params, (d) => d);
    return new Promise((resolve, reject) => this.pool.query(statement.sql, values, (err, rows) => (err ? reject(err) : resolve(rows as Row[]))));
  }

  close(): Promise<void> {
    return new Promise((resolve, reject) => this.pool.end((err) => (err ? reject(err) : resolve())));
  }
}

/** An in-memory SQLite database has no file another handle could open: its reads go through Sequelize's own handle. */
class SequelizeReader implements SqlReader {
  constructor(private readonly sequelize: Sequelize) {}

  async select(statement: ReadStatement, params: Readonly<Record<string, unknown>>): Promise<Row[]> {
    return this.sequelize.query<Row>(statement.sql, { replacements: positional(statement, params, (d) => d), type: QueryTypes.SELECT });
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

export type SqlReaderTarget = { dialect: 'sqlite'; file: string | null; sequelize: Sequelize } | { dialect: 'mysql'; options: PoolOptions };

export function openSqlReader(target: SqlReaderTarget): SqlReader {
  if (target.dialect === 'mysql') return new MysqlReader(target.options);
  return target.file ? new SqliteFileReader(target.file) : new SequelizeReader(target.sequelize);
}

/** Opens the reader on first use (most processes that hold a Database, the CLI's, never read a hot path). */
export function lazySqlReader(open: () => SqlReader): SqlReader {
  let reader: SqlReader | null = null;
  let closed = false;
  return {
    select(statement, params) {
      if (closed) return Promise.reject(new Error('the database is closed'));
      reader ??= open();
      return reader.select(statement, params);
    },
    async close() {
      closed = true;
      await reader?.close();
    },
  };
}
