import { expect } from 'chai';
import type { SipAddress, SipRequest, SipRequestContext, SipRequestHandler, SipResponseSpec, SipTransportName } from '../../sip/message/types.js';
import { splitHeaderList } from '../../sip/message/header-list.js';
import { fixture, optionsMessage } from './helpers.js';
import { authorize, createSipUser, parseChallenge, registerText, startRegistrar, type RegistrarHarness, type SipTestUser } from './registrar-helpers.js';

/**
 * One SIP edge under test: requests go in as raw text the way that edge
 * receives them, and what the edge puts on the wire comes back as SIP text.
 */
export interface EdgeHarness {
  /** What the edge must report in the context for requests sent by exchange(). */
  expected: { transport: SipTransportName; source: SipAddress };
  /** Send one request; resolves with the response text, or undefined when the edge sent none. */
  exchange(raw: string): Promise<string | undefined>;
  stop(): Promise<void>;
}

export type MakeEdgeHarness = (handler: SipRequestHandler) => Promise<EdgeHarness>;

interface Seen {
  req: SipRequest;
  ctx: SipRequestContext;
}

/** Header values of a SIP message: `list` splits comma lists (RFC 3261 §7.3.1), otherwise one per line. */
export function headerValues(text: string, name: string, list: boolean): string[] {
  const head = text.split('\r\n\r\n')[0]!.split('\r\n').slice(1);
  const out: string[] = [];
  for (const line of head) {
    const colon = line.indexOf(':');
    if (colon < 0 || line.slice(0, colon).trim().toLowerCase() !== name.toLowerCase()) continue;
    const value = line.slice(colon + 1).trim();
    if (list) out.push(...splitHeaderList(value));
    else out.push(value);
  }
  return out;
}

function statusLine(text: string): { status: number; reason: string } {
  const first = text.split('\r\n')[0]!;
  const m = /^SIP\/2\.0 (\d{3}) (.*)$/.exec(first);
  if (!m) throw new Error(`not a response: ${first}`);
  return { status: Number(m[1]), reason: m[2]! };
}

let branchSeq = 0;
/** The multi-contact REGISTER fixture with a fresh branch, so a transaction layer never takes it for a retransmission. */
function registerRequest(): string {
  branchSeq += 1;
  return fixture('register-multi-contact.sip').replace('branch=z9hG4bK-multi-1', `branch=z9hG4bK-contract-${process.pid}-${branchSeq}`);
}

const CHALLENGES = [
  'Digest realm="example.com", nonce="n1", qop="auth", algorithm=SHA-256',
  'Digest realm="example.com", nonce="n1", qop="auth", algorithm=MD5',
];
const BINDINGS = [
  '<sip:alice@192.0.2.10:5060;transport=udp>;expires=3600;+sip.instance="<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>";reg-id=1',
  '"Desk, Phone" <sip:alice@198.51.100.7;ob>;q=0.5;expires=55',
];

/**
 * The edge/core contract both edges must keep, so a registrar behaviour
 * cannot exist on one edge only. The lead adds registrar scenarios here.
 */
export function runEdgeContract(name: string, makeHarness: MakeEdgeHarness): void {
  describe(`SIP edge contract: ${name}`, () => {
    let harness: EdgeHarness | undefined;
    const seen: Seen[] = [];
    let answer: (req: SipRequest) => SipResponseSpec | null = () => ({ status: 200, reason: 'OK', headers: [] });

    beforeEach(async () => {
      seen.length = 0;
      answer = () => ({ status: 200, reason: 'OK', headers: [] });
      harness = await makeHarness(async (req, ctx) => {
        seen.push({ req, ctx });
        return answer(req);
      });
    });
    afterEach(async () => {
      await harness?.stop();
      harness = undefined;
    });

    it('hands the core a REGISTER with the method, URI, Call-ID, CSeq, contacts and headers as sent', async () => {
      await harness!.exchange(registerRequest());
      expect(seen).to.have.length(1);
      const { req, ctx } = seen[0]!;
      expect(req.method).to.equal('REGISTER');
      expect(req.uri).to.equal('sip:example.com');
      expect(req.callId).to.equal('multi-contact-1@192.0.2.10');
      expect(req.cseq).to.deep.equal({ seq: 7, method: 'REGISTER' });
      expect(req.from.displayName).to.equal('Alice');
      expect(req.from.params['tag']).to.equal('a1');
      const contacts = req.contacts();
      expect(contacts).to.not.equal('*');
      expect((contacts as Exclude<typeof contacts, '*'>).map((c) => [c.uri, c.params['expires'] ?? null, c.displayName ?? null])).to.deep.equal([
        ['sip:alice@192.0.2.10:5060;transport=udp', '3600', 'Desk, Phone'],
        ['sip:alice@198.51.100.7;ob', null, null],
        ['sip:alice@203.0.113.9', '60', null],
      ]);
      expect(req.headerValues('Authorization')).to.have.length(2);
      expect(req.headerValues('supported')).to.deep.equal(['path', 'outbound']);
      expect(req.headerValues('X-Custom')).to.deep.equal(['one', 'two']);
      expect(req.header('Max-Forwards')).to.equal('70');
      expect(ctx.transport).to.equal(harness!.expected.transport);
      expect(ctx.source).to.deep.equal(harness!.expected.source);
      expect(ctx.connectionId).to.equal(undefined);
      expect(ctx.receivedAt).to.be.a('number');
    });

    it("puts the core's status, reason, Contact bindings and every challenge on the wire", async () => {
      answer = () => ({ status: 401, reason: 'Unauthorized', headers: CHALLENGES.map((c) => ['WWW-Authenticate', c] as [string, string]) });
      const challenge = await harness!.exchange(registerRequest());
      expect(challenge, 'a response').to.be.a('string');
      expect(statusLine(challenge!)).to.deep.equal({ status: 401, reason: 'Unauthorized' });
      // RFC 3261 §7.3.1: challenges are never comma-joined; each arrives whole on its own line.
      expect(headerValues(challenge!, 'WWW-Authenticate', false)).to.deep.equal(CHALLENGES);

      answer = () => ({
        status: 200,
        reason: 'OK',
        headers: [...BINDINGS.map((b) => ['Contact', b] as [string, string]), ['Date', 'Sat, 13 Nov 2010 23:29:00 GMT'], ['Path', '<sip:edge.example.net;lr>']],
      });
      const ok = await harness!.exchange(registerRequest());
      expect(statusLine(ok!)).to.deep.equal({ status: 200, reason: 'OK' });
      expect(headerValues(ok!, 'Contact', true)).to.deep.equal(BINDINGS);
      expect(headerValues(ok!, 'Path', true)).to.deep.equal(['<sip:edge.example.net;lr>']);
      expect(headerValues(ok!, 'Call-ID', false)).to.deep.equal(['multi-contact-1@192.0.2.10']);
      expect(headerValues(ok!, 'CSeq', false)).to.deep.equal(['7 REGISTER']);
    });

    it('answers OPTIONS through the same handler', async () => {
      answer = (req) => (req.method === 'OPTIONS' ? { status: 200, reason: 'OK', headers: [['Allow', 'REGISTER, OPTIONS']] } : null);
      const res = await harness!.exchange(optionsMessage());
      expect(seen.map((s) => s.req.method)).to.deep.equal(['OPTIONS']);
      expect(statusLine(res!)).to.deep.equal({ status: 200, reason: 'OK' });
      expect(headerValues(res!, 'Allow', true)).to.deep.equal(['REGISTER', 'OPTIONS']);
    });

    it('sends nothing when the core returns no answer (banned source)', async () => {
      answer = () => null;
      const res = await harness!.exchange(optionsMessage());
      expect(seen).to.have.length(1);
      expect(res).to.equal(undefined);
    });

    it('answers 500 when the core throws, and keeps serving', async () => {
      answer = () => {
        throw new Error('boom');
      };
      const res = await harness!.exchange(optionsMessage());
      expect(statusLine(res!).status).to.equal(500);
      answer = () => ({ status: 200, reason: 'OK', headers: [] });
      expect(statusLine((await harness!.exchange(optionsMessage()))!).status).to.equal(200);
    });

    describe('REGISTER through the real registrar (fresh database)', function () {
      this.timeout(20_000);
      let reg: RegistrarHarness;
      let edge: EdgeHarness;
      let alice: SipTestUser;
      let seq = 0;

      before(async () => {
        reg = await startRegistrar({ sip: { registrar: { minExpires: 60, maxExpires: 7200 } } });
      });
      after(async () => reg.stop());
      beforeEach(async () => {
        // The outer harness (recording handler) is not used here; this one mounts the registrar.
        edge = await makeHarness(reg.runtime.handler);
        alice = await createSipUser(reg.app, { max_bindings: 2 });
      });
      afterEach(async () => edge.stop());

      /** A phone's registration: REGISTER, 401, REGISTER with MD5 digest computed here; returns the final response text. */
      const register = async (o: { contacts: string[]; expires?: number; headers?: string[]; userAgent?: string }) => {
        seq += 1;
        const callId = `contract-${process.pid}-${seq}`;
        const base = {
          user: alice.username,
          domain: alice.domain,
          callId,
          contacts: o.contacts,
          ...(o.expires !== undefined ? { expires: o.expires } : {}),
          ...(o.headers ? { headers: o.headers } : {}),
          ...(o.userAgent ? { userAgent: o.userAgent } : {}),
        };
        const first = await edge.exchange(registerText({ ...base, cseq: 1 }));
        expect(first, 'a challenge').to.be.a('string');
        expect(statusLine(first!).status).to.equal(401);
        const ch = headerValues(first!, 'WWW-Authenticate', false)
          .map(parseChallenge)
          .find((c) => c.algorithm === 'MD5')!;
        const auth = authorize(ch, alice.username, alice.password, `sip:${alice.domain}`);
        const final = await edge.exchange(registerText({ ...base, cseq: 2, authorization: auth }));
        expect(final, 'a final response').to.be.a('string');
        return final!;
      };

      it('challenges with 401 and one WWW-Authenticate per algorithm in the order for its transport, realm = the account SIP domain, qop="auth"', async () => {
        const res = (await edge.exchange(registerText({ user: alice.username, domain: alice.domain, contacts: ['<sip:a@192.0.2.50>'] })))!;
        expect(statusLine(res)).to.deep.equal({ status: 401, reason: 'Unauthorized' });
        const challenges = headerValues(res, 'WWW-Authenticate', false);
        // MD5 first for clients that take the first challenge (sipp, baresip); over WebSocket MD5 only,
        // because sip.js and JsSIP keep the last WWW-Authenticate and abort on anything but MD5 (README, Authentication).
        const websocket = edge.expected.transport === 'ws' || edge.expected.transport === 'wss';
        expect(challenges.map((c) => parseChallenge(c).algorithm)).to.deep.equal(websocket ? ['MD5'] : ['MD5', 'SHA-256']);
        for (const c of challenges) {
          expect(parseChallenge(c).realm).to.equal(alice.domain);
          expect(c).to.contain('qop="auth"');
        }
      });

      it('answers an authenticated REGISTER with 200 listing every binding with its expires', async () => {
        expect(headerValues(await register({ contacts: ['<sip:desk@192.0.2.51:5062>'], expires: 600 }), 'Contact', true)).to.deep.equal([
          '<sip:desk@192.0.2.51:5062>;expires=600',
        ]);
        const ok = await register({ contacts: ['<sip:soft@192.0.2.52>;expires=900'] });
        expect(statusLine(ok).status).to.equal(200);
        expect(headerValues(ok, 'Contact', true)).to.deep.equal(['<sip:desk@192.0.2.51:5062>;expires=600', '<sip:soft@192.0.2.52>;expires=900']);
      });

      it('refuses a new device at max_bindings with 403 Too Many Bindings and a Warning naming the devices', async () => {
        await register({ contacts: ['<sip:one@192.0.2.53>'], userAgent: 'DeskOne/1' });
        await register({ contacts: ['<sip:two@192.0.2.54>'], userAgent: 'DeskTwo/2' });
        const res = await register({ contacts: ['<sip:three@192.0.2.55>'] });
        expect(statusLine(res)).to.deep.equal({ status: 403, reason: 'Too Many Bindings' });
        const [warning] = headerValues(res, 'Warning', false);
        expect(warning).to.contain('DeskOne/1').and.to.contain('DeskTwo/2');
      });

      it('replaces the binding of a device that comes back with the same +sip.instance from a new address (RFC 5626)', async () => {
        const instance = ';+sip.instance="<urn:uuid:7d3c0b0e-0000-4000-8000-00000000c0de>";reg-id=1';
        await register({ contacts: [`<sip:mobile@192.0.2.56:5060>${instance}`] });
        const res = await register({ contacts: [`<sip:mobile@198.51.100.9:6000>${instance}`] });
        expect(statusLine(res).status).to.equal(200);
        const contacts = headerValues(res, 'Contact', true);
        expect(contacts).to.have.length(1);
        expect(contacts[0]).to.match(/^<sip:mobile@198\.51\.100\.9:6000>/);
      });

      it('removes a binding with expires=0 and answers 200 with the bindings left (RFC 3261 §10.2.2)', async () => {
        await register({ contacts: ['<sip:stay@192.0.2.58>'] });
        await register({ contacts: ['<sip:leave@192.0.2.59>'] });
        const res = await register({ contacts: ['<sip:leave@192.0.2.59>;expires=0'] });
        expect(statusLine(res).status).to.equal(200);
        expect(headerValues(res, 'Contact', true).map((c) => c.replace(/;expires=\d+$/, ''))).to.deep.equal(['<sip:stay@192.0.2.58>']);
        const list = (await reg.app.call('GET', `/v1/users/${alice.id}/registrations`, { token: alice.account.ownerToken })).body.data as any[];
        expect(list.map((b) => b.contact)).to.deep.equal(['sip:stay@192.0.2.58']);
      });

      it('echoes Path when the UA supports it (RFC 3327 §5.3)', async () => {
        const res = await register({ contacts: ['<sip:behind-proxy@192.0.2.57>'], headers: ['Path: <sip:edge.example.net;lr>', 'Supported: path'] });
        expect(statusLine(res).status).to.equal(200);
        expect(headerValues(res, 'Path', true)).to.deep.equal(['<sip:edge.example.net;lr>']);
      });

      it('stores the transport and the source address and port the edge saw (received/rport, RFC 3581)', async () => {
        await register({ contacts: ['<sip:nat@10.0.0.99:5060>'] });
        const list = (await reg.app.call('GET', `/v1/users/${alice.id}/registrations`, { token: alice.account.ownerToken })).body.data as any[];
        expect(list.map((b) => ({ contact: b.contact, transport: b.transport, address: b.source_address, port: b.source_port }))).to.deep.equal([
          { contact: 'sip:nat@10.0.0.99:5060', transport: makeExpected().transport, address: makeExpected().source.address, port: makeExpected().source.port },
        ]);
      });

      const makeExpected = () => edge.expected;
    });

    it('never lets a header value from the core inject a header line', async () => {
      answer = () => ({ status: 403, reason: 'Too Many Bindings', headers: [['Warning', '399 example.com "desk\r\nX-Evil: 1"']] });
      const res = await harness!.exchange(optionsMessage());
      expect(statusLine(res!)).to.deep.equal({ status: 403, reason: 'Too Many Bindings' });
      expect(res).to.not.match(/\r\nX-Evil/i);
      expect(headerValues(res!, 'Warning', false)).to.have.length(1);
    });
  });
}
