import { expect } from 'chai';
import { startTestApp, type TestApp } from '../helpers/test-app.js';
import { createAccount, createMember, createUser, type TestAccount } from '../helpers/factories.js';

export const HQ = {
  name: 'HQ',
  address_line1: '1 Market St',
  address_line2: 'Floor 3',
  city: 'San Francisco',
  region: 'CA',
  postal_code: '94105',
  country: 'US',
  callback_number: '+14155550100',
};

describe('Locations API', () => {
  let app: TestApp;
  let acct: TestAccount;

  before(async () => {
    app = await startTestApp();
    acct = await createAccount(app);
  });
  after(async () => app.stop());

  it('creates an E911 location with 201 and Location, and reads it back', async () => {
    const r = await app.call('POST', '/v1/locations', { token: acct.ownerToken, body: HQ });
    expect(r.status).to.equal(201);
    expect(r.headers.get('location')).to.equal(`/v1/locations/${r.body.id}`);
    expect(r.body).to.include(HQ);
    expect((await app.call('GET', `/v1/locations/${r.body.id}`, { token: acct.ownerToken })).body).to.deep.equal(r.body);
  });

  it('lists every missing field and a bad callback number at once (400)', async () => {
    const r = await app.call('POST', '/v1/locations', { token: acct.ownerToken, body: { name: 'X', callback_number: '555', country: 'us' } });
    expect(r.status).to.equal(400);
    const fields = r.body.error.details.map((d: { field: string }) => d.field);
    expect(fields).to.include.members(['address_line1', 'city', 'region', 'postal_code', 'country', 'callback_number']);
  });

  it('refuses a country code that ISO 3166-1 does not assign with 422 unknown_country', async () => {
    const r = await app.call('POST', '/v1/locations', { token: acct.ownerToken, body: { ...HQ, country: 'ZZ' } });
    expect(r.status).to.equal(422);
    expect(r.body.error).to.include({ code: 'unknown_country', field: 'country' });
  });

  it('filters by name prefix and country', async () => {
    const fresh = await createAccount(app);
    for (const [name, country] of [
      ['Berlin office', 'DE'],
      ['Berlin lab', 'DE'],
      ['Boston', 'US'],
    ] as const) {
      await app.call('POST', '/v1/locations', { token: fresh.ownerToken, body: { ...HQ, name, country } });
    }
    const berlin = await app.call('GET', '/v1/locations?name=Berlin', { token: fresh.ownerToken });
    expect(berlin.body.data.map((l: { name: string }) => l.name)).to.deep.equal(['Berlin office', 'Berlin lab']);
    const us = await app.call('GET', '/v1/locations?country=US', { token: fresh.ownerToken });
    expect(us.body.data.map((l: { name: string }) => l.name)).to.deep.equal(['Boston']);
  });

  it('matches a name prefix exactly: case-sensitive, with _ and % taken literally', async () => {
    const fresh = await createAccount(app);
    for (const name of ['Lab_1 north', 'Lab21', 'lab_1 south', 'Lab%x']) {
      await app.call('POST', '/v1/locations', { token: fresh.ownerToken, body: { ...HQ, name } });
    }
    const names = async (prefix: string) =>
      (await app.call('GET', `/v1/locations?name=${encodeURIComponent(prefix)}`, { token: fresh.ownerToken })).body.data.map((l: { name: string }) => l.name);
    expect(await names('Lab_1')).to.deep.equal(['Lab_1 north']);
    expect(await names('Lab%')).to.deep.equal(['Lab%x']);
    expect(await names('Lab')).to.deep.equal(['Lab_1 north', 'Lab21', 'Lab%x']);
  });

  it('changes fields on PATCH and audits only what changed', async () => {
    const l = (await app.call('POST', '/v1/locations', { token: acct.ownerToken, body: HQ })).body;
    const r = await app.call('PATCH', `/v1/locations/${l.id}`, { token: acct.ownerToken, body: { address_line2: null, city: 'Oakland' } });
    expect(r.status).to.equal(200);
    expect(r.body).to.include({ address_line2: null, city: 'Oakland' });
    const audit = await app.call('GET', `/v1/audit?target_type=location&target_id=${l.id}&action=location.updated`, { token: acct.ownerToken });
    expect(audit.body.data[0].before).to.deep.equal({ address_line2: 'Floor 3', city: 'San Francisco' });
    expect(audit.body.data[0].after).to.deep.equal({ address_line2: null, city: 'Oakland' });
  });

  it('refuses deleting a location users are at with 409 in_use, then deletes it once they moved', async () => {
    const l = (await app.call('POST', '/v1/locations', { token: acct.ownerToken, body: HQ })).body;
    const a = await createUser(app, acct.ownerToken, { location_id: l.id });
    const b = await createUser(app, acct.ownerToken, { location_id: l.id });
    const r = await app.call('DELETE', `/v1/locations/${l.id}`, { token: acct.ownerToken });
    expect(r.status).to.equal(409);
    expect(r.body.error.code).to.equal('in_use');
    expect(r.body.error.referenced_by).to.deep.equal({ users: [a.id, b.id].sort((x, y) => x - y) });
    for (const u of [a, b]) await app.call('PATCH', `/v1/users/${u.id}`, { token: acct.ownerToken, body: { location_id: null } });
    expect((await app.call('DELETE', `/v1/locations/${l.id}`, { token: acct.ownerToken })).status).to.equal(204);
  });

  it('lets a plain user read locations but not create them', async () => {
    const { token } = await createMember(app, acct.ownerToken, 'user');
    expect((await app.call('GET', '/v1/locations', { token })).status).to.equal(200);
    expect((await app.call('POST', '/v1/locations', { token, body: HQ })).status).to.equal(403);
  });
});
