import { expect } from 'chai';
import { endPool, openRegistrarPool, query, warmPool, type RegistrarPool } from '../../sip/registrar/mysql-pool.js';
import { MYSQL_URL } from '../helpers/test-database.js';

// The registrar's mysql2 pool against the MariaDB every run has (the SQLite pass included: the pool is MySQL-only code).
describe('registrar MySQL pool warm-up', () => {
  let pool: RegistrarPool;
  let opened: number;

  beforeEach(() => {
    pool = openRegistrarPool(`${MYSQL_URL.replace(/\/[^/]*$/, '').replace(/\/$/, '')}/information_schema`, 4);
    opened = 0;
    pool.on('connection', () => {
      opened += 1;
    });
  });
  afterEach(() => endPool(pool));

  it('opens every connection before the first REGISTER needs one, and the first burst opens none', async () => {
    await warmPool(pool);
    expect(opened).to.equal(4);
    const ids = await Promise.all(Array.from({ length: 4 }, () => query<Array<{ id: number }>>(pool, 'SELECT CONNECTION_ID() AS id, SLEEP(0.05)')));
    expect(new Set(ids.map((r) => r[0]!.id)).size).to.equal(4);
    expect(opened).to.equal(4);
  });

  it('without it, the first burst waits on new connections (the cost the warm-up moves to start-up)', async () => {
    await Promise.all(Array.from({ length: 4 }, () => query(pool, 'SELECT SLEEP(0.05)')));
    expect(opened).to.equal(4);
  });
});
