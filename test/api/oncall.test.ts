import { expect } from 'chai';
import { startTestApp, type TestApp } from '../helpers/test-app.js';
import { createAccount, createMember, createUser, type TestAccount } from '../helpers/factories.js';

const H = 3_600_000;
const iso = (ms: number) => new Date(ms).toISOString();

describe('OnCall API', () => {
  let app: TestApp;
  let acct: TestAccount;

  before(async () => {
    app = await startTestApp();
    acct = await createAccount(app);
  });
  after(async () => app.stop());

  async function schedule(fields: Record<string, unknown> = {}): Promise<any> {
    const r = await app.call('POST', '/v1/oncall/schedules', {
      token: acct.ownerToken,
      body: { name: `Sched ${Math.random()}`, timezone: 'Europe/Paris', ...fields },
    });
    expect(r.status, JSON.stringify(r.body)).to.equal(201);
    return r.body;
  }

  async function shift(scheduleId: number, userId: number, startMs: number, endMs: number) {
    return app.call('POST', `/v1/oncall/schedules/${scheduleId}/shifts`, {
      token: acct.ownerToken,
      body: { user_id: userId, starts_at: iso(startMs), ends_at: iso(endMs) },
    });
  }

  describe('schedules', () => {
    it("creates a schedule in the account's time zone by default and audits it", async () => {
      const r = await app.call('POST', '/v1/oncall/schedules', { token: acct.ownerToken, body: { name: 'Network', description: 'core network' } });
      expect(r.status).to.equal(201);
      expect(r.headers.get('location')).to.equal(`/v1/oncall/schedules/${r.body.id}`);
      expect(r.body).to.include({ name: 'Network', timezone: 'UTC', description: 'core network' });
      const audit = await app.services.db.models.AuditEntry.findOne({ where: { action: 'oncall_schedule.created', target_id: String(r.body.id) } });
      expect(audit?.actor_type).to.equal('user');
    });

    it('returns 400 for a time zone that is not IANA and 409 schedule_name_taken for a duplicate name', async () => {
      const bad = await app.call('POST', '/v1/oncall/schedules', { token: acct.ownerToken, body: { name: 'X', timezone: 'Mars/Olympus' } });
      expect(bad.status).to.equal(400);
      expect(bad.body.error.field).to.equal('timezone');
      const s = await schedule();
      const dup = await app.call('POST', '/v1/oncall/schedules', { token: acct.ownerToken, body: { name: s.name } });
      expect(dup.status).to.equal(409);
      expect(dup.body.error).to.include({ code: 'schedule_name_taken', field: 'name' });
    });

    it('lets viewers read but refuses their writes with 403', async () => {
      const viewer = await createMember(app, acct.ownerToken, 'viewer');
      const s = await schedule();
      expect((await app.call('GET', `/v1/oncall/schedules/${s.id}`, { token: viewer.token })).status).to.equal(200);
      const w = await app.call('POST', '/v1/oncall/schedules', { token: viewer.token, body: { name: 'nope' } });
      expect(w.status).to.equal(403);
      const u = await createUser(app, acct.ownerToken);
      const sh = await app.call('POST', `/v1/oncall/schedules/${s.id}/shifts`, {
        token: viewer.token,
        body: { user_id: u.id, starts_at: iso(Date.now() + H), ends_at: iso(Date.now() + 2 * H) },
      });
      expect(sh.status).to.equal(403);
    });

    it("answers 404 for another account's schedule", async () => {
      const other = await createAccount(app);
      const s = await schedule();
      const r = await app.call('GET', `/v1/oncall/schedules/${s.id}`, { token: other.ownerToken });
      expect(r.status).to.equal(404);
      expect(r.body.error.code).to.equal('oncall_schedule_not_found');
      const w = await app.call('POST', `/v1/oncall/schedules/${s.id}/shifts`, {
        token: other.ownerToken,
        body: { user_id: acct.ownerId, starts_at: iso(Date.now() + H), ends_at: iso(Date.now() + 2 * H) },
      });
      expect(w.status).to.equal(404);
    });
  });

  describe('shifts', () => {
    it('creates a shift with its reminder armed at starts_at minus the user remind minutes', async () => {
      const s = await schedule();
      const u = await createUser(app, acct.ownerToken, { oncall_remind_minutes: 45 });
      const start = Date.UTC(2031, 0, 10, 8, 0);
      const r = await shift(s.id, u.id, start, start + 8 * H);
      expect(r.status).to.equal(201);
      expect(r.body).to.include({ user_id: u.id, schedule_id: s.id, starts_at: iso(start), ends_at: iso(start + 8 * H) });
      expect(r.body.reminder).to.deep.include({ remind_at: iso(start - 45 * 60_000), status: 'pending', reminded_at: null, late: false });
    });

    it('refuses an overlapping shift of the same user in the schedule with 409 shift_overlap naming the other shift', async () => {
      const s = await schedule();
      const u = await createUser(app, acct.ownerToken);
      const start = Date.UTC(2031, 1, 1, 9);
      const first = await shift(s.id, u.id, start, start + 8 * H);
      const r = await shift(s.id, u.id, start + 4 * H, start + 12 * H);
      expect(r.status).to.equal(409);
      expect(r.body.error).to.include({ code: 'shift_overlap', field: 'starts_at', conflicting_shift_id: first.body.id });
      expect(r.body.error.message).to.include(`shift ${first.body.id}`);
      // Back to back is not an overlap; another user, or another schedule, is fine.
      expect((await shift(s.id, u.id, start + 8 * H, start + 10 * H)).status).to.equal(201);
      const v = await createUser(app, acct.ownerToken);
      expect((await shift(s.id, v.id, start + 4 * H, start + 12 * H)).status).to.equal(201);
      const s2 = await schedule();
      expect((await shift(s2.id, u.id, start + 4 * H, start + 12 * H)).status).to.equal(201);
    });

    it('refuses a move that would overlap, and 422 shift_ends_before_start', async () => {
      const s = await schedule();
      const u = await createUser(app, acct.ownerToken);
      const start = Date.UTC(2031, 2, 1, 9);
      const a = await shift(s.id, u.id, start, start + H);
      const b = await shift(s.id, u.id, start + 2 * H, start + 3 * H);
      const move = await app.call('PATCH', `/v1/oncall/schedules/${s.id}/shifts/${b.body.id}`, {
        token: acct.ownerToken,
        body: { starts_at: iso(start + 30 * 60_000) },
      });
      expect(move.status).to.equal(409);
      expect(move.body.error.conflicting_shift_id).to.equal(a.body.id);
      const back = await shift(s.id, u.id, start + 5 * H, start + 4 * H);
      expect(back.status).to.equal(422);
      expect(back.body.error).to.include({ code: 'shift_ends_before_start', field: 'ends_at' });
      const ghost = await shift(s.id, 999999, start + 6 * H, start + 7 * H);
      expect(ghost.status).to.equal(422);
      expect(ghost.body.error).to.include({ code: 'unknown_user', field: 'user_id' });
    });

    it('moving starts_at re-arms the reminder and the change is audited', async () => {
      const s = await schedule();
      const u = await createUser(app, acct.ownerToken, { oncall_remind_minutes: 10 });
      const start = Date.UTC(2031, 3, 1, 9);
      const a = await shift(s.id, u.id, start, start + H);
      const r = await app.call('PATCH', `/v1/oncall/schedules/${s.id}/shifts/${a.body.id}`, {
        token: acct.ownerToken,
        body: { starts_at: iso(start - H), note: 'earlier' },
      });
      expect(r.status).to.equal(200);
      expect(r.body.reminder.remind_at).to.equal(iso(start - H - 10 * 60_000));
      const audit = await app.services.db.models.AuditEntry.findOne({ where: { action: 'oncall_shift.updated', target_id: String(a.body.id) } });
      expect(audit?.after).to.deep.include({ starts_at: iso(start - H), note: 'earlier' });
    });

    it("changing the user's oncall_remind_minutes moves their pending reminders", async () => {
      const s = await schedule();
      const u = await createUser(app, acct.ownerToken, { oncall_remind_minutes: 10 });
      const start = Date.UTC(2031, 4, 1, 9);
      const a = await shift(s.id, u.id, start, start + H);
      const p = await app.call('PATCH', `/v1/users/${u.id}`, { token: acct.ownerToken, body: { oncall_remind_minutes: 90 } });
      expect(p.status).to.equal(200);
      const r = await app.call('GET', `/v1/oncall/schedules/${s.id}/shifts/${a.body.id}`, { token: acct.ownerToken });
      expect(r.body.reminder.remind_at).to.equal(iso(start - 90 * 60_000));
    });

    it('deletes a shift (404 afterwards) and audits the deletion', async () => {
      const s = await schedule();
      const u = await createUser(app, acct.ownerToken);
      const a = await shift(s.id, u.id, Date.UTC(2031, 5, 1), Date.UTC(2031, 5, 1, 4));
      expect((await app.call('DELETE', `/v1/oncall/schedules/${s.id}/shifts/${a.body.id}`, { token: acct.ownerToken })).status).to.equal(204);
      expect((await app.call('GET', `/v1/oncall/schedules/${s.id}/shifts/${a.body.id}`, { token: acct.ownerToken })).status).to.equal(404);
      expect(await app.services.db.models.AuditEntry.count({ where: { action: 'oncall_shift.deleted', target_id: String(a.body.id) } })).to.equal(1);
    });

    it('GET /now names who is on call at this instant', async () => {
      const s = await schedule();
      const on = await createUser(app, acct.ownerToken, { name: 'On Duty' });
      const off = await createUser(app, acct.ownerToken);
      const now = Date.now();
      const cur = await shift(s.id, on.id, now - H, now + H);
      await shift(s.id, off.id, now + H, now + 2 * H);
      const r = await app.call('GET', `/v1/oncall/schedules/${s.id}/now`, { token: acct.ownerToken });
      expect(r.status).to.equal(200);
      expect(r.body.on_call).to.deep.equal([
        { user_id: on.id, name: 'On Duty', extension: on.extension, shift_id: cur.body.id, starts_at: cur.body.starts_at, ends_at: cur.body.ends_at },
      ]);
    });

    it('GET /v1/users/{id}/oncall-shifts shows a user their own shifts across schedules, in time order, paginated', async () => {
      const member = await createMember(app, acct.ownerToken, 'user');
      const s1 = await schedule();
      const s2 = await schedule();
      const t = Date.UTC(2031, 6, 1);
      const b = await shift(s2.id, member.user.id, t + 5 * H, t + 6 * H);
      const a = await shift(s1.id, member.user.id, t, t + H);
      const c = await shift(s1.id, member.user.id, t + 10 * H, t + 11 * H);
      const p1 = await app.call('GET', `/v1/users/${member.user.id}/oncall-shifts?limit=2`, { token: member.token });
      expect(p1.status).to.equal(200);
      expect(p1.body.data.map((x: any) => x.id)).to.deep.equal([a.body.id, b.body.id]);
      const p2 = await app.call('GET', `/v1/users/${member.user.id}/oncall-shifts?limit=2&cursor=${p1.body.next_cursor}`, { token: member.token });
      expect(p2.body.data.map((x: any) => x.id)).to.deep.equal([c.body.id]);
      expect(p2.body.next_cursor).to.equal(null);
      // A plain user cannot look at someone else's.
      const other = await app.call('GET', `/v1/users/${acct.ownerId}/oncall-shifts`, { token: member.token });
      expect(other.status).to.equal(404);
    });
  });

  describe('rotations', () => {
    it('materialises a weekly rotation into alternating shifts up to the horizon, once', async () => {
      const s = await schedule({ timezone: 'America/New_York' });
      const a = await createUser(app, acct.ownerToken);
      const b = await createUser(app, acct.ownerToken);
      const startDate = new Date(Date.now() + 2 * 86_400_000).toISOString().slice(0, 10);
      const r = await app.call('POST', `/v1/oncall/schedules/${s.id}/rotations`, {
        token: acct.ownerToken,
        body: { name: 'Weekly', user_ids: [a.id, b.id], period_unit: 'weeks', period_count: 1, start_date: startDate, handoff_time: '09:00', horizon_days: 30 },
      });
      expect(r.status, JSON.stringify(r.body)).to.equal(201);
      const list = await app.call('GET', `/v1/oncall/schedules/${s.id}/shifts?limit=200`, { token: acct.ownerToken });
      const shifts = list.body.data;
      expect(shifts.length).to.equal(r.body.shifts_created).and.to.be.within(4, 5);
      expect(shifts.map((x: any) => x.user_id).slice(0, 4)).to.deep.equal([a.id, b.id, a.id, b.id]);
      for (let i = 1; i < shifts.length; i++) expect(shifts[i].starts_at).to.equal(shifts[i - 1].ends_at);
      // Re-running the materialisation creates nothing twice.
      const rotation = await app.services.db.models.OncallRotation.findByPk(r.body.id);
      await rotation!.update({ next_materialise_at: new Date(0) });
      await app.services.oncall.materialiseDueRotations(new Date());
      expect(await app.services.db.models.OncallShift.count({ where: { rotation_id: r.body.id } })).to.equal(shifts.length);
    });

    it('refuses a rotation naming a user of another account with 422 unknown_user', async () => {
      const s = await schedule();
      const other = await createAccount(app);
      const r = await app.call('POST', `/v1/oncall/schedules/${s.id}/rotations`, {
        token: acct.ownerToken,
        body: { name: 'R', user_ids: [other.ownerId], period_unit: 'days', period_count: 1, start_date: '2031-01-01', handoff_time: '09:00' },
      });
      expect(r.status).to.equal(422);
      expect(r.body.error).to.include({ code: 'unknown_user', field: 'user_ids.0' });
    });
  });
});

describe('POST /v1/oncall/verify-pin', () => {
  let app: TestApp;
  let acct: TestAccount;

  before(async () => {
    app = await startTestApp({ oncall: { pinThrottle: { userFailures: 3, ipFailures: 100, windowSeconds: 600, blockSeconds: 600 } } });
    acct = await createAccount(app);
  });
  after(async () => app.stop());

  const verify = (extension: string, pin: string, token = acct.ownerToken) => app.call('POST', '/v1/oncall/verify-pin', { token, body: { extension, pin } });

  it('answers valid:true for the right PIN and valid:false for a wrong PIN or an unknown extension alike', async () => {
    const u = await createUser(app, acct.ownerToken);
    expect((await verify(u.extension, u.oncall_pin)).body).to.deep.equal({ valid: true });
    const wrong = await verify(u.extension, u.oncall_pin === '000000' ? '111111' : '000000');
    const unknown = await verify('98765', '123456');
    expect(wrong.status).to.equal(200);
    expect(unknown.status).to.equal(200);
    expect(wrong.body).to.deep.equal({ valid: false });
    expect(unknown.body).to.deep.equal(wrong.body);
  });

  it('refuses with 429 after 3 failures for an extension, even the right PIN, and the same for an unknown extension', async () => {
    const u = await createUser(app, acct.ownerToken);
    for (let i = 0; i < 3; i++) expect((await verify(u.extension, '0000000')).body.valid).to.equal(false);
    const blocked = await verify(u.extension, u.oncall_pin);
    expect(blocked.status).to.equal(429);
    expect(blocked.body.error.code).to.equal('too_many_attempts');
    expect(Number(blocked.headers.get('retry-after'))).to.be.greaterThan(0);
    for (let i = 0; i < 3; i++) await verify('97531', '0000000');
    expect((await verify('97531', '0000000')).status).to.equal(429);
  });

  it('is refused to plain users (only the IVR account credential may check PINs)', async () => {
    const member = await createMember(app, acct.ownerToken, 'user');
    const r = await verify(member.user.extension, '123456', member.token);
    expect(r.status).to.equal(403);
  });
});

describe('POST /v1/oncall/verify-pin per source address', () => {
  let app: TestApp;
  let acct: TestAccount;

  before(async () => {
    app = await startTestApp({ oncall: { pinThrottle: { userFailures: 100, ipFailures: 4, windowSeconds: 600, blockSeconds: 600 } } });
    acct = await createAccount(app);
  });
  after(async () => app.stop());

  it('refuses with 429 once one address has failed 4 times, whatever extension it tries next', async () => {
    const u = await createUser(app, acct.ownerToken);
    for (const ext of ['90001', '90002', '90003', '90004']) {
      expect((await app.call('POST', '/v1/oncall/verify-pin', { token: acct.ownerToken, body: { extension: ext, pin: '1234' } })).status).to.equal(200);
    }
    const r = await app.call('POST', '/v1/oncall/verify-pin', { token: acct.ownerToken, body: { extension: u.extension, pin: u.oncall_pin } });
    expect(r.status).to.equal(429);
  });
});
