import { expect } from 'chai';
import { authorize, createSipUser, md5Challenge, registerText, startRegistrar, type RegistrarHarness } from './registrar-helpers.js';
import { SipPhone } from './sip-phone.js';

const toTag = (response: string) => /^To:.*;tag=([^;\s]+)/im.exec(response)?.[1];

// RFC 3261 §8.2.7 on the built-in edge: the challenge that starts every registration keeps no transaction.
describe('the challenge to a REGISTER without credentials is stateless (built-in edge, UDP)', function () {
  this.timeout(20_000);
  let h: RegistrarHarness;
  let phone: SipPhone;

  before(async () => {
    h = await startRegistrar({ edge: ['udp'] });
    phone = await SipPhone.open('udp', h.edge!.port('udp'));
  });
  after(async () => {
    await phone.close();
    await h.stop();
  });

  it('answers each copy of the request afresh with the same To tag, keeps no transaction for it, and keeps the 200 for retransmissions', async () => {
    const u = await createSipUser(h.app);
    const callId = `stateless-${Date.now()}`;
    const via = (branch: string) => `Via: SIP/2.0/UDP ${phone.address}:${phone.port};branch=z9hG4bK-${branch};rport`;
    const contact = `<sip:${u.username}@${phone.address}:${phone.port}>`;
    const unauthenticated = registerText({ user: u.username, domain: u.domain, callId, cseq: 1, contacts: [contact], via: via('first') });
    const before = h.edge!.stats();

    phone.send(unauthenticated);
    const first = await phone.next();
    phone.send(unauthenticated);
    const again = await phone.next();
    expect([first.slice(0, 11), again.slice(0, 11)]).to.deep.equal(['SIP/2.0 401', 'SIP/2.0 401']);
    expect(toTag(first)).to.be.a('string').and.equal(toTag(again));
    const afterChallenges = h.edge!.stats();
    expect(afterChallenges.transactions, 'no transaction waits Timer J for a challenge').to.equal(before.transactions);
    expect(afterChallenges.retransmissions, 'the copy was handled again, not absorbed').to.equal(before.retransmissions);

    // The answer to either challenge registers; its 200 is kept, and a retransmission gets those very bytes.
    const authorization = authorize(md5Challenge(again), u.username, u.password, `sip:${u.domain}`);
    const authenticated = registerText({ user: u.username, domain: u.domain, callId, cseq: 2, contacts: [contact], via: via('second'), authorization });
    phone.send(authenticated);
    const ok = await phone.next();
    expect(ok.slice(0, 11)).to.equal('SIP/2.0 200');
    expect(h.edge!.stats().transactions).to.equal(before.transactions + 1);
    phone.send(authenticated);
    expect(await phone.next()).to.equal(ok);
    expect(h.edge!.stats().retransmissions).to.equal(before.retransmissions + 1);
  });
});
