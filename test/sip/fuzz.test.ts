import { expect } from 'chai';
import fc from 'fast-check';
import type { BuiltinSipEdge } from '../../sip/edges/builtin/builtin-sip-edge.js';
import { ParsedSipRequest, SipParseError } from '../../sip/message/sip-request.js';
import { StreamFramer } from '../../sip/transports/stream-framer.js';
import { registerMessage, sleep, startEdge, statusOf, TcpClient, UdpClient } from './helpers.js';

const SEED = 20240917;
const limits = { maxHeaderBytes: 16384, maxBodyBytes: 65536 };
const valid = Buffer.from(
  registerMessage({ branch: 'z9hG4bK-fuzz', callId: 'fuzz@test', extraHeaders: ['Contact: "A, B" <sip:b@192.0.2.2>;q=0.1, <sip:c@192.0.2.3>'] }),
);
const lines = valid.toString('latin1').split('\r\n');

/** Mutations a broken or hostile peer produces: flipped bytes, truncation, duplicated headers, huge values. */
const mutated: fc.Arbitrary<Buffer> = fc.oneof(
  fc.array(fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }).map((flips) => {
    const b = Buffer.from(valid);
    for (const [i, v] of flips) b[i] = v;
    return b;
  }),
  fc.nat(valid.length).map((n) => valid.subarray(0, n)),
  fc.tuple(fc.integer({ min: 1, max: lines.length - 3 }), fc.integer({ min: 1, max: 5 })).map(([i, times]) => {
    const copy = [...lines];
    copy.splice(i, 0, ...Array<string>(times).fill(lines[i]!));
    return Buffer.from(copy.join('\r\n'), 'latin1');
  }),
  fc
    .tuple(fc.integer({ min: 1, max: lines.length - 3 }), fc.integer({ min: 100, max: 20000 }), fc.constantFrom('a', ',', ';', '"', '<', ' ', '%', '9'))
    .map(([i, n, ch]) => {
      const copy = [...lines];
      copy[i] = `${copy[i]}${ch.repeat(n)}`;
      return Buffer.from(copy.join('\r\n'), 'latin1');
    }),
  fc.uint8Array({ maxLength: 600 }).map((a) => Buffer.concat([valid.subarray(0, 60), Buffer.from(a)])),
);

describe('SIP parser and edge under fuzzing', function () {
  it('the parser throws nothing but SipParseError and never hangs', () => {
    fc.assert(
      fc.property(mutated, (bytes) => {
        const started = Date.now();
        try {
          ParsedSipRequest.parse(bytes, limits);
        } catch (err) {
          if (!(err instanceof SipParseError)) throw err;
        }
        return Date.now() - started < 200;
      }),
      { seed: SEED, numRuns: 3000 },
    );
  });

  it('the stream framer throws nothing on mutated streams', () => {
    fc.assert(
      fc.property(fc.array(mutated, { minLength: 1, maxLength: 4 }), (chunks) => {
        const framer = new StreamFramer(limits.maxHeaderBytes, limits.maxBodyBytes);
        for (const c of chunks) framer.push(c, () => {});
      }),
      { seed: SEED, numRuns: 500 },
    );
  });

  describe('a running edge', () => {
    let edge: BuiltinSipEdge;
    before(async () => {
      edge = await startEdge();
    });
    after(async () => {
      await edge.stop();
    });

    it('still answers a good REGISTER over UDP and TCP after a burst of mutated messages', async () => {
      const samples = fc.sample(mutated, { seed: SEED, numRuns: 150 });
      const udp = await UdpClient.open();
      for (const s of samples) udp.send(s, edge.port('udp'));
      for (let i = 0; i < samples.length; i += 10) {
        const tcp = await TcpClient.connect(edge.port('tcp'));
        for (const s of samples.slice(i, i + 10)) tcp.send(s);
        await sleep(5);
        tcp.close();
      }
      await sleep(200);
      udp.drain();
      udp.send(registerMessage(), edge.port('udp'));
      let response = await udp.next();
      while (response !== undefined && !response.includes('CSeq: 1 REGISTER')) response = await udp.next();
      expect(statusOf(response!)).to.equal(200);
      udp.close();
      const tcp = await TcpClient.connect(edge.port('tcp'));
      tcp.send(registerMessage());
      expect(statusOf((await tcp.next())!)).to.equal(200);
      tcp.close();
      expect(edge.stats().parseErrors).to.be.greaterThan(0);
    });
  });
});
