import { expect } from 'chai';
import { createAccount, createMember } from '../helpers/factories.js';
import { createSipUser, registerThroughCore, startRegistrar, type RegistrarHarness } from '../sip/registrar-helpers.js';

describe('Registrations API', () => {
  let h: RegistrarHarness;
  before(async () => {
    h = await startRegistrar({ realClock: true });
  });
  after(async () => h.stop());

  async function registered(fields: Record<string, unknown> = {}) {
    const u = await createSipUser(h.app, fields);
    for (const [i, ua] of ['Yealink T46U', 'Zoiper 5'].entries()) {
      const r = await registerThroughCore(h, {
        user: u.username,
        domain: u.domain,
        password: u.password,
        contacts: [`<sip:d${i}@192.0.2.${i + 1}:5060>`],
        expires: 600,
        userAgent: ua,
      });
      expect(r!.status).to.equal(200);
    }
    return u;
  }

  it('GET /v1/users/{id}/registrations lists contact, transport, source, user agent and expiry', async () => {
    const u = await registered();
    const r = await h.app.call('GET', `/v1/users/${u.id}/registrations`, { token: u.account.ownerToken });
    expect(r.status).to.equal(200);
    expect(r.body.data).to.have.length(2);
    const first = r.body.data[0];
    expect(first).to.include({
      contact: 'sip:d0@192.0.2.1:5060',
      transport: 'udp',
      source_address: '127.0.0.1',
      user_agent: 'Yealink T46U',
      instance_id: null,
    });
    expect(first.expires_in).to.be.within(590, 600);
    expect(first.registered_at).to.match(/^\d{4}-\d\d-\d\dT/);
  });

  it('DELETE one binding removes it, writes an audit entry, and a second DELETE is 404', async () => {
    const u = await registered();
    const list = await h.app.call('GET', `/v1/users/${u.id}/registrations`, { token: u.account.ownerToken });
    const id = list.body.data[0].id;
    expect((await h.app.call('DELETE', `/v1/users/${u.id}/registrations/${id}`, { token: u.account.ownerToken })).status).to.equal(204);
    const after = await h.app.call('GET', `/v1/users/${u.id}/registrations`, { token: u.account.ownerToken });
    expect(after.body.data.map((b: { id: number }) => b.id)).to.not.include(id);
    const audit = await h.app.services.db.models.AuditEntry.findOne({ where: { action: 'registration.deleted', target_id: String(id) } });
    expect(audit).to.not.equal(null);
    expect((await h.app.call('DELETE', `/v1/users/${u.id}/registrations/${id}`, { token: u.account.ownerToken })).status).to.equal(404);
  });

  it('DELETE all removes every binding of the user', async () => {
    const u = await registered();
    expect((await h.app.call('DELETE', `/v1/users/${u.id}/registrations`, { token: u.account.ownerToken })).status).to.equal(204);
    expect((await h.app.call('GET', `/v1/users/${u.id}/registrations`, { token: u.account.ownerToken })).body.data).to.deep.equal([]);
  });

  it('GET /v1/registrations shows admins every binding of their account only', async () => {
    const u = await registered();
    const other = await registered();
    const r = await h.app.call('GET', '/v1/registrations', { token: u.account.ownerToken });
    expect(r.status).to.equal(200);
    expect(new Set(r.body.data.map((b: { user_id: number }) => b.user_id))).to.deep.equal(new Set([u.id]));
    expect((await h.app.call('GET', `/v1/users/${other.id}/registrations`, { token: u.account.ownerToken })).status).to.equal(404);
    expect((await h.app.call('DELETE', `/v1/users/${other.id}/registrations`, { token: u.account.ownerToken })).status).to.equal(404);
  });

  it('lets a plain user see and remove only its own devices', async () => {
    const acct = await createAccount(h.app);
    const member = await createMember(h.app, acct.ownerToken, 'user');
    const colleague = await createSipUser(h.app, {}, acct);
    expect((await h.app.call('GET', `/v1/users/${member.user.id}/registrations`, { token: member.token })).status).to.equal(200);
    expect((await h.app.call('GET', `/v1/users/${colleague.id}/registrations`, { token: member.token })).status).to.equal(404);
    expect((await h.app.call('GET', '/v1/registrations', { token: member.token })).status).to.equal(403);
    expect((await h.app.call('DELETE', `/v1/users/${member.user.id}/registrations`, { token: member.token })).status).to.equal(204);
  });
});
