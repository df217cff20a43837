import { expect } from 'chai';
import {
  dispatchableAddress,
  emergencyCallerId,
  externalCallerId,
  inboundSteps,
  internalCallerId,
  parseDestination,
  recordingFor,
  ringTargets,
  type LiveBinding,
  type RingTarget,
} from '../../src/call-plans/call-plan-rules.js';
import { nextStepXml, outcomeOfDisposition, planXml, xmlEscape } from '../../src/call-plans/freeswitch-dialplan.js';
import type { CallPlanView } from '../../src/call-plans/call-plan-presenter.js';

const binding = (over: Partial<LiveBinding>): LiveBinding => ({
  id: 1,
  contact_uri: 'sip:a@192.0.2.1:5060',
  transport: 'udp',
  path: null,
  instance_id: null,
  q: null,
  source_address: '198.51.100.7',
  source_port: 40000,
  registered_at: 1000,
  ...over,
});
const target: RingTarget = ringTargets([binding({})])[0]!;
const mailbox = { id: 7, number: '101' };

describe('call-plan rules (pure)', () => {
  describe('ringTargets', () => {
    it('orders by q (missing q ranks as 1.0), then the newest registration, and carries path and the received address', () => {
      const t = ringTargets([
        binding({ id: 1, q: 0.5 }),
        binding({ id: 2, q: null, registered_at: 1000 }),
        binding({ id: 3, q: 1, registered_at: 2000, transport: 'tcp', path: JSON.stringify(['<sip:edge.example;lr>']) }),
        binding({ id: 4, q: 0.9, source_address: '2001:db8::1' }),
      ]);
      expect(t.map((x) => x.binding_id)).to.deep.equal([3, 2, 4, 1]);
      expect(t[0]!.path).to.deep.equal(['<sip:edge.example;lr>']);
      expect(t[0]!.received).to.equal('sip:198.51.100.7:40000;transport=tcp');
      expect(t[2]!.received).to.equal('sip:[2001:db8::1]:40000');
    });
  });

  describe('inboundSteps', () => {
    const base = { callTimeout: 25, mailbox, targets: [target] };
    it('ring_devices: ring for call_timeout, then voicemail on no answer or busy', () => {
      expect(inboundSteps({ ...base, forward: { mode: 'ring_devices' } })).to.deep.equal([
        { action: 'ring', targets: [target], timeout: 25 },
        { action: 'voicemail', mailbox_id: 7, mailbox_number: '101', reason: 'no_answer', on: ['no_answer', 'busy'] },
      ]);
    });
    it('ring_devices without a mailbox: 486 on busy, 480 on no answer', () => {
      expect(inboundSteps({ ...base, mailbox: null, forward: { mode: 'ring_devices' } }).slice(1)).to.deep.equal([
        { action: 'hangup', sip_status: 480, reason: 'no_answer', on: ['no_answer'] },
        { action: 'busy', sip_status: 486, reason: 'busy', on: ['busy'] },
      ]);
    });
    it('forward_always forwards without ringing, even with devices registered', () => {
      expect(inboundSteps({ ...base, forward: { mode: 'forward_always', destination: '+15550001111' } })).to.deep.equal([
        { action: 'forward', destination: '+15550001111', reason: 'forward_always' },
      ]);
    });
    it('forward_on_no_answer: forward on no answer, voicemail on busy', () => {
      expect(inboundSteps({ ...base, forward: { mode: 'forward_on_no_answer', destination: '+15550001111' } }).slice(1)).to.deep.equal([
        { action: 'forward', destination: '+15550001111', reason: 'no_answer', on: ['no_answer'] },
        { action: 'voicemail', mailbox_id: 7, mailbox_number: '101', reason: 'busy', on: ['busy'] },
      ]);
    });
    it('forward_on_busy: forward on busy, voicemail on no answer', () => {
      expect(inboundSteps({ ...base, forward: { mode: 'forward_on_busy', destination: '102' } }).slice(1)).to.deep.equal([
        { action: 'voicemail', mailbox_id: 7, mailbox_number: '101', reason: 'no_answer', on: ['no_answer'] },
        { action: 'forward', destination: '102', reason: 'busy', on: ['busy'] },
      ]);
    });
    it('voicemail mode goes straight to the primary mailbox; without one the call is refused with 480', () => {
      expect(inboundSteps({ ...base, forward: { mode: 'voicemail' } })).to.deep.equal([
        { action: 'voicemail', mailbox_id: 7, mailbox_number: '101', reason: 'voicemail_mode' },
      ]);
      expect(inboundSteps({ ...base, mailbox: null, forward: { mode: 'voicemail' } })).to.deep.equal([
        { action: 'hangup', sip_status: 480, reason: 'voicemail_mode' },
      ]);
    });
    it('no live device: no ring step; the no-answer branch at once, with reason not_registered', () => {
      const none = { ...base, targets: [] };
      expect(inboundSteps({ ...none, forward: { mode: 'forward_on_no_answer', destination: '+15550001111' } })).to.deep.equal([
        { action: 'forward', destination: '+15550001111', reason: 'not_registered' },
      ]);
      expect(inboundSteps({ ...none, forward: { mode: 'forward_on_busy', destination: '+15550001111' } })).to.deep.equal([
        { action: 'voicemail', mailbox_id: 7, mailbox_number: '101', reason: 'not_registered' },
      ]);
      expect(inboundSteps({ ...none, mailbox: null, forward: { mode: 'ring_devices' } })).to.deep.equal([
        { action: 'hangup', sip_status: 480, reason: 'not_registered' },
      ]);
    });
  });

  it('recordingFor: per direction, and the announcement only when recording', () => {
    expect(recordingFor('inbound', true, 'inbound')).to.deep.equal({ record: true, announce: true });
    expect(recordingFor('inbound', true, 'outbound')).to.deep.equal({ record: false, announce: false });
    expect(recordingFor('both', false, 'outbound')).to.deep.equal({ record: true, announce: false });
    expect(recordingFor('none', true, 'inbound')).to.deep.equal({ record: false, announce: false });
  });

  it('caller ID: the external one, each half falling back to the account; inside: name and extension', () => {
    const account = { name: 'Acme Clinic', default_caller_id_number: '+15550000000' };
    expect(externalCallerId({ external_caller_id_name: 'Dr Who', external_caller_id_number: '+15550000001' }, account)).to.deep.equal({
      name: 'Dr Who',
      number: '+15550000001',
    });
    expect(externalCallerId({ external_caller_id_name: null, external_caller_id_number: null }, account)).to.deep.equal({
      name: 'Acme Clinic',
      number: '+15550000000',
    });
    expect(internalCallerId({ name: 'Ann', extension: '101' })).to.deep.equal({ name: 'Ann', number: '101' });
  });

  it('parseDestination: URIs, separators, emergency numbers, E.164, digits, usernames', () => {
    const e = ['911'];
    expect(parseDestination('sip:911@acme.example', e)).to.deep.equal({ kind: 'emergency', number: '911' });
    expect(parseDestination('tel:+1-555-000-1111', e)).to.deep.equal({ kind: 'e164', number: '+15550001111' });
    expect(parseDestination('<sip:101@acme.example;transport=tcp>', e)).to.deep.equal({ kind: 'digits', digits: '101' });
    expect(parseDestination('Ann.Smith', e)).to.deep.equal({ kind: 'username', username: 'ann.smith' });
    expect(parseDestination('a b <c>', e)).to.deep.equal({ kind: 'invalid' });
    expect(parseDestination('%E0%A4%A', e)).to.deep.equal({ kind: 'invalid' });
  });

  it('dispatchable address and the 911 caller ID (the location callback number)', () => {
    const l = {
      location_id: 1,
      name: 'HQ',
      address_line1: '1 Main St',
      address_line2: 'Floor 3',
      city: 'Springfield',
      region: 'IL',
      postal_code: '62701',
      country: 'US',
      callback_number: '+15550009999',
      dispatchable_address: '',
    };
    expect(dispatchableAddress(l)).to.equal('1 Main St, Floor 3, Springfield, IL 62701, US');
    expect(emergencyCallerId(l, { name: 'Ann', number: '+15550000001' })).to.deep.equal({ name: 'Ann', number: '+15550009999' });
    expect(emergencyCallerId(null, { name: 'Ann', number: '+15550000001' })).to.deep.equal({ name: 'Ann', number: '+15550000001' });
  });
});

describe('FreeSWITCH dialplan adapter (pure)', () => {
  const fs = { profile: 'internal', gateway: 'pstn', emergencyGateway: 'e911', announcement: 'rec.wav', voicemailProfile: 'default' };
  const req = { context: 'public', destinationNumber: '+15550001234' };
  const plan = (over: Partial<CallPlanView>): CallPlanView => ({
    direction: 'inbound',
    user: { id: 42, name: 'Ann & Co', extension: '101', username: 'ann', domain: 'acme.example' },
    destination: { kind: 'user', input: '101' },
    availability: 'registered',
    steps: [],
    recording: { record: false, announce: false },
    caller_id: { name: null, number: '+15557654321' },
    oncall: null,
    emergency: null,
    ...over,
  });

  it('rings every target at once through fs_path, then the single fallback inline', () => {
    const xml = planXml(
      plan({
        steps: [
          { action: 'ring', targets: [target, { ...target, contact: 'sip:b@10.0.0.2:5070;transport=tcp', path: ['<sip:edge.example;lr>'] }], timeout: 20 },
          { action: 'voicemail', mailbox_id: 7, mailbox_number: '101', reason: 'no_answer', on: ['no_answer', 'busy'] },
        ],
      }),
      req,
      fs,
    );
    expect(xml).to.include('<document type="freeswitch/xml">');
    expect(xml).to.include('<context name="public">');
    expect(xml).to.include('expression="^\\+15550001234$"');
    expect(xml).to.include('<action application="set" data="call_timeout=20"/>');
    expect(xml).to.include(
      'data="sofia/internal/sip:a@192.0.2.1:5060;fs_path=&lt;sip:198.51.100.7:40000&gt;,sofia/internal/sip:b@10.0.0.2:5070;transport=tcp;fs_path=&lt;sip:edge.example;lr&gt;"',
    );
    expect(xml).to.include('<action application="voicemail" data="default acme.example 101"/>');
    expect(xml).to.not.include('transfer');
  });

  it('branches by outcome with a second hunt when busy and no-answer differ, and answers it with only that step', () => {
    const p = plan({
      steps: [
        { action: 'ring', targets: [target], timeout: 20 },
        { action: 'forward', destination: '+15550001111', reason: 'no_answer', on: ['no_answer'] },
        { action: 'voicemail', mailbox_id: 7, mailbox_number: '101', reason: 'busy', on: ['busy'] },
      ],
    });
    expect(planXml(p, req, fs)).to.include('<action application="transfer" data="switchboard-next-${originate_disposition} XML public"/>');
    const busy = nextStepXml(p, outcomeOfDisposition('USER_BUSY'), { context: 'public', destinationNumber: 'switchboard-next-USER_BUSY' }, fs);
    expect(busy).to.include('application="voicemail"').and.not.include('bridge');
    const noAnswer = nextStepXml(p, outcomeOfDisposition('NO_ANSWER'), { context: 'public', destinationNumber: 'switchboard-next-NO_ANSWER' }, fs);
    expect(noAnswer).to.include('<action application="bridge" data="sofia/gateway/pstn/+15550001111"/>');
  });

  it('sets caller ID, recording and the announcement, escaping XML', () => {
    const xml = planXml(
      plan({
        direction: 'outbound',
        caller_id: { name: 'Ann & Co', number: '+15550000001' },
        recording: { record: true, announce: true },
        steps: [{ action: 'dial_out', number: '+15559990000' }],
      }),
      req,
      fs,
    );
    expect(xml).to.include('data="effective_caller_id_name=Ann &amp; Co"');
    expect(xml).to.include('data="effective_caller_id_number=+15550000001"');
    expect(xml).to.include('<action application="record_session"');
    expect(xml).to.include('<action application="playback" data="rec.wav"/>');
    expect(xml).to.include('data="sofia/gateway/pstn/+15559990000"');
    expect(xmlEscape(`<a href="x">'&'</a>`)).to.equal('&lt;a href=&quot;x&quot;&gt;&apos;&amp;&apos;&lt;/a&gt;');
  });
});
