import { expect } from 'chai';
import { Sequelize } from 'sequelize';
import { openDatabase, type Database } from '../../src/db/database.js';
import { migrateToLatest } from '../../src/db/migrator.js';
import { openSqlReader, readStatement, sqliteDateText } from '../../src/db/sql-reader.js';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freshDatabaseUrl, type TestDatabaseUrl } from '../helpers/test-database.js';

function freshSqliteUrl(): TestDatabaseUrl {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sbreader-'));
  return { url: `sqlite:${path.join(dir, 'db.sqlite')}`, drop: async () => fs.rmSync(dir, { recursive: true, force: true }) };
}

describe('hot-path reads straight through the driver', () => {
  it('compiles named parameters to positional ones, in order, repeats included', () => {
    expect(readStatement('SELECT 1 FROM t WHERE a = :a AND b > :b OR a = :a')).to.deep.equal({
      sql: 'SELECT 1 FROM t WHERE a = ? AND b > ? OR a = ?',
      names: ['a', 'b', 'a'],
    });
  });

  it('spells a date as Sequelize writes it on SQLite, so text comparisons with stored dates hold', () => {
    const s = new Sequelize({ dialect: 'sqlite', storage: ':memory:', logging: false });
    for (const d of [new Date(Date.UTC(2026, 11, 3, 5, 6, 7, 89)), new Date(Date.UTC(1999, 0, 1, 0, 0, 0, 0)), new Date()]) {
      expect(`'${sqliteDateText(d)}'`).to.equal(s.escape(d));
    }
  });

  it('reads SQLite through a read-only handle of its own: a write through it fails and changes nothing', async () => {
    const sqlite = freshSqliteUrl();
    const db = await openDatabase({ url: sqlite.url });
    const reader = openSqlReader({ dialect: 'sqlite', file: sqlite.url.slice('sqlite:'.length), sequelize: db.sequelize });
    try {
      await migrateToLatest(db.sequelize);
      await db.models.Account.create({ name: 'Kept', sip_domain: 'kept.example', timezone: 'UTC' });
      let err: unknown;
      await reader.select(readStatement("UPDATE accounts SET name = 'x' WHERE id > :id"), { id: 0 }).catch((e: unknown) => (err = e));
      expect(String(err)).to.match(/readonly/i);
      expect(await db.models.Account.count({ where: { name: 'x' } })).to.equal(0);
      expect(await reader.select(readStatement('SELECT name FROM accounts WHERE name = :n'), { n: 'Kept' })).to.deep.equal([{ name: 'Kept' }]);
    } finally {
      await reader.close();
      await db.close();
      await sqlite.drop();
    }
  });

  describe('on the run’s database', () => {
    let t: TestDatabaseUrl;
    let db: Database;
    before(async () => {
      t = freshDatabaseUrl();
      db = await openDatabase({ url: t.url });
      await migrateToLatest(db.sequelize);
    });
    after(async () => {
      await db.close();
      await t.drop();
    });

    it('sees what the models committed, compares dates as the models stored them, and refuses a missing parameter', async () => {
      const account = await db.models.Account.create({ name: 'Reader', sip_domain: 'reader.example', timezone: 'UTC' });
      // The stamp exactly as the model stored it (milliseconds included on both dialects).
      const at = (await db.models.Account.findByPk(account.id, { rejectOnEmpty: true })).updated_at;
      const q = readStatement('SELECT id, name FROM accounts WHERE id = :id AND updated_at > :since');
      expect(await db.reader.select(q, { id: account.id, since: new Date(at.getTime() - 1) })).to.have.length(1);
      // Milliseconds count: one millisecond later than the stored stamp is no longer "before" it.
      expect(await db.reader.select(q, { id: account.id, since: at })).to.deep.equal([]);
      const [row] = await db.reader.select(q, { id: account.id, since: new Date(0) });
      expect([Number(row!.id), row!.name]).to.deep.equal([account.id, 'Reader']);
      await db.models.Account.update({ name: 'Renamed' }, { where: { id: account.id } });
      expect((await db.reader.select(q, { id: account.id, since: new Date(0) }))[0]!.name).to.equal('Renamed');
      let err: unknown;
      await db.reader.select(q, { id: account.id }).catch((e: unknown) => (err = e));
      expect(String(err)).to.match(/:since has no value/);
    });

    it('reports a broken statement as an error, and the reader goes on', async () => {
      let err: unknown;
      await db.reader.select(readStatement('SELECT nope FROM accounts WHERE id = :id'), { id: 1 }).catch((e: unknown) => (err = e));
      expect(err).to.be.an('error');
      expect(await db.reader.select(readStatement('SELECT COUNT(*) AS n FROM accounts WHERE id > :id'), { id: 0 })).to.have.length(1);
    });
  });
});
