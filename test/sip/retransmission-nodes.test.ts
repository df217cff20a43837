import dgram from 'node:dgram';
import { expect } from 'chai';
import { startTestApp, type TestApp } from '../helpers/test-app.js';
import { TEST_DIALECT } from '../helpers/test-database.js';
import { createSipUser } from './registrar-helpers.js';
import { SipPhone } from './sip-phone.js';
import { startSipNode, type SipNode } from './sip-node.js';

/**
 * A REGISTER's server transaction lives in the process that received it.
 * With SIP workers sharing one UDP socket (or nodes behind a stateless
 * balancer), a phone's retransmission can reach a sibling that has no such
 * transaction and finds the binding the first one already wrote, with this
 * very Call-ID and CSeq. Two nodes on one database make that deterministic.
 */
describe(`A retransmitted REGISTER that reaches another registrar (${TEST_DIALECT})`, function () {
  this.timeout(90_000);
  let app: TestApp;
  let a: SipNode;
  let b: SipNode;

  before(async () => {
    app = await startTestApp();
    [a, b] = await Promise.all([startSipNode(app, { jobs: { enabled: false } }), startSipNode(app, { jobs: { enabled: false } })]);
  });
  after(async () => {
    await Promise.all([a?.server.stop(), b?.server.stop()]);
    await app.stop();
  });

  it('is answered 200 with the binding as the first registrar wrote it, not 500 CSeq Out Of Order, and changes nothing', async () => {
    const u = await createSipUser(app);
    const phone = await SipPhone.open('udp', a.udpPort);
    let sibling: dgram.Socket | undefined;
    try {
      expect((await phone.register({ user: u.username, domain: u.domain, password: u.password, expires: 600 })).split('\r\n')[0]).to.equal('SIP/2.0 200 OK');
      const Registration = app.services.db.models.Registration;
      const before = await Registration.findAll({ where: { user_id: u.id }, raw: true });
      expect(before).to.have.length(1);

      // The answer to the challenge, byte for byte, delivered to the other registrar (rport: it answers this socket).
      const authorized = phone.lastSent;
      expect(authorized).to.match(/\r\nAuthorization: Digest /);
      sibling = dgram.createSocket('udp4');
      await new Promise<void>((r) => sibling!.bind(0, '127.0.0.1', r));
      const answer = new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no answer from the second registrar')), 5000);
        sibling!.once('message', (m) => {
          clearTimeout(timer);
          resolve(m.toString('utf8'));
        });
      });
      sibling.send(authorized, b.udpPort, '127.0.0.1');
      const response = await answer;

      expect(response.split('\r\n')[0]).to.equal('SIP/2.0 200 OK');
      const contacts = response.split('\r\n').filter((l) => /^Contact:/i.test(l));
      expect(contacts).to.have.length(1);
      expect(contacts[0]).to.include(`sip:phone-${phone.port}@127.0.0.1:${phone.port}`);
      expect(await Registration.findAll({ where: { user_id: u.id }, raw: true })).to.deep.equal(before);
    } finally {
      sibling?.close();
      await phone.close();
    }
  });
});
