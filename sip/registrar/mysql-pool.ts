import mysql, { type Pool, type PoolConnection } from 'mysql2';
import { mysqlPoolOptions } from '../../src/db/database.js';

/**
 * The registrar's own mysql2 pool, used through mysql2's callback API:
 * the promise wrapper captures a stack trace per query, a few percent of
 * the REGISTER path's CPU. Multi-statements carry a REGISTER batch's writes
 * and COMMIT in one round trip; dates are UTC as the models write them.
 */
export type RegistrarPool = Pool;
export type RegistrarConnection = PoolConnection;

export function openRegistrarPool(url: string, connectionLimit: number): RegistrarPool {
  return mysql.createPool({ ...mysqlPoolOptions(url, connectionLimit), multipleStatements: true });
}

export function query<T = unknown>(on: Pool | PoolConnection, sql: string, values: unknown[] = []): Promise<T> {
  return new Promise((resolve, reject) => {
    on.query(sql, values, (err, rows) => (err ? reject(err) : resolve(rows as T)));
  });
}

/** A prepared statement (mysql2 keeps it per connection): parameters go in binary, with no escaping into the SQL text. */
export function execute<T = unknown>(on: Pool | PoolConnection, sql: string, values: Array<string | number | null> = []): Promise<T> {
  return new Promise((resolve, reject) => {
    on.execute(sql, values, (err, rows) => (err ? reject(err) : resolve(rows as T)));
  });
}

export function getConnection(pool: Pool): Promise<PoolConnection> {
  return new Promise((resolve, reject) => pool.getConnection((err, conn) => (err ? reject(err) : resolve(conn))));
}

/**
 * Opens every connection of the pool (getConnection hands one out only once
 * its handshake and authentication are done). Done before the SIP listeners
 * start: otherwise the first burst of REGISTERs after a start (every phone
 * of a restarted node re-registering) waits on TCP handshakes and MariaDB
 * authentication, one connection at a time.
 */
export async function warmPool(pool: Pool): Promise<void> {
  const held = await Promise.all(Array.from({ length: pool.config.connectionLimit ?? 10 }, () => getConnection(pool)));
  for (const c of held) c.release();
}

export function endPool(pool: Pool): Promise<void> {
  return new Promise((resolve, reject) => pool.end((err) => (err ? reject(err) : resolve())));
}
