import { expect } from 'chai';
import { startTestApp, type TestApp } from '../helpers/test-app.js';
import { createAccount, createMember, createUser, type TestAccount } from '../helpers/factories.js';

let seq = 1000;
function e164(): string {
  seq += 1;
  return `+1415${process.pid % 1000}${String(seq).padStart(4, '0')}`.slice(0, 16);
}

describe('Numbers API', () => {
  let app: TestApp;
  let acct: TestAccount;
  const add = async (body: Record<string, unknown> = {}) => {
    const r = await app.call('POST', '/v1/numbers', { token: acct.ownerToken, body: { e164: e164(), ...body } });
    expect(r.status, JSON.stringify(r.body)).to.equal(201);
    return r.body;
  };

  before(async () => {
    app = await startTestApp();
    acct = await createAccount(app);
  });
  after(async () => app.stop());

  it('creates a number with default capabilities and provider, 201 with Location, audited', async () => {
    const num = e164();
    const r = await app.call('POST', '/v1/numbers', { token: acct.ownerToken, body: { e164: num, label: 'Main line' } });
    expect(r.status).to.equal(201);
    expect(r.headers.get('location')).to.equal(`/v1/numbers/${r.body.id}`);
    expect(r.body).to.deep.include({
      e164: num,
      label: 'Main line',
      provider: 'default',
      provider_id: null,
      capabilities: { voice: true, sms: false, fax: false, mms: false },
    });
    const read = await app.call('GET', `/v1/numbers/${r.body.id}`, { token: acct.ownerToken });
    expect(read.body).to.deep.equal(r.body);
    const audit = await app.call('GET', `/v1/audit?target_type=number&target_id=${r.body.id}`, { token: acct.ownerToken });
    expect(audit.body.data.map((e: { action: string }) => e.action)).to.deep.equal(['number.created']);
  });

  it('refuses a number that is not E.164 with 400 naming the field', async () => {
    const r = await app.call('POST', '/v1/numbers', { token: acct.ownerToken, body: { e164: '4155550100' } });
    expect(r.status).to.equal(400);
    expect(r.body.error.field).to.equal('e164');
  });

  it('returns 409 number_taken for a number registered in any account', async () => {
    const other = await createAccount(app);
    const num = e164();
    expect((await app.call('POST', '/v1/numbers', { token: other.ownerToken, body: { e164: num } })).status).to.equal(201);
    const r = await app.call('POST', '/v1/numbers', { token: acct.ownerToken, body: { e164: num } });
    expect(r.status).to.equal(409);
    expect(r.body.error).to.include({ code: 'number_taken', field: 'e164' });
  });

  it('filters the list by capability and walks it with the cursor', async () => {
    const fresh = await createAccount(app);
    for (let i = 0; i < 3; i++) await app.call('POST', '/v1/numbers', { token: fresh.ownerToken, body: { e164: e164(), capabilities: { sms: i !== 1 } } });
    const sms = await app.call('GET', '/v1/numbers?capability=sms', { token: fresh.ownerToken });
    expect(sms.body.data).to.have.length(2);
    const p1 = await app.call('GET', '/v1/numbers?limit=2', { token: fresh.ownerToken });
    const p2 = await app.call('GET', `/v1/numbers?limit=2&cursor=${p1.body.next_cursor}`, { token: fresh.ownerToken });
    expect(p1.body.data).to.have.length(2);
    expect(p2.body.data).to.have.length(1);
    expect(p2.body.next_cursor).to.equal(null);
  });

  it('merges capabilities on PATCH', async () => {
    const n = await add({ capabilities: { sms: true } });
    const r = await app.call('PATCH', `/v1/numbers/${n.id}`, { token: acct.ownerToken, body: { capabilities: { fax: true }, label: 'Fax too' } });
    expect(r.status).to.equal(200);
    expect(r.body.capabilities).to.deep.equal({ voice: true, sms: true, fax: true, mms: false });
  });

  it('refuses deleting a number used as a caller ID with 409 in_use listing the users', async () => {
    const n = await add();
    const u = await createUser(app, acct.ownerToken, { external_caller_id_number: n.e164 });
    const r = await app.call('DELETE', `/v1/numbers/${n.id}`, { token: acct.ownerToken });
    expect(r.status).to.equal(409);
    expect(r.body.error.code).to.equal('in_use');
    expect(r.body.error.referenced_by).to.deep.equal({ users: [u.id] });
    const renumber = await app.call('PATCH', `/v1/numbers/${n.id}`, { token: acct.ownerToken, body: { e164: e164() } });
    expect(renumber.status).to.equal(409);
    expect(renumber.body.error).to.include({ code: 'in_use', field: 'e164' });
    await app.call('PATCH', `/v1/users/${u.id}`, { token: acct.ownerToken, body: { external_caller_id_number: null } });
    expect((await app.call('DELETE', `/v1/numbers/${n.id}`, { token: acct.ownerToken })).status).to.equal(204);
    expect((await app.call('GET', `/v1/numbers/${n.id}`, { token: acct.ownerToken })).status).to.equal(404);
  });

  it('refuses removing SMS from a number some user sends SMS from', async () => {
    const n = await add({ capabilities: { sms: true } });
    const u = await createUser(app, acct.ownerToken, { outbound_sms_number: n.e164, sms_enabled: true });
    const r = await app.call('PATCH', `/v1/numbers/${n.id}`, { token: acct.ownerToken, body: { capabilities: { sms: false } } });
    expect(r.status).to.equal(409);
    expect(r.body.error).to.include({ code: 'in_use', field: 'capabilities.sms' });
    expect(r.body.error.referenced_by).to.deep.equal({ users: [u.id] });
    const del = await app.call('DELETE', `/v1/numbers/${n.id}`, { token: acct.ownerToken });
    expect(del.body.error.referenced_by).to.deep.equal({ users: [u.id] });
  });

  it('refuses deleting a number a fax service receives on, or the account default caller ID', async () => {
    const n = await add({ capabilities: { fax: true } });
    const fax = await app.call('POST', '/v1/fax-services', { token: acct.ownerToken, body: { name: 'Front desk', number_id: n.id } });
    const r = await app.call('DELETE', `/v1/numbers/${n.id}`, { token: acct.ownerToken });
    expect(r.status).to.equal(409);
    expect(r.body.error.referenced_by).to.deep.equal({ fax_services: [fax.body.id] });
    const noFax = await app.call('PATCH', `/v1/numbers/${n.id}`, { token: acct.ownerToken, body: { capabilities: { fax: false } } });
    expect(noFax.status).to.equal(409);

    const d = await add();
    await app.services.db.models.Account.update({ default_caller_id_number: d.e164 }, { where: { id: acct.accountId } });
    const r2 = await app.call('DELETE', `/v1/numbers/${d.id}`, { token: acct.ownerToken });
    expect(r2.status).to.equal(409);
    expect(r2.body.error.referenced_by).to.deep.equal({ account: [acct.accountId] });
    await app.services.db.models.Account.update({ default_caller_id_number: null }, { where: { id: acct.accountId } });
  });

  it('lets a viewer read and refuses it any change', async () => {
    const { token } = await createMember(app, acct.ownerToken, 'viewer');
    expect((await app.call('GET', '/v1/numbers', { token })).status).to.equal(200);
    const r = await app.call('POST', '/v1/numbers', { token, body: { e164: e164() } });
    expect(r.status).to.equal(403);
  });
});
