import { expect } from 'chai';
import { startTestApp, type TestApp } from '../helpers/test-app.js';
import { createAccount, createUser, type TestAccount } from '../helpers/factories.js';

describe('Validation: every field error at once, strict everywhere', () => {
  let app: TestApp;
  let acct: TestAccount;
  let doc: any;

  before(async function () {
    this.timeout(60_000);
    app = await startTestApp();
    acct = await createAccount(app);
    doc = (await app.call('GET', '/openapi.json')).body;
  });
  after(async () => app.stop());

  it('reports a bad website, an unknown time zone, a short name and a bad SIP domain in one 400', async () => {
    const r = await app.call('PATCH', '/v1/account', {
      token: acct.ownerToken,
      body: { name: 'ab', website: 'not a url', timezone: 'Mars/Olympus', sip_domain: 'no spaces.example' },
    });
    expect(r.status).to.equal(400);
    expect(r.body.error).to.include({ code: 'validation_failed', field: 'name' });
    const details = r.body.error.details as Array<{ field: string; code: string; message: string }>;
    expect(details.map((d) => [d.field, d.code])).to.deep.equal([
      ['name', 'too_small'],
      ['website', 'invalid_format'],
      ['timezone', 'invalid_timezone'],
      ['sip_domain', 'invalid_sip_domain'],
    ]);
    for (const d of details) expect(d.message).to.be.a('string').and.not.equal('');
    expect((await app.call('GET', '/v1/account', { token: acct.ownerToken })).body.name).to.not.equal('ab');
  });

  it('refuses a body on an endpoint that takes none, such as the OnCall PIN reset', async () => {
    const u = await createUser(app, acct.ownerToken);
    const r = await app.call('POST', `/v1/users/${u.id}/oncall-pin`, { token: acct.ownerToken, body: { oncall_pin: '1234' } });
    expect(r.status).to.equal(400);
    expect(r.body.error.details).to.deep.equal([{ field: 'oncall_pin', code: 'unknown_field', message: 'unknown body field oncall_pin' }]);
    const notObject = await app.call('POST', `/v1/users/${u.id}/oncall-pin`, { token: acct.ownerToken, body: [1] });
    expect(notObject.status).to.equal(400);
    // No body, or an empty object, is what it expects.
    expect((await app.call('POST', `/v1/users/${u.id}/oncall-pin`, { token: acct.ownerToken })).status).to.equal(200);
    expect((await app.call('POST', `/v1/users/${u.id}/oncall-pin`, { token: acct.ownerToken, body: {} })).status).to.equal(200);
  });

  it('refuses an unknown query parameter on an endpoint that takes none', async () => {
    const r = await app.call('GET', '/v1/account?verbose=1', { token: acct.ownerToken });
    expect(r.status).to.equal(400);
    expect(r.body.error.details).to.deep.equal([{ field: 'verbose', code: 'unknown_field', message: 'unknown query parameter verbose' }]);
  });

  it('refuses an unknown field on every JSON endpoint of the OpenAPI document', async () => {
    let checked = 0;
    for (const [template, item] of Object.entries<any>(doc.paths)) {
      for (const method of ['post', 'put', 'patch', 'delete']) {
        const op = item[method];
        if (!op) continue;
        const json = op.requestBody?.content?.['application/json'];
        if (op.requestBody && !json) continue; // uploads (the logo) take raw bytes
        // Carrier callbacks take the carrier's own payload, which grows fields as the carrier adds them: its signature, not our schema, guards them.
        if (/^\/v1\/telephony\/providers\/\{id\}\/sms(\/status)?$/.test(template)) continue;
        const path = template.replace(/\{[^}]+\}/g, (m: string) => (m === '{token}' ? 'x'.repeat(20) : '1'));
        // A union body is told apart by its discriminator first.
        const bases: Record<string, object> = {
          '/v1/auth/token': { grant_type: 'password', username: 'x', password: 'y' },
          '/v1/telephony/providers': { type: 'twilio' },
        };
        const base = (method === 'post' && bases[template]) || {};
        const r = await app.call(method.toUpperCase(), path, { token: acct.ownerToken, body: { ...base, surely_not_a_field: 1 } });
        expect(r.status, `${method} ${template}: ${JSON.stringify(r.body)}`).to.equal(400);
        expect(r.body.error.details, `${method} ${template}`).to.deep.include({
          field: 'surely_not_a_field',
          code: 'unknown_field',
          message: r.body.error.details.find((d: any) => d.field === 'surely_not_a_field')?.message,
        });
        checked += 1;
      }
    }
    expect(checked).to.be.at.least(40);
  });

  it('documents details in the OpenAPI Error schema', () => {
    const error = doc.components.schemas.Error.properties.error;
    expect(error.properties.details.type).to.equal('array');
    expect(error.properties.details.items.required).to.include.members(['field', 'code', 'message']);
  });
});
