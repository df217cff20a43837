import { expect } from 'chai';
import { startTestApp, type TestApp } from '../helpers/test-app.js';
import { createAccount, createUser, type TestAccount } from '../helpers/factories.js';

let seq = 0;
const e164 = () => `+1646${String(process.pid % 1000).padStart(3, '0')}${String(++seq).padStart(4, '0')}`;

describe('Fax services API', () => {
  let app: TestApp;
  let acct: TestAccount;
  const number = async (caps: Record<string, boolean>) =>
    (await app.call('POST', '/v1/numbers', { token: acct.ownerToken, body: { e164: e164(), capabilities: caps } })).body;

  before(async () => {
    app = await startTestApp();
    acct = await createAccount(app);
  });
  after(async () => app.stop());

  it('creates a fax service on a fax-capable number with 201 and Location', async () => {
    const n = await number({ fax: true });
    const r = await app.call('POST', '/v1/fax-services', {
      token: acct.ownerToken,
      body: { name: 'Front desk', number_id: n.id, notify_email: 'fax@example.com' },
    });
    expect(r.status).to.equal(201);
    expect(r.headers.get('location')).to.equal(`/v1/fax-services/${r.body.id}`);
    expect(r.body).to.include({ name: 'Front desk', number_id: n.id, notify_email: 'fax@example.com' });
  });

  it('refuses a number that cannot receive faxes with 422 number_not_fax_capable', async () => {
    const n = await number({ fax: false });
    const r = await app.call('POST', '/v1/fax-services', { token: acct.ownerToken, body: { name: 'X', number_id: n.id } });
    expect(r.status).to.equal(422);
    expect(r.body.error).to.include({ code: 'number_not_fax_capable', field: 'number_id' });
  });

  it('refuses an unknown number id with 422 unknown_number and a bad email with 400', async () => {
    const r = await app.call('POST', '/v1/fax-services', { token: acct.ownerToken, body: { name: 'X', number_id: 999999 } });
    expect(r.status).to.equal(422);
    expect(r.body.error).to.include({ code: 'unknown_number', field: 'number_id' });
    const bad = await app.call('POST', '/v1/fax-services', { token: acct.ownerToken, body: { name: 'X', number_id: 1, notify_email: 'nope' } });
    expect(bad.status).to.equal(400);
    expect(bad.body.error.field).to.equal('notify_email');
  });

  it('moves to another fax-capable number on PATCH and lists by number', async () => {
    const a = await number({ fax: true });
    const b = await number({ fax: true });
    const f = (await app.call('POST', '/v1/fax-services', { token: acct.ownerToken, body: { name: 'Moving', number_id: a.id } })).body;
    const r = await app.call('PATCH', `/v1/fax-services/${f.id}`, { token: acct.ownerToken, body: { number_id: b.id } });
    expect(r.body.number_id).to.equal(b.id);
    const list = await app.call('GET', `/v1/fax-services?number_id=${b.id}`, { token: acct.ownerToken });
    expect(list.body.data.map((x: { id: number }) => x.id)).to.deep.equal([f.id]);
  });

  it('refuses deleting a fax service users are assigned to with 409 in_use', async () => {
    const n = await number({ fax: true });
    const f = (await app.call('POST', '/v1/fax-services', { token: acct.ownerToken, body: { name: 'Used', number_id: n.id } })).body;
    const u = await createUser(app, acct.ownerToken, { fax_service_id: f.id });
    const r = await app.call('DELETE', `/v1/fax-services/${f.id}`, { token: acct.ownerToken });
    expect(r.status).to.equal(409);
    expect(r.body.error).to.deep.include({ code: 'in_use', referenced_by: { users: [u.id] } });
    await app.call('PATCH', `/v1/users/${u.id}`, { token: acct.ownerToken, body: { fax_service_id: null } });
    expect((await app.call('DELETE', `/v1/fax-services/${f.id}`, { token: acct.ownerToken })).status).to.equal(204);
    const audit = await app.call('GET', `/v1/audit?target_type=fax_service&target_id=${f.id}`, { token: acct.ownerToken });
    expect(audit.body.data.map((e: { action: string }) => e.action)).to.deep.equal(['fax_service.deleted', 'fax_service.created']);
  });
});
