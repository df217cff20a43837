import { expect } from 'chai';
import { PrimaryDevicePort, type WorkerHandle } from '../../server/primary-device-port.js';
import type { DeviceRequestRelay } from '../../server/sip-worker-messages.js';
import type { DeviceRequest } from '../../sip/registrar/device-request-port.js';

function workers(...ids: Array<[string, boolean]>) {
  const sent: Array<{ worker: string; m: DeviceRequestRelay }> = [];
  const list: WorkerHandle[] = ids.map(([nodeId, ready]) => ({ nodeId, ready, send: (m) => sent.push({ worker: nodeId, m }) }));
  return { list, sent };
}

function request(target: Partial<DeviceRequest['target']>, timeoutMs = 5000): DeviceRequest {
  return {
    method: 'MESSAGE',
    uri: 'sip:phone@127.0.0.1:5099',
    target: { contactUri: 'sip:phone@127.0.0.1:5099', transport: 'udp', source: { address: '127.0.0.1', port: 5099 }, nodeId: 'n/w1', ...target },
    headers: [],
    body: 'hi',
    timeoutMs,
  };
}

const port = (list: WorkerHandle[], marginMs = 20) =>
  new PrimaryDevicePort({ nodeId: 'n', workers: () => list, local: () => ({ host: '127.0.0.1', port: 5060 }), marginMs });

describe('PrimaryDevicePort (device requests from the primary of SIP workers)', () => {
  it("sends a stream binding's request to the worker holding its connection, and brings that worker's answer back", async () => {
    const w = workers(['n/w1', true], ['n/w2', true]);
    const p = port(w.list);
    const answer = p.send(request({ transport: 'tcp', connectionId: 'c1', nodeId: 'n/w2' }));
    expect(w.sent.map((s) => [s.worker, s.m.to, s.m.from])).to.deep.equal([['n/w2', 'n/w2', 'n']]);
    expect(
      p.receive({ type: 'device-response', id: w.sent[0]!.m.id, to: 'n', status: 200, reason: 'OK', origin: 'device', headers: { 'user-agent': 'Desk' } }),
    ).to.equal(true);
    const r = await answer;
    expect(r).to.include({ status: 200, reason: 'OK', origin: 'device' });
    expect(r.header('User-Agent')).to.equal('Desk');
    expect(p.inFlight).to.equal(0);
  });

  it('answers 503 (unreachable) for a connection whose worker is not ready or belongs to another node', async () => {
    const w = workers(['n/w1', true], ['n/w2', false]);
    const p = port(w.list);
    expect(await p.send(request({ transport: 'tcp', connectionId: 'c1', nodeId: 'n/w2' }))).to.include({ status: 503, origin: 'unreachable' });
    expect(await p.send(request({ transport: 'tcp', connectionId: 'c1', nodeId: 'other/w1' }))).to.include({ status: 503, origin: 'unreachable' });
    // A stream binding without a connection id (through a proxy) has no path from here either.
    expect(await p.send(request({ transport: 'tcp', nodeId: 'n/w1' }))).to.include({ status: 503, origin: 'unreachable' });
    expect(w.sent).to.have.length(0);
  });

  it('sends UDP from the binding’s own worker when ready, else from any ready worker, and 503 with none', async () => {
    const w = workers(['n/w1', false], ['n/w2', true]);
    const p = port(w.list);
    void p.send(request({ nodeId: 'n/w2' }));
    void p.send(request({ nodeId: 'n/w1' }));
    expect(w.sent.map((s) => s.worker)).to.deep.equal(['n/w2', 'n/w2']);
    w.list[1]!.ready = false;
    expect(await p.send(request({ nodeId: 'n/w2' }))).to.include({ status: 503, origin: 'unreachable' });
    p.close();
  });

  it('fails what a worker was sending with 408 at once when it exits', async () => {
    const w = workers(['n/w1', true], ['n/w2', true]);
    const p = port(w.list);
    const onW1 = p.send(request({ transport: 'tcp', connectionId: 'c1', nodeId: 'n/w1' }, 60_000));
    const onW2 = p.send(request({ transport: 'tcp', connectionId: 'c2', nodeId: 'n/w2' }, 60_000));
    p.workerGone('n/w1');
    expect(await onW1).to.include({ status: 408, origin: 'timeout' });
    expect(p.inFlight).to.equal(1);
    p.receive({ type: 'device-response', id: w.sent[1]!.m.id, to: 'n', status: 480, reason: 'Temporarily Unavailable', origin: 'device', headers: {} });
    expect(await onW2).to.include({ status: 480 });
  });

  it('gives up with 408 after Timer F plus the margin when no answer comes, and ignores a late one', async () => {
    const w = workers(['n/w1', true]);
    const p = port(w.list, 20);
    const started = Date.now();
    const r = await p.send(request({}, 50));
    expect(r).to.include({ status: 408, origin: 'timeout' });
    expect(Date.now() - started).to.be.at.least(60);
    expect(p.receive({ type: 'device-response', id: w.sent[0]!.m.id, to: 'n', status: 200, reason: 'OK', origin: 'device', headers: {} })).to.equal(false);
  });
});
