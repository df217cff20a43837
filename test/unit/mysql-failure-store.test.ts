import { expect } from 'chai';
import { QueryTypes } from 'sequelize';
import { MySqlFailureStore, nextCounter } from '../../src/throttle/mysql-failure-store.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';
import { TEST_DIALECT } from '../helpers/test-database.js';

const rule = { limit: 3, windowSeconds: 60, blockSeconds: 600 };

describe('nextCounter (one failure applied to a failure_counters row)', () => {
  const t = 1_000_000;
  it('starts a window at the first failure', () => {
    expect(nextCounter(undefined, rule, t)).to.deep.equal({ write: true, points: 1, expire: t + 60_000, state: { count: 1, blockedMs: 0, started: false } });
  });
  it('counts within the window and keeps its end', () => {
    expect(nextCounter({ points: 1, expire: t + 5_000 }, rule, t)).to.include({ write: true, points: 2, expire: t + 5_000 });
  });
  it('starts the block at the limit-th failure, in the same row write', () => {
    const n = nextCounter({ points: '2', expire: String(t + 5_000) }, rule, t);
    expect(n).to.deep.equal({ write: true, points: 3, expire: t + 600_000, state: { count: 3, blockedMs: 600_000, started: true } });
  });
  it('writes nothing during a block (a row rate-limiter-flexible blocked reads the same: points over the limit)', () => {
    expect(nextCounter({ points: 4, expire: t + 9_000 }, rule, t)).to.deep.equal({
      write: false,
      points: 4,
      expire: t + 9_000,
      state: { count: 4, blockedMs: 9_000, started: false },
    });
  });
  it('starts a new window once the window or the block is over', () => {
    expect(nextCounter({ points: 2, expire: t }, rule, t)).to.include({ points: 1, expire: t + 60_000 });
    expect(nextCounter({ points: 5, expire: t - 1 }, rule, t).state).to.deep.equal({ count: 1, blockedMs: 0, started: false });
  });
  it('bans at the first failure when the limit is 1', () => {
    expect(nextCounter(undefined, { ...rule, limit: 1 }, t).state.started).to.equal(true);
  });
});

if (TEST_DIALECT === 'mysql')
  describe('MySqlFailureStore on MariaDB', function () {
    this.timeout(60_000);
    let app: TestApp;
    before(async () => {
      app = await startTestApp();
    });
    after(async () => {
      await app?.stop();
    });

    it('counts failures of one key sent at once exactly, and exactly one of them starts the block', async () => {
      const store = new MySqlFailureStore(app.services.db.sequelize, { sweepMs: 0 });
      const r = { limit: 25, windowSeconds: 300, blockSeconds: 600 };
      const counting = new MySqlFailureStore(app.services.db.sequelize, { sweepMs: 0, onFallback: (e) => expect.fail(String(e)) });
      // Two stores on one pool stand for two nodes; the row does not exist yet, so the first inserts race too.
      const states = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? store : counting).fail('race', 'k', r)));
      expect(states.filter((s) => s.started)).to.have.length(1);
      expect(states.filter((s) => s.started)[0]!.count).to.equal(25);
      expect(states.filter((s) => s.blockedMs > 0)).to.have.length(40 - 24);
      const [row] = await app.services.db.sequelize.query<{ points: number; expire: number }>(
        "SELECT points, expire FROM failure_counters WHERE `key` = 'race:k'",
        { type: QueryTypes.SELECT },
      );
      expect(Number(row!.points)).to.equal(25);
      expect(Number(row!.expire) - Date.now()).to.be.within(590_000, 600_000);
      expect((await store.peek('race', 'k', r)).blockedMs).to.be.within(590_000, 600_000);
      await store.reset('race', 'k');
      expect(await store.peek('race', 'k', r)).to.deep.equal({ count: 0, blockedMs: 0, started: false });
    });

    it('sweeps rows expired for an hour and keeps the others', async () => {
      let t = Date.now();
      const store = new MySqlFailureStore(app.services.db.sequelize, { sweepMs: 0, now: () => t });
      await store.fail('sweep', 'old', rule);
      t += 2 * 3_600_000;
      await store.fail('sweep', 'new', rule);
      expect(await store.sweep()).to.be.at.least(1);
      const keys = await app.services.db.sequelize.query<{ key: string }>("SELECT `key` FROM failure_counters WHERE `key` LIKE 'sweep:%'", {
        type: QueryTypes.SELECT,
      });
      expect(keys.map((k) => k.key)).to.deep.equal(['sweep:new']);
    });

    it('touches many keys in one statement: each peeks live for the window, an expired row starts over, a live one keeps its count', async () => {
      let t = Date.now();
      const store = new MySqlFailureStore(app.services.db.sequelize, { sweepMs: 0, now: () => t });
      const window = { limit: 2_000_000_000, windowSeconds: 60, blockSeconds: 1 };
      await store.fail('touch', 'live', window);
      await store.fail('touch', 'live', window);
      await store.fail('touch', 'old', window);
      t += 120_000;
      await store.touch('touch', ['live-not', 'old', "quote'd\0nul", 'old'], 60);
      expect((await store.peek('touch', 'old', window)).count, 'an expired row starts over').to.equal(1);
      expect((await store.peek('touch', "quote'd\0nul", window)).count).to.equal(1);
      expect((await store.peek('touch', 'live-not', window)).count).to.equal(1);
      t -= 110_000;
      await store.touch('touch', ['live'], 600);
      expect((await store.peek('touch', 'live', window)).count, 'a live row keeps its count').to.equal(2);
      t += 300_000;
      expect((await store.peek('touch', 'live', window)).count, 'and is extended').to.equal(2);
      t += 400_000;
      expect((await store.peek('touch', 'live', window)).count).to.equal(0);
    });

    it('counts in memory while the table cannot be used', async () => {
      const errors: unknown[] = [];
      const store = new MySqlFailureStore(app.services.db.sequelize, { sweepMs: 0, onFallback: (e) => errors.push(e) });
      await app.services.db.sequelize.query('RENAME TABLE failure_counters TO failure_counters_away');
      try {
        const states = [];
        for (let i = 0; i < 3; i++) states.push(await store.fail('down', 'k', rule));
        expect(states.map((s) => s.started)).to.deep.equal([false, false, true]);
        expect((await store.peek('down', 'k', rule)).blockedMs).to.be.greaterThan(0);
        expect(errors.length).to.be.at.least(3);
      } finally {
        await app.services.db.sequelize.query('RENAME TABLE failure_counters_away TO failure_counters');
      }
    });
  });
