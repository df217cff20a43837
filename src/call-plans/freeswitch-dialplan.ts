/**
 * The FreeSWITCH adapter: a call plan as the dialplan document mod_xml_curl
 * expects (section "dialplan", a context named like the one FreeSWITCH is
 * hunting in, one extension whose condition matches the dialled number).
 * Pure: plan in, XML text out.
 */
import type { CallPlanView } from './call-plan-presenter.js';

export interface FreeswitchSettings {
  /** Sofia profile the ring legs go out on (the one facing the phones). */
  profile: string;
  /** Sofia gateway for forwards to outside numbers and calls out. */
  gateway: string;
  /** Sofia gateway for emergency calls. */
  emergencyGateway: string;
  /** What `playback` plays when the recording announcement is on (a file or a tone_stream://). */
  announcement: string;
  /** mod_voicemail profile. */
  voicemailProfile: string;
}

type Step = CallPlanView['steps'][number];
type Action = [application: string, data?: string];

/** Destination numbers FreeSWITCH hunts after a ring that failed in a way the plan branches on (see `afterRing`). */
export const NEXT_PREFIX = 'switchboard-next-';

/** Hangup causes (FreeSWITCH's originate_disposition) that mean the callee was busy or declined; anything else is no answer. */
const BUSY_CAUSES = new Set(['USER_BUSY', 'CALL_REJECTED']);

export function outcomeOfDisposition(disposition: string): 'busy' | 'no_answer' {
  return BUSY_CAUSES.has(disposition.toUpperCase()) ? 'busy' : 'no_answer';
}

export function xmlEscape(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);
}

/** The answer mod_xml_curl takes as "nothing here" (FreeSWITCH then fails the call). */
export function notFoundXml(): string {
  return '<?xml version="1.0" encoding="UTF-8" standalone="no"?>\n<document type="freeswitch/xml">\n  <section name="result">\n    <result status="not found"/>\n  </section>\n</document>\n';
}

export interface DialplanRequest {
  context: string;
  destinationNumber: string;
}

/** The whole plan as one extension. */
export function planXml(plan: CallPlanView, req: DialplanRequest, s: FreeswitchSettings): string {
  return documentXml(req, `switchboard-${plan.user?.id ?? 'oncall'}`, planActions(plan, req, s));
}

/** The answer to the second hunt after a ring: only the step for that outcome. */
export function nextStepXml(plan: CallPlanView, outcome: 'busy' | 'no_answer', req: DialplanRequest, s: FreeswitchSettings): string {
  const rest = plan.steps.filter((st) => st.action !== 'ring');
  const step = rest.find((st) => 'on' in st && st.on?.includes(outcome)) ?? rest[rest.length - 1];
  const actions: Action[] = step ? stepActions(step, plan, req, s) : [['respond', '480 Temporarily Unavailable']];
  return documentXml(req, `switchboard-${plan.user?.id ?? 'next'}-${outcome}`, actions);
}

function documentXml(req: DialplanRequest, name: string, actions: Action[]): string {
  const lines = [
    '<?xml version="1.0" encoding="UTF-8" standalone="no"?>',
    '<document type="freeswitch/xml">',
    '  <section name="dialplan" description="Switchboard call plan">',
    `    <context name="${xmlEscape(req.context)}">`,
    `      <extension name="${xmlEscape(name)}">`,
    `        <condition field="destination_number" expression="^${xmlEscape(regexEscape(req.destinationNumber))}$">`,
    ...actions.map(([app, data]) =>
      data === undefined
        ? `          <action application="${xmlEscape(app)}"/>`
        : `          <action application="${xmlEscape(app)}" data="${xmlEscape(data)}"/>`,
    ),
    '        </condition>',
    '      </extension>',
    '    </context>',
    '  </section>',
    '</document>',
    '',
  ];
  return lines.join('\n');
}

function regexEscape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function planActions(plan: CallPlanView, req: DialplanRequest, s: FreeswitchSettings): Action[] {
  const actions: Action[] = [];
  if (plan.user) actions.push(['set', `switchboard_user_id=${plan.user.id}`]);
  // An outside caller's own caller ID stays as it arrived; a colleague's and our outbound ones are set.
  if (plan.caller_id.name !== null) {
    actions.push(['set', `effective_caller_id_name=${plan.caller_id.name}`]);
    if (plan.caller_id.number !== null) actions.push(['set', `effective_caller_id_number=${plan.caller_id.number}`]);
  }
  if (plan.recording.record) {
    actions.push(['set', 'RECORD_STEREO=true'], ['set', 'media_bug_answer_req=true'], ['record_session', '${recordings_dir}/${uuid}.wav']);
  }
  if (plan.recording.announce) actions.push(['pre_answer'], ['playback', s.announcement]);
  const [first, ...rest] = plan.steps;
  if (!first) return [...actions, ['respond', '480 Temporarily Unavailable']];
  actions.push(...stepActions(first, plan, req, s));
  if (first.action !== 'ring') return actions;
  // One fallback for every outcome: it follows the bridge inline. Different ones per outcome: FreeSWITCH hunts
  // again with the outcome in the destination number and gets only that step (a second request, no glue).
  if (rest.length === 1) actions.push(...stepActions(rest[0]!, plan, req, s));
  else if (rest.length > 1) actions.push(['transfer', `${NEXT_PREFIX}\${originate_disposition} XML ${req.context}`]);
  return actions;
}

function stepActions(step: Step, plan: CallPlanView, req: DialplanRequest, s: FreeswitchSettings): Action[] {
  switch (step.action) {
    case 'ring':
      return [
        ['set', `call_timeout=${step.timeout}`],
        ['set', 'continue_on_fail=true'],
        ['set', 'hangup_after_bridge=true'],
        ['bridge', step.targets.map((t) => ringLeg(t, s)).join(',')],
      ];
    case 'forward':
      // Extensions and usernames go back into the dialplan (so they get their own plan); numbers go out of the gateway.
      return isOutsideNumber(step.destination)
        ? [['bridge', `sofia/gateway/${s.gateway}/${step.destination}`]]
        : [['transfer', `${step.destination} XML ${req.context}`]];
    case 'voicemail':
      return [['answer'], ['voicemail', `${s.voicemailProfile} ${plan.user?.domain ?? '${domain_name}'} ${step.mailbox_number}`]];
    case 'busy':
      return [['respond', '486 Busy Here']];
    case 'hangup':
      return [['respond', '480 Temporarily Unavailable']];
    case 'dial_out':
      return [['bridge', `sofia/gateway/${s.gateway}/${step.number}`]];
    case 'emergency': {
      const l = plan.emergency?.location;
      const vars: Action[] = l
        ? [
            ['set', `emergency_callback_number=${l.callback_number}`],
            ['set', `emergency_dispatchable_address=${l.dispatchable_address}`],
          ]
        : [['set', 'emergency_location_missing=true']];
      return [...vars, ['bridge', `sofia/gateway/${s.emergencyGateway}/${step.number}`]];
    }
  }
}

/**
 * One leg of the ring: the registered contact as the Request-URI, sent to
 * the first Path hop (RFC 3327 §5) or else to the address the REGISTER came
 * from (fs_path is how FreeSWITCH itself reaches NATed registrations).
 */
function ringLeg(t: { contact: string; path: string[]; received: string }, s: FreeswitchSettings): string {
  const route = (t.path[0] ?? t.received).replace(/^<|>$/g, '');
  return `sofia/${s.profile}/${t.contact.replace(/,/g, '\\,')};fs_path=<${route.replace(/,/g, '\\,')}>`;
}

function isOutsideNumber(destination: string): boolean {
  return /^\+\d+$/.test(destination) || /^\d{7,}$/.test(destination);
}
