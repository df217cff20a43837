import { expect } from 'chai';
import crypto from 'node:crypto';
import { statusOf, UdpClient } from './helpers.js';
import { authorize, createSipUser, parseChallenge, registerText, startRegistrar, type RegistrarHarness, type SipTestUser } from './registrar-helpers.js';
import { createUser } from '../helpers/factories.js';
import { TEST_DIALECT } from '../helpers/test-database.js';

const PHONES = 30;
const ROUNDS = 6;
const API_WORKERS = 8;
const USERS_PER_WORKER = 5;

/** One phone on its own socket: challenge, authenticated REGISTER, ROUNDS times; returns each final status. */
async function phoneLoop(u: SipTestUser, port: number): Promise<number[]> {
  const c = await UdpClient.open();
  const statuses: number[] = [];
  try {
    const callId = `load-${crypto.randomBytes(6).toString('hex')}`;
    let cseq = 1;
    for (let round = 0; round < ROUNDS; round++) {
      const text = (authorization?: string) =>
        registerText({
          user: u.username,
          domain: u.domain,
          callId,
          cseq: cseq++,
          via: `Via: SIP/2.0/UDP 127.0.0.1:${c.port};branch=z9hG4bK-${crypto.randomBytes(6).toString('hex')};rport`,
          contacts: [`<sip:${u.username}@127.0.0.1:${c.port}>`],
          expires: 600,
          ...(authorization ? { authorization } : {}),
        });
      c.send(text(), port);
      const challenge = await c.next(15_000);
      if (!challenge || statusOf(challenge) !== 401) {
        statuses.push(challenge ? statusOf(challenge) : 0);
        continue;
      }
      const www = /^WWW-Authenticate: (.*)$/m.exec(challenge)![1]!.trim();
      c.send(text(authorize(parseChallenge(www), u.username, u.password, `sip:${u.domain}`)), port);
      const answer = await c.next(15_000);
      statuses.push(answer ? statusOf(answer) : 0);
    }
  } finally {
    c.close();
  }
  return statuses;
}

describe(`admin API writes while phones register (${TEST_DIALECT})`, function () {
  this.timeout(120_000);
  let h: RegistrarHarness;
  before(async () => {
    h = await startRegistrar({ edge: ['udp'], realClock: true });
  });
  after(async () => h.stop());

  it('answers every POST /v1/users and every REGISTER, with no database-busy error reaching anyone', async () => {
    const first = await createSipUser(h.app);
    const phones: SipTestUser[] = [first];
    for (let i = 1; i < PHONES; i++) phones.push(await createSipUser(h.app, {}, first.account));
    const writer = h.app.services.db.writer;
    const before = writer ? { ...writer.stats } : undefined;
    const port = h.edge!.port('udp');

    const api: number[] = [];
    const apiWorker = async () => {
      for (let i = 0; i < USERS_PER_WORKER; i++) {
        try {
          await createUser(h.app, first.account.ownerToken);
          api.push(201);
        } catch (err) {
          api.push(Number(/failed: (\d+)/.exec(String(err))?.[1] ?? 0));
        }
      }
    };
    const [sip] = await Promise.all([Promise.all(phones.map((u) => phoneLoop(u, port))), Promise.all(Array.from({ length: API_WORKERS }, apiWorker))]);

    expect(api, 'API answers').to.have.length(API_WORKERS * USERS_PER_WORKER);
    expect(
      api.filter((s) => s !== 201),
      'API answers other than 201',
    ).to.deep.equal([]);
    const flat = sip.flat();
    expect(
      flat.filter((s) => s !== 200),
      'REGISTER answers other than 200',
    ).to.deep.equal([]);
    expect(await h.app.services.db.models.Registration.count({ where: { account_id: first.account.accountId } })).to.equal(PHONES);
    if (writer && before) {
      // Group commit: the writer carried more jobs than it made transactions.
      const jobs = writer.stats.jobs - before.jobs;
      const commits = writer.stats.commits - before.commits;
      expect(jobs).to.be.greaterThan(commits);
    }
  });
});
