import { expect } from 'chai';
import {
  acceptsMessageSummary,
  eventId,
  eventPackage,
  matchesDialog,
  notifyAnswerEndsSubscription,
  notifyEventHeader,
  secondsLeft,
  subscriptionExpires,
  subscriptionStateText,
} from '../../sip/mwi/subscription-rules.js';

describe('MWI SUBSCRIBE rules (RFC 6665 / RFC 3842)', () => {
  const bounds = { minExpires: 60, defaultExpires: 3600, maxExpires: 7200 };

  it('takes the default without Expires, refuses one below the minimum with 423, shortens one above the maximum', () => {
    expect(subscriptionExpires(undefined, bounds)).to.deep.equal({ kind: 'ok', expires: 3600 });
    expect(subscriptionExpires('59', bounds)).to.deep.equal({ kind: 'too_brief', minExpires: 60 });
    expect(subscriptionExpires('60', bounds)).to.deep.equal({ kind: 'ok', expires: 60 });
    expect(subscriptionExpires(' 600 ', bounds)).to.deep.equal({ kind: 'ok', expires: 600 });
    expect(subscriptionExpires('86400', bounds)).to.deep.equal({ kind: 'ok', expires: 7200 });
  });

  it('reads Expires: 0 as the end (unsubscribe or fetch), and a non-number as malformed', () => {
    expect(subscriptionExpires('0', bounds)).to.deep.equal({ kind: 'end' });
    for (const bad of ['', '-1', '1.5', 'soon', '12345678901']) expect(subscriptionExpires(bad, bounds)).to.deep.equal({ kind: 'malformed' });
  });

  it('keeps a configured default inside the bounds', () => {
    expect(subscriptionExpires(undefined, { minExpires: 60, defaultExpires: 10, maxExpires: 100 })).to.deep.equal({ kind: 'ok', expires: 60 });
    expect(subscriptionExpires(undefined, { minExpires: 60, defaultExpires: 500, maxExpires: 100 })).to.deep.equal({ kind: 'ok', expires: 100 });
  });

  it('names the event package without its parameters, case-insensitively', () => {
    expect(eventPackage('message-summary')).to.equal('message-summary');
    expect(eventPackage('Message-Summary ;id=7')).to.equal('message-summary');
    expect(eventPackage('presence')).to.equal('presence');
    expect(eventPackage(undefined)).to.equal(undefined);
    expect(eventPackage(' ')).to.equal(undefined);
  });

  it("reads the Event id parameter and echoes it in the NOTIFY's Event", () => {
    expect(eventId('message-summary')).to.equal(null);
    expect(eventId('message-summary;id=7')).to.equal('7');
    expect(eventId('message-summary; ID = abc ;x=1')).to.equal('abc');
    expect(eventId('message-summary;idx=7')).to.equal(null);
    expect(notifyEventHeader(null)).to.equal('message-summary');
    expect(notifyEventHeader('7')).to.equal('message-summary;id=7');
  });

  it('accepts a subscriber without Accept, or whose Accept covers application/simple-message-summary', () => {
    expect(acceptsMessageSummary([])).to.equal(true);
    expect(acceptsMessageSummary(['application/simple-message-summary'])).to.equal(true);
    expect(acceptsMessageSummary(['application/pidf+xml', 'application/*'])).to.equal(true);
    expect(acceptsMessageSummary(['*/*;q=0.1'])).to.equal(true);
    expect(acceptsMessageSummary(['application/pidf+xml'])).to.equal(false);
  });

  it('writes Subscription-State with the seconds left, or terminated with a reason', () => {
    expect(subscriptionStateText({ state: 'active', expires: 3599.6 })).to.equal('active;expires=3599');
    expect(subscriptionStateText({ state: 'active', expires: -3 })).to.equal('active;expires=0');
    expect(subscriptionStateText({ state: 'terminated', reason: 'timeout' })).to.equal('terminated;reason=timeout');
    expect(secondsLeft(new Date(10_000), 4_000)).to.equal(6);
    expect(secondsLeft(new Date(10_000), 14_000)).to.equal(0);
  });

  it('ends a subscription on 481, a timeout and the other dialog-destroying answers, not on 200, 5xx or no path', () => {
    for (const s of [481, 404, 408, 410, 489, 604]) expect(notifyAnswerEndsSubscription(s, 'device'), String(s)).to.equal(true);
    expect(notifyAnswerEndsSubscription(408, 'timeout')).to.equal(true);
    for (const s of [200, 202, 400, 486, 500, 503]) expect(notifyAnswerEndsSubscription(s, 'device'), String(s)).to.equal(false);
    expect(notifyAnswerEndsSubscription(503, 'unreachable')).to.equal(false);
    expect(notifyAnswerEndsSubscription(481, undefined)).to.equal(true);
  });

  it('matches a request to a dialog by Call-ID, our tag and the peer tag, exactly', () => {
    const d = { callId: 'c1@h', localTag: 'ours', remoteTag: 'theirs' };
    expect(matchesDialog(d, { callId: 'c1@h', toTag: 'ours', fromTag: 'theirs' })).to.equal(true);
    expect(matchesDialog(d, { callId: 'c1@h', toTag: 'OURS', fromTag: 'theirs' })).to.equal(false);
    expect(matchesDialog(d, { callId: 'c1@h', toTag: 'ours', fromTag: undefined })).to.equal(false);
    expect(matchesDialog(d, { callId: 'c2@h', toTag: 'ours', fromTag: 'theirs' })).to.equal(false);
  });
});
