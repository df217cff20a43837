import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { WebSocket } from 'ws';
import { Registerer, RegistererState, UserAgent } from 'sip.js';
import { createAccount } from '../helpers/factories.js';
import { createSipUser, startRegistrar, type RegistrarHarness, type SipTestUser } from './registrar-helpers.js';

// sip.js's Web transport uses the global WebSocket; Node 20 has none, so lend it ws's.
(globalThis as { WebSocket?: unknown }).WebSocket ??= WebSocket;

async function until(check: () => Promise<boolean>, timeoutMs = 5000): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return check();
}

/** The mobile app: a sip.js UserAgent + Registerer over WS. Resolves with the registerer's state after the attempt. */
async function mobileApp(h: RegistrarHarness, u: SipTestUser): Promise<{ ua: UserAgent; state: RegistererState }> {
  const ua = new UserAgent({
    uri: UserAgent.makeURI(`sip:${u.username}@${u.domain}`)!,
    transportOptions: { server: `ws://127.0.0.1:${h.edge!.port('ws')}` },
    authorizationUsername: u.username,
    authorizationPassword: u.password,
    logLevel: (process.env.SIP_TRACE ? 'debug' : 'error') as 'debug',
    logBuiltinEnabled: Boolean(process.env.SIP_TRACE),
    userAgentString: 'SwitchboardMobile/1.0 (sip.js)',
  });
  await ua.start();
  const registerer = new Registerer(ua, { expires: 600 });
  const settled = new Promise<RegistererState>((resolve) => {
    registerer.stateChange.addListener((s) => {
      if (s === RegistererState.Registered || s === RegistererState.Unregistered) resolve(s);
    });
  });
  await registerer.register({ requestDelegate: { onReject: () => undefined } });
  const state = await Promise.race([settled, new Promise<RegistererState>((r) => setTimeout(() => r(registerer.state), 4000))]);
  return { ua, state };
}

describe('SIP registrar with real clients', function () {
  this.timeout(30_000);
  let h: RegistrarHarness;
  const count = (userId: number) => h.app.services.db.models.Registration.count({ where: { user_id: userId } });

  before(async () => {
    h = await startRegistrar({ edge: ['udp', 'tcp', 'ws'], realClock: true });
  });
  after(async () => h.stop());

  describe('sip.js over WebSocket (the mobile app)', () => {
    it('registers, and closing the WebSocket frees the slot at once for another device', async () => {
      const u = await createSipUser(h.app, { max_bindings: 1 });
      const phone = await mobileApp(h, u);
      expect(phone.state).to.equal(RegistererState.Registered);
      const rows = await h.app.services.db.models.Registration.findAll({ where: { user_id: u.id } });
      expect(rows.map((r) => [r.transport, r.user_agent])).to.deep.equal([['ws', 'SwitchboardMobile/1.0 (sip.js)']]);

      const tablet = await mobileApp(h, u);
      expect(tablet.state, 'second device at max_bindings=1').to.not.equal(RegistererState.Registered);
      expect(await count(u.id)).to.equal(1);

      // The app goes away without unregistering: its connection closes.
      await phone.ua.transport.disconnect();
      expect(await until(async () => (await count(u.id)) === 0, 2000)).to.equal(true);

      const retry = await mobileApp(h, u);
      expect(retry.state).to.equal(RegistererState.Registered);
      await Promise.all([phone.ua.stop(), tablet.ua.stop(), retry.ua.stop()]);
    });
  });

  describe('sipsak (registration mode)', () => {
    it('registers with -U and the password, over UDP', async () => {
      // sipsak resolves the domain of -s even with an outbound proxy, and the API accepts only
      // DNS names with a dot: point one test account at localhost before its user is created
      // (the user's HA1 is computed with the account's domain as realm).
      const acct = await createAccount(h.app);
      await h.app.services.db.models.Account.update({ sip_domain: 'localhost' }, { where: { id: acct.accountId } });
      const u = await createSipUser(h.app, {}, { ...acct, sipDomain: 'localhost' });
      const port = h.edge!.port('udp');
      const out = await new Promise<{ code: number | null; text: string }>((resolve) => {
        const c = spawn(
          'sipsak',
          [
            '-U',
            '-C',
            'sip:sipsak@127.0.0.1:5999',
            '-x',
            '600',
            '-a',
            u.password,
            '-u',
            u.username,
            '-s',
            `sip:${u.username}@${u.domain}`,
            '-p',
            '127.0.0.1',
            '-r',
            String(port),
            '-vv',
          ],
          { stdio: ['ignore', 'pipe', 'pipe'] },
        );
        let text = '';
        c.stdout.on('data', (d: Buffer) => (text += d.toString()));
        c.stderr.on('data', (d: Buffer) => (text += d.toString()));
        const t = setTimeout(() => c.kill('SIGKILL'), 15_000);
        c.on('exit', (code) => {
          clearTimeout(t);
          resolve({ code, text });
        });
      });
      // -U registers, checks, then removes the binding; exit 0 only when every step got its 200.
      expect(out.code, out.text.slice(-1500)).to.equal(0);
      expect(out.text).to.contain('All usrloc tests completed successful');
      const rows = await h.app.services.db.models.Registration.findAll({ where: { user_id: u.id } });
      expect(rows.map((r) => r.contact_uri)).to.deep.equal(['sip:sipsak@127.0.0.1:5999']);
    });
  });
});
