import { expect } from 'chai';
import { LATENCY_RULE_MIN_IN_FLIGHT, OverloadGate, type ShedReason } from '../../sip/registrar/overload-gate.js';
import type { SipRequest, SipRequestContext, SipResponseSpec } from '../../sip/message/types.js';

/** A REGISTER with or without credentials: the only header the gate reads. */
function request(authorization?: string): SipRequest {
  return { header: (name: string) => (name.toLowerCase() === 'authorization' ? authorization : undefined) } as SipRequest;
}
const req = request();
const ctx = {} as SipRequestContext;

/** A registrar whose answers the test releases by hand, on a clock the test moves. */
function harness(o: { maxInFlight: number; targetLatencyMs: number; maxQueueWaitMs?: number }) {
  const clock = { now: 0 };
  const waiting: Array<(r: SipResponseSpec) => void> = [];
  const reasons: ShedReason[] = [];
  const gate = new OverloadGate({
    maxQueueWaitMs: 0,
    ...o,
    retryAfterSeconds: 5,
    onShed: (reason) => reasons.push(reason),
    now: () => clock.now,
  });
  const handle = gate.wrap(() => new Promise<SipResponseSpec>((resolve) => waiting.push(resolve)));
  const ok = { status: 200, reason: 'OK', headers: [] };
  return {
    gate,
    clock,
    reasons,
    send: (r: SipRequest = req, c: SipRequestContext = ctx) => handle(r, c),
    releaseAll: async () => {
      for (const r of waiting.splice(0)) r(ok);
      await new Promise((r) => setImmediate(r));
    },
    get shed() {
      return reasons.length;
    },
  };
}

describe('OverloadGate', () => {
  it('refuses past maxInFlight with 503 and a jittered Retry-After, and admits again once work completes', async () => {
    const h = harness({ maxInFlight: 3, targetLatencyMs: 1000 });
    const admitted = [h.send(), h.send(), h.send()];
    const refused = await h.send();
    expect(refused!.status).to.equal(503);
    const retryAfter = Number(refused!.headers.find(([n]) => n === 'Retry-After')![1]);
    expect(retryAfter).to.be.within(5, 10);
    expect(h.shed).to.equal(1);
    expect(h.gate.current).to.equal(3);
    await h.releaseAll();
    expect((await Promise.all(admitted)).map((r) => r!.status)).to.deep.equal([200, 200, 200]);
    const next = h.send();
    expect(h.gate.current).to.equal(1);
    await h.releaseAll();
    expect((await next)!.status).to.equal(200);
  });

  it('refuses while answers are slow (the drain rate fell), never below a few in progress, and recovers as they speed up', async () => {
    const h = harness({ maxInFlight: 100, targetLatencyMs: 100 });
    // A slow stretch: answers take 2 s.
    for (let round = 0; round < 30; round++) {
      const p = [h.send(), h.send()];
      h.clock.now += 2000;
      await h.releaseAll();
      await Promise.all(p);
    }
    expect(h.gate.latency).to.be.greaterThan(100);
    // Below LATENCY_RULE_MIN_IN_FLIGHT the latency rule admits, so the average can come back down…
    const few = Array.from({ length: LATENCY_RULE_MIN_IN_FLIGHT }, () => h.send());
    expect(h.gate.current).to.equal(LATENCY_RULE_MIN_IN_FLIGHT);
    // …past it, new REGISTERs are refused although the count bound is far away.
    expect((await h.send())!.status).to.equal(503);
    await h.releaseAll();
    await Promise.all(few);
    // Fast answers again: the average falls below the target and the gate opens.
    for (let i = 0; i < 60; i++) {
      const p = h.send();
      await h.releaseAll();
      await p;
    }
    expect(h.gate.latency).to.be.lessThan(100);
    const burst = Array.from({ length: LATENCY_RULE_MIN_IN_FLIGHT + 10 }, () => h.send());
    expect(h.gate.current).to.equal(LATENCY_RULE_MIN_IN_FLIGHT + 10);
    await h.releaseAll();
    expect((await Promise.all(burst)).every((r) => r!.status === 200)).to.equal(true);
  });

  it('refuses new registrations while the receive queue holds more than maxQueueWaitMs, challenge answers only past twice it', async () => {
    const h = harness({ maxInFlight: 100, targetLatencyMs: 1000, maxQueueWaitMs: 250 });
    const fresh = request();
    const answer = request('Digest username="alice", realm="example.com", nonce="n", uri="sip:example.com", response="r"');
    const waiting = (queueWaitMs: number) => ({ queueWaitMs }) as SipRequestContext;
    const statuses = async (pairs: Array<[SipRequest, SipRequestContext]>) => {
      const answers = pairs.map(([r, c]) => h.send(r, c));
      await h.releaseAll();
      return (await Promise.all(answers)).map((r) => r!.status);
    };
    // Unknown (no measurement) and short waits: admitted, with or without credentials.
    expect(
      await statuses([
        [fresh, ctx],
        [fresh, waiting(0)],
        [fresh, waiting(250)],
        [answer, waiting(250)],
      ]),
    ).to.deep.equal([200, 200, 200, 200]);
    // Past the bound: a new registration is refused, a challenge answer still finishes.
    expect(
      await statuses([
        [fresh, waiting(251)],
        [answer, waiting(251)],
        [answer, waiting(500)],
      ]),
    ).to.deep.equal([503, 200, 200]);
    // Past twice the bound: both are refused.
    expect(
      await statuses([
        [fresh, waiting(501)],
        [answer, waiting(501)],
      ]),
    ).to.deep.equal([503, 503]);
    expect(h.reasons).to.deep.equal(['queue', 'queue', 'queue']);
    // The queue drained: admitted again at once.
    expect(await statuses([[fresh, waiting(100)]])).to.deep.equal([200]);
  });

  it('never refuses by the queue when maxQueueWaitMs is 0', async () => {
    const h = harness({ maxInFlight: 100, targetLatencyMs: 1000, maxQueueWaitMs: 0 });
    const p = h.send(req, { queueWaitMs: 60_000 } as SipRequestContext);
    await h.releaseAll();
    expect((await p)!.status).to.equal(200);
    expect(h.reasons).to.deep.equal([]);
  });

  it('names the rule that refused: in_flight before latency', async () => {
    const h = harness({ maxInFlight: 1, targetLatencyMs: 1000, maxQueueWaitMs: 250 });
    const held = h.send();
    expect((await h.send(req, { queueWaitMs: 1000 } as SipRequestContext))!.status).to.equal(503);
    expect(h.reasons).to.deep.equal(['in_flight']);
    await h.releaseAll();
    await held;
  });
});
