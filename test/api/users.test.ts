import { expect } from 'chai';
import { startTestApp, type TestApp } from '../helpers/test-app.js';
import { createAccount, createMember, createUser, login, unique, type TestAccount } from '../helpers/factories.js';

describe('Users API', () => {
  let app: TestApp;
  let acct: TestAccount;

  before(async () => {
    app = await startTestApp();
    acct = await createAccount(app);
  });
  after(async () => app.stop());

  describe('POST /v1/users', () => {
    it('creates a user with defaults and returns the SIP password and OnCall PIN once', async () => {
      const username = unique('alice');
      const r = await app.call('POST', '/v1/users', { token: acct.ownerToken, body: { name: 'Alice', extension: '101', username } });
      expect(r.status).to.equal(201);
      expect(r.headers.get('location')).to.equal(`/v1/users/${r.body.id}`);
      expect(r.body).to.include({ name: 'Alice', extension: '101', username, max_bindings: 10, role: 'user', call_recording: 'none', status: 'active' });
      expect(r.body.sip_password).to.match(/^.{20}$/);
      expect(r.body.oncall_pin).to.match(/^\d{6}$/);
      const read = await app.call('GET', `/v1/users/${r.body.id}`, { token: acct.ownerToken });
      expect(read.status).to.equal(200);
      expect(read.body).to.not.have.property('sip_password');
      expect(read.body).to.not.have.property('oncall_pin');
      expect(JSON.stringify(read.body)).to.not.include(r.body.sip_password);
    });

    it('lists every field error at once with 400 validation_failed', async () => {
      const r = await app.call('POST', '/v1/users', {
        token: acct.ownerToken,
        body: { name: '', extension: '1x', username: 'Bad Name', call_recording: 'sometimes', surprise: true },
      });
      expect(r.status).to.equal(400);
      expect(r.body.error.code).to.equal('validation_failed');
      const fields = r.body.error.details.map((d: { field: string }) => d.field);
      expect(fields).to.include.members(['name', 'extension', 'username', 'call_recording', 'surprise']);
    });

    it('returns 409 extension_taken when the extension is used in the account', async () => {
      await createUser(app, acct.ownerToken, { extension: '555' });
      const r = await app.call('POST', '/v1/users', { token: acct.ownerToken, body: { name: 'B', extension: '555', username: unique('b') } });
      expect(r.status).to.equal(409);
      expect(r.body.error).to.include({ code: 'extension_taken', field: 'extension' });
    });

    it('returns 409 username_taken for a username used in any account', async () => {
      const other = await createAccount(app);
      const u = await createUser(app, other.ownerToken);
      const r = await app.call('POST', '/v1/users', { token: acct.ownerToken, body: { name: 'B', extension: '556', username: u.username } });
      expect(r.status).to.equal(409);
      expect(r.body.error).to.include({ code: 'username_taken', field: 'username' });
    });

    it('returns 422 extension_length when the extension does not fit the account', async () => {
      const r = await app.call('POST', '/v1/users', { token: acct.ownerToken, body: { name: 'B', extension: '12', username: unique('c') } });
      expect(r.status).to.equal(422);
      expect(r.body.error.code).to.equal('extension_length');
    });

    it('refuses role fax and owner set by hand', async () => {
      for (const role of ['fax', 'owner']) {
        const r = await app.call('POST', '/v1/users', { token: acct.ownerToken, body: { name: 'B', extension: '557', username: unique('d'), role } });
        expect(r.status).to.equal(400);
        expect(r.body.error.field).to.equal('role');
      }
    });

    it("refuses caller-ID and SMS numbers that are not the account's", async () => {
      const r = await app.call('POST', '/v1/users', {
        token: acct.ownerToken,
        body: { name: 'B', extension: '558', username: unique('e'), external_caller_id_number: '+14155550100' },
      });
      expect(r.status).to.equal(422);
      expect(r.body.error).to.include({ code: 'number_not_in_account', field: 'external_caller_id_number' });
    });

    it('needs a destination for forwarding modes and a text for the auto-responder', async () => {
      const a = await app.call('POST', '/v1/users', {
        token: acct.ownerToken,
        body: { name: 'B', extension: '559', username: unique('f'), forward_behavior: { mode: 'forward_always' } },
      });
      expect(a.status).to.equal(422);
      expect(a.body.error.code).to.equal('forward_destination_required');
      const b = await app.call('POST', '/v1/users', {
        token: acct.ownerToken,
        body: { name: 'B', extension: '559', username: unique('f'), sms_auto_responder_enabled: true },
      });
      expect(b.status).to.equal(422);
      expect(b.body.error.code).to.equal('auto_response_text_required');
    });
  });

  describe('mailbox "self"', () => {
    it("creates the user's own mailbox once and makes it primary", async () => {
      const u = await createUser(app, acct.ownerToken, { mailbox: 'self' });
      expect(u.mailbox).to.include({ number: u.extension });
      const again = await app.call('PATCH', `/v1/users/${u.id}`, { token: acct.ownerToken, body: { mailbox: 'self' } });
      expect(again.body.mailbox.id).to.equal(u.mailbox.id);
      const none = await app.call('PATCH', `/v1/users/${u.id}`, { token: acct.ownerToken, body: { mailbox: 'none' } });
      expect(none.body.mailbox).to.equal(null);
    });
  });

  describe('PATCH /v1/users/{id}', () => {
    it('changes fields, bumps the ETag and honours If-Match', async () => {
      const u = await createUser(app, acct.ownerToken);
      const read = await app.call('GET', `/v1/users/${u.id}`, { token: acct.ownerToken });
      const etag = read.headers.get('etag')!;
      const ok = await app.call('PATCH', `/v1/users/${u.id}`, {
        token: acct.ownerToken,
        headers: { 'if-match': etag },
        body: { call_timeout: 45, call_recording: 'both', forward_behavior: { mode: 'forward_on_no_answer', destination: '+14155550199' } },
      });
      expect(ok.status).to.equal(200);
      expect(ok.body).to.include({ call_timeout: 45, call_recording: 'both' });
      expect(ok.headers.get('etag')).to.not.equal(etag);
      const stale = await app.call('PATCH', `/v1/users/${u.id}`, { token: acct.ownerToken, headers: { 'if-match': etag }, body: { call_timeout: 50 } });
      expect(stale.status).to.equal(412);
    });

    it("keeps the owner's role: 422 owner_cannot_be_demoted, and the owner cannot be deleted", async () => {
      const demote = await app.call('PATCH', `/v1/users/${acct.ownerId}`, { token: acct.ownerToken, body: { role: 'admin' } });
      expect(demote.status).to.equal(422);
      expect(demote.body.error.code).to.equal('owner_cannot_be_demoted');
      const del = await app.call('DELETE', `/v1/users/${acct.ownerId}`, { token: acct.ownerToken });
      expect(del.status).to.equal(422);
      expect(del.body.error.code).to.equal('owner_cannot_be_deleted');
    });
  });

  describe('roles', () => {
    it('lets a viewer read everything and change nothing', async () => {
      const { token } = await createMember(app, acct.ownerToken, 'viewer');
      const list = await app.call('GET', '/v1/users', { token });
      expect(list.status).to.equal(200);
      expect(list.body.data.length).to.be.greaterThan(1);
      const create = await app.call('POST', '/v1/users', { token, body: { name: 'X', extension: '777', username: unique('v') } });
      expect(create.status).to.equal(403);
      expect(create.body.error.code).to.equal('read_only_role');
    });

    it('lets a user read and change only its own self-service fields', async () => {
      const { user, token } = await createMember(app, acct.ownerToken, 'user');
      const other = await createUser(app, acct.ownerToken);
      expect((await app.call('GET', `/v1/users/${other.id}`, { token })).status).to.equal(404);
      const self = await app.call('PATCH', `/v1/users/${user.id}`, { token, body: { mobile: '+14155550123', call_timeout: 20 } });
      expect(self.status).to.equal(200);
      const denied = await app.call('PATCH', `/v1/users/${user.id}`, { token, body: { max_bindings: 50 } });
      expect(denied.status).to.equal(403);
      expect(denied.body.error).to.include({ code: 'field_not_self_service', field: 'max_bindings' });
      const list = await app.call('GET', '/v1/users', { token });
      expect(list.body.data.map((u: { id: number }) => u.id)).to.deep.equal([user.id]);
    });

    it('kills access tokens at once when the user is deleted', async () => {
      const { user, token } = await createMember(app, acct.ownerToken, 'admin');
      expect((await app.call('GET', '/v1/users', { token })).status).to.equal(200);
      expect((await app.call('DELETE', `/v1/users/${user.id}`, { token: acct.ownerToken })).status).to.equal(204);
      const after = await app.call('GET', '/v1/users', { token });
      expect(after.status).to.equal(401);
      expect(after.body.error.code).to.equal('invalid_token');
    });
  });

  describe('GET /v1/users (pagination and filters)', () => {
    it('walks every user with the cursor and filters by role, extension, name prefix', async () => {
      const acct2 = await createAccount(app);
      for (let i = 0; i < 5; i++) await createUser(app, acct2.ownerToken, { name: `Zed ${i}`, extension: String(300 + i), role: i % 2 ? 'admin' : 'user' });
      const seen: number[] = [];
      let cursor: string | null = null;
      do {
        const r: any = await app.call('GET', `/v1/users?limit=2${cursor ? `&cursor=${cursor}` : ''}`, { token: acct2.ownerToken });
        seen.push(...r.body.data.map((u: { id: number }) => u.id));
        cursor = r.body.next_cursor;
      } while (cursor);
      expect(seen).to.have.length(6);
      expect(new Set(seen).size).to.equal(6);
      const admins = await app.call('GET', '/v1/users?role=admin', { token: acct2.ownerToken });
      expect(admins.body.data).to.have.length(2);
      const ext = await app.call('GET', '/v1/users?extension=302', { token: acct2.ownerToken });
      expect(ext.body.data.map((u: { name: string }) => u.name)).to.deep.equal(['Zed 2']);
      const byName = await app.call('GET', '/v1/users?name=Zed&sort=name&limit=10', { token: acct2.ownerToken });
      expect(byName.body.data.map((u: { name: string }) => u.name)).to.deep.equal(['Zed 0', 'Zed 1', 'Zed 2', 'Zed 3', 'Zed 4']);
      const bad = await app.call('GET', '/v1/users?cursor=garbage', { token: acct2.ownerToken });
      expect(bad.status).to.equal(400);
    });
  });

  describe('secrets', () => {
    it('rotates, reveals (audited) and refuses a weak SIP password', async () => {
      const u = await createUser(app, acct.ownerToken);
      const rot = await app.call('POST', `/v1/users/${u.id}/sip-password`, { token: acct.ownerToken, body: {} });
      expect(rot.status).to.equal(200);
      expect(rot.body.sip_password).to.not.equal(u.sip_password);
      const reveal = await app.call('GET', `/v1/users/${u.id}/sip-password`, { token: acct.ownerToken });
      expect(reveal.body.sip_password).to.equal(rot.body.sip_password);
      const weak = await app.call('POST', `/v1/users/${u.id}/sip-password`, { token: acct.ownerToken, body: { password: 'short' } });
      expect(weak.status).to.equal(422);
      expect(weak.body.error.code).to.equal('weak_sip_password');
      const entries = await app.services.db.models.AuditEntry.findAll({ where: { target_type: 'user', target_id: String(u.id) } });
      expect(entries.map((e) => e.action)).to.include.members(['user.created', 'user.sip_password_changed', 'user.sip_password_revealed']);
      const dump = JSON.stringify(entries.map((e) => e.toJSON()));
      expect(dump).to.not.include(u.sip_password);
      expect(dump).to.not.include(rot.body.sip_password);
      expect(dump).to.not.include(u.oncall_pin);
    });

    it('resets the OnCall PIN and returns it once', async () => {
      const u = await createUser(app, acct.ownerToken);
      const r = await app.call('POST', `/v1/users/${u.id}/oncall-pin`, { token: acct.ownerToken });
      expect(r.body.oncall_pin).to.match(/^\d{6}$/);
    });
  });

  it('a member can sign in with a password', async () => {
    const { user } = await createMember(app, acct.ownerToken, 'admin');
    expect(await login(app, user.username, 'member-password-123')).to.match(/^sbat_/);
  });
});
