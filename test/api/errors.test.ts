import { expect } from 'chai';
import { startTestApp, type TestApp } from '../helpers/test-app.js';
import { createAccount, type TestAccount } from '../helpers/factories.js';

const ERROR_KEYS = new Set(['code', 'message', 'field', 'details', 'referenced_by']);

/** The one error shape, and nothing that looks like a stack trace or SQL. */
function expectErrorShape(body: any, where: string): void {
  expect(body, where).to.be.an('object').with.keys('error');
  expect(body.error.code, where)
    .to.be.a('string')
    .and.match(/^[a-z_]+$/);
  expect(body.error.message, where).to.be.a('string').and.not.equal('');
  if (body.error.field !== undefined) expect(body.error.field, where).to.be.a('string');
  expect(
    Object.keys(body.error).filter((k) => !ERROR_KEYS.has(k)),
    where,
  ).to.deep.equal([]);
  const text = JSON.stringify(body);
  expect(text, where).to.not.match(/\n\s+at |node_modules|\.ts:\d+|SELECT |INSERT |Sequelize/);
}

describe('Errors', () => {
  let app: TestApp;
  let acct: TestAccount;

  before(async () => {
    app = await startTestApp();
    acct = await createAccount(app);
  });
  after(async () => app.stop());

  it('answers malformed JSON with 400 invalid_json', async () => {
    const r = await app.call('POST', '/v1/users', { token: acct.ownerToken, body: '{"name": "x",', headers: { 'content-type': 'application/json' } });
    expect(r.status).to.equal(400);
    expect(r.body.error.code).to.equal('invalid_json');
    expectErrorShape(r.body, 'invalid json');
  });

  it('answers an unknown route with 404 route_not_found', async () => {
    const r = await app.call('GET', '/v1/nothing-here', { token: acct.ownerToken });
    expect(r.status).to.equal(404);
    expect(r.body.error.code).to.equal('route_not_found');
    expectErrorShape(r.body, 'unknown route');
  });

  it('answers a huge body with 413 and does not read it all', async () => {
    const r = await app.call('POST', '/v1/users', { token: acct.ownerToken, body: { name: 'x'.repeat(2_000_000) } });
    expect(r.status).to.equal(413);
    expect(r.body.error.code).to.equal('payload_too_large');
    expectErrorShape(r.body, 'huge body');
  });

  it('gives every kind of failure the one shape, without stack traces', async () => {
    const cases: Array<[string, string, { token?: string; body?: unknown; headers?: Record<string, string> }, number]> = [
      ['GET', '/v1/users', {}, 401],
      ['GET', '/v1/users', { token: 'sbat_forged' }, 401],
      ['GET', '/v1/users/abc', { token: acct.ownerToken }, 400],
      ['GET', '/v1/users/999999', { token: acct.ownerToken }, 404],
      ['POST', '/v1/users', { token: acct.ownerToken, body: { name: 5, unknown: true } }, 400],
      ['POST', '/v1/users', { token: acct.ownerToken, body: { name: 'X', extension: '1', username: 'xy-abc' } }, 422],
      ['POST', '/v1/users', { token: acct.ownerToken, body: { name: 'X', extension: '100', username: 'xy-abc' } }, 409],
      ['GET', '/v1/users?cursor=%%%', { token: acct.ownerToken }, 400],
      ['POST', '/v1/auth/token', { body: { grant_type: 'password', username: 'nobody', password: 'x' } }, 401],
      ['POST', '/v1/auth/token', { body: [] }, 400],
      ['DELETE', '/v1/users', { token: acct.ownerToken }, 404],
      ['POST', '/v1/numbers', { token: acct.ownerToken, body: 'e164=+14155550100', headers: { 'content-type': 'application/json; charset=latin1' } }, 415],
    ];
    for (const [method, path, opts, status] of cases) {
      const r = await app.call(method, path, opts);
      expect(r.status, `${method} ${path} ${JSON.stringify(r.body)}`).to.equal(status);
      expectErrorShape(r.body, `${method} ${path}`);
    }
  });

  it('lists every field error in details for a validation failure', async () => {
    const r = await app.call('POST', '/v1/locations', { token: acct.ownerToken, body: { name: '' } });
    expect(r.status).to.equal(400);
    for (const d of r.body.error.details) expect(d).to.have.keys('field', 'code', 'message');
    expect(r.body.error.details.length).to.be.greaterThan(3);
  });
});

// Its own describe and app: one process can hold one app at a time (models bind to one Sequelize instance).
describe('Errors: database gone', () => {
  let broken: TestApp;

  before(async () => {
    broken = await startTestApp();
  });
  after(async () => broken.stop().catch(() => undefined));

  it('answers 500 internal_error without details, and /healthz says 503', async () => {
    const owner = await createAccount(broken);
    await broken.services.db.sequelize.close();
    const r = await broken.call('GET', '/v1/users', { token: owner.ownerToken });
    expect(r.status).to.equal(500);
    expect(r.body.error.code).to.equal('internal_error');
    expectErrorShape(r.body, 'database gone');
    const health = await broken.call('GET', '/healthz');
    expect(health.status).to.equal(503);
    expect(health.body.database.status).to.equal('unreachable');
  });
});
