import { expect } from 'chai';
import { startTestApp, type TestApp } from '../helpers/test-app.js';
import { createAccount, createMember, createUser, type TestAccount } from '../helpers/factories.js';

describe('GET /v1/audit', () => {
  let app: TestApp;
  let acct: TestAccount;

  before(async () => {
    app = await startTestApp();
    acct = await createAccount(app);
  });
  after(async () => app.stop());

  it("returns the account's entries newest first, with actor, source IP and redacted before/after", async () => {
    const u = await createUser(app, acct.ownerToken, { password: 'a-long-password-1' });
    await app.call('PATCH', `/v1/users/${u.id}`, { token: acct.ownerToken, body: { call_timeout: 40, password: 'another-password-2' } });
    const r = await app.call('GET', `/v1/audit?target_type=user&target_id=${u.id}`, { token: acct.ownerToken });
    expect(r.status).to.equal(200);
    expect(r.body.data.map((e: { action: string }) => e.action)).to.deep.equal(['user.updated', 'user.created']);
    const [updated] = r.body.data;
    expect(updated).to.include({ actor_type: 'user', actor_id: `user:${acct.ownerId}`, target_type: 'user', target_id: String(u.id) });
    expect(updated.source_ip).to.be.a('string');
    expect(updated.before.call_timeout).to.equal(30);
    expect(updated.after).to.include({ call_timeout: 40, password: '[redacted]' });
    const dump = JSON.stringify(r.body);
    for (const secret of ['a-long-password-1', 'another-password-2', u.sip_password, u.oncall_pin]) expect(dump).to.not.include(secret);
  });

  it('filters by actor, action and time window, and pages newest first with the cursor', async () => {
    const fresh = await createAccount(app);
    const { user: admin, token: adminToken } = await createMember(app, fresh.ownerToken, 'admin');
    const t0 = new Date(Date.now() - 1000).toISOString();
    for (let i = 0; i < 3; i++) await createUser(app, adminToken);
    const byAdmin = await app.call('GET', `/v1/audit?actor_id=user:${admin.id}`, { token: fresh.ownerToken });
    expect(byAdmin.body.data).to.have.length(3);
    const ids: number[] = [];
    let cursor: string | null = null;
    do {
      const page: any = await app.call('GET', `/v1/audit?action=user.created&limit=2${cursor ? `&cursor=${cursor}` : ''}`, { token: fresh.ownerToken });
      ids.push(...page.body.data.map((e: { id: number }) => e.id));
      cursor = page.body.next_cursor;
    } while (cursor);
    expect(ids).to.have.length(4); // the admin member and three users
    expect(ids).to.deep.equal([...ids].sort((a, b) => b - a));
    const since = await app.call('GET', `/v1/audit?since=${encodeURIComponent(t0)}&action=user.created`, { token: fresh.ownerToken });
    expect(since.body.data.length).to.be.within(3, 4);
    const future = new Date(Date.now() + 60_000).toISOString();
    expect((await app.call('GET', `/v1/audit?since=${encodeURIComponent(future)}`, { token: fresh.ownerToken })).body.data).to.deep.equal([]);
    expect(
      (await app.call('GET', `/v1/audit?until=${encodeURIComponent(t0)}&action=user.created`, { token: fresh.ownerToken })).body.data,
    ).to.have.length.below(2);
    const bad = await app.call('GET', '/v1/audit?since=yesterday', { token: fresh.ownerToken });
    expect(bad.status).to.equal(400);
    expect(bad.body.error.field).to.equal('since');
  });

  it('is for the owner and admins only: viewers and users get 403', async () => {
    for (const role of ['viewer', 'user'] as const) {
      const { token } = await createMember(app, acct.ownerToken, role);
      const r = await app.call('GET', '/v1/audit', { token });
      expect(r.status).to.equal(403);
      expect(r.body.error.code).to.equal('admin_required');
    }
  });
});
