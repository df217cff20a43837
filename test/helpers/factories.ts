import crypto from 'node:crypto';
import type { TestApp } from './test-app.js';

let seq = 0;
export function unique(prefix: string): string {
  seq += 1;
  return `${prefix}${process.pid}x${seq}${crypto.randomBytes(2).toString('hex')}`;
}

export interface TestAccount {
  accountId: number;
  ownerId: number;
  ownerUsername: string;
  sipDomain: string;
  ownerToken: string;
}

export const OWNER_PASSWORD = 'owner-password-123';

/** An account with its owner, signed in. */
export async function createAccount(app: TestApp, opts: { name?: string } = {}): Promise<TestAccount> {
  const label = unique('acct');
  const sipDomain = `${label}.example`;
  const r = await app.services.accounts.createWithOwner({
    name: opts.name ?? `Account ${label}`,
    sipDomain,
    ownerEmail: `owner@${sipDomain}`,
    ownerPassword: OWNER_PASSWORD,
    ownerUsername: `owner-${label}`,
  });
  const ownerToken = await login(app, r.owner_username, OWNER_PASSWORD);
  return { accountId: r.account_id, ownerId: r.owner_user_id, ownerUsername: r.owner_username, sipDomain, ownerToken };
}

export async function login(app: TestApp, username: string, password: string): Promise<string> {
  const r = await app.call('POST', '/v1/auth/token', { body: { grant_type: 'password', username, password } });
  if (r.status !== 200) throw new Error(`login failed: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.access_token;
}

let ext = 200;
/** An extension no other factory call in this run has handed out (so a retried test meets no 409 of its own). */
export function nextExtension(): string {
  ext += 1;
  return String(ext);
}

/** A user created through the API; returns the create response body (with the one-time secrets). */
export async function createUser(app: TestApp, token: string, fields: Record<string, unknown> = {}): Promise<any> {
  const body = { name: 'Test User', extension: nextExtension(), username: unique('u'), ...fields };
  const r = await app.call('POST', '/v1/users', { token, body });
  if (r.status !== 201) throw new Error(`createUser failed: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

/** A user with a login password and the given role, signed in. */
export async function createMember(
  app: TestApp,
  ownerToken: string,
  role: 'admin' | 'viewer' | 'user',
  fields: Record<string, unknown> = {},
): Promise<{ user: any; token: string }> {
  const password = 'member-password-123';
  const user = await createUser(app, ownerToken, { role, password, ...fields });
  return { user, token: await login(app, user.username, password) };
}

/** A live binding row as the registrar writes it (for API tests that need a registered device without a SIP client). */
export async function insertBinding(app: TestApp, accountId: number, userId: number, aor: string, tag = unique('dev')): Promise<number> {
  const now = new Date();
  const row = await app.services.db.models.Registration.create({
    account_id: accountId,
    user_id: userId,
    aor,
    contact_uri: `sip:${tag}@192.0.2.10:5060`,
    contact_raw: `<sip:${tag}@192.0.2.10:5060>`,
    q: null,
    expires_at: new Date(now.getTime() + 600_000),
    call_id: `call-${tag}`,
    cseq: 1,
    instance_id: null,
    reg_id: null,
    path: null,
    transport: 'udp',
    source_address: '192.0.2.10',
    source_port: 5060,
    connection_id: null,
    node_id: 'test-node',
    user_agent: 'Test Desk Phone',
    registered_at: now,
  });
  return row.id;
}
