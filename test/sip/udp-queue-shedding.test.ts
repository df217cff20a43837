import dgram from 'node:dgram';
import { expect } from 'chai';
import { startTestApp, type TestApp } from '../helpers/test-app.js';
import { startBuiltinSip, type BuiltinSip } from '../../server/builtin-sip.js';
import { createSipUser, registerText, type SipTestUser } from './registrar-helpers.js';
import { statusOf } from './helpers.js';
import { loopbackUdpOnly } from '../helpers/loopback-udp-only.js';

/** More REGISTERs than one process reads in the first window of the gauge (100 ms), sent before it reads any. */
const BURST = 3000;
const WARM_UP = 20;

/**
 * The built-in edge reads its UDP socket's receive queue (SO_MEMINFO,
 * through native/udp-reuseport) and the overload gate refuses new
 * registrations while that queue holds more than maxQueueWaitMs of work.
 * The burst is sent in one synchronous loop from this process, so the
 * whole of it is in the kernel's queue before the registrar reads the
 * first datagram: a queue of seconds' worth of 401s at first, which
 * shrinks as the registrar reads.
 */
describe('REGISTERs waiting in the UDP receive queue (sip.registrar.overload.maxQueueWaitMs)', function () {
  this.timeout(60_000);

  async function burst(
    maxQueueWaitMs: number,
  ): Promise<{ statuses: Map<number, number>; retryAfter: string[]; queueShed: number; longestWaitSeconds: number; sipUser: SipTestUser }> {
    const app: TestApp = await startTestApp({
      sip: { ...loopbackUdpOnly(), registrar: { overload: { maxQueueWaitMs, maxInFlight: 100_000 } } },
    });
    let sip: BuiltinSip | undefined;
    // A synchronous lookup: every send of the loop below reaches the kernel before the loop ends.
    const client = dgram.createSocket({ type: 'udp4', lookup: (host, _o, cb) => (cb as (e: null, a: string, f: number) => void)(null, host, 4) });
    try {
      sip = await startBuiltinSip(app.services);
      const port = sip.boundAddresses().find((l) => l.transport === 'udp')!.port;
      const sipUser = await createSipUser(app);
      await new Promise<void>((resolve) => client.bind(0, '127.0.0.1', resolve));
      client.setRecvBufferSize(8 * 1024 * 1024);
      const answers: string[] = [];
      client.on('message', (msg) => answers.push(msg.toString('latin1')));
      const via = `Via: SIP/2.0/UDP 127.0.0.1:${client.address().port}`;
      const send = (i: number) =>
        client.send(
          registerText({
            user: sipUser.username,
            domain: sipUser.domain,
            contacts: [`<sip:${sipUser.username}@127.0.0.1:${client.address().port}>`],
            via: `${via};branch=z9hG4bK-q${i};rport`,
          }),
          port,
          '127.0.0.1',
        );
      // A few REGISTERs one at a time first, as a running registrar has had: the gauge learns the size of a datagram.
      for (let i = 0; i < WARM_UP; i++) {
        send(-1 - i);
        for (let waited = 0; answers.length <= i && waited < 2000; waited += 5) await new Promise((r) => setTimeout(r, 5));
      }
      answers.length = 0;
      for (let i = 0; i < BURST; i++) {
        send(i);
      }
      for (let waited = 0; answers.length < BURST && waited < 20_000; waited += 50) await new Promise((r) => setTimeout(r, 50));
      const statuses = new Map<number, number>();
      for (const a of answers) statuses.set(statusOf(a), (statuses.get(statusOf(a)) ?? 0) + 1);
      const retryAfter = answers.filter((a) => statusOf(a) === 503).map((a) => /^Retry-After: (\d+)\r$/m.exec(a)?.[1] ?? '');
      const queueShed = (await sip.runtime.metrics.shed.get()).values.find((v) => v.labels['reason'] === 'queue')?.value ?? 0;
      const longestWaitSeconds = (await sip.runtime.metrics.queueWait.get()).values[0]?.value ?? 0;
      return { statuses, retryAfter, queueShed, longestWaitSeconds, sipUser };
    } finally {
      client.close();
      await sip?.stop();
      await app.stop();
    }
  }

  it('refuses new registrations with 503 + Retry-After while the queue is long, and answers every datagram', async () => {
    const r = await burst(20);
    const challenged = r.statuses.get(401) ?? 0;
    const refused = r.statuses.get(503) ?? 0;
    expect(challenged + refused, `every REGISTER answered (${JSON.stringify([...r.statuses])})`).to.equal(BURST);
    expect(refused, 'REGISTERs refused for the queue').to.be.greaterThan(0);
    // The queue drains as the registrar reads: the tail of the burst is challenged again.
    expect(challenged, 'REGISTERs challenged').to.be.greaterThan(0);
    expect(r.queueShed, 'switchboard_sip_register_shed_total{reason="queue"}').to.equal(refused);
    for (const v of r.retryAfter) expect(Number(v)).to.be.within(5, 10);
  });

  it('refuses none when maxQueueWaitMs is 0 (the default), and still reports the longest wait', async () => {
    const r = await burst(0);
    expect(r.statuses.get(401), JSON.stringify([...r.statuses])).to.equal(BURST);
    expect(r.queueShed).to.equal(0);
    // The whole burst was queued before the first read: its head waited the longest, a good part of a second at least.
    expect(r.longestWaitSeconds, 'switchboard_sip_udp_queue_wait_seconds').to.be.greaterThan(0.05);
  });
});
