import { execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
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
    writeFileSync(
      path.join(dir, 'config'),
      [
        'poll_method epoll',
        'sip_listen 127.0.0.1:0',
        'sip_transports udp',
        'module_path /usr/lib/baresip/modules',
        'module g711.so',
        'module_app account.so',
        '',
      ].join('\n'),
    );
    writeFileSync(
      path.join(dir, 'accounts'),
      `<sip:${alice.username}@${alice.domain};transport=udp>;auth_pass=${alice.password};outbound="sip:127.0.0.1:${h.edge!.port('udp')}";regint=600\n`,
    );
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
