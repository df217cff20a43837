import { expect } from 'chai';
import { SipPhone } from './sip-phone.js';
import { createSipUser, startRegistrar, type RegistrarHarness } from './registrar-helpers.js';
import { TEST_DIALECT } from '../helpers/test-database.js';

// PATCH /v1/account {"binding_policy"} as a phone at the limit sees it.
describe(`Account binding_policy set over the API (${TEST_DIALECT})`, () => {
  let h: RegistrarHarness;

  before(async () => {
    h = await startRegistrar({ edge: ['udp'], realClock: true, sip: { registrar: { credentialCacheSeconds: 0 } } });
  });
  after(async () => h.stop());

  it('evict_oldest lets a third phone in at max_bindings 2 by replacing the oldest; reject (the default) refuses it', async () => {
    const u = await createSipUser(h.app, { max_bindings: 2 });
    const phones = await Promise.all([0, 1, 2, 3].map(() => SipPhone.open('udp', h.edge!.port('udp'))));
    try {
      const reg = (p: SipPhone) => p.register({ user: u.username, domain: u.domain, password: u.password, expires: 600 });
      expect((await reg(phones[0]!)).split('\r\n')[0]).to.equal('SIP/2.0 200 OK');
      expect((await reg(phones[1]!)).split('\r\n')[0]).to.equal('SIP/2.0 200 OK');
      expect((await reg(phones[2]!)).split('\r\n')[0]).to.equal('SIP/2.0 403 Too Many Bindings');

      const r = await h.app.call('PATCH', '/v1/account', { token: u.account.ownerToken, body: { binding_policy: 'evict_oldest' } });
      expect(r.status, JSON.stringify(r.body)).to.equal(200);
      expect((await reg(phones[2]!)).split('\r\n')[0]).to.equal('SIP/2.0 200 OK');
      const contacts = (await h.app.services.db.models.Registration.findAll({ where: { user_id: u.id } })).map((b) => b.contact_uri);
      expect(contacts).to.have.length(2);
      expect(contacts.some((c) => c.includes(`phone-${phones[0]!.port}@`))).to.equal(false);
      expect(contacts.some((c) => c.includes(`phone-${phones[2]!.port}@`))).to.equal(true);

      await h.app.call('PATCH', '/v1/account', { token: u.account.ownerToken, body: { binding_policy: 'reject' } });
      expect((await reg(phones[3]!)).split('\r\n')[0]).to.equal('SIP/2.0 403 Too Many Bindings');
    } finally {
      for (const p of phones) await p.close();
    }
  });
});
