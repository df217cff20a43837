import { expect } from 'chai';
import { NonInviteClientTransaction } from '../../sip/transactions/non-invite-client-transaction.js';
import { OutboundTimeoutError, type OutboundResponse } from '../../sip/transactions/outbound-request-port.js';
import { HeaderSection } from '../../sip/message/header-section.js';

const response = (status: number): OutboundResponse => ({ status, reason: 'x', section: HeaderSection.read(`SIP/2.0 ${status} x`) });

describe('NonInviteClientTransaction (RFC 3261 §17.1.2)', () => {
  it('retransmits over UDP at T1, 2·T1, 4·T1 … capped at T2, and Timer F ends it with a timeout', async () => {
    const sent: number[] = [];
    const start = Date.now();
    const tx = new NonInviteClientTransaction(() => sent.push(Date.now() - start), false, { t1Ms: 20, t2Ms: 80, timeoutMs: 400 });
    const err = await tx.start().catch((e: unknown) => e);
    expect(err).to.be.instanceOf(OutboundTimeoutError);
    const gaps = sent.slice(1).map((t, i) => t - sent[i]!);
    // 20, 40, 80, 80, 80 …: doubling, then T2 (timers fire late under load, never early).
    expect(gaps[0]).to.be.at.least(18);
    expect(gaps[1]).to.be.at.least(38);
    expect(gaps[2]).to.be.at.least(78);
    for (const g of gaps.slice(3)) expect(g).to.be.at.least(78).and.below(200);
    expect(sent.length).to.be.within(4, 8);
  });

  it('keeps retransmitting every T2 after a provisional response and completes on the final one', async () => {
    const sent: number[] = [];
    const start = Date.now();
    const tx = new NonInviteClientTransaction(() => sent.push(Date.now() - start), false, { t1Ms: 20, t2Ms: 60, timeoutMs: 2000 });
    const done = tx.start();
    tx.receive(response(100));
    await new Promise((r) => setTimeout(r, 260));
    tx.receive(response(200));
    const r = await done;
    expect(r.status).to.equal(200);
    // Proceeding: after the first T1 the request goes again every T2 (not 2·T1, 4·T1 …).
    const gaps = sent.slice(2).map((t, i) => t - sent[i + 1]!);
    expect(gaps.length).to.be.at.least(2);
    for (const g of gaps) expect(g).to.be.at.least(58).and.below(150);
    const count = sent.length;
    await new Promise((r) => setTimeout(r, 100));
    expect(sent.length, 'nothing sent after completion').to.equal(count);
  });

  it('sends once over a reliable transport', async () => {
    let sent = 0;
    const tx = new NonInviteClientTransaction(() => sent++, true, { t1Ms: 10, timeoutMs: 200 });
    const done = tx.start();
    await new Promise((r) => setTimeout(r, 100));
    tx.receive(response(401));
    expect((await done).status).to.equal(401);
    expect(sent).to.equal(1);
  });
});
