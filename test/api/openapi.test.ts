import { expect } from 'chai';
import SwaggerParser from '@apidevtools/swagger-parser';
import { startTestApp, type TestApp } from '../helpers/test-app.js';

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'options', 'head'];

function resolvePointer(doc: unknown, ref: string): unknown {
  if (!ref.startsWith('#/')) return undefined;
  return ref
    .slice(2)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce<unknown>((node, key) => (node && typeof node === 'object' ? (node as Record<string, unknown>)[key] : undefined), doc);
}

function collectRefs(node: unknown, out: string[] = []): string[] {
  if (Array.isArray(node)) node.forEach((n) => collectRefs(n, out));
  else if (node && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if (k === '$ref' && typeof v === 'string') out.push(v);
      else collectRefs(v, out);
    }
  }
  return out;
}

describe('OpenAPI, docs and health', () => {
  let app: TestApp;
  let doc: any;

  before(async () => {
    app = await startTestApp();
    doc = (await app.call('GET', '/openapi.json')).body;
  });
  after(async () => app.stop());

  it('serves a valid OpenAPI 3.1 document', async () => {
    expect(doc.openapi).to.match(/^3\.1\./);
    await SwaggerParser.validate(structuredClone(doc));
  });

  it('gives every operation responses and resolves every component reference', () => {
    const missing: string[] = [];
    for (const [path, item] of Object.entries<Record<string, any>>(doc.paths)) {
      for (const m of METHODS) {
        if (!item[m]) continue;
        if (!item[m].responses || !Object.keys(item[m].responses).length) missing.push(`${m} ${path}`);
      }
    }
    expect(missing).to.deep.equal([]);
    const refs = collectRefs(doc);
    expect(refs.length).to.be.greaterThan(10);
    expect(refs.filter((r) => resolvePointer(doc, r) === undefined)).to.deep.equal([]);
  });

  it('documents every resource of the provisioning API', () => {
    for (const p of [
      '/v1/users',
      '/v1/users/{id}',
      '/v1/mailboxes',
      '/v1/mailboxes/{id}',
      '/v1/users/{id}/mailbox-delegations/{mailboxId}',
      '/v1/locations',
      '/v1/locations/{id}',
      '/v1/numbers',
      '/v1/numbers/{id}',
      '/v1/fax-services',
      '/v1/fax-services/{id}',
      '/v1/audit',
      '/v1/auth/token',
    ]) {
      expect(doc.paths, p).to.have.property(p);
    }
    expect(doc.components.schemas).to.include.keys('User', 'Mailbox', 'Location', 'PhoneNumber', 'FaxService', 'AuditEntry', 'Error');
  });

  it('serves Swagger UI at /docs', async () => {
    const r = await fetch(`${app.baseUrl}/docs/`);
    expect(r.status).to.equal(200);
    expect(r.headers.get('content-type')).to.match(/text\/html/);
    expect(await r.text()).to.include('swagger-ui');
  });

  it('reports the database in /healthz', async () => {
    const r = await app.call('GET', '/healthz');
    expect(r.status).to.equal(200);
    expect(r.body).to.deep.include({ status: 'ok' });
    expect(r.body.database).to.include({ status: 'ok', dialect: app.services.db.dialect });
  });
});
