import { expect } from 'chai';
import { retryConflicts } from '../../sip/registrar/conflict-retry.js';

const deadlock = () =>
  Object.assign(new Error('Deadlock found when trying to get lock; try restarting transaction'), { code: 'ER_LOCK_DEADLOCK', errno: 1213 });

describe('retryConflicts (binding transactions that lost a conflict)', () => {
  it('runs the whole step again after a deadlock (a Galera certification failure) and counts each retry', async () => {
    const retries: string[] = [];
    let runs = 0;
    const r = await retryConflicts(
      () => {
        runs++;
        return runs < 3 ? Promise.reject(deadlock()) : Promise.resolve('ok');
      },
      { onRetry: (c) => retries.push(c) },
    );
    expect(r).to.equal('ok');
    expect(runs).to.equal(3);
    expect(retries).to.deep.equal(['ER_LOCK_DEADLOCK', 'ER_LOCK_DEADLOCK']);
  });

  it('is bounded: after the last attempt the conflict is thrown and the give-up counted', async () => {
    let runs = 0;
    const gaveUp: string[] = [];
    const err = await retryConflicts(
      () => {
        runs++;
        return Promise.reject(Object.assign(new Error('wrapped'), { parent: { code: 'ER_LOCK_DEADLOCK' } }));
      },
      { attempts: 4, onGiveUp: (c) => gaveUp.push(c) },
    ).catch((e: unknown) => e);
    expect((err as Error).message).to.equal('wrapped');
    expect(runs).to.equal(4);
    expect(gaveUp).to.deep.equal(['ER_LOCK_DEADLOCK']);
  });

  it('does not retry other errors', async () => {
    let runs = 0;
    const err = await retryConflicts(() => {
      runs++;
      return Promise.reject(Object.assign(new Error('dup'), { code: 'ER_DUP_ENTRY' }));
    }).catch((e: unknown) => e);
    expect((err as Error).message).to.equal('dup');
    expect(runs).to.equal(1);
  });
});
