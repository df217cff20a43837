import { expect } from 'chai';
import { decodeUserPart } from '../../sip/message/sip-uri.js';
import { scannerUserAgentMatcher } from '../../sip/registrar/auth-failure-guard.js';

describe('decodeUserPart (RFC 3261 §19.1.4 escapes in a URI user part)', () => {
  it('decodes %-escapes', () => {
    expect(decodeUserPart('%61lice')).to.equal('alice');
    expect(decodeUserPart('+1%20555')).to.equal('+1 555');
  });

  it('returns a user part without escapes as given', () => {
    expect(decodeUserPart('u000123')).to.equal('u000123');
    expect(decodeUserPart('')).to.equal('');
  });

  it('returns a malformed escape as given instead of throwing', () => {
    expect(decodeUserPart('100%')).to.equal('100%');
    expect(decodeUserPart('%E0%A4%A')).to.equal('%E0%A4%A');
  });
});

describe('scannerUserAgentMatcher', () => {
  const isScanner = scannerUserAgentMatcher(['friendly-scanner', 'SIPVicious']);

  it('matches a pattern anywhere in the User-Agent, whatever the case of either', () => {
    expect(isScanner('friendly-scanner')).to.equal(true);
    expect(isScanner('sipvicious 0.3.4')).to.equal(true);
    expect(isScanner('Mozilla FRIENDLY-SCANNER/1.0')).to.equal(true);
  });

  it('lets other and missing User-Agents through', () => {
    expect(isScanner('Yealink SIP-T46S 66.86.0.15')).to.equal(false);
    expect(isScanner(undefined)).to.equal(false);
    expect(isScanner('')).to.equal(false);
  });

  it('matches nothing without patterns', () => {
    expect(scannerUserAgentMatcher([])('friendly-scanner')).to.equal(false);
  });
});
