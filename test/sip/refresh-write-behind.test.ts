import { expect } from 'chai';
import mysql from 'mysql2';
import { createAccount } from '../helpers/factories.js';
import { TEST_DIALECT } from '../helpers/test-database.js';
import { createSipUser, startRegistrar, type RegistrarHarness, type SipTestUser } from './registrar-helpers.js';
import { SipPhone } from './sip-phone.js';
import { RefreshWriteBehind } from '../../sip/registrar/refresh-write-behind.js';
import { sleep } from './helpers.js';
import { loadConfig } from '../../src/config.js';

const status = (text: string) => Number(text.slice(8, 11));
const contactExpires = (text: string) => Number(/;expires=(\d+)/.exec(text)?.[1]);

/**
 * On MySQL a plain refresh is answered from an unlocked read and written
 * with the other refreshes of the flush interval; on SQLite every REGISTER
 * is written before its answer. Either way the database must end up with
 * what the 200 said, and never with less.
 */
describe(`refreshes ${TEST_DIALECT === 'mysql' ? 'written behind (MySQL)' : 'written before the answer (SQLite)'}`, function () {
  this.timeout(20_000);
  const deferred = TEST_DIALECT === 'mysql';
  let h: RegistrarHarness;
  let user: SipTestUser;
  const phones: SipPhone[] = [];

  const stored = async () => {
    const rows = await h.app.services.db.models.Registration.findAll({ where: { user_id: user.id }, order: [['id', 'ASC']] });
    return rows.map((r) => ({
      expiresAt: r.get('expires_at').getTime(),
      cseq: Number(r.get('cseq')),
      sourcePort: Number(r.get('source_port')),
      contact: String(r.get('contact_uri')),
    }));
  };
  const phone = async () => {
    const p = await SipPhone.open('udp', h.edge!.port('udp'));
    phones.push(p);
    return p;
  };
  const register = (p: SipPhone, extra: Partial<Parameters<SipPhone['register']>[0]> = {}) =>
    p.register({ user: user.username, domain: user.domain, password: user.password, expires: 3600, ...extra });

  beforeEach(async () => {
    // A long flush interval: the tests flush by hand, so what they see before that is what a REGISTER wrote itself.
    h = await startRegistrar({
      edge: ['udp'],
      sip: { registrar: { refreshWriteBehind: { enabled: true, flushMs: 5000, safetySeconds: 30, maxBatch: 1000 } } },
    });
    const account = await createAccount(h.app);
    user = await createSipUser(h.app, { max_bindings: 2 }, account);
  });
  afterEach(async () => {
    for (const p of phones.splice(0)) await p.close();
    await h.stop();
  });

  it('answers a refresh with the new expiry and has it in the database after the flush, the count unchanged', async () => {
    const p = await phone();
    const t0 = h.clock.now;
    expect(status(await register(p))).to.equal(200);
    // Not a whole second: the flush must keep the milliseconds of the expiry.
    h.clock.now += 1800_123;
    const ok = await register(p);
    expect(status(ok)).to.equal(200);
    expect(contactExpires(ok)).to.equal(3600);
    const before = await stored();
    expect(before).to.have.length(1);
    if (deferred) {
      expect(before[0]!.expiresAt, 'not written yet').to.equal(t0 + 3600_000);
      expect(h.runtime.refreshes!.size).to.equal(1);
      await h.runtime.refreshes!.flush();
    }
    const after = await stored();
    expect(after).to.have.length(1);
    expect(after[0]!.expiresAt).to.equal(h.clock.now + 3600_000);
    expect(after[0]!.cseq).to.equal(4);
  });

  it('flushes a Call-ID with quotes and backslashes (RFC 3261 word characters) intact', async () => {
    const p = await phone();
    const callId = `q"u\\o't\\e-${p.port}@[::1]`;
    (p as { callId: string }).callId = callId;
    expect(status(await register(p))).to.equal(200);
    h.clock.now += 600_000;
    expect(status(await register(p))).to.equal(200);
    await h.runtime.refreshes?.flush();
    const row = await h.app.services.db.models.Registration.findOne({ where: { user_id: user.id } });
    expect(row!.get('call_id')).to.equal(callId);
    expect(Number(row!.get('cseq'))).to.equal(4);
    expect(row!.get('expires_at').getTime()).to.equal(h.clock.now + 3600_000);
  });

  it('writes a refresh before answering when the stored expiry is within the safety margin', async () => {
    const p = await phone();
    expect(status(await register(p, { expires: 120 }))).to.equal(200);
    h.clock.now += 95_000; // 25 s left: less than safetySeconds (30) plus a flush interval
    expect(status(await register(p, { expires: 120 }))).to.equal(200);
    expect((await stored())[0]!.expiresAt).to.equal(h.clock.now + 120_000);
    if (deferred) expect(h.runtime.refreshes!.size).to.equal(0);
  });

  it('writes a REGISTER of the same contact from a new source address before answering', async () => {
    const p = await phone();
    expect(status(await register(p))).to.equal(200);
    const moved = await phone();
    h.clock.now += 600_000;
    // Same Contact, new socket: a phone behind a NAT whose mapping changed.
    expect(status(await register(moved, { contact: p.ownContact }))).to.equal(200);
    const rows = await stored();
    expect(rows).to.have.length(1);
    expect(rows[0]!.sourcePort).to.equal(moved.port);
    expect(rows[0]!.expiresAt).to.equal(h.clock.now + 3600_000);
  });

  it('orders a later REGISTER of the same Call-ID against the deferred refresh, not the stored row', async () => {
    const p = await phone();
    expect(status(await register(p))).to.equal(200); // CSeq 1 (challenged), 2
    h.clock.now += 60_000;
    expect(status(await register(p))).to.equal(200); // 3, 4: deferred on MySQL
    // A stale request: its authorised CSeq (3) is above the stored row's (2) but below the deferred refresh's (4).
    const stale = await register(p, { cseq: 2 });
    expect(status(stale)).to.equal(500);
    await h.runtime.refreshes?.flush();
    expect((await stored())[0]!.cseq).to.equal(4);
  });

  it('keeps an unregister that came after a deferred refresh', async () => {
    const p = await phone();
    expect(status(await register(p))).to.equal(200);
    h.clock.now += 60_000;
    expect(status(await register(p))).to.equal(200);
    expect(status(await register(p, { expires: 0 }))).to.equal(200);
    await h.runtime.refreshes?.flush();
    expect(await stored()).to.deep.equal([]);
  });

  it('keeps the newer write when the binding moved before the deferred refresh was flushed', async () => {
    const p = await phone();
    expect(status(await register(p))).to.equal(200);
    h.clock.now += 60_000;
    expect(status(await register(p))).to.equal(200); // deferred on MySQL
    const moved = await phone();
    h.clock.now += 1_000;
    expect(status(await register(moved, { contact: p.ownContact }))).to.equal(200);
    await h.runtime.refreshes?.flush();
    const rows = await stored();
    expect(rows).to.have.length(1);
    expect(rows[0]!.sourcePort).to.equal(moved.port);
    expect(rows[0]!.expiresAt).to.equal(h.clock.now + 3600_000);
  });

  it('still refuses a device past max_bindings while the others refresh', async () => {
    const [a, b, c] = [await phone(), await phone(), await phone()];
    expect(status(await register(a))).to.equal(200);
    expect(status(await register(b))).to.equal(200);
    h.clock.now += 60_000;
    expect(status(await register(a))).to.equal(200);
    expect(status(await register(b))).to.equal(200);
    const refused = await register(c);
    expect(refused).to.match(/^SIP\/2\.0 403 Too Many Bindings/);
    await h.runtime.refreshes?.flush();
    expect(await stored()).to.have.length(2);
  });

  it('writes what it answered when the registrar stops', async () => {
    const p = await phone();
    expect(status(await register(p))).to.equal(200);
    h.clock.now += 1800_000;
    expect(status(await register(p))).to.equal(200);
    await h.runtime.stop();
    expect((await stored())[0]!.expiresAt).to.equal(h.clock.now + 3600_000);
  });
});

/** A stored UDP binding and a plain refresh of it, as tryDefer sees them; `over` changes columns of either. */
function storedBinding(nowMs: number, over: Record<string, unknown> = {}): never {
  return {
    id: 1,
    ...SAME_PLACE,
    node_id: 'edge/w1',
    unreachable: 0,
    call_id: 'c',
    cseq: 1,
    expires_at: new Date(nowMs + 600_000),
    updated_at: new Date(nowMs),
    ...over,
  } as never;
}
function refreshOf(nowMs: number, over: Record<string, unknown> = {}): never {
  const values = { ...SAME_PLACE, node_id: 'edge/w1', call_id: 'c', cseq: 2, expires_at: new Date(nowMs + 3_600_000), updated_at: new Date(nowMs), ...over };
  return {
    kind: 'write',
    drop: [],
    inserts: [],
    updates: [{ id: 1, values }],
    change: { created: [], updated: [], removed: [], evicted: [], expired: [] },
  } as never;
}
const SAME_PLACE = {
  aor: 'sip:a@x',
  contact_uri: 'sip:a@1.2.3.4',
  contact_raw: '<sip:a@1.2.3.4>',
  q: null,
  instance_id: null,
  reg_id: null,
  path: null,
  transport: 'udp',
  source_address: '1.2.3.4',
  source_port: 5060,
  connection_id: null,
  user_agent: null,
};
const at = (nowMs: number) => ({ now: new Date(nowMs) }) as never;
// A port nothing listens on: every flush fails at connect.
const unreachablePool = () => mysql.createPool({ host: '127.0.0.1', port: 9, user: 'root', connectTimeout: 500 });
const endPool = (pool: mysql.Pool) => new Promise<void>((r) => pool.end(() => r()));

describe('RefreshWriteBehind when the database is unreachable', () => {
  it('keeps a refresh for the next flush until its deadline, then reports it lost', async () => {
    const pool = unreachablePool();
    const now = { ms: Date.UTC(2026, 0, 1) };
    const errors: number[] = [];
    const w = new RefreshWriteBehind(pool, { flushMs: 100, safetyMs: 10_000, maxBatch: 10, now: () => now.ms, onError: (_e, lost) => errors.push(lost) });
    try {
      expect(w.tryDefer(refreshOf(now.ms), [storedBinding(now.ms, { expires_at: new Date(now.ms + 60_000) })], at(now.ms))).to.equal(true);
      await w.flush();
      expect(errors).to.deep.equal([0]);
      expect(w.size, 'kept for the next flush').to.equal(1);
      now.ms += 51_000; // past the stored expiry minus the safety margin
      await w.flush();
      expect(errors).to.deep.equal([0, 1]);
      expect(w.size).to.equal(0);
    } finally {
      await endPool(pool);
    }
  });

  it('does not defer a refresh whose stored expiry is within the margin', async () => {
    const pool = unreachablePool();
    const w = new RefreshWriteBehind(pool, { flushMs: 100, safetyMs: 10_000, maxBatch: 10, onError: () => {} });
    const nowMs = Date.now();
    expect(
      w.tryDefer(refreshOf(nowMs, { expires_at: new Date(nowMs + 60_000) }), [storedBinding(nowMs, { expires_at: new Date(nowMs + 9_000) })], at(nowMs)),
    ).to.equal(false);
    expect(
      w.tryDefer(refreshOf(nowMs), [storedBinding(nowMs, { expires_at: new Date(nowMs + 30_000), source_port: 2 })], at(nowMs)),
      'another source port',
    ).to.equal(false);
    expect(w.size).to.equal(0);
    await sleep(0);
    await endPool(pool);
  });

  it('treats a UDP binding refreshed through a sibling SIP worker as the same place, a TCP one or another node as a move', async () => {
    const pool = unreachablePool();
    const w = new RefreshWriteBehind(pool, {
      flushMs: 100,
      safetyMs: 10_000,
      maxBatch: 10,
      onError: () => {},
      socketSiblings: new Set(['edge/w1', 'edge/w2']),
    });
    const nowMs = Date.now();
    expect(w.tryDefer(refreshOf(nowMs, { node_id: 'edge/w2' }), [storedBinding(nowMs)], at(nowMs)), 'UDP via a sibling worker').to.equal(true);
    expect(w.tryDefer(refreshOf(nowMs, { node_id: 'other-host/w1' }), [storedBinding(nowMs)], at(nowMs)), 'another node').to.equal(false);
    expect(
      w.tryDefer(
        refreshOf(nowMs, { node_id: 'edge/w2', connection_id: 'k1', transport: 'tcp' }),
        [storedBinding(nowMs, { connection_id: 'k1', transport: 'tcp' })],
        at(nowMs),
      ),
      'a connection lives in one worker',
    ).to.equal(false);
    await endPool(pool);
  });

  it('refuses a configuration whose safety margin is shorter than five flush intervals, naming the setting', () => {
    expect(() => loadConfig({ sip: { registrar: { refreshWriteBehind: { enabled: true, flushMs: 2000, safetySeconds: 5, maxBatch: 100 } } } })).to.throw(
      /sip\.registrar\.refreshWriteBehind\.safetySeconds: safetySeconds must be at least five flush intervals/,
    );
  });
});
