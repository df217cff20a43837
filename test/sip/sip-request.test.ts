import { expect } from 'chai';
import { ParsedSipRequest, SipParseError } from '../../sip/message/sip-request.js';
import { fixture } from './helpers.js';

const limits = { maxHeaderBytes: 16384, maxBodyBytes: 65536 };
const parse = (text: string): ParsedSipRequest => ParsedSipRequest.parse(Buffer.from(text), limits);

function parseError(text: string): SipParseError {
  try {
    parse(text);
  } catch (err) {
    expect(err).to.be.instanceOf(SipParseError);
    return err as SipParseError;
  }
  throw new Error('expected a SipParseError');
}

const base = (headers: string[], startLine = 'REGISTER sip:example.com SIP/2.0'): string =>
  [
    startLine,
    'Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1',
    'From: <sip:a@example.com>;tag=1',
    'To: <sip:a@example.com>',
    'Call-ID: c1',
    'CSeq: 1 REGISTER',
    ...headers,
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');

describe('ParsedSipRequest', () => {
  describe('header lookup', () => {
    const req = parse(fixture('register-multi-contact.sip'));

    it('expands compact forms and ignores case', () => {
      expect(req.callId).to.equal('multi-contact-1@192.0.2.10');
      expect(req.header('Call-ID')).to.equal('multi-contact-1@192.0.2.10');
      expect(req.header('i')).to.equal('multi-contact-1@192.0.2.10');
      expect(req.header('SUPPORTED')).to.equal('path');
      expect(req.headerValues('k')).to.deep.equal(['path', 'outbound']);
      expect(req.header('content-length')).to.equal('0');
      expect(req.from.displayName).to.equal('Alice');
      expect(req.from.params['tag']).to.equal('a1');
      expect(req.topVia.host).to.equal('192.0.2.10');
      expect(req.topVia.branch).to.equal('z9hG4bK-multi-1');
    });

    it('keeps repeated headers apart and does not split auth headers at commas', () => {
      const auth = req.headerValues('authorization');
      expect(auth).to.have.length(2);
      expect(auth[0]).to.match(/^Digest username="alice", realm="example.com"/);
      expect(req.headerValues('X-CUSTOM')).to.deep.equal(['one', 'two']);
    });

    it('returns undefined and [] for an absent header', () => {
      expect(req.header('Expires')).to.equal(undefined);
      expect(req.headerValues('Expires')).to.deep.equal([]);
    });
  });

  describe('contacts()', () => {
    it('keeps each contact verbatim across comma lists, several headers and quoted commas', () => {
      const contacts = parse(fixture('register-multi-contact.sip')).contacts();
      expect(contacts).to.not.equal('*');
      if (contacts === '*') return;
      expect(contacts.map((c) => c.raw)).to.deep.equal([
        '"Desk, Phone" <sip:alice@192.0.2.10:5060;transport=udp>;expires=3600;+sip.instance="<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>";reg-id=1',
        '<sip:alice@198.51.100.7;ob>;q=0.5',
        'sip:alice@203.0.113.9;expires=60',
      ]);
      expect(contacts[0]!.displayName).to.equal('Desk, Phone');
      expect(contacts[0]!.uri).to.equal('sip:alice@192.0.2.10:5060;transport=udp');
      expect(contacts[0]!.params).to.deep.equal({
        expires: '3600',
        '+sip.instance': '"<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>"',
        'reg-id': '1',
      });
      expect(contacts[1]!.uri).to.equal('sip:alice@198.51.100.7;ob');
      expect(contacts[1]!.params).to.deep.equal({ q: '0.5' });
      // addr-spec form: ;expires is a header param, not a URI param (RFC 3261 §20.10)
      expect(contacts[2]!.uri).to.equal('sip:alice@203.0.113.9');
      expect(contacts[2]!.params).to.deep.equal({ expires: '60' });
    });

    it('returns * for the wildcard and [] without Contact', () => {
      expect(parse(base(['Contact: *', 'Expires: 0'])).contacts()).to.equal('*');
      expect(parse(base([])).contacts()).to.deep.equal([]);
    });

    it('rejects * mixed with other contacts', () => {
      expect(parseError(base(['Contact: *', 'Contact: <sip:a@b>'])).status).to.equal(400);
      expect(parseError(base(['Contact: *, <sip:a@b>'])).status).to.equal(400);
    });

    it('keeps a flag parameter as null and URI params inside <> untouched', () => {
      const c = parse(base(['Contact: <sip:a@192.0.2.1;unknownparam>;Flag;EXPIRES=30'])).contacts();
      expect(c).to.deep.equal([
        { uri: 'sip:a@192.0.2.1;unknownparam', params: { flag: null, expires: '30' }, raw: '<sip:a@192.0.2.1;unknownparam>;Flag;EXPIRES=30' },
      ]);
    });
  });

  describe('validation', () => {
    it('rejects a missing mandatory header (RFC 3261 §8.1.1)', () => {
      const text = base([]).replace('Call-ID: c1\r\n', '');
      const err = parseError(text);
      expect(err.status).to.equal(400);
      expect(err.section?.headers.get('via')).to.have.length(1);
    });

    it('accepts a missing Max-Forwards (RFC 2543 peers, RFC 4475 §3.4.1) but rejects a bad one', () => {
      expect(parse(base([])).maxForwards).to.equal(undefined);
      expect(parse(base(['Max-Forwards: 70'])).maxForwards).to.equal(70);
      expect(parseError(base(['Max-Forwards: 300'])).status).to.equal(400);
    });

    it('rejects a CSeq method that does not match the request', () => {
      expect(parseError(base([], 'OPTIONS sip:example.com SIP/2.0')).status).to.equal(400);
    });

    it('answers 505 for another SIP version', () => {
      expect(parseError(base([], 'REGISTER sip:example.com SIP/3.0')).status).to.equal(505);
    });

    it('rejects Content-Length larger than the datagram and ignores octets after the body', () => {
      expect(parseError(base([]).replace('Content-Length: 0', 'Content-Length: 10')).status).to.equal(400);
      const req = parse(base([]).replace('Content-Length: 0', 'Content-Length: 3') + 'abcdef');
      expect(req.body).to.equal('abc');
    });

    it('unfolds continuation lines', () => {
      const req = parse(base(['Subject: hello', ' world']));
      expect(req.header('subject')).to.equal('hello world');
    });
  });
});
