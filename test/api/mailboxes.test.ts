import { expect } from 'chai';
import { startTestApp, type TestApp } from '../helpers/test-app.js';
import { createAccount, createMember, createUser, type TestAccount } from '../helpers/factories.js';

let n = 7000;
const num = () => String(++n);

describe('Mailboxes API', () => {
  let app: TestApp;
  let acct: TestAccount;
  const mailbox = async (body: Record<string, unknown> = {}) => {
    const r = await app.call('POST', '/v1/mailboxes', { token: acct.ownerToken, body: { number: num(), name: 'Sales', ...body } });
    expect(r.status, JSON.stringify(r.body)).to.equal(201);
    return r.body;
  };

  before(async () => {
    app = await startTestApp();
    acct = await createAccount(app);
  });
  after(async () => app.stop());

  it('creates a mailbox with a write-only PIN: has_pin on read, bcrypt in the table, nothing in the audit', async () => {
    const owner = await createUser(app, acct.ownerToken);
    const r = await app.call('POST', '/v1/mailboxes', {
      token: acct.ownerToken,
      body: { number: '8001', name: 'Support', pin: '48213', owner_user_id: owner.id },
    });
    expect(r.status).to.equal(201);
    expect(r.headers.get('location')).to.equal(`/v1/mailboxes/${r.body.id}`);
    expect(r.body).to.include({ number: '8001', name: 'Support', has_pin: true, owner_user_id: owner.id, new_messages: 0, old_messages: 0 });
    expect(r.body).to.not.have.property('pin');
    const row = await app.services.db.models.Mailbox.findByPk(r.body.id);
    expect(row!.pin_hash).to.match(/^\$2[aby]\$/);
    const audit = await app.call('GET', `/v1/audit?target_type=mailbox&target_id=${r.body.id}`, { token: acct.ownerToken });
    expect(JSON.stringify(audit.body)).to.not.include('48213');
    expect(JSON.stringify(audit.body)).to.not.include(row!.pin_hash!);
  });

  it('refuses a PIN that is not 4–10 digits and a number that is not digits (400)', async () => {
    const r = await app.call('POST', '/v1/mailboxes', { token: acct.ownerToken, body: { number: '80a', name: 'X', pin: '12' } });
    expect(r.status).to.equal(400);
    expect(r.body.error.details.map((d: { field: string }) => d.field)).to.include.members(['number', 'pin']);
  });

  it('returns 409 mailbox_number_taken for a number used in the account, but allows it in another account', async () => {
    const m = await mailbox();
    const r = await app.call('POST', '/v1/mailboxes', { token: acct.ownerToken, body: { number: m.number, name: 'Dup' } });
    expect(r.status).to.equal(409);
    expect(r.body.error).to.include({ code: 'mailbox_number_taken', field: 'number' });
    const other = await createAccount(app);
    expect((await app.call('POST', '/v1/mailboxes', { token: other.ownerToken, body: { number: m.number, name: 'Dup' } })).status).to.equal(201);
  });

  it('ignores message counts sent by a client: they are read-only', async () => {
    const m = await mailbox();
    const r = await app.call('PATCH', `/v1/mailboxes/${m.id}`, { token: acct.ownerToken, body: { new_messages: 5 } });
    expect(r.status).to.equal(400);
    expect(r.body.error.details[0]).to.include({ field: 'new_messages', code: 'unknown_field' });
  });

  it('sets delegates on create, and associates / dissociates through /v1/users/{id}/mailbox-delegations/{mailboxId}', async () => {
    const a = await createUser(app, acct.ownerToken);
    const b = await createUser(app, acct.ownerToken);
    const m = await mailbox({ delegates: [a.id] });
    expect(m.delegates).to.deep.equal([a.id]);
    const put = await app.call('PUT', `/v1/users/${b.id}/mailbox-delegations/${m.id}`, { token: acct.ownerToken });
    expect(put.status).to.equal(204);
    expect((await app.call('PUT', `/v1/users/${b.id}/mailbox-delegations/${m.id}`, { token: acct.ownerToken })).status).to.equal(204);
    expect((await app.call('GET', `/v1/mailboxes/${m.id}`, { token: acct.ownerToken })).body.delegates).to.deep.equal([a.id, b.id].sort((x, y) => x - y));
    expect((await app.call('GET', `/v1/users/${b.id}`, { token: acct.ownerToken })).body.mailbox_delegations).to.deep.equal([m.id]);
    const audit = await app.call('GET', `/v1/audit?target_type=user&target_id=${b.id}&action=user.mailbox_delegation_added`, { token: acct.ownerToken });
    expect(audit.body.data).to.have.length(1);
    expect(audit.body.data[0].after).to.deep.equal({ mailbox_id: m.id });
    expect((await app.call('DELETE', `/v1/users/${b.id}/mailbox-delegations/${m.id}`, { token: acct.ownerToken })).status).to.equal(204);
    const again = await app.call('DELETE', `/v1/users/${b.id}/mailbox-delegations/${m.id}`, { token: acct.ownerToken });
    expect(again.status).to.equal(404);
    expect((await app.call('GET', `/v1/users/${b.id}`, { token: acct.ownerToken })).body.mailbox_delegations).to.deep.equal([]);
  });

  it('refuses delegating to a user id that is not in the account with 422 unknown_user', async () => {
    const r = await app.call('POST', '/v1/mailboxes', { token: acct.ownerToken, body: { number: num(), name: 'X', delegates: [999999] } });
    expect(r.status).to.equal(422);
    expect(r.body.error).to.include({ code: 'unknown_user', field: 'delegates.0' });
  });

  it('changes and clears the PIN on PATCH', async () => {
    const m = await mailbox({ pin: '1234' });
    const r = await app.call('PATCH', `/v1/mailboxes/${m.id}`, { token: acct.ownerToken, body: { pin: null, name: 'Renamed' } });
    expect(r.body).to.include({ has_pin: false, name: 'Renamed' });
  });

  it("refuses deleting a user's primary mailbox or a delegated one with 409 in_use", async () => {
    const u = await createUser(app, acct.ownerToken, { mailbox: 'self' });
    const primary = await app.call('DELETE', `/v1/mailboxes/${u.mailbox.id}`, { token: acct.ownerToken });
    expect(primary.status).to.equal(409);
    expect(primary.body.error.referenced_by).to.deep.equal({ users: [u.id] });

    const d = await createUser(app, acct.ownerToken);
    const m = await mailbox({ delegates: [d.id] });
    const delegated = await app.call('DELETE', `/v1/mailboxes/${m.id}`, { token: acct.ownerToken });
    expect(delegated.status).to.equal(409);
    expect(delegated.body.error.referenced_by).to.deep.equal({ delegated_users: [d.id] });
    await app.call('PATCH', `/v1/mailboxes/${m.id}`, { token: acct.ownerToken, body: { delegates: [] } });
    expect((await app.call('DELETE', `/v1/mailboxes/${m.id}`, { token: acct.ownerToken })).status).to.equal(204);
  });

  it('filters by number, name prefix and owner', async () => {
    const fresh = await createAccount(app);
    const o = await createUser(app, fresh.ownerToken);
    await app.call('POST', '/v1/mailboxes', { token: fresh.ownerToken, body: { number: '901', name: 'Alpha', owner_user_id: o.id } });
    await app.call('POST', '/v1/mailboxes', { token: fresh.ownerToken, body: { number: '902', name: 'Alps' } });
    await app.call('POST', '/v1/mailboxes', { token: fresh.ownerToken, body: { number: '903', name: 'beta' } });
    const names = async (q: string) =>
      (await app.call('GET', `/v1/mailboxes?${q}`, { token: fresh.ownerToken })).body.data.map((m: { name: string }) => m.name);
    expect(await names('name=Alp')).to.deep.equal(['Alpha', 'Alps']);
    expect(await names('number=903')).to.deep.equal(['beta']);
    expect(await names(`owner_user_id=${o.id}`)).to.deep.equal(['Alpha']);
  });

  it('lets only admins delegate', async () => {
    const { user, token } = await createMember(app, acct.ownerToken, 'user');
    const m = await mailbox();
    expect((await app.call('PUT', `/v1/users/${user.id}/mailbox-delegations/${m.id}`, { token })).status).to.equal(403);
  });
});
