import { expect } from 'chai';
import { EXPIRE_BATCH, SipCredentialStore } from '../../sip/registrar/credential-store.js';
import type { SqlReader } from '../../src/db/sql-reader.js';
import { TEST_DIALECT } from '../helpers/test-database.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';
import { createSipUser, type SipTestUser } from './registrar-helpers.js';

// The registrar's credential cache on the real database: the challenge loads the row, the answer finds it, entries leave on time.
describe(`SIP credential cache (${TEST_DIALECT})`, () => {
  let app: TestApp;
  let alice: SipTestUser;
  let bob: SipTestUser;
  let queries: number;
  const clock = { now: 1_000_000 };

  before(async () => {
    app = await startTestApp();
    alice = await createSipUser(app);
    bob = await createSipUser(app, {}, alice.account);
  });
  after(async () => {
    await app.stop();
  });
  beforeEach(() => {
    queries = 0;
  });

  // Counts what reaches the database: the store reads through the database's reader.
  const counted: SqlReader = {
    select: (statement, params) => {
      queries += 1;
      return app.services.db.reader.select(statement, params);
    },
    close: () => Promise.resolve(),
  };
  const store = () => new SipCredentialStore(counted, app.services.secrets, 10_000, () => clock.now);

  it('a prefetch at the challenge serves the answer that follows: one query for the pair', async () => {
    const s = store();
    s.prefetch(alice.domain, alice.username);
    // The answer arrives while the prefetch is still in flight: it shares that query.
    const cred = await s.lookup(alice.domain, alice.username);
    expect(cred?.userId).to.equal(alice.id);
    expect(await s.lookup(alice.domain, alice.username)).to.equal(cred);
    expect(queries).to.equal(1);
  });

  it('concurrent look-ups of one name share a query; a fresh look-up goes to the database', async () => {
    const s = store();
    const [a, b] = await Promise.all([s.lookup(alice.domain, alice.username), s.lookup(alice.domain, alice.username)]);
    expect(a).to.equal(b);
    expect(queries).to.equal(1);
    await s.lookup(alice.domain, alice.username, { fresh: true });
    expect(queries).to.equal(2);
  });

  it('an unknown name is cached as unknown, and a prefetch of it throws nothing', async () => {
    const s = store();
    s.prefetch(alice.domain, 'nobody-here');
    expect(await s.lookup(alice.domain, 'nobody-here')).to.equal(null);
    expect(queries).to.equal(1);
  });

  it('entries leave when their time is up, not only at the cap', async () => {
    const s = store();
    await s.lookup(alice.domain, alice.username);
    expect(s.cachedCount).to.equal(1);
    clock.now += 10_001;
    // The next load sweeps from the front: alice's row is past its 10 s.
    await s.lookup(bob.domain, bob.username);
    expect(s.cachedCount).to.equal(1);
    await s.lookup(alice.domain, alice.username);
    expect(queries).to.equal(3);
  });

  it('a cache hit does not keep an entry past its time', async () => {
    const s = store();
    await s.lookup(alice.domain, alice.username);
    clock.now += 5_000;
    await s.lookup(bob.domain, bob.username);
    clock.now += 1_000;
    await s.lookup(alice.domain, alice.username); // a hit: alice's row is still the older one
    clock.now += 4_500;
    await s.lookup(alice.domain, 'nobody-here'); // a load sweeps: alice's row is past its 10 s, bob's is not
    expect(s.cachedCount).to.equal(2);
    expect(queries).to.equal(3);
  });

  it('after a quiet spell, stale entries leave a batch per load rather than all on the first one', async () => {
    const s = store();
    const names = Array.from({ length: 2 * EXPIRE_BATCH + 88 }, (_, i) => `nobody-${i}`);
    for (const name of names) await s.lookup(alice.domain, name);
    expect(s.cachedCount).to.equal(names.length);
    clock.now += 10_001;
    await s.lookup(alice.domain, 'after-1');
    expect(s.cachedCount).to.equal(names.length - EXPIRE_BATCH + 1);
    await s.lookup(alice.domain, 'after-2');
    expect(s.cachedCount).to.equal(names.length - 2 * EXPIRE_BATCH + 2);
    // Fewer than a batch left: they go, and the sweep rests for a second.
    await s.lookup(alice.domain, 'after-3');
    expect(s.cachedCount).to.equal(3);
  });
});
