import { expect } from 'chai';
import { loadConfig } from '../../src/config.js';
import { startTestApp } from '../helpers/test-app.js';
import { startBuiltinSip } from '../../server/builtin-sip.js';
import { loopbackUdpOnly } from '../helpers/loopback-udp-only.js';
import { configNumberWithEnv } from '../helpers/config-from-env.js';

describe('SIP UDP receive buffer (sip.udp.receiveBufferBytes)', () => {
  it('reads SIP_UDP_RECEIVE_BUFFER_BYTES, defaults to 4 MiB and refuses a size below 64 KiB, naming the setting', async function () {
    this.timeout(60_000);
    const read = (env: Record<string, string>) => configNumberWithEnv('sip.udp.receiveBufferBytes', env);
    expect(await read({ SIP_UDP_RECEIVE_BUFFER_BYTES: '262144' })).to.equal(262_144);
    expect(await read({})).to.equal(4 * 1024 * 1024);
    expect(() => loadConfig({ sip: { udp: { receiveBufferBytes: 1000 } } })).to.throw(/sip\.udp\.receiveBufferBytes/);
  });

  it('is what the built-in edge asks of the kernel for its UDP socket', async function () {
    this.timeout(30_000);
    const app = await startTestApp({
      sip: loopbackUdpOnly({ receiveBufferBytes: 256 * 1024 }),
    });
    const sip = await startBuiltinSip(app.services);
    try {
      const udp = sip.boundAddresses().find((l) => l.transport === 'udp')!;
      // Linux reports twice what it granted.
      expect(udp.receiveBufferBytes).to.equal(512 * 1024);
    } finally {
      await sip.stop();
      await app.stop();
    }
  });
});
