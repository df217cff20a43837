import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * Each test file gets a database of its own on the dialect the run is for:
 * scripts/test.js runs the suite once with TEST_DATABASE=sqlite and once with
 * TEST_DATABASE=mysql (MYSQL_URL, default the local MariaDB).
 */
export const TEST_DIALECT = (process.env.TEST_DATABASE ?? 'sqlite') as 'sqlite' | 'mysql';
export const MYSQL_URL = process.env.MYSQL_URL ?? 'mysql://root@127.0.0.1:3306';

export interface TestDatabaseUrl {
  url: string;
  drop(): Promise<void>;
}

export function freshDatabaseUrl(): TestDatabaseUrl {
  const tag = `${process.pid}_${crypto.randomBytes(4).toString('hex')}`;
  if (TEST_DIALECT === 'sqlite') {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sbtest-'));
    return { url: `sqlite:${path.join(dir, 'db.sqlite')}`, drop: async () => fs.rmSync(dir, { recursive: true, force: true }) };
  }
  const name = `sbtest_${tag}`;
  const base = MYSQL_URL.replace(/\/[^/]*$/, '').replace(/\/$/, '');
  return {
    url: `${base}/${name}`,
    drop: () => dropMysqlDatabase(base, name),
  };
}

/** DROP DATABASE IF EXISTS on the server at `serverUrl` (no database in it): test databases, and the benchmarks' too. */
export async function dropMysqlDatabase(serverUrl: string, name: string): Promise<void> {
  const { createConnection } = await import('mysql2/promise');
  const u = new URL(serverUrl);
  const conn = await createConnection({
    host: u.hostname,
    port: Number(u.port || 3306),
    user: decodeURIComponent(u.username || 'root'),
    password: decodeURIComponent(u.password),
  });
  try {
    await conn.query(`DROP DATABASE IF EXISTS \`${name}\``);
  } finally {
    await conn.end();
  }
}
