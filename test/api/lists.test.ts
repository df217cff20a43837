import { expect } from 'chai';
import fc from 'fast-check';
import { startTestApp, type TestApp } from '../helpers/test-app.js';
import { createAccount, createUser, unique, type TestAccount } from '../helpers/factories.js';

const b64 = (text: string | Buffer): string => Buffer.from(text).toString('base64url');

/** Cursors an attacker would try: every one must be 400 invalid_cursor on every list. */
const CRAFTED: Array<[string, string]> = [
  ['huge id', b64('{"id":1e400}')],
  ['huge id, sorted', b64('{"s":"id","id":1e400}')],
  ['negative id', b64('{"s":"id","id":-1}')],
  ['fractional id', b64('{"s":"id","id":1.5}')],
  ['string id', b64('{"s":"id","id":"1"}')],
  ['unsafe integer id', b64('{"s":"id","id":9007199254740993}')],
  ['extra key', b64('{"s":"id","id":1,"x":1}')],
  ['object sort value', b64('{"s":"name","v":{"a":1},"id":1}')],
  ['array sort value', b64('{"s":"name","v":["a"],"id":1}')],
  ['null sort value', b64('{"s":"name","v":null,"id":1}')],
  ['lone surrogate', b64('{"s":"name","v":"\\ud800","id":1}')],
  ['huge time', b64('{"t":1e400,"id":1}')],
  ['time beyond Date', b64('{"t":8640000000000001,"id":1}')],
  ['null', b64('null')],
  ['array', b64('[1,2]')],
  ['string', b64('"x"')],
  ['invalid UTF-8', b64(Buffer.from([0x7b, 0xc3, 0x28, 0xff, 0xfe, 0x7d]))],
  ['not base64url', '%25%25%25'],
  ['padded base64', Buffer.from('{"s":"id","id":1}').toString('base64')],
  ['garbage', 'garbage'],
];

/** Any JSON in the places a cursor has fields, plus any JSON at all. */
const fuzzCursor = fc.oneof(
  fc.record({ s: fc.oneof(fc.constantFrom('id', 'name', 'extension'), fc.jsonValue()), v: fc.jsonValue(), id: fc.jsonValue() }, { requiredKeys: [] }),
  fc.record({ t: fc.jsonValue(), id: fc.jsonValue() }, { requiredKeys: [] }),
  fc.jsonValue(),
);

describe('List endpoints: one limit, one cursor', () => {
  let app: TestApp;
  let acct: TestAccount;
  let doc: any;
  const ids: Record<string, number> = {};

  before(async function () {
    this.timeout(120_000);
    app = await startTestApp();
    acct = await createAccount(app);
    const t = acct.ownerToken;
    const post = async (path: string, body: unknown): Promise<any> => {
      const r = await app.call('POST', path, { token: t, body });
      if (r.status !== 201) throw new Error(`${path}: ${r.status} ${JSON.stringify(r.body)}`);
      return r.body;
    };
    ids.webhook = (await post('/v1/webhooks', { url: 'http://127.0.0.1:9/hook', events: ['user.created'] })).id;
    const users = [await createUser(app, t, { name: 'Bea' }), await createUser(app, t, { name: 'Al' }), await createUser(app, t, { name: 'Cy' })];
    ids.user = users[0].id;
    await post('/v1/webhooks', { url: 'http://127.0.0.1:9/other', events: ['user.deleted'] });
    for (const n of ['a', 'b']) await post('/v1/api-keys', { name: `key ${n}` });
    for (const n of ['a', 'b']) await post('/v1/members/invitations', { email: `${unique(n)}@${acct.sipDomain}`, role: 'viewer' });
    for (const n of [1, 2]) await post('/v1/numbers', { e164: `+1415${String(Date.now() + n).slice(-7)}` });
    ids.schedule = (await post('/v1/oncall/schedules', { name: 'Support' })).id;
    const startDate = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
    for (const name of ['Day', 'Night']) {
      await post(`/v1/oncall/schedules/${ids.schedule}/rotations`, {
        name,
        user_ids: [users[0].id, users[1].id],
        period_unit: 'days',
        period_count: 1,
        start_date: startDate,
        handoff_time: name === 'Day' ? '09:00' : '21:00',
        horizon_days: 3,
      });
    }
    doc = (await app.call('GET', '/openapi.json')).body;
  });
  after(async () => app.stop());

  /** Every GET whose answer is a list, from the OpenAPI document: its template and a URL with the ids filled in. */
  function listOperations(): Array<{ template: string; url: string; query: string[] }> {
    const out: Array<{ template: string; url: string; query: string[] }> = [];
    for (const [template, item] of Object.entries<any>(doc.paths)) {
      const schema = item.get?.responses?.['200']?.content?.['application/json']?.schema;
      if (!schema) continue;
      const resolved = schema.$ref ? doc.components.schemas[schema.$ref.split('/').pop()] : schema;
      if (resolved.type !== 'array' && !resolved.properties?.next_cursor) continue;
      const id = template.startsWith('/v1/oncall') ? ids.schedule : template.startsWith('/v1/webhooks') ? ids.webhook : ids.user;
      const query = (item.get.parameters ?? []).filter((p: any) => p.in === 'query').map((p: any) => p.name as string);
      out.push({ template, url: template.replace('{id}', String(id)), query });
    }
    return out;
  }
  const listEndpoints = (): string[] => listOperations().map((o) => o.url);

  async function list(path: string, query: string): Promise<{ status: number; body: any; items: any[]; next: string | null }> {
    const r = await app.call('GET', `${path}${path.includes('?') ? '&' : '?'}${query}`, { token: acct.ownerToken });
    const array = Array.isArray(r.body);
    const link = r.headers.get('link');
    const next = array ? (link ? /[?&]cursor=([^&>]+)/.exec(link)![1]! : null) : (r.body?.next_cursor ?? null);
    return { status: r.status, body: r.body, items: array ? r.body : (r.body?.data ?? []), next };
  }

  it('finds every list endpoint in the OpenAPI document, and each documents limit and cursor', () => {
    const operations = listOperations();
    expect(operations.length).to.be.at.least(18);
    for (const o of operations) expect(o.query, o.template).to.include.members(['limit', 'cursor']);
    const endpoints = operations.map((o) => o.url);
    for (const p of ['/v1/webhooks', '/v1/api-keys', '/myphones/api_key', '/v1/members/invitations', `/v1/webhooks/${ids.webhook}/deliveries`]) {
      expect(endpoints, p).to.include(p);
    }
  });

  it('walks every list with limit=1 and the cursor, and meets exactly the rows of one big page', async () => {
    const atLeastTwo = [
      '/v1/users',
      '/v1/members',
      '/v1/members/invitations',
      '/v1/api-keys',
      '/myphones/api_key',
      '/v1/webhooks',
      `/v1/webhooks/${ids.webhook}/deliveries`,
      '/v1/numbers',
      '/v1/audit',
      `/v1/oncall/schedules/${ids.schedule}/rotations`,
      `/v1/oncall/schedules/${ids.schedule}/shifts`,
    ];
    for (const path of [...listEndpoints(), '/v1/users?sort=name', '/v1/users?sort=extension']) {
      const all = await list(path, 'limit=200');
      expect(all.status, path).to.equal(200);
      expect(all.next, path).to.equal(null);
      if (atLeastTwo.includes(path)) expect(all.items.length, path).to.be.at.least(2);
      const walked: unknown[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const page = await list(path, `limit=1${cursor ? `&cursor=${cursor}` : ''}`);
        expect(page.status, `${path} ${JSON.stringify(page.body)}`).to.equal(200);
        walked.push(...page.items);
        cursor = page.next;
        pages += 1;
        expect(pages, path).to.be.at.most(all.items.length + 1);
      } while (cursor);
      expect(walked, path).to.deep.equal(all.items);
    }
  });

  it('orders users by name through the cursor', async () => {
    const names: string[] = [];
    let cursor: string | null = null;
    do {
      const page = await list('/v1/users?sort=name', `limit=1${cursor ? `&cursor=${cursor}` : ''}`);
      names.push(...page.items.map((u: any) => u.name));
      cursor = page.next;
    } while (cursor);
    expect(names).to.deep.equal([...names].sort());
  });

  it('refuses limit outside 1–200 and unknown query parameters with 400 on every list', async () => {
    for (const path of listEndpoints()) {
      for (const q of ['limit=0', 'limit=201', 'limit=abc', 'page=2']) {
        const r = await list(path, q);
        expect(r.status, `${path}?${q}`).to.equal(400);
        expect(r.body.error.code, `${path}?${q}`).to.equal('validation_failed');
      }
    }
  });

  it('answers every crafted cursor with 400 invalid_cursor on every list', async function () {
    this.timeout(120_000);
    for (const path of [...listEndpoints(), '/v1/users?sort=name', '/v1/users?sort=extension']) {
      for (const [what, cursor] of CRAFTED) {
        const r = await list(path, `cursor=${cursor}`);
        expect(r.status, `${path} ${what}: ${JSON.stringify(r.body)}`).to.equal(400);
        expect(r.body.error, `${path} ${what}`).to.include({ code: 'invalid_cursor', field: 'cursor' });
      }
    }
  });

  it('refuses a cursor of another sort order instead of skipping rows', async () => {
    const byName = await list('/v1/users?sort=name', 'limit=1');
    expect(byName.next).to.be.a('string');
    for (const other of ['/v1/users', '/v1/users?sort=extension']) {
      const r = await list(other, `cursor=${byName.next}`);
      expect(r.status, other).to.equal(400);
      expect(r.body.error.code).to.equal('invalid_cursor');
    }
    const shifts = await list(`/v1/oncall/schedules/${ids.schedule}/shifts`, 'limit=1');
    expect((await list('/v1/users', `cursor=${shifts.next}`)).body.error.code).to.equal('invalid_cursor');
  });

  it('never answers 500 to a fuzzed cursor: 200 for a well-formed one, else 400 invalid_cursor', async function () {
    this.timeout(120_000);
    const endpoints = [...listEndpoints(), '/v1/users?sort=name'];
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...endpoints), fuzzCursor, async (path, value) => {
        const cursor = b64(JSON.stringify(value) ?? 'null');
        const r = await list(path, `cursor=${cursor}`);
        if (r.status === 200) return;
        expect(r.status, `${path} ${JSON.stringify(value)} → ${JSON.stringify(r.body)}`).to.equal(400);
        // Past the documented 500 characters the schema refuses it before it is decoded.
        expect(r.body.error, `${path} ${JSON.stringify(value)}`).to.include({
          code: cursor.length > 500 ? 'validation_failed' : 'invalid_cursor',
          field: 'cursor',
        });
      }),
      { numRuns: 80, endOnFailure: true },
    );
  });
});
