import crypto from 'node:crypto';
import { expect } from 'chai';
import { NonceService } from '../../sip/digest/nonce-service.js';
import { fillRandom } from '../../sip/message/random-pool.js';

describe('NonceService (stateless digest nonces)', () => {
  const secret = crypto.randomBytes(32);
  let now = 1_800_000_000_000;
  const nonces = new NonceService(secret, 300_000, () => now);

  it('signs issuedAt ‖ random with standard HMAC-SHA256 over realm ‖ NUL ‖ payload, so nodes of every version agree', () => {
    const raw = Buffer.from(nonces.issue('pbx.example'), 'base64url');
    const payload = raw.subarray(0, 16);
    const expected = crypto.createHmac('sha256', secret).update('pbx.example\0').update(payload).digest().subarray(0, 16);
    expect(raw.subarray(16).equals(expected)).to.equal(true);
    expect(Number(payload.readBigUInt64BE(0))).to.equal(now);
    // Non-ASCII and over-long realms (the latter past the scratch buffer) sign the same way.
    for (const realm of ['bü.example', 'x'.repeat(900)]) {
      const r = Buffer.from(nonces.issue(realm), 'base64url');
      const mac = crypto.createHmac('sha256', secret).update(`${realm}\0`).update(r.subarray(0, 16)).digest().subarray(0, 16);
      expect(r.subarray(16).equals(mac), realm.slice(0, 12)).to.equal(true);
      expect(nonces.check(realm, r.toString('base64url'))).to.equal('valid');
    }
  });

  it('accepts its own nonce, says stale past the TTL, and refuses one of another realm, a tampered one or one from another secret', () => {
    const n = nonces.issue('pbx.example');
    expect(nonces.check('pbx.example', n)).to.equal('valid');
    expect(nonces.check('other.example', n)).to.equal('invalid');
    const tampered = Buffer.from(n, 'base64url');
    tampered[9]! ^= 1;
    expect(nonces.check('pbx.example', tampered.toString('base64url'))).to.equal('invalid');
    expect(new NonceService(crypto.randomBytes(32), 300_000, () => now).check('pbx.example', n)).to.equal('invalid');
    now += 300_001;
    expect(nonces.check('pbx.example', n)).to.equal('stale');
  });

  it('never issues the same nonce twice in the same millisecond (fresh random bytes each time)', () => {
    const seen = new Set(Array.from({ length: 5000 }, () => nonces.issue('pbx.example')));
    expect(seen.size).to.equal(5000);
    const a = Buffer.alloc(8);
    const b = Buffer.alloc(8);
    fillRandom(a, 0, 8);
    fillRandom(b, 0, 8);
    expect(a.equals(b)).to.equal(false);
  });

  it('keys nonce counts by 48 of the random bits: equal for one nonce, distinct for nonces issued in the same millisecond', () => {
    const keys = new Set<number>();
    for (let i = 0; i < 5000; i++) {
      const nonce = nonces.issue('pbx.example');
      const key = nonces.replayKey(nonce);
      expect(key).to.equal(nonces.replayKey(nonce));
      expect(Number.isInteger(key) && key >= 0 && key < 2 ** 48).to.equal(true);
      // The bits come from the random bytes: the same value read off the decoded token.
      // Token bits 66..113 (bytes 8..15 are the random ones): bits 14..61 of that 64-bit word counted from its low end.
      expect(key).to.equal(Number((Buffer.from(nonce, 'base64url').readBigUInt64BE(8) >> 14n) & (2n ** 48n - 1n)));
      keys.add(key);
    }
    expect(keys.size).to.equal(5000);
  });
});
