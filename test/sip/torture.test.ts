import path from 'node:path';
import { existsSync, readFileSync } from 'node:fs';
import { expect } from 'chai';
import type { BuiltinSipEdge } from '../../sip/edges/builtin/builtin-sip-edge.js';
import { optionsMessage, repoRoot, startEdge, statusOf, TcpClient, UdpClient } from './helpers.js';

// RFC 4475 / RFC 5118 torture messages, shared beside the repo (never copied in).
// SIP_TORTURE_DIR points elsewhere (a checkout without ../shared).
const tortureDir = path.resolve(repoRoot, process.env.SIP_TORTURE_DIR ?? '../shared/sip-torture');
const indexFile = path.join(tortureDir, 'index.json');

interface TortureEntry {
  name: string;
  file: string;
  wire_file?: string;
  rfc: string;
  section: string;
  valid: boolean;
  category: string;
  expected: string;
}

type Expectation = { kind: 'answer'; statuses: (status: number) => boolean; describe: string } | { kind: 'drop' };

// Read at load time only when present: a missing directory must fail one test, not abort mocha while it loads every file.
const index = existsSync(indexFile) ? (JSON.parse(readFileSync(indexFile, 'utf8')) as { messages: TortureEntry[] }) : null;

function bytesOf(entry: TortureEntry): Buffer {
  // RFC 5118 files in the archive use bare LF; the wire copies are what a peer sends.
  return readFileSync(path.join(tortureDir, entry.wire_file ?? entry.file));
}

function callIdOf(bytes: Buffer): string | undefined {
  return /^(?:Call-ID|i)[ \t]*:[ \t]*(\S+)/im.exec(bytes.toString('utf8'))?.[1];
}

const is =
  (...codes: number[]) =>
  (s: number): boolean =>
    codes.includes(s);

/** What the edge must do with each message, derived from index.json's `valid`/`expected`. */
function expectationFor(entry: TortureEntry, transport: 'udp' | 'tcp', bytes: Buffer): Expectation {
  if (bytes.subarray(0, 4).toString() === 'SIP/') return { kind: 'drop' }; // a response sent to a server is dropped
  const hasHeaderEnd = bytes.includes('\r\n\r\n');
  const hasContentLength = /\r\n(content-length|l)\s*:/i.test(bytes.toString('latin1').split('\r\n\r\n')[0]!);
  if (transport === 'tcp') {
    // A stream only knows a message ended from the empty line and Content-Length (RFC 3261 §18.3).
    if (!hasHeaderEnd) return { kind: 'drop' };
    if (entry.name === 'clerr') return { kind: 'drop' }; // waits for 9999 octets that never come
    if (!hasContentLength) return { kind: 'answer', statuses: is(400), describe: '400 (no Content-Length on a stream)' };
  }
  switch (entry.name) {
    case 'badvers':
      return { kind: 'answer', statuses: is(505), describe: '505' };
    case 'mismatch02':
      return { kind: 'answer', statuses: is(501, 400), describe: '501 or 400' };
    case 'unkscm':
    case 'novelsc':
      return { kind: 'answer', statuses: is(416), describe: '416' };
    case 'intmeth':
      return { kind: 'answer', statuses: is(405, 501), describe: '405/501' };
    case 'baddate':
      return { kind: 'answer', statuses: () => true, describe: 'any answer (Date is ignored)' };
    default:
  }
  if (!entry.valid) return { kind: 'answer', statuses: is(400), describe: '400' };
  // Valid: processed by the handler — never 400, never a server error.
  return { kind: 'answer', statuses: (s) => s !== 400 && (s < 500 || s === 501), describe: 'a non-400 answer from the handler' };
}

if (!index)
  describe('SIP edge against the RFC 4475 / RFC 5118 torture messages', () => {
    it('finds the torture messages', () => {
      expect.fail(`${indexFile} is missing: the torture messages live in ../shared/sip-torture beside the repository (or set SIP_TORTURE_DIR)`);
    });
  });
else
  describe('SIP edge against the RFC 4475 / RFC 5118 torture messages', function () {
    let edge: BuiltinSipEdge;

    before(async () => {
      edge = await startEdge();
    });
    after(async () => {
      await edge.stop();
    });

    it('has an index listing every torture message', () => {
      expect(index.messages.length).to.be.greaterThan(50);
    });

    for (const transport of ['udp', 'tcp'] as const) {
      describe(`over ${transport.toUpperCase()}`, () => {
        for (const entry of index.messages) {
          const bytes = bytesOf(entry);
          const expectation = expectationFor(entry, transport, bytes);
          const title = expectation.kind === 'drop' ? 'drops it' : `answers ${expectation.describe}`;
          it(`${entry.name} (${entry.rfc} §${entry.section}): ${title}`, async () => {
            let response: string | undefined;
            if (transport === 'udp') {
              const client = await UdpClient.open();
              try {
                client.send(bytes, edge.port('udp'));
                response = await client.next(expectation.kind === 'drop' ? 300 : 2000);
              } finally {
                client.close();
              }
            } else {
              const client = await TcpClient.connect(edge.port('tcp'));
              try {
                client.send(bytes);
                response = await client.next(expectation.kind === 'drop' ? 300 : 2000);
                // On a stream, octets after the first message are further messages
                // (dblreq); their answers may come first, so find the first request's.
                const firstCallId = callIdOf(bytes);
                while (response !== undefined && firstCallId && !response.includes(firstCallId)) {
                  response = await client.next(2000);
                }
              } finally {
                client.close();
              }
            }
            if (expectation.kind === 'drop') {
              expect(response, 'no response expected').to.equal(undefined);
              return;
            }
            expect(response, 'a response').to.be.a('string');
            const status = statusOf(response!);
            expect(expectation.statuses(status), `status ${status} for ${entry.name}`).to.equal(true);
            // RFC 3261 §8.2.6.2: the answer carries the request's top Via, with received (§18.2.1).
            expect(response).to.match(/^Via: /m);
            const callId = callIdOf(bytes);
            if (callId && status !== 400) expect(response).to.include(`Call-ID: ${callId}`);
          });
        }

        it('still answers a good OPTIONS afterwards', async () => {
          if (transport === 'udp') {
            const client = await UdpClient.open();
            client.send(optionsMessage(), edge.port('udp'));
            const response = await client.next();
            client.close();
            expect(statusOf(response!)).to.equal(200);
          } else {
            const client = await TcpClient.connect(edge.port('tcp'));
            client.send(optionsMessage());
            const response = await client.next();
            client.close();
            expect(statusOf(response!)).to.equal(200);
          }
        });
      });
    }

    it('keeps every torture message contact verbatim (cparam01, cparam02, regescrt)', async () => {
      const seen: Record<string, string[]> = {};
      const local = await startEdge({
        listeners: [{ transport: 'udp', host: '127.0.0.1', port: 0 }],
        handler: (req) => {
          const contacts = req.contacts();
          seen[req.callId.split('.')[0]!] = contacts === '*' ? ['*'] : contacts.map((c) => `${c.uri}|${c.raw}`);
          return Promise.resolve({ status: 200, reason: 'OK', headers: [] });
        },
      });
      try {
        const client = await UdpClient.open();
        for (const name of ['cparam01', 'cparam02', 'regescrt']) {
          client.send(bytesOf(index.messages.find((m) => m.name === name)!), local.port('udp'));
          await client.next();
        }
        client.close();
      } finally {
        await local.stop();
      }
      expect(seen['cparam01']).to.deep.equal(['sip:+19725552222@gw1.example.net|sip:+19725552222@gw1.example.net;unknownparam']);
      expect(seen['cparam02']).to.deep.equal(['sip:+19725552222@gw1.example.net;unknownparam|<sip:+19725552222@gw1.example.net;unknownparam>']);
      expect(seen['regescrt']).to.deep.equal(['sip:user@example.com?Route=%3Csip:sip.example.com%3E|<sip:user@example.com?Route=%3Csip:sip.example.com%3E>']);
    });
  });
