import { expect } from 'chai';
import { ValidationError } from '../../src/errors.js';
import { createLogger } from '../../src/logger.js';
import { BufferedUsageRecorder } from '../../src/usage/buffered-usage-recorder.js';
import type { UsageEntry } from '../../src/usage/usage-store.js';
import { combine, csvField, resolveRange, smsThresholdFor, splitRange, toCsv } from '../../src/usage/usage-rules.js';

describe('usage rules', () => {
  it("takes a workspace's own SMS threshold, 0 included (off), and the configured one when it set none", () => {
    expect(smsThresholdFor(null, 10)).to.equal(10);
    expect(smsThresholdFor(undefined, 0)).to.equal(0);
    expect(smsThresholdFor(3, 10)).to.equal(3);
    expect(smsThresholdFor(0, 10)).to.equal(0);
    expect(smsThresholdFor(25, 0)).to.equal(25);
  });

  it('adds counters and keeps the maximum of active_devices_peak', () => {
    expect(combine('api_requests', 3, 4)).to.equal(7);
    expect(combine('active_devices_peak', 3, 4)).to.equal(4);
    expect(combine('active_devices_peak', 5, 4)).to.equal(5);
  });

  it('defaults the range to the current month so far, and refuses a reversed or over-long one', () => {
    const now = new Date('2026-12-02T10:00:00Z');
    expect(resolveRange({}, now)).to.deep.equal({ since: '2026-12-01', until: '2026-12-02' });
    expect(resolveRange({ until: '2026-03-15' }, now)).to.deep.equal({ since: '2026-03-01', until: '2026-03-15' });
    expect(resolveRange({ since: '2024-01-01', until: '2024-12-31' }, now)).to.deep.equal({ since: '2024-01-01', until: '2024-12-31' });
    const codeOf = (q: { since?: string; until?: string }) => {
      try {
        resolveRange(q, now);
        return null;
      } catch (err) {
        expect(err).to.be.instanceOf(ValidationError);
        return (err as ValidationError).code;
      }
    };
    expect(codeOf({ since: '2026-05-02', until: '2026-05-01' })).to.equal('invalid_range');
    expect(codeOf({ since: '2025-01-01', until: '2026-01-02' })).to.equal('range_too_long');
  });

  it('splits a range into whole months and the partial months at its ends', () => {
    expect(splitRange({ since: '2025-01-06', until: '2025-03-31' })).to.deep.equal({
      months: ['2025-02', '2025-03'],
      dayRanges: [{ since: '2025-01-06', until: '2025-01-31' }],
    });
    expect(splitRange({ since: '2024-12-02', until: '2025-12-01' }).months).to.have.length(11);
    expect(splitRange({ since: '2024-12-02', until: '2025-12-01' }).dayRanges).to.deep.equal([
      { since: '2024-12-02', until: '2024-12-31' },
      { since: '2025-12-01', until: '2025-12-01' },
    ]);
    expect(splitRange({ since: '2024-02-01', until: '2024-02-29' })).to.deep.equal({ months: ['2024-02'], dayRanges: [] });
    expect(splitRange({ since: '2025-05-10', until: '2025-05-12' })).to.deep.equal({ months: [], dayRanges: [{ since: '2025-05-10', until: '2025-05-12' }] });
  });

  it('writes RFC 4180 CSV, with formula-like text defused', () => {
    expect(csvField('Smith, Jane')).to.equal('"Smith, Jane"');
    expect(csvField('say "hi"')).to.equal('"say ""hi"""');
    expect(csvField('=HYPERLINK("x")')).to.equal(`"'=HYPERLINK(""x"")"`);
    expect(csvField(null)).to.equal('');
    expect(toCsv(['a', 'b'], [[1, 'x']])).to.equal('a,b\r\n1,x\r\n');
  });
});

describe('BufferedUsageRecorder', () => {
  const logger = createLogger('silent');
  const at = new Date('2026-12-02T10:00:00Z');

  it('merges amounts per (account, user, type, day) and writes them in one flush', async () => {
    const written: UsageEntry[][] = [];
    const r = new BufferedUsageRecorder({ write: async (e) => void written.push(e), flushIntervalMs: 60_000, maxKeys: 100, logger });
    for (let i = 0; i < 1000; i++) r.record({ accountId: 1, userId: 2, type: 'api_requests', at });
    r.record({ accountId: 1, userId: 2, type: 'active_devices_peak', amount: 3, at });
    r.record({ accountId: 1, userId: 2, type: 'active_devices_peak', amount: 1, at });
    r.record({ accountId: 1, userId: null, type: 'api_requests', at: new Date('2026-12-03T00:00:00Z') });
    expect(r.pendingKeys).to.equal(3);
    await r.stop();
    expect(written).to.have.length(1);
    expect(written[0]).to.deep.include.members([
      { accountId: 1, userId: 2, type: 'api_requests', day: '2026-12-02', amount: 1000 },
      { accountId: 1, userId: 2, type: 'active_devices_peak', day: '2026-12-02', amount: 3 },
      { accountId: 1, userId: null, type: 'api_requests', day: '2026-12-03', amount: 1 },
    ]);
  });

  it("does not buffer a user's device peak again while the day's held peak already says as much", async () => {
    const written: UsageEntry[][] = [];
    const r = new BufferedUsageRecorder({ write: async (e) => void written.push(e), flushIntervalMs: 60_000, maxKeys: 100, logger });
    const peak = (amount: number, when = at, userId = 2) => r.record({ accountId: 1, userId, type: 'active_devices_peak', amount, at: when });
    peak(2);
    await r.flush();
    // Refreshes of the same two devices, written already: nothing to write again.
    peak(2);
    peak(1);
    expect(r.pendingKeys).to.equal(0);
    // A third device raises it; another user and the next day are their own.
    peak(3);
    peak(1, at, 7);
    peak(1, new Date('2026-12-03T00:00:01Z'));
    expect(r.pendingKeys).to.equal(3);
    // A late report for the day before does not make the next day's peak forgotten.
    peak(3, new Date('2026-12-01T23:59:59Z'));
    peak(1, new Date('2026-12-03T08:00:00Z'));
    await r.stop();
    expect(written[1]).to.have.deep.members([
      { accountId: 1, userId: 2, type: 'active_devices_peak', day: '2026-12-02', amount: 3 },
      { accountId: 1, userId: 7, type: 'active_devices_peak', day: '2026-12-02', amount: 1 },
      { accountId: 1, userId: 2, type: 'active_devices_peak', day: '2026-12-03', amount: 1 },
      { accountId: 1, userId: 2, type: 'active_devices_peak', day: '2026-12-01', amount: 3 },
    ]);
  });

  it('remembers no peak it had to drop: the same peak is buffered once there is room', async () => {
    const r = new BufferedUsageRecorder({ write: async () => {}, flushIntervalMs: 60_000, maxKeys: 1, logger });
    r.record({ accountId: 1, userId: 9, type: 'registrations', at });
    r.record({ accountId: 1, userId: 2, type: 'active_devices_peak', amount: 2, at });
    expect(r.dropped).to.equal(1);
    await r.flush();
    r.record({ accountId: 1, userId: 2, type: 'active_devices_peak', amount: 2, at });
    expect(r.pendingKeys).to.equal(1);
    await r.stop();
  });

  it('never throws: invalid events are dropped and counted', () => {
    const r = new BufferedUsageRecorder({ write: async () => {}, flushIntervalMs: 60_000, maxKeys: 100, logger });
    expect(() => r.record({ accountId: 1, userId: null, type: 'nonsense' as never })).to.not.throw();
    expect(() => r.record({ accountId: 1, userId: null, type: 'api_requests', amount: -1 })).to.not.throw();
    expect(() => r.record({ accountId: 1, userId: null, type: 'api_requests', at: new Date('invalid') })).to.not.throw();
    expect(r.dropped).to.equal(3);
    expect(r.pendingKeys).to.equal(0);
  });

  it('keeps a failed flush for the next one, merged with what arrived meanwhile', async () => {
    let fail = true;
    const written: UsageEntry[][] = [];
    const r = new BufferedUsageRecorder({
      write: async (e) => {
        if (fail) throw new Error('database down');
        written.push(e);
      },
      flushIntervalMs: 60_000,
      maxKeys: 100,
      logger,
    });
    r.record({ accountId: 1, userId: 2, type: 'registrations', amount: 2, at });
    await r.flush();
    r.record({ accountId: 1, userId: 2, type: 'registrations', amount: 5, at });
    fail = false;
    await r.stop();
    expect(written).to.deep.equal([[{ accountId: 1, userId: 2, type: 'registrations', day: '2026-12-02', amount: 7 }]]);
  });

  it('writes a large flush in slices of 500, one after another; a failed slice is kept with the ones after it, the written ones are not counted twice', async () => {
    let calls = 0;
    const written: UsageEntry[][] = [];
    const r = new BufferedUsageRecorder({
      write: async (e) => {
        calls += 1;
        if (calls === 2) throw new Error('database down');
        written.push(e);
      },
      flushIntervalMs: 60_000,
      maxKeys: 10_000,
      logger,
    });
    for (let u = 1; u <= 1200; u++) r.record({ accountId: 1, userId: u, type: 'registrations', amount: 1, at });
    await r.flush();
    expect(written.map((w) => w.length)).to.deep.equal([500]);
    expect(r.pendingKeys, 'the failed slice and the one after it').to.equal(700);
    await r.stop();
    expect(written.map((w) => w.length)).to.deep.equal([500, 500, 200]);
    const users = written.flat().map((e) => e.userId);
    expect(new Set(users).size).to.equal(1200);
    expect(written.flat().every((e) => e.amount === 1)).to.equal(true);
  });

  it('holds at most maxKeys keys: amounts for known keys still merge, new keys are dropped while full', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const r = new BufferedUsageRecorder({ write: () => gate, flushIntervalMs: 60_000, maxKeys: 2, logger });
    r.record({ accountId: 1, userId: 1, type: 'api_requests', at });
    r.record({ accountId: 1, userId: 2, type: 'api_requests', at });
    // Full: this one starts a flush (which takes the two keys) and is dropped.
    r.record({ accountId: 1, userId: 3, type: 'api_requests', at });
    expect(r.dropped).to.equal(1);
    expect(r.pendingKeys).to.equal(0);
    release();
    await r.stop();
  });
});
