import { expect } from 'chai';
import type { RunningServer } from '../../src/main.js';
import { serveForTest } from '../helpers/serve-for-test.js';
import { dayOf } from '../../src/usage/usage-rules.js';
import { login, OWNER_PASSWORD } from '../helpers/factories.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';
import { createSipUser, startRegistrar, type RegistrarHarness, type SipTestUser } from './registrar-helpers.js';
import { SipPhone } from './sip-phone.js';
import { sleep } from './helpers.js';

const statusOf = (response: string) => Number(response.slice(8, 11));

describe('Usage of the registrar: a real SIP client registering counts as registrations and device peaks', function () {
  this.timeout(60_000);
  let h: RegistrarHarness;
  let user: SipTestUser;
  const phones: SipPhone[] = [];
  const today = dayOf(new Date());

  const report = async (groupBy: 'type' | 'user' | 'day') => {
    await h.app.services.usage.flush();
    const r = await h.app.call('GET', `/v1/usage?group_by=${groupBy}&since=${today}&until=${today}`, { token: user.account.ownerToken });
    expect(r.status, JSON.stringify(r.body)).to.equal(200);
    return r.body.data as any[];
  };
  const userRow = async () => (await report('user')).find((x) => x.user_id === user.id) ?? { registrations: 0, active_devices_peak: 0 };

  before(async () => {
    h = await startRegistrar({ edge: ['udp'], realClock: true, usage: true, app: { usage: { flushIntervalMs: 300_000 } } });
    user = await createSipUser(h.app, { max_bindings: 5 });
  });
  after(async () => {
    for (const p of phones.splice(0)) await p.close();
    await h.stop();
  });

  const phone = async () => {
    const p = await SipPhone.open('udp', h.edge!.port('udp'));
    phones.push(p);
    return p;
  };
  const register = (p: SipPhone, expires?: number) =>
    p.register({ user: user.username, domain: user.domain, password: user.password, ...(expires !== undefined ? { expires } : {}) });

  it('counts each new binding once, not its refreshes, and keeps the most devices the user held at once', async () => {
    const desk = await phone();
    expect(statusOf(await register(desk))).to.equal(200);
    expect(await userRow()).to.include({ registrations: 1, active_devices_peak: 1 });

    // A refresh of the same binding is not a new registration.
    expect(statusOf(await register(desk))).to.equal(200);
    expect(await userRow()).to.include({ registrations: 1, active_devices_peak: 1 });

    const soft = await phone();
    expect(statusOf(await register(soft))).to.equal(200);
    expect(await userRow()).to.include({ registrations: 2, active_devices_peak: 2 });

    // Unregistering lowers the live count, not the day's peak.
    expect(statusOf(await register(soft, 0))).to.equal(200);
    expect(await userRow()).to.include({ registrations: 2, active_devices_peak: 2 });
    expect(await h.app.services.db.models.Registration.count({ where: { user_id: user.id } })).to.equal(1);
  });

  it("samples live bindings into the account's own peak and each user's", async () => {
    const other = await createSipUser(h.app, {}, user.account);
    const p = await SipPhone.open('udp', h.edge!.port('udp'));
    phones.push(p);
    expect(statusOf(await p.register({ user: other.username, domain: other.domain, password: other.password }))).to.equal(200);
    await h.app.services.usage.sampleDevices();
    const [day] = await report('day');
    // The desk phone of the first user and this one, live at the same moment.
    expect(day).to.include({ day: today, active_devices_peak: 2, registrations: 3 });
    const types = await report('type');
    expect(types.find((t) => t.type === 'registrations').amount).to.equal(3);
  });

  it('counts nothing for a REGISTER refused by max_bindings', async () => {
    const limited = await createSipUser(h.app, { max_bindings: 1 }, user.account);
    const a = await phone();
    const b = await phone();
    expect(statusOf(await a.register({ user: limited.username, domain: limited.domain, password: limited.password }))).to.equal(200);
    expect(statusOf(await b.register({ user: limited.username, domain: limited.domain, password: limited.password }))).to.equal(403);
    const row = (await report('user')).find((x) => x.user_id === limited.id);
    expect(row).to.include({ registrations: 1, active_devices_peak: 1 });
  });
});

describe('Usage of the registrar in SIP worker processes (sip.workers: 1)', function () {
  this.timeout(60_000);
  let app: TestApp;
  let server: RunningServer | undefined;
  let user: SipTestUser;
  let phone: SipPhone | undefined;

  before(async () => {
    app = await startTestApp();
    user = await createSipUser(app);
    server = await serveForTest(app, {
      // The worker writes its buffer this often; the API process reads the rows.
      usage: { flushIntervalMs: 200 },
      sip: { workers: 1, tcp: { enabled: false }, qualify: { enabled: false } },
    });
  });
  after(async () => {
    await phone?.close();
    await server?.stop();
    await app.stop();
  });

  it("counts a REGISTER answered by a worker in the account's usage, read through the API process", async () => {
    const base = `http://127.0.0.1:${server!.httpPort}`;
    const health = (await (await fetch(`${base}/healthz`)).json()) as { sip: { listeners: Array<{ transport: string; port: number }> } };
    phone = await SipPhone.open('udp', health.sip.listeners.find((l) => l.transport === 'udp')!.port);
    expect(statusOf(await phone.register({ user: user.username, domain: user.domain, password: user.password }))).to.equal(200);
    const token = await login(app, user.account.ownerUsername, OWNER_PASSWORD);
    const today = dayOf(new Date());
    let row: any;
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      const r = await fetch(`${base}/v1/usage?group_by=user&since=${today}&until=${today}`, { headers: { authorization: `Bearer ${token}` } });
      row = ((await r.json()) as { data: any[] }).data.find((x) => x.user_id === user.id);
      if (row?.registrations) break;
      await sleep(100);
    }
    expect(row).to.include({ registrations: 1, active_devices_peak: 1 });
  });
});
