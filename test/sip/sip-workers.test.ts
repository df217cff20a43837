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

/** The UDP sockets (inodes) bound to `port` that process `pid` holds: /proc/net/udp lists each bound socket, /proc/<pid>/fd links to them. */
function udpSocketsOn(port: number, pid: number): string[] {
  const bound = fs
    .readFileSync('/proc/net/udp', 'utf8')
    .split('\n')
    .slice(1)
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f.length > 9 && parseInt(f[1]!.split(':')[1]!, 16) === port)
    .map((f) => f[9]!);
  const held = new Set(
    fs.readdirSync(`/proc/${pid}/fd`).flatMap((fd) => {
      try {
        return [/^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1] ?? ''];
      } catch {
        return [];
      }
    }),
  );
  return bound.filter((inode) => held.has(inode));
}

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

  it('reports both workers in /healthz, each a node of its own on the same listeners', async () => {
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
    // The phone's answer reaches the worker its flow hashes to (SO_REUSEPORT); one that is not the prober's
    // is relayed through the primary (which worker that is, is the kernel's choice, so this is not forced here).
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

  it("binds a UDP socket of each worker's own to the port (SO_REUSEPORT): a phone stays on one worker, which absorbs its retransmissions", async () => {
    const udpPort = JSON.parse((await get('/healthz')).text).sip.listeners[0].port as number;
    const perWorker = workerPids.map((pid) => udpSocketsOn(udpPort, pid));
    expect(perWorker.map((list) => list.length)).to.deep.equal([1, 1]);
    expect(perWorker[0]![0]).to.not.equal(perWorker[1]![0]);

    const many = await createSipUser(app, { max_bindings: 16 });
    const metricsText = async () => (await get('/metrics')).text;
    const ok = (text: string) => Number(/^switchboard_sip_register_total\{outcome="ok"\} (\d+)$/m.exec(text)?.[1] ?? 0);
    const before = ok(await metricsText());
    const devices: Array<{ phone: SipPhone; authorized: string }> = [];
    for (let i = 0; i < 12; i++) {
      const phone = await SipPhone.open('udp', udpPort);
      phones.push(phone);
      expect(Number((await phone.register({ user: many.username, domain: many.domain, password: many.password })).slice(8, 11))).to.equal(200);
      devices.push({ phone, authorized: phone.lastSent });
    }
    // Each answered REGISTER again, byte for byte: a retransmission. On a socket the workers shared, each had
    // even odds of reaching the other worker, which would have registered it anew (2^-12 that none would).
    for (const d of devices) {
      d.phone.send(d.authorized);
      expect(Number((await d.phone.next()).slice(8, 11))).to.equal(200);
    }
    expect(ok(await metricsText()) - before).to.equal(12);
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

describe('SIP workers with sip.udp.reusePort false (SIP_UDP_REUSE_PORT=false)', function () {
  this.timeout(60_000);
  let app: TestApp;
  let server: RunningServer | undefined;

  before(async () => {
    app = await startTestApp();
    server = await serveForTest(app, { sip: { workers: 2, udp: { reusePort: false } } });
  });
  after(async () => {
    await server?.stop();
    await app.stop();
  });

  it('share the one UDP socket of the cluster, and a phone registers through it', async () => {
    const { sip } = (await (await fetch(`http://127.0.0.1:${server!.httpPort}/healthz`)).json()) as {
      sip: { listeners: Array<{ port: number }>; workers: Array<{ pid: number }> };
    };
    const udpPort = sip.listeners[0]!.port;
    const [a, b] = sip.workers.map((w) => udpSocketsOn(udpPort, w.pid));
    expect(a).to.have.length(1);
    expect(b).to.deep.equal(a);
    const u = await createSipUser(app);
    const phone = await SipPhone.open('udp', udpPort);
    try {
      expect((await phone.register({ user: u.username, domain: u.domain, password: u.password })).split('\r\n')[0]).to.equal('SIP/2.0 200 OK');
    } finally {
      await phone.close();
    }
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
