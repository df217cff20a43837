import { execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { QueryTypes } from 'sequelize';
import { createSipUser, startRegistrar, type RegistrarHarness } from './registrar-helpers.js';

/**
 * baresip (Debian package baresip-core) as a headless softphone.
 *
 * Its "Register: Function not implemented" came from our 401, not from the
 * socket: libre 1.1 returns ENOSYS on the SHA-256 challenge instead of
 * skipping it, so sip.digest.md5OnlyUserAgents (default ["baresip"]) gives
 * it the MD5 challenge only — this test fails without that setting. Config
 * notes: `net_interface lo` makes baresip 1.0 fail ("could not get network
 * address"), and without an outbound proxy it resolves the account domain
 * by DNS; so it listens on 127.0.0.1, names no interface, and sends through
 * `outbound="sip:127.0.0.1:<port>"`.
 */
/** baresip's config in `dir` (UDP on loopback, these modules) and its one account, registering to `port` on 127.0.0.1. */
function writeBaresipConfig(
  dir: string,
  port: number,
  u: { username: string; domain: string; password: string },
  o: { modules: string[]; account?: string },
): void {
  writeFileSync(
    path.join(dir, 'config'),
    ['poll_method epoll', 'sip_listen 127.0.0.1:0', 'sip_transports udp', 'module_path /usr/lib/baresip/modules', ...o.modules, ''].join('\n'),
  );
  writeFileSync(
    path.join(dir, 'accounts'),
    `<sip:${u.username}@${u.domain};transport=udp>;auth_pass=${u.password};outbound="sip:127.0.0.1:${port}";regint=600${o.account ?? ''}\n`,
  );
}

describe('a real softphone (baresip) registering headless', function () {
  this.timeout(20_000);
  let h: RegistrarHarness;
  let dir: string;
  let phone: ChildProcess | undefined;

  before(async () => {
    h = await startRegistrar({ edge: ['udp'], realClock: true });
    dir = mkdtempSync(path.join(os.tmpdir(), 'baresip-'));
  });
  after(async () => {
    await h.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  afterEach(() => {
    if (phone && phone.exitCode === null) phone.kill('SIGKILL');
    phone = undefined;
  });

  it('registers with digest auth; the binding shows in GET /v1/users/{id}/registrations', async () => {
    const alice = await createSipUser(h.app, { max_bindings: 2 });
    writeBaresipConfig(dir, h.edge!.port('udp'), alice, { modules: ['module g711.so', 'module_app account.so'] });
    // -t: baresip quits by itself even if this test dies before killing it.
    phone = execFile('baresip', ['-f', dir, '-t', '15'], { timeout: 18_000 }, (_e, out, err) => {
      if (process.env.SIP_TRACE) console.log(out, err);
    });

    let bindings: any[] = [];
    const deadline = Date.now() + 10_000;
    while (!bindings.length) {
      if (Date.now() > deadline) throw new Error('baresip did not register');
      await new Promise((r) => setTimeout(r, 100));
      bindings = (await h.app.call('GET', `/v1/users/${alice.id}/registrations`, { token: alice.account.ownerToken })).body.data;
    }
    expect(bindings).to.have.length(1);
    expect(bindings[0]).to.include({ transport: 'udp', source_address: '127.0.0.1' });
    expect(bindings[0].user_agent).to.match(/^baresip/);
    expect(bindings[0].contact).to.match(/^sip:[^@]+@127\.0\.0\.1:\d+/);
    expect(bindings[0].expires_in).to.be.within(590, 600);
  });
});

/**
 * baresip's mwi module SUBSCRIBEs to message-summary for an account with
 * `;mwi=yes` once it has registered, and answers our NOTIFYs.
 */
describe('a real softphone (baresip) subscribing to message-waiting', function () {
  this.timeout(25_000);
  let h: RegistrarHarness;
  let dir: string;
  let phone: ChildProcess | undefined;
  let output = '';
  const answered: Array<{ method: string; status: number | undefined; event: string | undefined; userAgent: string | undefined }> = [];

  before(async () => {
    h = await startRegistrar({
      edge: ['udp'],
      realClock: true,
      qualify: { timeoutMs: 2000 },
      mwi: true,
      sip: { qualify: { tickSeconds: 3600 }, mwi: { pollMs: 50 } },
      onAnswered: (req, res) => answered.push({ method: req.method, status: res?.status, event: req.header('event'), userAgent: req.header('user-agent') }),
    });
    dir = mkdtempSync(path.join(os.tmpdir(), 'baresip-mwi-'));
  });
  after(async () => {
    if (phone && phone.exitCode === null) phone.kill('SIGKILL');
    await h.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const subscriptionRows = (userId: number) =>
    h.app.services.db.sequelize.query<{ notify_cseq: number; registration_id: number | null }>(
      'SELECT notify_cseq, registration_id FROM mwi_subscriptions WHERE user_id = :userId',
      { replacements: { userId }, type: QueryTypes.SELECT },
    );

  it('registers, SUBSCRIBEs (401 then 200), gets the NOTIFY with the counts and answers it; a change NOTIFYs it again', async () => {
    const alice = await createSipUser(h.app, { mailbox: 'self' });
    const mailbox = (await h.app.call('GET', `/v1/users/${alice.id}`, { token: alice.account.ownerToken })).body.mailbox.id as number;
    expect((await h.app.call('PUT', `/v1/mailboxes/${mailbox}/message-counts`, { token: alice.account.ownerToken, body: { new: 3, old: 1 } })).status).to.equal(
      200,
    );
    // That change is polled (and notifies nobody) before baresip subscribes: its counts come in the subscription's first NOTIFY.
    await h.runtime.mwi!.poll();
    await h.runtime.mwi!.poll();
    writeBaresipConfig(dir, h.edge!.port('udp'), alice, {
      modules: ['module g711.so', 'module stdio.so', 'module_app account.so', 'module_app menu.so', 'module_app mwi.so'],
      account: ';mwi=yes',
    });
    phone = execFile('baresip', ['-f', dir, '-t', '20'], { timeout: 23_000 });
    phone.stdout?.on('data', (d: Buffer) => (output += d.toString('utf8')));
    phone.stderr?.on('data', (d: Buffer) => (output += d.toString('utf8')));

    const until = async (check: () => boolean | Promise<boolean>, what: string) => {
      const deadline = Date.now() + 12_000;
      while (!(await check())) {
        if (Date.now() > deadline) throw new Error(`${what}; baresip said:\n${output}\nserver answered: ${JSON.stringify(answered)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    const subscribes = () => answered.filter((a) => a.method === 'SUBSCRIBE');
    await until(() => subscribes().some((a) => a.status === 200), 'baresip did not get a 200 to its SUBSCRIBE');
    expect(subscribes()[0]).to.include({ status: 401, event: 'message-summary' });
    // baresip's mwi module prints what the NOTIFY in its dialog carried (menu.so shows it); it answered 200, so the subscription stays.
    await until(() => /----- MWI for sip:[^\n]+-----\r?\nMessages-Waiting: yes\r?\n[^]*Voice-Message: 3\/1 \(0\/0\)/.test(output), 'baresip logged no MWI');
    await h.runtime.subscriptions!.settled();
    const [row] = await subscriptionRows(alice.id);
    expect(row!.notify_cseq).to.equal(1);
    expect(row!.registration_id).to.be.a('number');

    expect((await h.app.call('PUT', `/v1/mailboxes/${mailbox}/message-counts`, { token: alice.account.ownerToken, body: { new: 0, old: 4 } })).status).to.equal(
      200,
    );
    await until(() => /Messages-Waiting: no\r?\n[^]*Voice-Message: 0\/4 \(0\/0\)/.test(output), 'baresip logged no MWI after the change');
    await h.runtime.subscriptions!.settled();
    expect((await subscriptionRows(alice.id)).map((r) => r.notify_cseq)).to.deep.equal([2]);
    // One SUBSCRIBE dialog, challenged once: every answer the server gave baresip.
    expect(subscribes().map((a) => a.status)).to.deep.equal([401, 200]);
  });
});
