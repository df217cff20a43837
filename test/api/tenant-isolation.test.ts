import { expect } from 'chai';
import { startTestApp, type TestApp } from '../helpers/test-app.js';
import { createAccount, createUser, unique, type TestAccount } from '../helpers/factories.js';

/**
 * Two accounts, A and B. Account A's owner goes through every endpoint of the
 * OpenAPI document (so a new endpoint is covered without editing this file):
 * every {id}-style parameter gets B's object (404 expected), every list must
 * not contain anything of B's, and bodies that name B's objects are refused.
 * B's objects are compared before and after: nothing may have changed.
 */

type Kind =
  | 'user'
  | 'mailbox'
  | 'number'
  | 'location'
  | 'fax_service'
  | 'schedule'
  | 'shift'
  | 'rotation'
  | 'api_key'
  | 'invitation'
  | 'webhook'
  | 'delivery'
  | 'binding'
  | 'provider'
  | 'message';
type Objects = Record<Kind, number | string> & { e164: string; markers: string[] };

/** The {id} of each collection, longest prefix first. */
const COLLECTION_KIND: Array<[string, Kind]> = [
  ['/v1/members/invitations/{id}', 'invitation'],
  ['/v1/members/{id}', 'user'],
  ['/v1/users/{id}', 'user'],
  ['/v1/mailboxes/{id}', 'mailbox'],
  ['/v1/numbers/{id}', 'number'],
  ['/v1/locations/{id}', 'location'],
  ['/v1/fax-services/{id}', 'fax_service'],
  ['/v1/oncall/schedules/{id}', 'schedule'],
  ['/v1/webhooks/{id}', 'webhook'],
  ['/v1/telephony/providers/{id}', 'provider'],
  ['/v1/messages/{id}', 'message'],
];
const NAMED_PARAM_KIND: Record<string, Kind> = {
  mailboxId: 'mailbox',
  shiftId: 'shift',
  rotationId: 'rotation',
  token: 'api_key',
  deliveryId: 'delivery',
  bindingId: 'binding',
};

/**
 * Capability URLs, not tenant-scoped by a credential: the random token or
 * content hash in the path is the authorisation. They are listed here so
 * that every other endpoint stays covered.
 */
const PUBLIC_CAPABILITY_PATHS = new Set(['/logos/{accountId}/{file}', '/v1/invitations/{token}/accept']);

/** Which kind of object a path parameter names, e.g. {mailboxId} or the {id} after /v1/numbers. */
function paramKind(path: string, param: string): Kind | null {
  if (param !== 'id') return NAMED_PARAM_KIND[param] ?? null;
  return COLLECTION_KIND.find(([prefix]) => path.startsWith(prefix))?.[1] ?? null;
}

/** A body that passes validation, so the request reaches the ownership check. */
const BODIES: Record<string, unknown> = {
  'patch /v1/users/{id}': { call_timeout: 33 },
  'patch /v1/mailboxes/{id}': { name: 'Taken over' },
  'put /v1/mailboxes/{id}/message-counts': { new: 3, old: 1 },
  'patch /v1/numbers/{id}': { label: 'Taken over' },
  'patch /v1/locations/{id}': { name: 'Taken over' },
  'patch /v1/fax-services/{id}': { name: 'Taken over' },
  'post /v1/users/{id}/sip-password': {},
  'patch /v1/oncall/schedules/{id}': { name: 'Taken over' },
  'patch /v1/webhooks/{id}': { description: 'Taken over' },
  'patch /v1/telephony/providers/{id}': { name: 'Taken over' },
  'patch /v1/members/{id}': { role: 'viewer' },
  'patch /v1/members/invitations/{id}': { role: 'viewer' },
};
/** Bodies that must name one of A's own objects to pass validation. */
const bodiesNamingA = (aObj: Objects): Record<string, unknown> => ({
  'post /v1/oncall/schedules/{id}/shifts': { user_id: aObj.user, starts_at: '2032-01-01T09:00:00Z', ends_at: '2032-01-01T17:00:00Z' },
  'post /v1/oncall/schedules/{id}/rotations': {
    name: 'R',
    user_ids: [aObj.user],
    period_unit: 'days',
    period_count: 1,
    start_date: '2032-01-01',
    handoff_time: '09:00',
  },
  'patch /v1/oncall/schedules/{id}/shifts/{shiftId}': { note: 'Taken over' },
});

describe('Tenant isolation', () => {
  let app: TestApp;
  let a: TestAccount;
  let b: TestAccount;
  let aObj: Objects;
  let bObj: Objects;
  let spec: { paths: Record<string, Record<string, { parameters?: Array<{ in: string; name: string }> }>> };

  async function populate(acct: TestAccount, tag: string): Promise<Objects> {
    const t = acct.ownerToken;
    const e164 = `+1212${String(process.pid % 1000).padStart(3, '0')}${tag === 'a' ? '1001' : '2002'}`;
    const num = (await app.call('POST', '/v1/numbers', { token: t, body: { e164, capabilities: { sms: true, fax: true } } })).body;
    const locName = unique(`loc-${tag}-`);
    const loc = (
      await app.call('POST', '/v1/locations', {
        token: t,
        body: { name: locName, address_line1: '1 Main St', city: 'NYC', region: 'NY', postal_code: '10001', country: 'US', callback_number: e164 },
      })
    ).body;
    const faxName = unique(`fax-${tag}-`);
    const fax = (await app.call('POST', '/v1/fax-services', { token: t, body: { name: faxName, number_id: num.id } })).body;
    const user = await createUser(app, t, { mailbox: 'self', location_id: loc.id, fax_service_id: fax.id, external_caller_id_number: e164 });
    // A SIP trunk: the one provider type created without a carrier's API.
    const providerName = unique(`trunk-${tag}-`);
    const provider = (
      await app.call('POST', '/v1/telephony/providers', {
        token: t,
        body: { type: 'sip_trunk', name: providerName, credentials: { username: tag, password: 'trunk-pw' }, settings: { host: 'sip.example.com' } },
      })
    ).body;
    const mbName = unique(`mb-${tag}-`);
    const mb = (await app.call('POST', '/v1/mailboxes', { token: t, body: { number: tag === 'a' ? '9001' : '9002', name: mbName, delegates: [user.id] } }))
      .body;
    const schedName = unique(`sched-${tag}-`);
    const schedule = (await app.call('POST', '/v1/oncall/schedules', { token: t, body: { name: schedName } })).body;
    const shift = (
      await app.call('POST', `/v1/oncall/schedules/${schedule.id}/shifts`, {
        token: t,
        body: { user_id: user.id, starts_at: '2031-01-01T09:00:00Z', ends_at: '2031-01-01T17:00:00Z' },
      })
    ).body;
    const rotation = (
      await app.call('POST', `/v1/oncall/schedules/${schedule.id}/rotations`, {
        token: t,
        body: { name: 'Weekly', user_ids: [user.id], period_unit: 'weeks', period_count: 1, start_date: '2031-02-03', handoff_time: '09:00', horizon_days: 14 },
      })
    ).body;
    const key = (await app.call('POST', '/v1/api-keys', { token: t, body: { name: unique(`key-${tag}-`) } })).body;
    const invitation = (await app.call('POST', '/v1/members/invitations', { token: t, body: { email: `${unique('inv')}@${acct.sipDomain}`, role: 'viewer' } }))
      .body;
    const webhook = (await app.call('POST', '/v1/webhooks', { token: t, body: { url: 'http://127.0.0.1:9/hook', events: ['user.updated'] } })).body;
    expect((await app.call('PATCH', `/v1/users/${user.id}`, { token: t, body: { call_timeout: 31 } })).status).to.equal(200);
    const delivery = (await app.call('GET', `/v1/webhooks/${webhook.id}/deliveries`, { token: t })).body.data[0];
    // A SIP binding, as the registrar would have written it.
    const now = new Date();
    const binding = await app.services.db.models.Registration.create({
      account_id: acct.accountId,
      user_id: user.id,
      aor: `sip:${user.username}@${acct.sipDomain}`,
      contact_uri: `sip:${tag}@192.0.2.1`,
      contact_raw: `<sip:${tag}@192.0.2.1>`,
      q: null,
      expires_at: new Date(now.getTime() + 3_600_000),
      call_id: unique('call'),
      cseq: 1,
      instance_id: null,
      reg_id: null,
      path: null,
      transport: 'udp',
      source_address: '192.0.2.1',
      source_port: 5060,
      connection_id: null,
      node_id: 'test',
      user_agent: 'Phone',
      registered_at: now,
      updated_at: now,
    });
    // An SMS the account received, as the messaging service stores it.
    const message = await app.services.db.models.Message.create({
      account_id: acct.accountId,
      user_id: user.id,
      direction: 'inbound',
      our_number: e164,
      peer_number: '+15550100999',
      body: `hello ${tag}`,
      encoding: 'gsm7',
      segments: 1,
      source: 'carrier',
      auto: false,
      status: 'received',
      attempts: 0,
      created_at: now,
      updated_at: now,
    } as never);
    for (const o of [num, loc, fax, mb, schedule, shift, rotation, webhook, delivery, provider]) expect(o?.id, JSON.stringify(o)).to.be.a('number');
    expect(invitation.invitation_id, JSON.stringify(invitation)).to.be.a('number');
    expect(key.token, JSON.stringify(key)).to.be.a('string');
    return {
      user: user.id,
      mailbox: mb.id,
      number: num.id,
      location: loc.id,
      fax_service: fax.id,
      schedule: schedule.id,
      shift: shift.id,
      rotation: rotation.id,
      api_key: key.token,
      invitation: invitation.invitation_id,
      webhook: webhook.id,
      delivery: delivery.id,
      binding: Number(binding.id),
      provider: provider.id,
      message: Number((message as unknown as { id: number }).id),
      e164,
      markers: [user.username, e164, locName, faxName, mbName, schedName, key.token, acct.sipDomain, providerName],
    };
  }

  /** Everything of B's as B sees it, plus how many audit entries B has. */
  async function snapshotB(): Promise<unknown> {
    const t = b.ownerToken;
    const get = async (p: string) => (await app.call('GET', p, { token: t })).body;
    return {
      user: await get(`/v1/users/${bObj.user}`),
      mailbox: await get(`/v1/mailboxes/${bObj.mailbox}`),
      number: await get(`/v1/numbers/${bObj.number}`),
      location: await get(`/v1/locations/${bObj.location}`),
      fax: await get(`/v1/fax-services/${bObj.fax_service}`),
      provider: await get(`/v1/telephony/providers/${bObj.provider}`),
      audit: (await get('/v1/audit?limit=200')).data.map((e: { id: number }) => e.id),
      registrations: (await get(`/v1/users/${bObj.user}/registrations`)).data.map((r: { id: number }) => r.id),
    };
  }

  before(async () => {
    app = await startTestApp();
    a = await createAccount(app);
    b = await createAccount(app);
    aObj = await populate(a, 'a');
    bObj = await populate(b, 'b');
    spec = (await app.call('GET', '/openapi.json')).body;
  });
  after(async () => app.stop());

  it("answers 404 to account A for B's id in every path parameter of every endpoint, and changes nothing of B's", async () => {
    const before = await snapshotB();
    const unmapped: string[] = [];
    const failures: string[] = [];
    let exercised = 0;
    for (const [path, methods] of Object.entries(spec.paths)) {
      const params = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]!);
      if (!params.length || PUBLIC_CAPABILITY_PATHS.has(path)) continue;
      for (const method of Object.keys(methods)) {
        const kinds = params.map((p) => paramKind(path, p));
        if (kinds.some((k) => k === null)) {
          unmapped.push(`${method.toUpperCase()} ${path}`);
          continue;
        }
        // One variant per parameter: that one names B's object, the others A's.
        for (let i = 0; i < params.length; i++) {
          let url = path;
          params.forEach((p, j) => {
            url = url.replace(`{${p}}`, String((j === i ? bObj : aObj)[kinds[j]!]));
          });
          const body = BODIES[`${method} ${path}`] ?? bodiesNamingA(aObj)[`${method} ${path}`] ?? (method === 'get' || method === 'delete' ? undefined : {});
          const r = await app.call(method.toUpperCase(), url, { token: a.ownerToken, body });
          exercised += 1;
          if (r.status !== 404) failures.push(`${method.toUpperCase()} ${url} (${path}) → ${r.status} ${JSON.stringify(r.body)}`);
          const text = JSON.stringify(r.body ?? '');
          // A marker the caller itself put in the URL (an API key token) is an echo, not a leak.
          for (const m of bObj.markers) if (text.includes(m) && !url.includes(m)) failures.push(`${method.toUpperCase()} ${url} leaked ${m}`);
        }
      }
    }
    expect(unmapped, 'endpoints whose path parameters this test cannot fill: add them to paramKind()').to.deep.equal([]);
    expect(failures).to.deep.equal([]);
    expect(exercised).to.be.greaterThan(15);
    expect(await snapshotB()).to.deep.equal(before);
  });

  it("never lists B's objects in any of A's list or self endpoints, even when filtering by B's values", async () => {
    const failures: string[] = [];
    const gets = Object.entries(spec.paths)
      .filter(([p, m]) => p.startsWith('/v1/') && !p.includes('{') && m.get)
      .map(([p]) => p);
    expect(gets).to.include.members(['/v1/users', '/v1/mailboxes', '/v1/numbers', '/v1/locations', '/v1/fax-services', '/v1/audit']);
    // A list takes ?limit (every one does); an endpoint without a query refuses any parameter.
    const takesLimit = (p: string) => (spec.paths[p]?.get?.parameters ?? []).some((q: { in: string; name: string }) => q.in === 'query' && q.name === 'limit');
    const probes = gets.flatMap((p) => (takesLimit(p) ? [p, `${p}?limit=200`] : [p]));
    probes.push(
      `/v1/users?username=${encodeURIComponent(bObj.markers[0]!)}`,
      `/v1/numbers?e164=${encodeURIComponent(bObj.e164)}`,
      `/v1/mailboxes?owner_user_id=${bObj.user}`,
      `/v1/fax-services?number_id=${bObj.number}`,
      `/v1/audit?target_type=user&target_id=${bObj.user}`,
      `/v1/audit?actor_id=user:${b.ownerId}`,
    );
    for (const p of probes) {
      const r = await app.call('GET', p, { token: a.ownerToken });
      if (r.status !== 200) {
        failures.push(`GET ${p} → ${r.status}`);
        continue;
      }
      const text = JSON.stringify(r.body);
      for (const m of bObj.markers) if (text.includes(m)) failures.push(`GET ${p} shows B's ${m}`);
      for (const item of (r.body.data ?? []) as Array<{ account_id?: number; id: number }>) {
        if (item.account_id !== undefined && item.account_id !== a.accountId) failures.push(`GET ${p} lists ${JSON.stringify(item)}`);
      }
      if (
        p.startsWith('/v1/audit') &&
        r.body.data.some(
          (e: { target_id: string }) => Object.values(bObj).map(String).includes(e.target_id) && !Object.values(aObj).map(String).includes(e.target_id),
        )
      ) {
        failures.push(`GET ${p} shows an entry about B's objects`);
      }
    }
    expect(failures).to.deep.equal([]);
    // The filtered probes prove something only if the same filters find A's own objects.
    expect((await app.call('GET', `/v1/numbers?e164=${encodeURIComponent(aObj.e164)}`, { token: a.ownerToken })).body.data).to.have.length(1);
  });

  it("refuses B's ids and numbers inside A's request bodies with 422", async () => {
    const t = a.ownerToken;
    const cases: Array<[string, string, Record<string, unknown>, string]> = [
      ['POST', '/v1/users', { name: 'X', extension: '880', username: unique('x'), location_id: bObj.location }, 'location_id'],
      ['POST', '/v1/users', { name: 'X', extension: '881', username: unique('x'), fax_service_id: bObj.fax_service }, 'fax_service_id'],
      ['POST', '/v1/users', { name: 'X', extension: '882', username: unique('x'), mailbox: bObj.mailbox }, 'mailbox'],
      ['POST', '/v1/users', { name: 'X', extension: '883', username: unique('x'), mailbox_delegations: [bObj.mailbox] }, 'mailbox_delegations.0'],
      ['POST', '/v1/users', { name: 'X', extension: '884', username: unique('x'), external_caller_id_number: bObj.e164 }, 'external_caller_id_number'],
      ['PATCH', `/v1/users/${aObj.user}`, { outbound_sms_number: bObj.e164 }, 'outbound_sms_number'],
      ['PATCH', `/v1/users/${aObj.user}`, { location_id: bObj.location }, 'location_id'],
      ['POST', '/v1/fax-services', { name: 'X', number_id: bObj.number }, 'number_id'],
      ['PATCH', `/v1/fax-services/${aObj.fax_service}`, { number_id: bObj.number }, 'number_id'],
      ['POST', '/v1/mailboxes', { number: '9555', name: 'X', owner_user_id: bObj.user }, 'owner_user_id'],
      ['PATCH', `/v1/mailboxes/${aObj.mailbox}`, { delegates: [bObj.user] }, 'delegates.0'],
    ];
    const failures: string[] = [];
    for (const [method, path, body, field] of cases) {
      const r = await app.call(method, path, { token: t, body });
      if (r.status !== 422 || r.body.error.field !== field) failures.push(`${method} ${path} ${JSON.stringify(body)} → ${r.status} ${JSON.stringify(r.body)}`);
      const text = JSON.stringify(r.body);
      for (const m of bObj.markers) if (text.includes(m) && m !== bObj.e164) failures.push(`${method} ${path} leaked ${m}`);
    }
    expect(failures).to.deep.equal([]);
  });
});
