import { expect } from 'chai';
import { createAccount } from '../helpers/factories.js';
import { TEST_DIALECT } from '../helpers/test-database.js';
import { createSipUser, startRegistrar, type RegistrarHarness, type SipTestUser } from './registrar-helpers.js';
import { SipPhone } from './sip-phone.js';

const USERS = 12;
const PHONES_PER_USER = 3;
const MAX = 2;

// On MySQL concurrent REGISTERs of different users share one transaction (group commit); this drives many at once.
describe(`many users registering at the same moment (${TEST_DIALECT === 'mysql' ? 'batched REGISTER transactions' : 'one writer at a time'})`, function () {
  this.timeout(30_000);
  let h: RegistrarHarness;
  let users: SipTestUser[];
  const phones = new Map<number, SipPhone[]>();

  before(async () => {
    h = await startRegistrar({ edge: ['udp'], realClock: true });
    const account = await createAccount(h.app);
    users = [];
    for (let i = 0; i < USERS; i++) users.push(await createSipUser(h.app, { max_bindings: MAX }, account));
    for (const u of users) {
      const list: SipPhone[] = [];
      for (let i = 0; i < PHONES_PER_USER; i++) list.push(await SipPhone.open('udp', h.edge!.port('udp')));
      phones.set(u.id, list);
    }
  });
  after(async () => {
    for (const list of phones.values()) for (const p of list) await p.close();
    await h.stop();
  });

  const everyone = <T>(fn: (u: SipTestUser, p: SipPhone, i: number) => Promise<T>) =>
    Promise.all(users.flatMap((u) => phones.get(u.id)!.map((p, i) => fn(u, p, i))));
  const status = (text: string) => Number(text.slice(8, 11));
  const counts = async () => {
    const rows = await h.app.services.db.models.Registration.findAll({ attributes: ['user_id'] });
    return users.map((u) => rows.filter((r) => r.get('user_id') === u.id).length);
  };

  it(`admits exactly max_bindings (${MAX}) of each user's ${PHONES_PER_USER} phones when all ${USERS * PHONES_PER_USER} register at once`, async () => {
    const results = await everyone(async (u, p, i) => ({
      user: u.id,
      status: status(await p.register({ user: u.username, domain: u.domain, password: u.password, userAgent: `Phone ${i}` })),
    }));
    for (const u of users) {
      const mine = results
        .filter((r) => r.user === u.id)
        .map((r) => r.status)
        .sort();
      expect(mine, `user ${u.id}`).to.deep.equal([200, 200, 403]);
    }
    expect(await counts()).to.deep.equal(users.map(() => MAX));
  });

  it('refreshes every admitted binding at once without taking another slot, then removes one per user at once', async () => {
    const admitted = async () => {
      const rows = await h.app.services.db.models.Registration.findAll({ attributes: ['user_id', 'user_agent'] });
      return new Set(rows.map((r) => `${r.get('user_id')}/${r.get('user_agent')}`));
    };
    const before = await admitted();
    const refreshed = await everyone(async (u, p, i) =>
      before.has(`${u.id}/Phone ${i}`) ? status(await p.register({ user: u.username, domain: u.domain, password: u.password, userAgent: `Phone ${i}` })) : 200,
    );
    expect(refreshed.every((s) => s === 200)).to.equal(true);
    expect(await counts()).to.deep.equal(users.map(() => MAX));
    expect(await admitted()).to.deep.equal(before);

    // The first admitted phone of each user unregisters (expires=0), all at the same moment.
    const removing = users.map((u) => phones.get(u.id)!.findIndex((_, i) => before.has(`${u.id}/Phone ${i}`)));
    const removed = await Promise.all(
      users.map((u, k) =>
        phones.get(u.id)![removing[k]!]!.register({ user: u.username, domain: u.domain, password: u.password, userAgent: `Phone ${removing[k]}`, expires: 0 }),
      ),
    );
    expect(removed.map(status)).to.deep.equal(users.map(() => 200));
    expect(await counts()).to.deep.equal(users.map(() => MAX - 1));
  });
});
