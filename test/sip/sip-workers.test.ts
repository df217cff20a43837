import fs from 'node:fs';
import { expect } from 'chai';
import type { RunningServer } from '../../src/main.js';
import { serveForTest } from '../helpers/serve-for-test.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';
import { createSipUser, type SipTestUser } from './registrar-helpers.js';
import { SipPhone } from './sip-phone.js';
import { sleep } from './helpers.js';

const MAX = 3;
const PHONES = 8;

describe('SIP workers: the built-in edge in two cluster processes (sip.workers: 2)', function () {
  this.timeout(60_000);
  let app: TestApp;
  let server: RunningServer | undefined;
  let user: SipTestUser;
  let workerPids: number[] = [];
  const phones: SipPhone[] = [];

  before(async () => {
    app = await startTestApp();
    user = await createSipUser(app, { max_bindings: MAX });
    server = await serveForTest(app, { sip: { workers: 2, qualify: { enabled: true, tickSeconds: 1, intervalSeconds: 5, timeoutMs: 1500 } } });
  });
  after(async () => {
    for (const p of phones.splice(0)) await p.close();
    await server?.stop();
    await app.stop();
  });

  const get = async (path: string) => {
    const res = await fetch(`http://127.0.0.1:${server!.httpPort}${path}`);
    return { status: res.status, text: await res.text() };
  };

  it('reports both workers in /healthz, each a node of its own on the same shared listeners', async () => {
    const health = await get('/healthz');
    expect(health.status).to.equal(200);
    const sip = JSON.parse(health.text).sip;
    expect(sip).to.include({ healthy: true, edge: 'builtin', status: 'listening' });
    expect(sip.workers).to.have.length(2);
    workerPids = sip.workers.map((w: { pid: number }) => w.pid);
    expect(new Set(workerPids).size).to.equal(2);
    expect(workerPids).to.not.include(process.pid);
    expect(sip.workers.map((w: { nodeId: string }) => w.nodeId.slice(-3))).to.deep.equal(['/w1', '/w2']);
    expect(sip.listeners.map((l: { transport: string }) => l.transport)).to.deep.equal(['udp', 'tcp']);
    // Each worker runs with its young generation capped (memory.workerSemiSpaceMb, 4 by default).
    for (const pid of workerPids) expect(fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')).to.include('--max-semi-space-size=4');
  });

  it(`admits exactly max_bindings (${MAX}) of ${PHONES} phones registering at once through both workers, and /metrics sums the workers`, async () => {
    const udpPort = JSON.parse((await get('/healthz')).text).sip.listeners[0].port as number;
    for (let i = 0; i < PHONES; i++) phones.push(await SipPhone.open('udp', udpPort));
    const finals = await Promise.all(
      phones.map((p, i) => p.register({ user: user.username, domain: user.domain, password: user.password, userAgent: `Phone ${i}` })),
    );
    const statuses = finals.map((f) => Number(f.slice(8, 11)));
    expect(statuses.filter((s) => s === 200)).to.have.length(MAX);
    expect(statuses.filter((s) => s === 403)).to.have.length(PHONES - MAX);
    expect(await app.services.db.models.Registration.count({ where: { user_id: user.id } })).to.equal(MAX);

    const metrics = (await get('/metrics')).text;
    const count = (outcome: string) => Number(new RegExp(`^switchboard_sip_register_total\\{outcome="${outcome}"\\} (\\d+)$`, 'm').exec(metrics)?.[1] ?? 0);
    expect(count('ok')).to.equal(MAX);
    expect(count('too_many_bindings')).to.equal(PHONES - MAX);
  });

  it('qualifies every binding from the worker that registered it and keeps every answering phone reachable', async () => {
    // Answers to a probe land on whichever worker the kernel wakes on the shared UDP socket; one that is not the
    // prober's is relayed through the primary (which worker wakes is the kernel's choice, so this is not forced here).
    const Registration = app.services.db.models.Registration;
    const deadline = Date.now() + 20_000;
    let rows = await Registration.findAll({ where: { user_id: user.id } });
    while (rows.some((r) => r.get('qualified_at') === null) && Date.now() < deadline) {
      await sleep(250);
      rows = await Registration.findAll({ where: { user_id: user.id } });
    }
    expect(rows).to.have.length(MAX);
    expect(rows.map((r) => r.get('qualified_at'))).to.not.include(null);
    expect(rows.map((r) => r.get('unreachable'))).to.deep.equal([false, false, false]);
    const probed = phones.filter((p) => p.optionsReceived > 0);
    expect(probed).to.have.length(MAX);
  });

  it('stops both worker processes with the server', async () => {
    await server!.stop();
    server = undefined;
    const alive = (pid: number) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    expect(workerPids.filter(alive)).to.deep.equal([]);
  });
});

// Through the real entry point: under `npm test`, which builds first, this runs the compiled dist/ — where the worker
// entry must still be found at bin/sip-worker.js, not next to the compiled module (dist/bin/ does not exist).
describe('SIP workers: `switchboard serve` forks them from its own entry point', function () {
  this.timeout(60_000);
  let app: TestApp;

  before(async () => {
    app = await startTestApp();
  });
  after(async () => app.stop());

  it('starts a worker that answers, reported healthy in /healthz', async () => {
    const { startServerProcess } = await import('../helpers/server-process.js');
    const server = await startServerProcess(app.config.database.url, app.config.secrets.masterKey, {
      SIP_EDGE: 'builtin',
      SIP_WORKERS: '1',
      SIP_HOST: '127.0.0.1',
      SIP_PORT: '0',
      SIP_WS_PORT: '0',
      SIP_TLS_PORT: '0',
      SIP_WSS_PORT: '0',
    });
    try {
      let sip: { healthy?: boolean; workers?: unknown[]; listeners?: Array<{ transport: string; port: number }> } = {};
      for (let i = 0; i < 100 && !sip.workers?.length; i++) {
        const res = await fetch(`${server.baseUrl}/healthz`);
        sip = ((await res.json()) as { sip?: typeof sip }).sip ?? {};
        if (!sip.workers?.length) await sleep(100);
      }
      expect(sip).to.include({ healthy: true });
      expect(sip.workers).to.have.length(1);
      const udp = sip.listeners!.find((l) => l.transport === 'udp')!;
      const phone = await SipPhone.open('udp', udp.port);
      try {
        const user = await createSipUser(app);
        expect((await phone.register({ user: user.username, domain: user.domain, password: user.password })).slice(0, 15)).to.equal(
          'SIP/2.0 200 OK\r'.slice(0, 15),
        );
      } finally {
        await phone.close();
      }
    } finally {
      await server.stop();
    }
  });
});
