import { expect } from 'chai';
import { createSipUser, startRegistrar, type RegistrarHarness } from './registrar-helpers.js';
import { SipPhone } from './sip-phone.js';

const USER_FAILURES = 4;

function status(text: string): number {
  return Number(text.slice(8, 11));
}
function reason(text: string): string {
  return text.split('\r\n')[0]!.slice(12);
}
function header(text: string, name: string): string | undefined {
  const line = text.split('\r\n').find((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`));
  return line?.slice(line.indexOf(':') + 1).trim();
}

describe('SIP registrar hardening, through phones on UDP sockets', function () {
  this.timeout(30_000);
  let h: RegistrarHarness;
  const phones: SipPhone[] = [];
  const phone = async (address = '127.0.0.1') => {
    const p = await SipPhone.open('udp', h.edge!.port('udp'), address);
    phones.push(p);
    return p;
  };

  before(async () => {
    h = await startRegistrar({
      edge: ['udp'],
      sip: { protection: { usernameFailures: USER_FAILURES, ipFailures: 1000, windowSeconds: 300, banSeconds: 600, trustedSourceSeconds: 3600 } },
    });
  });
  after(async () => {
    for (const p of phones.splice(0)) await p.close();
    await h.stop();
  });

  describe('failures per user', () => {
    it('counts wrong passwords for the username and the extension as one user: the limit is reached after usernameFailures in all', async () => {
      const u = await createSipUser(h.app);
      const guesser = await phone('127.0.0.2');
      for (let i = 0; i < USER_FAILURES; i++) {
        const authUser = i % 2 === 0 ? u.username : u.extension;
        const r = await guesser.register({ user: authUser, domain: u.domain, password: 'Wrong-password-1', authUser });
        expect(status(r), `guess ${i + 1}`).to.equal(401);
      }
      for (const name of [u.username, u.extension]) {
        const r = await guesser.register({ user: name, domain: u.domain, password: u.password, authUser: name });
        expect([status(r), reason(r)], name).to.deep.equal([403, 'Forbidden']);
        expect(Number(header(r, 'Retry-After'))).to.be.within(590, 600);
      }
    });
  });

  describe('a blocked user keeps the phones that registered before', () => {
    it('refuses the guesser and a new source, and lets the source that authenticated as the user register', async () => {
      const u = await createSipUser(h.app);
      const desk = await phone('127.0.0.3');
      expect(status(await desk.register({ user: u.username, domain: u.domain, password: u.password }))).to.equal(200);

      const guesser = await phone('127.0.0.4');
      for (let i = 0; i < USER_FAILURES; i++) await guesser.register({ user: u.username, domain: u.domain, password: `Wrong-${i}-password` });
      const blocked = await guesser.register({ user: u.username, domain: u.domain, password: u.password });
      expect(status(blocked), 'the guesser, even with the right password').to.equal(403);
      const stranger = await phone('127.0.0.5');
      expect(status(await stranger.register({ user: u.username, domain: u.domain, password: u.password })), 'a source never seen').to.equal(403);

      expect(status(await desk.register({ user: u.username, domain: u.domain, password: u.password })), 'the desk phone refreshes').to.equal(200);
      expect(status(await desk.register({ user: u.extension, domain: u.domain, password: u.password, authUser: u.extension }))).to.equal(200);
      // Trusted for the right password only: a wrong one from the desk is still a wrong one.
      expect(status(await desk.register({ user: u.username, domain: u.domain, password: 'Wrong-password-9' }))).to.equal(401);
    });
  });

  describe('digest uri (RFC 7616 §3.4.6)', () => {
    it('answers 400 to a correct answer computed for another uri, and changes nothing', async () => {
      const u = await createSipUser(h.app);
      const p = await phone();
      const r = await p.register({ user: u.username, domain: u.domain, password: u.password, digestUri: 'sip:evil.example' });
      expect(status(r)).to.equal(400);
      expect(reason(r)).to.equal(`Bad Request (digest uri sip:evil.example is not the Request-URI sip:${u.domain})`);
      expect(await h.app.services.db.models.Registration.count({ where: { user_id: u.id } })).to.equal(0);
    });

    it('accepts a uri equal to the Request-URI under RFC 3261 §19.1.4 (host case, parameter order), but not another port', async () => {
      const u = await createSipUser(h.app);
      const p = await phone();
      const upper = `sip:${u.domain.toUpperCase()}`;
      expect(status(await p.register({ user: u.username, domain: u.domain, password: u.password, digestUri: upper }))).to.equal(200);
      const withPort = await p.register({ user: u.username, domain: u.domain, password: u.password, digestUri: `sip:${u.domain}:5060` });
      expect(status(withPort)).to.equal(400);
    });
  });

  describe('warnings that say what happened', () => {
    it('says how many devices one REGISTER asked for and how many max_bindings allows', async () => {
      const u = await createSipUser(h.app, { max_bindings: 1 });
      const p = await phone();
      const r = await p.register({
        user: u.username,
        domain: u.domain,
        password: u.password,
        contact: '<sip:a@127.0.0.1:5071>, <sip:b@127.0.0.1:5072>',
      });
      expect([status(r), reason(r)]).to.deep.equal([403, 'Too Many Bindings']);
      expect(header(r, 'Warning')).to.equal('399 switchboard "this REGISTER adds 2 new devices, max_bindings allows 1; none registered yet"');
    });

    it('answers an out-of-order CSeq with 500 CSeq Out Of Order and a Warning with both numbers', async () => {
      const u = await createSipUser(h.app);
      const p = await phone();
      expect(status(await p.register({ user: u.username, domain: u.domain, password: u.password, cseq: 10 }))).to.equal(200);
      const r = await p.register({ user: u.username, domain: u.domain, password: u.password, cseq: 5 });
      expect([status(r), reason(r)]).to.deep.equal([500, 'CSeq Out Of Order']);
      expect(header(r, 'Warning')).to.equal(
        `399 switchboard "CSeq 6 is not higher than 11, the last one seen for this Call-ID and contact sip:phone-${p.port}@127.0.0.1:${p.port};transport=udp; out-of-order update ignored (RFC 3261 10.3 step 7)"`,
      );
    });
  });
});
