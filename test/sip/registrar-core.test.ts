import { expect } from 'chai';
import type { SipResponseSpec } from '../../sip/message/types.js';
import {
  authorize,
  createSipUser,
  headerOf,
  parse,
  parseChallenge,
  registerText,
  registerThroughCore,
  startRegistrar,
  udpContext,
  type RegistrarHarness,
  type SipTestUser,
} from './registrar-helpers.js';

function contactsOf(r: SipResponseSpec | null): string[] {
  return r ? headerOf(r, 'Contact') : [];
}

describe('SIP registrar core (raw REGISTER texts)', function () {
  let h: RegistrarHarness;
  let alice: SipTestUser;

  before(async () => {
    h = await startRegistrar({ sip: { registrar: { minExpires: 60, defaultExpires: 3600, maxExpires: 7200 } } });
  });
  after(async () => h.stop());
  beforeEach(async () => {
    alice = await createSipUser(h.app, { max_bindings: 3 });
  });

  const reg = (o: Partial<Parameters<typeof registerThroughCore>[1]> & { contacts?: string[] } = {}) =>
    registerThroughCore(h, { user: alice.username, domain: alice.domain, password: alice.password, ...o });

  describe('digest authentication', () => {
    it('challenges a REGISTER without credentials with MD5 and SHA-256, realm = account SIP domain, qop=auth', async () => {
      const r = (await h.runtime.handler(parse(registerText({ user: alice.username, domain: alice.domain, contacts: ['<sip:a@10.0.0.1>'] })), udpContext()))!;
      expect(r.status).to.equal(401);
      const ch = headerOf(r, 'WWW-Authenticate');
      expect(ch).to.have.length(2);
      // MD5 first by default: sip.js and sipp take the first challenge and abort on SHA-256.
      expect(ch[0]).to.match(/^Digest realm="[^"]+", nonce="[^"]+", algorithm=MD5, qop="auth"$/);
      expect(ch[1]).to.contain('algorithm=SHA-256');
      expect(parseChallenge(ch[0]!).realm).to.equal(alice.domain);
    });

    for (const algorithm of ['MD5', 'SHA-256'] as const) {
      it(`registers with good ${algorithm} credentials and lists the binding with its expires`, async () => {
        const r = await reg({ algorithm, contacts: ['<sip:alice@10.0.0.1:5062>'], expires: 600 });
        expect(r!.status).to.equal(200);
        expect(contactsOf(r)).to.deep.equal(['<sip:alice@10.0.0.1:5062>;expires=600']);
      });
    }

    it('accepts the extension as auth name and AOR user part (HA1 derived from the stored password)', async () => {
      const r = await reg({ user: alice.extension, authUser: alice.extension, contacts: ['<sip:x@10.0.0.2>'] });
      expect(r!.status).to.equal(200);
    });

    it('answers a wrong password and an unknown user identically', async () => {
      const wrong = (await reg({ password: 'not-the-password-1A!', contacts: ['<sip:a@10.0.0.1>'] }))!;
      const unknown = (await registerThroughCore(h, { user: 'nobody-here', domain: alice.domain, password: 'x', contacts: ['<sip:a@10.0.0.1>'] }))!;
      expect([wrong.status, wrong.reason]).to.deep.equal([401, 'Unauthorized']);
      expect([unknown.status, unknown.reason]).to.deep.equal([wrong.status, wrong.reason]);
      expect(unknown.headers.map(([n]) => n)).to.deep.equal(wrong.headers.map(([n]) => n));
      expect(headerOf(unknown, 'WWW-Authenticate')[0]).to.not.contain('stale');
    });

    it('refuses with 403 an AOR that belongs to another user', async () => {
      const bob = await createSipUser(h.app, {}, alice.account);
      const r = await registerThroughCore(h, {
        user: bob.username,
        authUser: alice.username,
        domain: alice.domain,
        password: alice.password,
        contacts: ['<sip:a@10.0.0.1>'],
      });
      expect(r!.status).to.equal(403);
    });

    it('rejects a tampered nonce, answers stale=true to a correct answer on an old nonce, and refuses a replayed nonce count', async () => {
      const ctx = udpContext('127.0.0.9');
      const first = (await h.runtime.handler(parse(registerText({ user: alice.username, domain: alice.domain, contacts: ['<sip:a@10.0.0.3>'] })), ctx))!;
      const ch = parseChallenge(headerOf(first, 'WWW-Authenticate')[0]!);
      const send = (auth: string, cseq: number) =>
        h.runtime.handler(
          parse(registerText({ user: alice.username, domain: alice.domain, contacts: ['<sip:a@10.0.0.3>'], authorization: auth, callId: 'c-nonce', cseq })),
          ctx,
        );

      const tampered = { ...ch, nonce: ch.nonce.slice(0, -2) + (ch.nonce.endsWith('AA') ? 'BB' : 'AA') };
      const t = (await send(authorize(tampered, alice.username, alice.password, `sip:${alice.domain}`), 2))!;
      expect(t.status).to.equal(401);
      expect(headerOf(t, 'WWW-Authenticate')[0]).to.not.contain('stale=true');

      expect((await send(authorize(ch, alice.username, alice.password, `sip:${alice.domain}`, 1), 3))!.status).to.equal(200);
      const replay = (await send(authorize(ch, alice.username, alice.password, `sip:${alice.domain}`, 1), 4))!;
      expect(replay.status).to.equal(401);
      expect((await send(authorize(ch, alice.username, alice.password, `sip:${alice.domain}`, 2), 5))!.status).to.equal(200);

      h.clock.now += 301_000;
      try {
        const stale = (await send(authorize(ch, alice.username, alice.password, `sip:${alice.domain}`, 3), 6))!;
        expect(stale.status).to.equal(401);
        expect(headerOf(stale, 'WWW-Authenticate')[0]).to.contain('stale=true');
      } finally {
        h.clock.now -= 301_000;
      }
    });

    it('lets the previous password register during the rotation grace window only', async () => {
      const old = alice.password;
      const rot = await h.app.call('POST', `/v1/users/${alice.id}/sip-password`, { token: alice.account.ownerToken, body: {} });
      expect(rot.status).to.equal(200);
      h.runtime.credentials.invalidate(alice.domain, alice.username);
      expect((await reg({ password: old, contacts: ['<sip:old@10.0.0.4>'] }))!.status).to.equal(200);
      expect((await reg({ password: rot.body.sip_password, contacts: ['<sip:new@10.0.0.4>'] }))!.status).to.equal(200);
      h.clock.now += 3600_000;
      try {
        expect((await reg({ password: old, contacts: ['<sip:old2@10.0.0.4>'] }))!.status).to.equal(401);
      } finally {
        h.clock.now -= 3600_000;
      }
    });
  });

  describe('rotation grace window with the extension as auth name', () => {
    it('lets the previous password register as the extension during the grace window only', async () => {
      const old = alice.password;
      const asExt = (password: string, contact: string) => reg({ user: alice.extension, authUser: alice.extension, password, contacts: [contact] });
      const rot = await h.app.call('POST', `/v1/users/${alice.id}/sip-password`, { token: alice.account.ownerToken, body: {} });
      expect(rot.status).to.equal(200);
      h.runtime.credentials.invalidate(alice.domain, alice.extension);
      expect((await asExt(old, '<sip:ext-old@10.0.0.5>'))!.status).to.equal(200);
      expect((await asExt(rot.body.sip_password, '<sip:ext-new@10.0.0.5>'))!.status).to.equal(200);
      expect((await asExt('Not-the-password-9!', '<sip:ext-bad@10.0.0.5>'))!.status).to.equal(401);
      h.clock.now += 3600_000;
      try {
        expect((await asExt(old, '<sip:ext-old2@10.0.0.5>'))!.status).to.equal(401);
      } finally {
        h.clock.now -= 3600_000;
      }
    });

    it('gives no grace to the old extension after the extension changes', async () => {
      const old = alice.password;
      expect((await h.app.call('POST', `/v1/users/${alice.id}/sip-password`, { token: alice.account.ownerToken, body: {} })).status).to.equal(200);
      const ext = String(Number(alice.extension) + 1).padStart(alice.extension.length, '0');
      const patched = await h.app.call('PATCH', `/v1/users/${alice.id}`, { token: alice.account.ownerToken, body: { extension: ext } });
      expect(patched.status, JSON.stringify(patched.body)).to.equal(200);
      h.runtime.credentials.invalidate(alice.domain, ext);
      const r = await reg({ user: ext, authUser: ext, password: old, contacts: ['<sip:ext-moved@10.0.0.6>'] });
      expect(r!.status).to.equal(401);
    });
  });

  describe('REST removal of a binding', () => {
    it('makes the device authenticate again: its cached nonce gets 401 stale=true, a fresh one registers', async () => {
      const ctx = udpContext('127.0.0.21');
      const contact = '<sip:reauth@10.0.0.21>';
      const send = (cseq: number, authorization?: string) =>
        h.runtime.handler(
          parse(
            registerText({
              user: alice.username,
              domain: alice.domain,
              contacts: [contact],
              callId: 'c-reauth',
              cseq,
              ...(authorization ? { authorization } : {}),
            }),
          ),
          ctx,
        );
      const first = (await send(1))!;
      const ch = parseChallenge(headerOf(first, 'WWW-Authenticate')[0]!);
      const uri = `sip:${alice.domain}`;
      expect((await send(2, authorize(ch, alice.username, alice.password, uri, 1)))!.status).to.equal(200);
      // A phone reuses its nonce with the next nonce-count; that works until the binding is removed.
      expect((await send(3, authorize(ch, alice.username, alice.password, uri, 2)))!.status).to.equal(200);

      const [binding] = (await h.app.call('GET', `/v1/users/${alice.id}/registrations`, { token: alice.account.ownerToken })).body.data;
      expect((await h.app.call('DELETE', `/v1/users/${alice.id}/registrations/${binding.id}`, { token: alice.account.ownerToken })).status).to.equal(204);
      const saved = h.clock.now;
      // The API stamps the removal with the wall clock; the registrar's clock moves past it.
      h.clock.now = Date.now() + 1000;
      try {
        const reused = (await send(4, authorize(ch, alice.username, alice.password, uri, 3)))!;
        expect(reused.status).to.equal(401);
        const fresh = parseChallenge(headerOf(reused, 'WWW-Authenticate')[0]!);
        expect(fresh.stale).to.equal(true);
        expect((await send(5, authorize(fresh, alice.username, alice.password, uri, 1)))!.status).to.equal(200);
        expect((await h.app.call('GET', `/v1/users/${alice.id}/registrations`, { token: alice.account.ownerToken })).body.data).to.have.length(1);
      } finally {
        h.clock.now = saved;
      }
    });
  });

  describe('bindings (RFC 3261 §10.3)', () => {
    it('adds, refreshes, removes one, queries and removes all with Contact: * and Expires: 0', async () => {
      const callId = 'call-bind-1';
      expect(contactsOf(await reg({ callId, cseq: 1, contacts: ['<sip:a@10.0.0.1>;expires=300'] }))).to.have.length(1);
      const two = await reg({ callId, cseq: 3, contacts: ['<sip:b@10.0.0.1>'], expires: 900 });
      expect(contactsOf(two)).to.deep.equal(['<sip:a@10.0.0.1>;expires=300', '<sip:b@10.0.0.1>;expires=900']);
      h.clock.now += 100_000;
      try {
        const refreshed = await reg({ callId, cseq: 5, contacts: ['<sip:a@10.0.0.1>;expires=600'] });
        expect(contactsOf(refreshed)).to.deep.equal(['<sip:a@10.0.0.1>;expires=600', '<sip:b@10.0.0.1>;expires=800']);
        const query = await reg({ callId, cseq: 7 });
        expect(contactsOf(query)).to.have.length(2);
        const removed = await reg({ callId, cseq: 9, contacts: ['<sip:b@10.0.0.1>;expires=0'] });
        expect(contactsOf(removed)).to.deep.equal(['<sip:a@10.0.0.1>;expires=600']);
        const all = await reg({ callId, cseq: 11, contacts: ['*'], expires: 0 });
        expect(all!.status).to.equal(200);
        expect(contactsOf(all)).to.deep.equal([]);
      } finally {
        h.clock.now -= 100_000;
      }
    });

    it('answers 423 with Min-Expires for a too-short interval and shortens a too-long one', async () => {
      const brief = await reg({ contacts: ['<sip:a@10.0.0.1>'], expires: 10 });
      expect(brief!.status).to.equal(423);
      expect(headerOf(brief!, 'Min-Expires')).to.deep.equal(['60']);
      const long = await reg({ contacts: ['<sip:a@10.0.0.1>;expires=99999'] });
      expect(contactsOf(long)).to.deep.equal(['<sip:a@10.0.0.1>;expires=7200']);
    });

    it('refuses Contact: * without Expires: 0 with 400', async () => {
      expect((await reg({ contacts: ['*'] }))!.status).to.equal(400);
    });

    it('refuses with 400 what the binding columns cannot hold (Call-ID or +sip.instance over 255 characters) and stores nothing', async () => {
      const longCallId = await reg({ callId: `c${'x'.repeat(255)}` });
      expect([longCallId!.status, longCallId!.reason]).to.deep.equal([400, 'Bad Request (Call-ID too long)']);
      const longInstance = await reg({ contacts: [`<sip:a@10.0.0.1>;+sip.instance="<urn:uuid:${'f'.repeat(250)}>";reg-id=1`] });
      expect([longInstance!.status, longInstance!.reason]).to.deep.equal([400, 'Bad Request (+sip.instance too long)']);
      expect(await h.app.services.db.models.Registration.count({ where: { user_id: alice.id } })).to.equal(0);
    });

    it('does not let an older CSeq of the same Call-ID update a binding', async () => {
      expect((await reg({ callId: 'ooo', cseq: 10, contacts: ['<sip:a@10.0.0.1>'], expires: 300 }))!.status).to.equal(200);
      const older = await reg({ callId: 'ooo', cseq: 2, contacts: ['<sip:a@10.0.0.1>'], expires: 900 });
      expect(older!.status).to.equal(500);
      const q = await reg({ callId: 'other', cseq: 1 });
      expect(contactsOf(q)).to.deep.equal(['<sip:a@10.0.0.1>;expires=300']);
    });

    it('stores contact text exactly (RFC 4475 cparam01), keeps q, and echoes Path when the UA supports it', async () => {
      const raw = '"Quoted string \\"\\"" <sip:jdrosen@example.com> ; newparam = newvalue ; secondparam ; q = 0.33';
      const r = await reg({ contacts: [raw], headers: ['Path: <sip:edge.example.net;lr>', 'Supported: path'] });
      expect(r!.status).to.equal(200);
      expect(headerOf(r!, 'Path')).to.deep.equal(['<sip:edge.example.net;lr>']);
      const row = await h.app.services.db.models.Registration.findOne({ where: { user_id: alice.id } });
      expect(row!.contact_raw).to.equal(raw);
      expect(row!.q).to.be.closeTo(0.33, 0.0001);
      expect(JSON.parse(row!.path!)).to.deep.equal(['<sip:edge.example.net;lr>']);
      expect(contactsOf(r)[0]).to.equal('"Quoted string \\"\\"" <sip:jdrosen@example.com> ; newparam = newvalue ; secondparam ; q = 0.33;expires=3600');
    });

    it('replaces a binding with the same +sip.instance/reg-id from a new address instead of taking a slot (RFC 5626)', async () => {
      const inst = '+sip.instance="<urn:uuid:00000000-0000-1000-8000-000A95A0E128>";reg-id=1';
      await reg({ callId: 'i1', contacts: [`<sip:alice@10.0.0.1:5060>;${inst}`] });
      const moved = await reg({ callId: 'i2', contacts: [`<sip:alice@192.0.2.7:40000>;${inst}`] });
      expect(contactsOf(moved)).to.have.length(1);
      expect(contactsOf(moved)[0]).to.contain('192.0.2.7:40000');
    });

    it('never returns or counts an expired binding, and the sweeper deletes it', async () => {
      await reg({ contacts: ['<sip:a@10.0.0.1>'], expires: 60 });
      h.clock.now += 61_000;
      try {
        expect(contactsOf(await reg({}))).to.deep.equal([]);
        await reg({ contacts: ['<sip:b@10.0.0.1>'], expires: 600 });
        await h.runtime.sweep();
        expect(await h.app.services.db.models.Registration.count({ where: { user_id: alice.id } })).to.equal(1);
      } finally {
        h.clock.now -= 61_000;
      }
    });
  });

  describe('max bindings', () => {
    it('refuses a new device at the limit with 403 Too Many Bindings and a Warning naming the devices, changing nothing', async () => {
      for (let i = 0; i < 3; i++) expect((await reg({ contacts: [`<sip:d${i}@10.0.0.1>`], userAgent: `Yealink T46U ${i}` }))!.status).to.equal(200);
      const r = (await reg({ contacts: ['<sip:d9@10.0.0.1>'] }))!;
      expect([r.status, r.reason]).to.deep.equal([403, 'Too Many Bindings']);
      const w = headerOf(r, 'Warning')[0]!;
      expect(w).to.match(/^399 switchboard "this REGISTER adds 1 new device, max_bindings allows 3; 3 already registered: Yealink T46U 0 since \d{4}-/);
      expect(w).to.contain('Yealink T46U 2');
      expect(await h.app.services.db.models.Registration.count({ where: { user_id: alice.id } })).to.equal(3);
    });

    it('treats a multi-contact REGISTER as all-or-nothing', async () => {
      await reg({ contacts: ['<sip:d0@10.0.0.1>', '<sip:d1@10.0.0.1>'] });
      const r = await reg({ contacts: ['<sip:d2@10.0.0.1>', '<sip:d3@10.0.0.1>'] });
      expect(r!.status).to.equal(403);
      expect(await h.app.services.db.models.Registration.count({ where: { user_id: alice.id } })).to.equal(2);
    });

    it('never blocks refreshes, instance replacements and removals at the limit, even after max_bindings is lowered', async () => {
      const inst = (n: number) => `;+sip.instance="<urn:uuid:00000000-0000-0000-0000-00000000000${n}>"`;
      for (let i = 0; i < 3; i++) await reg({ callId: `c${i}`, contacts: [`<sip:d${i}@10.0.0.1>${inst(i)}`] });
      const low = await h.app.call('PATCH', `/v1/users/${alice.id}`, { token: alice.account.ownerToken, body: { max_bindings: 1 } });
      expect(low.status).to.equal(200);
      expect((await reg({ callId: 'c0', cseq: 5, contacts: [`<sip:d0@10.0.0.1>${inst(0)}`] }))!.status).to.equal(200);
      expect((await reg({ callId: 'cX', contacts: [`<sip:d1@192.0.2.1>${inst(1)}`] }))!.status).to.equal(200);
      expect((await reg({ callId: 'new', contacts: ['<sip:new@10.0.0.1>'] }))!.status).to.equal(403);
      const rm = await reg({ callId: 'c2', cseq: 5, contacts: [`<sip:d2@10.0.0.1>${inst(2)};expires=0`] });
      expect(contactsOf(rm)).to.have.length(2);
    });

    it('evicts the oldest binding under evict_oldest', async () => {
      await h.app.call('PATCH', `/v1/users/${alice.id}`, { token: alice.account.ownerToken, body: { binding_policy: 'evict_oldest' } });
      for (let i = 0; i < 3; i++) {
        await reg({ contacts: [`<sip:d${i}@10.0.0.1>`] });
        h.clock.now += 1000;
      }
      const r = await reg({ contacts: ['<sip:d3@10.0.0.1>'] });
      expect(r!.status).to.equal(200);
      expect(contactsOf(r).map((c) => /sip:(d\d)/.exec(c)![1])).to.deep.equal(['d1', 'd2', 'd3']);
    });

    it('evicts only unreachable bindings under evict_unreachable, then rejects', async () => {
      await h.app.call('PATCH', `/v1/users/${alice.id}`, { token: alice.account.ownerToken, body: { binding_policy: 'evict_unreachable' } });
      for (let i = 0; i < 3; i++) await reg({ contacts: [`<sip:d${i}@10.0.0.1>`] });
      await h.app.services.db.models.Registration.update({ unreachable: true }, { where: { user_id: alice.id, contact_uri: 'sip:d1@10.0.0.1' } });
      const ok = await reg({ contacts: ['<sip:d3@10.0.0.1>'] });
      expect(contactsOf(ok).some((c) => c.includes('sip:d1@'))).to.equal(false);
      expect((await reg({ contacts: ['<sip:d4@10.0.0.1>'] }))!.status).to.equal(403);
    });

    it('lets no device register when max_bindings is 0', async () => {
      const zero = await createSipUser(h.app, { max_bindings: 0 }, alice.account);
      const r = await registerThroughCore(h, { user: zero.username, domain: zero.domain, password: zero.password, contacts: ['<sip:z@10.0.0.1>'] });
      expect(r!.status).to.equal(403);
    });
  });

  describe('protection', () => {
    it('drops known scanner user agents silently', async () => {
      const r = await h.runtime.handler(
        parse(registerText({ user: '100', domain: alice.domain, contacts: ['<sip:a@1.2.3.4>'], userAgent: 'friendly-scanner' })),
        udpContext('127.0.0.50'),
      );
      expect(r).to.equal(null);
    });

    it('bans a source IP after repeated failures: UDP then gets silence', async () => {
      const ctx = udpContext('127.0.0.77');
      let last: SipResponseSpec | null = { status: 0, reason: '', headers: [] };
      for (let i = 0; i < 25 && last !== null; i++) {
        last = await registerThroughCore(h, { user: `guess${i}`, domain: alice.domain, password: 'wrong', contacts: ['<sip:a@1.2.3.4>'], ctx });
      }
      expect(last).to.equal(null);
      expect(h.runtime.isBanned('127.0.0.77')).to.equal(true);
      expect(await h.runtime.handler(parse(registerText({ user: alice.username, domain: alice.domain })), ctx)).to.equal(null);
    });
  });
});
