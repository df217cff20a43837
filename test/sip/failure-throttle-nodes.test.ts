import crypto from 'node:crypto';
import { expect } from 'chai';
import { startTestApp, type TestApp } from '../helpers/test-app.js';
import { TEST_DIALECT } from '../helpers/test-database.js';
import { createAccount, createMember } from '../helpers/factories.js';
import { createSipUser } from './registrar-helpers.js';
import { SipPhone } from './sip-phone.js';
import { startSipNode, type SipNode } from './sip-node.js';

const LIMIT = 4;
const PASSWORD = 'member-password-123';

function startNode(app: TestApp, extraEnv: Record<string, string>): Promise<SipNode> {
  return startSipNode(
    app,
    {
      jobs: { enabled: false },
      auth: { throttle: { usernameFailures: LIMIT, ipFailures: 1000, windowSeconds: 300, blockSeconds: 300 } },
      sip: { ws: { enabled: false }, protection: { ipFailures: LIMIT, usernameFailures: LIMIT, windowSeconds: 300, banSeconds: 300 } },
    },
    extraEnv,
  );
}

function statusOf(text: string): number {
  return Number(text.slice(8, 11));
}

/** Variants: through the database (MariaDB only: SQLite serves one process) and through Redis (either database). */
const variants: Array<{ name: string; env: () => Record<string, string> }> = [
  ...(TEST_DIALECT === 'mysql' ? [{ name: 'shared through MariaDB', env: () => ({}) }] : []),
  {
    name: 'shared through Redis (REDIS_URL)',
    env: () => ({
      REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
      REDIS_KEY_PREFIX: `switchboard-test-${crypto.randomBytes(6).toString('hex')}:`,
    }),
  },
];

for (const variant of variants) {
  describe(`failure throttles across two Switchboard processes, ${variant.name} (${TEST_DIALECT})`, function () {
    this.timeout(90_000);
    let app: TestApp;
    let a: SipNode;
    let b: SipNode;
    const phones: SipPhone[] = [];
    const phone = async (node: SipNode, address: string) => {
      const p = await SipPhone.open('udp', node.udpPort, address);
      phones.push(p);
      return p;
    };

    before(async () => {
      app = await startTestApp();
      const env = variant.env();
      [a, b] = await Promise.all([startNode(app, env), startNode(app, env)]);
    });
    after(async () => {
      for (const p of phones.splice(0)) await p.close();
      await Promise.all([a?.server.stop(), b?.server.stop()]);
      await app.stop();
    });

    it('bans a source whose SIP failures are split over both nodes, on both', async () => {
      const u = await createSipUser(app);
      const onA = await phone(a, '127.0.0.21');
      const onB = await phone(b, '127.0.0.21');
      const wrong = { user: u.username, domain: u.domain, password: 'Wrong-password-1' };
      for (let i = 0; i < LIMIT / 2; i++) expect(statusOf(await onA.register(wrong)), `failure ${i + 1} on A`).to.equal(401);
      expect(statusOf(await onB.register(wrong)), 'failure 3, on B').to.equal(401);
      // The 4th failure, on B, reaches the limit counted over both nodes: silence from then on.
      const right = { user: u.username, domain: u.domain, password: u.password };
      await expectSilence(onB, wrong);
      await expectSilence(onB, right);
      await expectSilence(onA, right);
      // Not a dead node: another source still registers (another user: the four failures also blocked this one).
      const v = await createSipUser(app);
      const other = await phone(a, '127.0.0.22');
      expect(statusOf(await other.register({ user: v.username, domain: v.domain, password: v.password }))).to.equal(200);
    });

    it('blocks a user whose SIP failures from several sources are split over both nodes, on both', async () => {
      const u = await createSipUser(app);
      const guessers = [await phone(a, '127.0.0.31'), await phone(a, '127.0.0.32'), await phone(b, '127.0.0.33'), await phone(b, '127.0.0.34')];
      for (const g of guessers) expect(statusOf(await g.register({ user: u.username, domain: u.domain, password: 'Wrong-password-2' }))).to.equal(401);
      for (const g of [guessers[0]!, guessers[2]!]) {
        const r = await g.register({ user: u.extension, authUser: u.extension, domain: u.domain, password: u.password });
        expect(statusOf(r), `right password from a guesser on node ${g === guessers[0] ? 'A' : 'B'}`).to.equal(403);
      }
    });

    it("lets the owner's phone, which authenticated on one node, register on the other while the user is blocked", async () => {
      const u = await createSipUser(app);
      const right = { user: u.username, domain: u.domain, password: u.password };
      expect(statusOf(await (await phone(a, '127.0.0.41')).register(right)), 'the desk phone registers on A').to.equal(200);
      // A's trust marks reach the shared store in batches, within a second (auth-failure-guard.ts).
      await new Promise((r) => setTimeout(r, 1500));
      const guessers = [await phone(a, '127.0.0.42'), await phone(b, '127.0.0.43'), await phone(a, '127.0.0.44'), await phone(b, '127.0.0.45')];
      for (const g of guessers) expect(statusOf(await g.register({ ...right, password: 'Wrong-password-3' }))).to.equal(401);
      expect(statusOf(await guessers[1]!.register(right)), 'a guesser on B, with the right password').to.equal(403);
      expect(statusOf(await (await phone(b, '127.0.0.46')).register(right)), 'a source never seen, on B').to.equal(403);
      expect(statusOf(await (await phone(b, '127.0.0.41')).register(right)), 'the desk phone, now refreshing on B').to.equal(200);
    });

    it('throttles a login whose failures are split over both nodes, on both', async () => {
      const acct = await createAccount(app);
      const { user } = await createMember(app, acct.ownerToken, 'user');
      const login = (node: SipNode, password: string) =>
        fetch(`${node.server.baseUrl}/v1/auth/token`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ grant_type: 'password', username: user.username, password }),
        });
      for (const node of [a, b, a, b]) expect((await login(node, 'wrong-password')).status).to.equal(401);
      for (const node of [a, b]) {
        const r = await login(node, PASSWORD);
        expect(r.status).to.equal(429);
        expect(Number(r.headers.get('retry-after'))).to.be.within(1, 300);
      }
    });
  });
}

/** The phone gets no answer at all (a banned source is dropped, RFC-quiet, so a scanner learns nothing). */
async function expectSilence(p: SipPhone, o: { user: string; domain: string; password: string }): Promise<void> {
  let answered: string | undefined;
  try {
    answered = await p.register(o);
  } catch (err) {
    expect(String(err)).to.contain('no SIP response');
    return;
  }
  expect.fail(`expected silence, got ${answered.split('\r\n')[0]}`);
}
