import { expect } from 'chai';
import { parseDigestCredentials } from '../../sip/digest/digest-credentials.js';

describe('parseDigestCredentials (RFC 7235 auth-params of a Digest Authorization)', () => {
  const sipp =
    'Digest username="u000123",realm="bench.example",cnonce="6b8b4567",nc=00000001,qop=auth,uri="sip:bench.example",nonce="AAAB-_x",response="0f3c",algorithm=MD5';

  it('reads quoted and token values, in any order, and defaults the algorithm to MD5', () => {
    expect(parseDigestCredentials(sipp)).to.deep.equal({
      username: 'u000123',
      realm: 'bench.example',
      nonce: 'AAAB-_x',
      uri: 'sip:bench.example',
      response: '0f3c',
      algorithm: 'MD5',
      qop: 'auth',
      nc: '00000001',
      cnonce: '6b8b4567',
      opaque: undefined,
    });
    const minimal = parseDigestCredentials('digest  realm="r" ,\t username = "a" , nonce=n, uri="sip:r", response=x, opaque=""');
    expect(minimal).to.include({ username: 'a', realm: 'r', nonce: 'n', algorithm: 'MD5', opaque: '' });
    expect(minimal?.qop).to.equal(undefined);
  });

  it('unescapes quoted-pairs, keeps commas and spaces inside quotes, and ignores parameters it does not know', () => {
    const c = parseDigestCredentials('Digest username="a\\"b\\\\c", realm="x, y z", nonce="n", uri="sip:x", response="r", userhash=false, extra="1,2"');
    expect(c).to.include({ username: 'a"b\\c', realm: 'x, y z' });
  });

  it('refuses another scheme, a parameter named twice, a missing required one, an unterminated quote and a value without "="', () => {
    const base = 'username="a", realm="r", nonce="n", uri="sip:r", response="x"';
    expect(parseDigestCredentials(`Digest ${base}`)).to.not.equal(undefined);
    for (const bad of [
      `Basic ${base}`,
      `Digest${base}`,
      `Digest ${base}, realm="r"`,
      `Digest ${base}, Nonce="m"`,
      'Digest username="a", realm="r", nonce="n", uri="sip:r"',
      `Digest ${base}, cnonce="open`,
      `Digest ${base}, cnonce="ends in a backslash\\`,
      `Digest ${base}, qop`,
      `Digest ${base}, ="v"`,
      `Digest ${base}, ${'p'.repeat(65)}=1`,
    ]) {
      expect(parseDigestCredentials(bad), bad).to.equal(undefined);
    }
  });
});
