import fs from 'node:fs';
import path from 'node:path';
import type { PoolOptions } from 'mysql2';
import { Sequelize, Transaction, type Options } from 'sequelize';
import type { Logger } from '../logger.js';
import { initModels, type Models } from './models/index.js';
import { SqliteWriter } from './sqlite-writer.js';
import { SqliteCheckpointer } from './sqlite-checkpointer.js';
import { lazySqlReader, openSqlReader, type SqlReader } from './sql-reader.js';

export interface Database {
  /** The DATABASE_URL this was opened with (the SIP hot path opens its own mysql2 pool from it). */
  url: string;
  sequelize: Sequelize;
  models: Models;
  dialect: 'sqlite' | 'mysql';
  /** SQLite: the process's one writer (every transaction and autocommit write goes through it); MySQL: absent. */
  writer?: SqliteWriter;
  /** SQLite on a file: the WAL checkpoints, off the write path. */
  checkpointer?: SqliteCheckpointer;
  /** Hot-path SELECTs straight through the driver, on a handle (SQLite) or a small pool (MySQL) of their own. */
  reader: SqlReader;
  close(): Promise<void>;
}

export interface DatabaseUrl {
  dialect: 'sqlite' | 'mysql';
  /** sqlite: file path (or ':memory:'); mysql: database name */
  storageOrName: string;
  url: URL | null;
}

/** Accepts sqlite:relative/or/absolute/path, sqlite::memory:, mysql://user:pass@host:port/db (mariadb:// too). */
export function parseDatabaseUrl(raw: string): DatabaseUrl {
  if (raw.startsWith('sqlite:')) {
    let storage = raw.slice('sqlite:'.length);
    if (storage.startsWith('//')) storage = storage.slice(2);
    if (!storage) throw new Error(`DATABASE_URL "${raw}" names no SQLite file`);
    return { dialect: 'sqlite', storageOrName: storage, url: null };
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error(`DATABASE_URL "${redactUrl(raw)}" is not a URL (expected sqlite:PATH or mysql://user@host:3306/db)`);
  }
  if (url.protocol !== 'mysql:' && url.protocol !== 'mariadb:') {
    throw new Error(`DATABASE_URL scheme "${url.protocol}" is not supported (use sqlite: or mysql:)`);
  }
  const name = decodeURIComponent(url.pathname.replace(/^\//, ''));
  if (!/^[A-Za-z0-9_]+$/.test(name)) throw new Error('DATABASE_URL must name a database made of letters, digits and _');
  return { dialect: 'mysql', storageOrName: name, url };
}

export function redactUrl(raw: string): string {
  return raw.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
}

/** Creates the MySQL database when it is missing (the SQLite file is created on open). */
export async function ensureDatabaseExists(raw: string): Promise<void> {
  const parsed = parseDatabaseUrl(raw);
  if (parsed.dialect === 'sqlite') {
    if (parsed.storageOrName !== ':memory:') fs.mkdirSync(path.dirname(path.resolve(parsed.storageOrName)), { recursive: true });
    return;
  }
  const { createConnection } = await import('mysql2/promise');
  const conn = await createConnection(mysqlServerOptions(parsed.url!));
  try {
    await conn.query(`CREATE DATABASE IF NOT EXISTS \`${parsed.storageOrName}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
  } finally {
    await conn.end();
  }
}

/**
 * A mysql2 pool on the database of a mysql:// URL, as the driver-level
 * readers and the registrar open them: dates are UTC as the models write
 * them, big integers stay exact, the collation is the schema's.
 */
export function mysqlPoolOptions(url: string, connectionLimit: number): PoolOptions {
  const parsed = parseDatabaseUrl(url);
  return {
    ...mysqlServerOptions(parsed.url!),
    database: parsed.storageOrName,
    connectionLimit,
    timezone: 'Z',
    dateStrings: false,
    supportBigNumbers: true,
    charset: 'utf8mb4_bin',
  };
}

/** Host, port and credentials of a mysql:// URL, as mysql2 takes them. */
export function mysqlServerOptions(u: URL): { host: string; port: number; user: string; password: string } {
  return { host: u.hostname, port: Number(u.port || 3306), user: decodeURIComponent(u.username || 'root'), password: decodeURIComponent(u.password || '') };
}

export interface OpenDatabaseOptions {
  url: string;
  logger?: Logger;
  logging?: boolean;
  poolMax?: number;
  /**
   * SQLite `PRAGMA synchronous` under WAL. 'normal' (default): a commit
   * survives a crash of the process; a power loss or OS crash may lose the
   * transactions committed since the last checkpoint, never the file's
   * consistency. 'full': every commit is on disk before it is answered.
   */
  sqliteSynchronous?: 'normal' | 'full';
}

export async function openDatabase(opts: OpenDatabaseOptions): Promise<Database> {
  const parsed = parseDatabaseUrl(opts.url);
  await ensureDatabaseExists(opts.url);
  const logging: Options['logging'] = opts.logging && opts.logger ? (sql: string) => opts.logger!.debug({ sql }, 'sql') : false;
  let sequelize: Sequelize;
  let writer: SqliteWriter | undefined;
  let checkpointer: SqliteCheckpointer | undefined;
  if (parsed.dialect === 'sqlite') {
    sequelize = new Sequelize({
      dialect: 'sqlite',
      storage: parsed.storageOrName,
      logging,
      // Another process writing the same file: BEGIN IMMEDIATE waits busy_timeout, then is tried again.
      retry: { max: 10, match: [/SQLITE_BUSY/] },
      // A DEFERRED transaction that later needs the write lock fails with
      // SQLITE_BUSY at once when another process writes (busy_timeout cannot
      // help: waiting could deadlock). IMMEDIATE takes the lock at BEGIN and
      // waits, so several processes can share one SQLite file.
      transactionType: Transaction.TYPES.IMMEDIATE,
      pool: { max: 1 },
    });
    configureSqliteHandles(sequelize, opts.sqliteSynchronous ?? 'normal');
    // In this process, writers never meet at the lock: they queue in one writer.
    writer = SqliteWriter.install(sequelize);
    // WAL is a property of the file: readers go on while the writer commits.
    await sequelize.query('PRAGMA journal_mode = WAL');
    if (isFileStorage(parsed.storageOrName)) {
      checkpointer = new SqliteCheckpointer(parsed.storageOrName);
      checkpointer.start();
    }
  } else {
    const u = parsed.url!;
    sequelize = new Sequelize(parsed.storageOrName, decodeURIComponent(u.username || 'root'), decodeURIComponent(u.password || ''), {
      dialect: 'mysql',
      host: u.hostname,
      port: Number(u.port || 3306),
      logging,
      pool: { max: opts.poolMax ?? 10, min: 0, idle: 10_000 },
      dialectOptions: { supportBigNumbers: true, dateStrings: false, timezone: 'Z' },
      timezone: '+00:00',
      define: { charset: 'utf8mb4', collate: 'utf8mb4_bin' },
    });
  }
  const models = initModels(sequelize);
  const storage = parsed.storageOrName;
  const reader = lazySqlReader(() =>
    openSqlReader(
      parsed.dialect === 'mysql'
        ? { dialect: 'mysql', options: mysqlPoolOptions(opts.url, READER_CONNECTIONS) }
        : { dialect: 'sqlite', file: isFileStorage(storage) ? path.resolve(storage) : null, sequelize },
    ),
  );
  return {
    url: opts.url,
    sequelize,
    models,
    dialect: parsed.dialect,
    ...(writer ? { writer } : {}),
    ...(checkpointer ? { checkpointer } : {}),
    reader,
    close: async () => {
      await reader.close();
      await sequelize.close();
      await checkpointer?.stop();
    },
  };
}

/** The hot-path reader's MySQL pool: a read is one indexed round trip, so a few connections carry thousands a second. */
const READER_CONNECTIONS = 4;

/** A file (WAL applies), not an in-memory database. */
function isFileStorage(storage: string): boolean {
  return storage !== '' && storage !== ':memory:' && !storage.startsWith('file::memory:');
}

/**
 * Per-handle settings. Sequelize's SQLite dialect opens a handle per
 * transaction and never runs the afterConnect hook for them, so they are
 * applied here, once for each handle it opens.
 */
function configureSqliteHandles(sequelize: Sequelize, synchronous: 'normal' | 'full'): void {
  type Handle = { run(sql: string, cb: (err: Error | null) => void): void };
  const cm = (sequelize as unknown as { connectionManager: { getConnection(o?: unknown): Promise<Handle> } }).connectionManager;
  const get = cm.getConnection.bind(cm);
  const configured = new WeakSet<Handle>();
  cm.getConnection = async (o?: unknown) => {
    const conn = await get(o);
    if (configured.has(conn)) return conn;
    configured.add(conn);
    const run = (sql: string) => new Promise<void>((res, rej) => conn.run(sql, (e) => (e ? rej(e) : res())));
    await run('PRAGMA busy_timeout = 5000');
    await run('PRAGMA foreign_keys = ON');
    await run(`PRAGMA synchronous = ${synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
    // Checkpoints run on a handle of their own (sqlite-checkpointer.ts), never inside a COMMIT.
    await run('PRAGMA wal_autocheckpoint = 0');
    return conn;
  };
}
