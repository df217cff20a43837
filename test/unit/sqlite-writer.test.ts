import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { QueryTypes } from 'sequelize';
import { openDatabase, type Database } from '../../src/db/database.js';

// The writer is SQLite's; it runs on a file of its own in both passes of the suite.
describe('SQLite: one writer per process', () => {
  let dir: string;
  let db: Database;
  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sbwriter-'));
    db = await openDatabase({ url: `sqlite:${path.join(dir, 'w.sqlite')}` });
    await db.sequelize.query('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL UNIQUE)');
  });
  afterEach(async () => {
    await db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const values = async () => (await db.sequelize.query<{ v: string }>('SELECT v FROM t ORDER BY v', { type: QueryTypes.SELECT })).map((r) => r.v);

  it('puts the transactions queued in one turn in one commit, each settling after it', async () => {
    const before = { ...db.writer!.stats };
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        db.sequelize.transaction(async (tx) => {
          await db.sequelize.query('INSERT INTO t (v) VALUES (:v)', { replacements: { v: `a${i}` }, transaction: tx });
          return i;
        }),
      ),
    );
    expect(results).to.deep.equal(Array.from({ length: 20 }, (_, i) => i));
    expect(db.writer!.stats.jobs - before.jobs).to.equal(20);
    expect(db.writer!.stats.commits - before.commits).to.be.lessThan(5);
    expect(await values()).to.have.length(20);
  });

  it('rolls back a job that throws alone (its savepoint); the others of the batch commit', async () => {
    const ok = (v: string) =>
      db.sequelize.transaction(async (tx) => {
        await db.sequelize.query('INSERT INTO t (v) VALUES (:v)', { replacements: { v }, transaction: tx });
      });
    const failing = db.sequelize.transaction(async (tx) => {
      await db.sequelize.query('INSERT INTO t (v) VALUES (:v)', { replacements: { v: 'half-done' }, transaction: tx });
      throw new Error('the service refused');
    });
    const outcomes = await Promise.allSettled([ok('x1'), failing, ok('x2')]);
    expect(outcomes.map((o) => o.status)).to.deep.equal(['fulfilled', 'rejected', 'fulfilled']);
    expect(await values()).to.deep.equal(['x1', 'x2']);
  });

  it('routes autocommit writes and model writes through the writer, and a constraint error stays with its statement', async () => {
    const before = db.writer!.stats.jobs;
    const outcomes = await Promise.allSettled([
      db.sequelize.query("INSERT INTO t (v) VALUES ('dup')"),
      db.sequelize.query("INSERT INTO t (v) VALUES ('dup')"),
      db.sequelize.query("INSERT INTO t (v) VALUES ('other')"),
    ]);
    expect(outcomes.map((o) => o.status)).to.deep.equal(['fulfilled', 'rejected', 'fulfilled']);
    expect(db.writer!.stats.jobs - before).to.equal(2);
    expect(await values()).to.deep.equal(['dup', 'other']);
  });

  it('runs a transaction opened inside another one as part of it (no second lock to wait for)', async () => {
    await db.sequelize.transaction(async () => {
      await db.sequelize.query("INSERT INTO t (v) VALUES ('outer')");
      await db.sequelize.transaction(async (inner) => {
        await db.sequelize.query("INSERT INTO t (v) VALUES ('inner')", { transaction: inner });
      });
    });
    expect(await values()).to.deep.equal(['inner', 'outer']);
  });

  it('never answers SQLITE_BUSY to concurrent writers of one process', async () => {
    const writes = Array.from({ length: 200 }, (_, i) =>
      i % 2
        ? db.sequelize.transaction(async (tx) => {
            await db.sequelize.query('INSERT INTO t (v) VALUES (:v)', { replacements: { v: `t${i}` }, transaction: tx });
            await new Promise((r) => setImmediate(r));
            await db.sequelize.query('UPDATE t SET v = :n WHERE v = :v', { replacements: { v: `t${i}`, n: `u${i}` }, transaction: tx });
          })
        : db.sequelize.query('INSERT INTO t (v) VALUES (:v)', { replacements: { v: `q${i}` } }),
    );
    const outcomes = await Promise.allSettled(writes);
    expect(outcomes.filter((o) => o.status === 'rejected')).to.deep.equal([]);
    expect(await values()).to.have.length(200);
  });

  it('runs WAL with the configured synchronous level on the writer handle', async () => {
    const [mode] = await db.sequelize.query<{ journal_mode: string }>('PRAGMA journal_mode', { type: QueryTypes.SELECT });
    expect(mode!.journal_mode).to.equal('wal');
    const sync = await db.sequelize.transaction(async (tx) =>
      db.sequelize.query<{ synchronous: number }>('PRAGMA synchronous', { type: QueryTypes.SELECT, transaction: tx }),
    );
    expect(sync[0]!.synchronous).to.equal(1); // NORMAL
  });

  it('never checkpoints inside a COMMIT: the WAL grows past 1,000 pages until the checkpointer copies it, on its own handle', async () => {
    const wal = path.join(dir, 'w.sqlite-wal');
    const auto = await db.sequelize.transaction(async (tx) =>
      db.sequelize.query<{ wal_autocheckpoint: number }>('PRAGMA wal_autocheckpoint', { type: QueryTypes.SELECT, transaction: tx }),
    );
    expect(auto[0]!.wal_autocheckpoint).to.equal(0);
    // About 6 MB of rows: past SQLite's automatic checkpoint (1,000 pages of 4 KB), which would have reset the WAL.
    const big = 'x'.repeat(3000);
    for (let batch = 0; batch < 20; batch++)
      await db.sequelize.transaction(async (tx) => {
        for (let i = 0; i < 100; i++)
          await db.sequelize.query('INSERT INTO t (v) VALUES (:v)', { replacements: { v: `${batch}-${i}-${big}` }, transaction: tx });
      });
    const grown = fs.statSync(wal).size;
    expect(grown).to.be.greaterThan(1000 * 4096);
    // The checkpointer copies it within a second or so, on its handle.
    const deadline = Date.now() + 5000;
    while (
      Date.now() < deadline &&
      !(db.checkpointer!.last && db.checkpointer!.last.log > 1000 && db.checkpointer!.last.checkpointed === db.checkpointer!.last.log)
    )
      await new Promise((r) => setTimeout(r, 100));
    expect(db.checkpointer!.last, 'a checkpoint copied every frame of the grown WAL').to.satisfy(
      (l?: { log: number; checkpointed: number }) => !!l && l.log > 1000 && l.checkpointed === l.log,
    );
    expect(db.checkpointer!.failures).to.equal(0);
    expect(await values()).to.have.length(2000);
  });
});
