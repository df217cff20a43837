import { expect } from 'chai';
import crypto from 'node:crypto';
import { statusOf, UdpClient } from './helpers.js';
import {
  authorize,
  createSipUser,
  parseChallenge,
  registerText,
  startRegistrar,
  type Challenge,
  type RegistrarHarness,
  type SipTestUser,
} from './registrar-helpers.js';
import { TEST_DIALECT } from '../helpers/test-database.js';

const USERS = 40;
const MAX_IN_FLIGHT = 64;
const BURST_MS = 5000;
/** Datagrams sent every 10 ms during the burst: 5,000 authenticated REGISTERs a second, far past what one test process drains. */
const BURST_PER_TICK = 50;
const CALM_RATE = 200;
/** The bound: 200/s at 100 % within 5 s of the burst's end; then 3 s more of it. */
const RECOVERY_MS = 5000;
const CALM_MS = RECOVERY_MS + 3000;

/** Answers to the requests of one socket, by Call-ID. */
class Collector {
  readonly answers = new Map<string, string>();
  private waiters = new Map<string, (text: string) => void>();
  constructor(readonly client: UdpClient) {
    client.socket.on('message', (msg) => {
      const text = msg.toString('utf8');
      const callId = /^Call-ID:\s*(\S+)/im.exec(text)?.[1];
      if (!callId) return;
      const w = this.waiters.get(callId);
      if (w) {
        this.waiters.delete(callId);
        w(text);
      } else this.answers.set(callId, text);
    });
  }
  wait(callId: string, ms: number): Promise<string | undefined> {
    const have = this.answers.get(callId);
    if (have) return Promise.resolve(have);
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.waiters.delete(callId);
        resolve(undefined);
      }, ms);
      this.waiters.set(callId, (text) => {
        clearTimeout(t);
        resolve(text);
      });
    });
  }
}

/** switchboard_sip_register_shed_total over every rule that refused. */
async function shedCount(h: RegistrarHarness): Promise<number> {
  return (await h.runtime.metrics.shed.get()).values.reduce((sum, v) => sum + v.value, 0);
}

function text(u: SipTestUser, port: number, callId: string, cseq: number, authorization?: string): string {
  return registerText({
    user: u.username,
    domain: u.domain,
    callId,
    cseq,
    via: `Via: SIP/2.0/UDP 127.0.0.1:${port};branch=z9hG4bK-${crypto.randomBytes(6).toString('hex')};rport`,
    contacts: [`<sip:${u.username}@127.0.0.1:${port}>`],
    expires: 600,
    ...(authorization ? { authorization } : {}),
  });
}

describe(`REGISTER overload is shed early (${TEST_DIALECT})`, function () {
  this.timeout(90_000);
  let h: RegistrarHarness;
  before(async () => {
    h = await startRegistrar({ edge: ['udp'], realClock: true, sip: { registrar: { overload: { maxInFlight: MAX_IN_FLIGHT, retryAfterSeconds: 2 } } } });
  });
  after(async () => h.stop());

  it('answers 503 + Retry-After past the bound during a burst, then serves 200/s at 100 % at once', async () => {
    const first = await createSipUser(h.app);
    const users: SipTestUser[] = [first];
    for (let i = 1; i < USERS; i++) users.push(await createSipUser(h.app, {}, first.account));
    const port = h.edge!.port('udp');
    const burst = new Collector(await UdpClient.open());
    const calm = new Collector(await UdpClient.open());
    try {
      // One challenge per user; the burst answers it with rising nonce-counts (RFC 7616 §3.4), each REGISTER a new Call-ID.
      const challenges = new Map<number, Challenge>();
      for (const u of users) {
        const id = `ch-${crypto.randomBytes(6).toString('hex')}`;
        burst.client.send(text(u, burst.client.port, id, 1), port);
        const c = await burst.wait(id, 10_000);
        expect(c && statusOf(c)).to.equal(401);
        challenges.set(u.id, parseChallenge(/^WWW-Authenticate: (.*)$/m.exec(c!)![1]!.trim()));
      }

      let maxSeen = 0;
      const sampler = setInterval(() => (maxSeen = Math.max(maxSeen, h.runtime.overload.current)), 2);
      const shedBefore = await shedCount(h);
      const sent: string[] = [];
      const nc = new Map<number, number>();
      await new Promise<void>((resolve) => {
        const end = Date.now() + BURST_MS;
        let i = 0;
        const tick = setInterval(() => {
          if (Date.now() >= end) {
            clearInterval(tick);
            resolve();
            return;
          }
          for (let k = 0; k < BURST_PER_TICK; k++, i++) {
            const u = users[i % users.length]!;
            const n = (nc.get(u.id) ?? 0) + 1;
            nc.set(u.id, n);
            const callId = `burst-${i}-${crypto.randomBytes(3).toString('hex')}`;
            sent.push(callId);
            burst.client.send(text(u, burst.client.port, callId, 2, authorize(challenges.get(u.id)!, u.username, u.password, `sip:${u.domain}`, n)), port);
          }
        }, 10);
      });
      const burstEnded = Date.now();

      // Right after the burst: phones at 200/s, each a full challenge + authenticated REGISTER.
      const calmResults: Array<Promise<{ status: number; ms: number; at: number }>> = [];
      const interval = 1000 / CALM_RATE;
      for (let i = 0; i < (CALM_RATE * CALM_MS) / 1000; i++) {
        const u = users[i % users.length]!;
        calmResults.push(
          (async () => {
            const started = Date.now();
            const at = started - burstEnded;
            const id = `calm-${i}-${crypto.randomBytes(4).toString('hex')}`;
            calm.client.send(text(u, calm.client.port, id, 1), port);
            const c = await calm.wait(id, 5000);
            if (!c || statusOf(c) !== 401) return { status: c ? statusOf(c) : 0, ms: Date.now() - started, at };
            const ch = parseChallenge(/^WWW-Authenticate: (.*)$/m.exec(c)![1]!.trim());
            calm.answers.delete(id);
            calm.client.send(text(u, calm.client.port, id, 2, authorize(ch, u.username, u.password, `sip:${u.domain}`)), port);
            const r = await new Promise<string | undefined>((resolve) => {
              const poll = setInterval(() => {
                const a = calm.answers.get(id);
                if (a && statusOf(a) !== 401) {
                  clearInterval(poll);
                  resolve(a);
                }
              }, 5);
              setTimeout(() => {
                clearInterval(poll);
                resolve(undefined);
              }, 5000);
            });
            return { status: r ? statusOf(r) : 0, ms: Date.now() - started, at };
          })(),
        );
        // Paced against the clock, so a slow turn does not lower the rate.
        const due = burstEnded + (i + 1) * interval;
        await new Promise((r) => setTimeout(r, Math.max(0, due - Date.now())));
      }
      const calmOutcomes = await Promise.all(calmResults);
      clearInterval(sampler);

      // The burst: answered fast either way (no backlog), and the refused ones told when to come back.
      await new Promise((r) => setTimeout(r, 500));
      const burstAnswers = sent.map((id) => burst.answers.get(id)).filter((a): a is string => a !== undefined);
      const shed = burstAnswers.filter((a) => statusOf(a) === 503);
      expect(shed.length, 'burst REGISTERs answered 503').to.be.greaterThan(0);
      for (const a of shed.slice(0, 20)) expect(a).to.match(/^Retry-After: [2-4]\r$/m);
      expect(burstAnswers.filter((a) => statusOf(a) === 200).length, 'burst REGISTERs served').to.be.greaterThan(0);
      const shedAfter = await shedCount(h);
      expect(shedAfter - shedBefore, 'switchboard_sip_register_shed_total').to.be.at.least(shed.length);
      expect(maxSeen, 'REGISTERs in progress').to.be.at.most(MAX_IN_FLIGHT);

      // After it: served again within RECOVERY_MS, and from then on every REGISTER at 200/s.
      const firstServed = calmOutcomes.find((o) => o.status === 200);
      expect(firstServed, 'a calm-phase REGISTER served').to.not.equal(undefined);
      expect(firstServed!.at).to.be.lessThan(RECOVERY_MS);
      const late = calmOutcomes.filter((o) => o.at >= RECOVERY_MS);
      expect(late.length).to.be.at.least(((CALM_MS - RECOVERY_MS) * CALM_RATE) / 1000 - 5);
      expect(
        late.filter((o) => o.status !== 200),
        'answers other than 200 once recovered',
      ).to.deep.equal([]);
    } finally {
      burst.client.close();
      calm.client.close();
    }
  });
});
