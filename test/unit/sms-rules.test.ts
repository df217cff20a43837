import crypto from 'node:crypto';
import { expect } from 'chai';
import { countSegments } from '../../src/messaging/sms-segments.js';
import { autoReplyDecision, routeInbound, type SmsUser } from '../../src/messaging/sms-rules.js';
import { parseTelnyx, twilioSignature, verifyTwilio } from '../../src/messaging/carrier-webhooks.js';

const user = (id: number, o: Partial<SmsUser> = {}): SmsUser => ({
  id,
  status: 'active',
  role: 'user',
  sms_enabled: true,
  sms_auto_responder_enabled: true,
  sms_auto_response_text: 'Away',
  created_at: new Date(0),
  ...o,
});

describe('SMS rules', () => {
  it('counts GSM-7 and UCS-2 segments at the 3GPP boundaries', () => {
    expect(countSegments('a'.repeat(160))).to.deep.equal({ encoding: 'gsm7', segments: 1, units: 160 });
    expect(countSegments('a'.repeat(161)).segments).to.equal(2);
    expect(countSegments('a'.repeat(306)).segments).to.equal(2);
    expect(countSegments('a'.repeat(307)).segments).to.equal(3);
    // Extension characters take two septets.
    expect(countSegments('€'.repeat(80))).to.deep.equal({ encoding: 'gsm7', segments: 1, units: 160 });
    expect(countSegments('€'.repeat(81)).segments).to.equal(2);
    expect(countSegments('ю'.repeat(70))).to.deep.equal({ encoding: 'ucs2', segments: 1, units: 70 });
    expect(countSegments('ю'.repeat(71)).segments).to.equal(2);
    // An emoji is a surrogate pair and is never split.
    expect(countSegments('😀'.repeat(35) + 'ю').segments).to.equal(2);
  });

  it('routes a shared number to the lowest-id active user with sms_enabled', () => {
    expect(routeInbound([user(5, { sms_enabled: false }), user(9), user(7)])).to.deep.include({ kind: 'user' });
    expect((routeInbound([user(9), user(7)]) as { user: SmsUser }).user.id).to.equal(7);
    expect(routeInbound([user(3, { sms_enabled: false })])).to.deep.equal({ kind: 'unrouted', reason: 'sms_disabled' });
    expect(routeInbound([user(3, { status: 'disabled' }), user(4, { role: 'fax' })])).to.deep.equal({ kind: 'unrouted', reason: 'no_user' });
  });

  it('auto-responds only to direct messages from outside the account', () => {
    expect(autoReplyDecision({ user: user(1), recipients: ['+1'], senderIsAccountNumber: false })).to.deep.equal({ reply: true, text: 'Away' });
    expect(autoReplyDecision({ user: user(1), recipients: ['+1', '+2'], senderIsAccountNumber: false })).to.deep.equal({ reply: false, reason: 'group' });
    expect(autoReplyDecision({ user: user(1), recipients: ['+1'], senderIsAccountNumber: true })).to.deep.equal({ reply: false, reason: 'internal' });
    expect(autoReplyDecision({ user: user(1, { sms_auto_responder_enabled: false }), recipients: ['+1'], senderIsAccountNumber: false }).reply).to.equal(false);
  });

  it("verifies Twilio's documented example signature", () => {
    // The worked example of Twilio's webhook security page.
    const url = 'https://mycompany.com/myapp.php?foo=1&bar=2';
    const form: Array<[string, string]> = [
      ['CallSid', 'CA1234567890ABCDE'],
      ['Caller', '+12349013030'],
      ['Digits', '1234'],
      ['From', '+12349013030'],
      ['To', '+18005551212'],
    ];
    const sig = twilioSignature('12345', url, form);
    expect(sig).to.equal('0/KCTR6DLpKmkAf8muzZqo1nDgQ=');
    expect(verifyTwilio({ url, headers: { 'x-twilio-signature': sig }, raw: Buffer.alloc(0), form }, '12345')).to.equal(true);
    expect(verifyTwilio({ url, headers: { 'x-twilio-signature': sig }, raw: Buffer.alloc(0), form }, '54321')).to.equal(false);
  });

  it('reads every Telnyx recipient (to and cc) of a received message', () => {
    const ev = parseTelnyx({
      data: {
        event_type: 'message.received',
        payload: {
          id: crypto.randomUUID(),
          from: { phone_number: '+15005550006' },
          to: [{ phone_number: '+15005550007' }],
          cc: [{ phone_number: '+15005550008' }],
          text: 'hi',
        },
      },
    });
    expect(ev).to.deep.include({ kind: 'message', recipients: ['+15005550007', '+15005550008'] });
  });
});
