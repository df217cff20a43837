import { expect } from 'chai';
import { ParsedSipRequest } from '../../sip/message/sip-request.js';
import { buildResponse, responseBasisOf, salvageResponseBasis } from '../../sip/message/response-builder.js';
import { HeaderSection } from '../../sip/message/header-section.js';

const limits = { maxHeaderBytes: 16384, maxBodyBytes: 65536 };

function request(via: string, to = 'To: <sip:a@example.com>'): ParsedSipRequest {
  return ParsedSipRequest.parse(
    Buffer.from(
      [
        'REGISTER sip:example.com SIP/2.0',
        via,
        'Via: SIP/2.0/TCP proxy.example.net;branch=z9hG4bKp',
        'From: <sip:a@example.com>;tag=f',
        to,
        'Call-ID: c@x',
        'CSeq: 4 REGISTER',
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n'),
    ),
    limits,
  );
}

const ok = {
  status: 200,
  reason: 'OK',
  headers: [
    ['Contact', '<sip:a@192.0.2.1>;expires=60'],
    ['Contact', '<sip:a@192.0.2.2>;expires=30'],
  ] as Array<[string, string]>,
};
const source = { address: '198.51.100.4', port: 40123 };

describe('buildResponse', () => {
  it('fills rport and received on the top Via only (RFC 3581 §4)', () => {
    const text = buildResponse(responseBasisOf(request('Via: SIP/2.0/UDP 10.0.0.5:5060;rport;branch=z9hG4bKa')), ok, { source, serverHeader: 'Switchboard' });
    const vias = text.split('\r\n').filter((l) => l.startsWith('Via:'));
    expect(vias).to.deep.equal([
      'Via: SIP/2.0/UDP 10.0.0.5:5060;rport=40123;branch=z9hG4bKa;received=198.51.100.4',
      'Via: SIP/2.0/TCP proxy.example.net;branch=z9hG4bKp',
    ]);
  });

  it('adds received only when sent-by differs from the source without rport (RFC 3261 §18.2.1)', () => {
    const same = buildResponse(responseBasisOf(request('Via: SIP/2.0/UDP 198.51.100.4:5060;branch=z9hG4bKa')), ok, { source, serverHeader: '' });
    expect(same).to.include('Via: SIP/2.0/UDP 198.51.100.4:5060;branch=z9hG4bKa\r\n');
    const differs = buildResponse(responseBasisOf(request('Via: SIP/2.0/UDP host.example.com;branch=z9hG4bKa')), ok, { source, serverHeader: '' });
    expect(differs).to.include('Via: SIP/2.0/UDP host.example.com;branch=z9hG4bKa;received=198.51.100.4\r\n');
  });

  it('copies From, To, Call-ID, CSeq, adds a To tag, spec headers in order, Server and Content-Length', () => {
    const text = buildResponse(responseBasisOf(request('Via: SIP/2.0/UDP 10.0.0.5;branch=z9hG4bKa')), ok, { source, serverHeader: 'Switchboard' });
    const lines = text.split('\r\n');
    expect(lines[0]).to.equal('SIP/2.0 200 OK');
    expect(lines).to.include('From: <sip:a@example.com>;tag=f');
    expect(lines.find((l) => l.startsWith('To:'))).to.match(/^To: <sip:a@example.com>;tag=[0-9a-f]{16}$/);
    expect(lines).to.include('Call-ID: c@x');
    expect(lines).to.include('CSeq: 4 REGISTER');
    expect(lines.filter((l) => l.startsWith('Contact:'))).to.deep.equal(['Contact: <sip:a@192.0.2.1>;expires=60', 'Contact: <sip:a@192.0.2.2>;expires=30']);
    expect(lines).to.include('Server: Switchboard');
    expect(text.endsWith('Content-Length: 0\r\n\r\n')).to.equal(true);
  });

  it('keeps an existing To tag and adds none to 100 Trying', () => {
    const tagged = buildResponse(responseBasisOf(request('Via: SIP/2.0/UDP 10.0.0.5;branch=z9hG4bKa', 'To: <sip:a@example.com>;tag=xyz')), ok, {
      source,
      serverHeader: '',
    });
    expect(tagged).to.include('To: <sip:a@example.com>;tag=xyz\r\n');
    const trying = buildResponse(
      responseBasisOf(request('Via: SIP/2.0/UDP 10.0.0.5;branch=z9hG4bKa')),
      { status: 100, reason: 'Trying', headers: [] },
      { source, serverHeader: '' },
    );
    expect(trying).to.include('To: <sip:a@example.com>\r\n');
  });

  it('never lets a header value inject a line', () => {
    const text = buildResponse(
      responseBasisOf(request('Via: SIP/2.0/UDP 10.0.0.5;branch=z9hG4bKa')),
      { status: 200, reason: 'OK', headers: [['Warning', 'a\r\nX-Evil: 1']] },
      { source, serverHeader: '' },
    );
    expect(text).to.not.include('\r\nX-Evil');
  });

  it('builds a 400 from what could be read of an invalid request', () => {
    const section = HeaderSection.read('INVITE <sip:x> SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.5;;,\r\nCSeq: 1 INVITE\r\nCall-ID: q');
    const basis = salvageResponseBasis(section);
    expect(basis).to.not.equal(undefined);
    const text = buildResponse(basis!, { status: 400, reason: 'Bad Request', headers: [] }, { source, serverHeader: '' });
    expect(text).to.include('Via: SIP/2.0/UDP 10.0.0.5;;\r\n');
    expect(text).to.include('CSeq: 1 INVITE\r\n');
    expect(salvageResponseBasis(HeaderSection.read('SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP a\r\nCSeq: 1 X'))).to.equal(undefined);
  });
});
