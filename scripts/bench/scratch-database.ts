import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { dropMysqlDatabase } from '../../test/helpers/test-database.js';

export type BenchDialect = 'sqlite' | 'mysql';

export interface ScratchDatabase {
  /** DATABASE_URL of the fresh database (migrated by bootstrap). */
  url: string;
  /** `<pid>_<random>`: unique to this run, for names inside the database too. */
  tag: string;
  /** Removes the database (the SQLite directory, or DROP DATABASE). */
  drop: () => Promise<void>;
}

/** `mysql` as the benchmark's first argument selects MariaDB/MySQL, anything else SQLite. */
export function benchDialect(arg = process.argv[2]): BenchDialect {
  return arg === 'mysql' ? 'mysql' : 'sqlite';
}

/**
 * A database of its own for one benchmark run, so a run never reads or
 * leaves rows in another's: SQLite in a new temporary directory, or on
 * MariaDB/MySQL at MYSQL_URL (default mysql://root@127.0.0.1:3306) a
 * database `sb_bench_<name>_<tag>`, which bootstrap creates and drop() drops.
 */
export function scratchDatabase(dialect: BenchDialect, name: string, o: { sqliteFile?: string } = {}): ScratchDatabase {
  const tag = `${process.pid}_${crypto.randomBytes(3).toString('hex')}`;
  if (dialect === 'sqlite') {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `sb-bench-${name}-`));
    return {
      url: `sqlite:${path.join(dir, o.sqliteFile ?? 'bench.sqlite')}`,
      tag,
      drop: () => Promise.resolve(fs.rmSync(dir, { recursive: true, force: true })),
    };
  }
  const base = (process.env.MYSQL_URL ?? 'mysql://root@127.0.0.1:3306').replace(/\/$/, '');
  const database = `sb_bench_${name}_${tag}`;
  return {
    url: `${base}/${database}`,
    tag,
    drop: () => dropMysqlDatabase(base, database),
  };
}
