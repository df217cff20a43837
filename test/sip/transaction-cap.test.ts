import dgram from 'node:dgram';
import { expect } from 'chai';
import { loadConfig } from '../../src/config.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';
import { startBuiltinSip } from '../../server/builtin-sip.js';
import { loopbackUdpOnly } from '../helpers/loopback-udp-only.js';
import { configNumberWithEnv } from '../helpers/config-from-env.js';

const options = (i: number, port: number) =>
  [
    'OPTIONS sip:127.0.0.1 SIP/2.0',
    `Via: SIP/2.0/UDP 127.0.0.1:${port};branch=z9hG4bK-cap-${i};rport`,
    'Max-Forwards: 70',
    `From: <sip:probe@127.0.0.1>;tag=cap${i}`,
    'To: <sip:127.0.0.1>',
    `Call-ID: cap-${i}@127.0.0.1`,
    'CSeq: 1 OPTIONS',
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');

const callIdOf = (response: string) => /^Call-ID: *(\S+)/im.exec(response)?.[1] ?? '';

describe('SIP server transactions kept per process (sip.transactions.maxEntries)', () => {
  it('reads SIP_MAX_TRANSACTIONS, defaults to 16,384 and refuses fewer than 1,024, naming the setting', async function () {
    this.timeout(60_000);
    const read = (env: Record<string, string>) => configNumberWithEnv('sip.transactions.maxEntries', env);
    expect(await read({ SIP_MAX_TRANSACTIONS: '65536' })).to.equal(65_536);
    expect(await read({})).to.equal(16_384);
    expect(() => loadConfig({ sip: { transactions: { maxEntries: 100 } } })).to.throw(/sip\.transactions\.maxEntries/);
  });

  describe('at the cap, over UDP', function () {
    this.timeout(30_000);
    let app: TestApp;
    let sip: Awaited<ReturnType<typeof startBuiltinSip>>;
    let client: dgram.Socket;
    let serverPort: number;
    const waiting = new Map<string, (response: string) => void>();

    before(async () => {
      app = await startTestApp({ sip: { ...loopbackUdpOnly(), transactions: { maxEntries: 1024 } } });
      sip = await startBuiltinSip(app.services);
      serverPort = sip.boundAddresses().find((l) => l.transport === 'udp')!.port;
      client = dgram.createSocket('udp4');
      client.on('message', (msg) => {
        const text = msg.toString();
        const callId = callIdOf(text);
        waiting.get(callId)?.(text);
        waiting.delete(callId);
      });
      await new Promise<void>((resolve) => client.bind(0, '127.0.0.1', resolve));
    });
    after(async () => {
      client.close();
      await sip.stop();
      await app.stop();
    });

    const ask = (i: number): Promise<string> =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no answer to OPTIONS ${i}`)), 5_000);
        waiting.set(`cap-${i}@127.0.0.1`, (text) => {
          clearTimeout(timer);
          resolve(text);
        });
        client.send(options(i, client.address().port), serverPort, '127.0.0.1');
      });

    it('keeps the newest 1,024 answers: a retransmission past them is answered afresh, a recent one from the kept bytes', async () => {
      const first = new Map<number, string>();
      // In rounds of 100, so that no datagram waits behind a full receive buffer.
      for (let start = 0; start < 1_100; start += 100) {
        const answers = await Promise.all(Array.from({ length: 100 }, (_, k) => ask(start + k)));
        answers.forEach((a, k) => first.set(start + k, a));
      }
      expect(first.get(0)!.slice(0, 11)).to.equal('SIP/2.0 200');
      // The newest is still kept: the very same bytes, To tag included.
      expect(await ask(1_099)).to.equal(first.get(1_099));
      // The first was let go at the cap: the retransmission is a new transaction, with a To tag of its own.
      const again = await ask(0);
      expect(again.slice(0, 11)).to.equal('SIP/2.0 200');
      expect(again).to.not.equal(first.get(0));
    });
  });
});
