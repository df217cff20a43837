/**
 * The call-routing rules, pure: no database, no clock, no I/O. The service
 * loads a user's profile and live bindings and hands them here; unit tests
 * drive these functions directly.
 */
import type { ForwardBehavior } from '../db/models/user.js';

export type CallDirection = 'inbound' | 'outbound';

/** How a ring step ended, as far as the plan cares: an answered call ends the plan. */
export type RingOutcome = 'no_answer' | 'busy';

/** Why a step other than ring runs. not_registered is decided when the plan is made (no live device), no_answer/busy by the engine after ringing. */
export type StepReason = 'forward_always' | 'voicemail_mode' | 'no_answer' | 'busy' | 'not_registered' | 'nobody_on_call';

export interface RingTarget {
  binding_id: number;
  contact: string;
  transport: string;
  /** Path (RFC 3327) recorded at registration: requests to the contact go through these, first one first. */
  path: string[];
  instance_id: string | null;
  q: number | null;
  /** Where the REGISTER came from (RFC 3581 received/rport): the address that reaches a device behind NAT when there is no Path. */
  received: string;
}

export type PlanStep =
  | { action: 'ring'; targets: RingTarget[]; timeout: number }
  | { action: 'forward'; destination: string; reason: StepReason; on?: RingOutcome[] }
  | { action: 'voicemail'; mailbox_id: number; mailbox_number: string; reason: StepReason; on?: RingOutcome[] }
  | { action: 'busy'; sip_status: 486; reason: StepReason; on?: RingOutcome[] }
  | { action: 'hangup'; sip_status: 480; reason: StepReason; on?: RingOutcome[] }
  | { action: 'dial_out'; number: string }
  | { action: 'emergency'; number: string; location_missing: boolean };

export interface LiveBinding {
  id: number;
  contact_uri: string;
  transport: string;
  path: string | null;
  instance_id: string | null;
  q: number | null;
  source_address: string;
  source_port: number;
  registered_at: number;
}

/**
 * Live bindings as ring targets, highest q first. RFC 3261 §20.10 leaves a
 * missing q undefined; like most registrars we rank it as 1.0. Equal q: the
 * device registered most recently first (it is the one in the user's hand).
 */
export function ringTargets(bindings: LiveBinding[]): RingTarget[] {
  return [...bindings]
    .sort((a, b) => (b.q ?? 1) - (a.q ?? 1) || b.registered_at - a.registered_at || a.id - b.id)
    .map((b) => ({
      binding_id: b.id,
      contact: b.contact_uri,
      transport: b.transport,
      path: parsePath(b.path),
      instance_id: b.instance_id,
      q: b.q,
      received: receivedUri(b.source_address, b.source_port, b.transport),
    }));
}

function parsePath(raw: string | null): string[] {
  if (!raw) return [];
  try {
    const v = JSON.parse(raw) as unknown;
    return Array.isArray(v) ? v.map(String) : [];
  } catch {
    return [];
  }
}

function receivedUri(address: string, port: number, transport: string): string {
  const host = address.includes(':') ? `[${address}]` : address;
  const t = transport.toLowerCase();
  return `sip:${host}:${port}${t === 'udp' ? '' : `;transport=${t}`}`;
}

export interface InboundInput {
  forward: ForwardBehavior;
  callTimeout: number;
  mailbox: { id: number; number: string } | null;
  targets: RingTarget[];
}

/**
 * The ordered steps of a call reaching a user.
 *
 * - forward_always and voicemail never ring.
 * - Otherwise the live devices ring for call_timeout seconds; the steps
 *   after the ring carry `on`, the ring outcomes they follow (the first
 *   step whose `on` holds the outcome runs; an answered call ends the plan).
 * - No live device: there is nothing to ring, so the plan holds only what the
 *   no-answer branch would do, at once, with reason "not_registered" instead
 *   of "no_answer" (forward_on_no_answer therefore forwards a user whose
 *   phones are all off; forward_on_busy does not, since nothing was busy).
 */
export function inboundSteps(input: InboundInput): PlanStep[] {
  const { forward, mailbox } = input;
  if (forward.mode === 'forward_always' && forward.destination) return [{ action: 'forward', destination: forward.destination, reason: 'forward_always' }];
  if (forward.mode === 'voicemail') {
    return [
      mailbox ? { action: 'voicemail', mailbox_id: mailbox.id, mailbox_number: mailbox.number, reason: 'voicemail_mode' } : unavailable('voicemail_mode'),
    ];
  }
  if (!input.targets.length) return [fallback(input, 'not_registered')];
  const noAnswer = fallback(input, 'no_answer');
  const busy = fallback(input, 'busy');
  const ring: PlanStep = { action: 'ring', targets: input.targets, timeout: input.callTimeout };
  if (sameEffect(noAnswer, busy)) return [ring, { ...noAnswer, on: ['no_answer', 'busy'] } as PlanStep];
  return [ring, { ...noAnswer, on: ['no_answer'] } as PlanStep, { ...busy, on: ['busy'] } as PlanStep];
}

/** What happens for one outcome of ringing (or for having nothing to ring). */
function fallback(input: InboundInput, outcome: 'no_answer' | 'busy' | 'not_registered'): PlanStep {
  const { forward, mailbox } = input;
  const forwardsOn: string[] = forward.mode === 'forward_on_no_answer' ? ['no_answer', 'not_registered'] : forward.mode === 'forward_on_busy' ? ['busy'] : [];
  if (forward.destination && forwardsOn.includes(outcome)) return { action: 'forward', destination: forward.destination, reason: outcome };
  if (mailbox) return { action: 'voicemail', mailbox_id: mailbox.id, mailbox_number: mailbox.number, reason: outcome };
  return outcome === 'busy' ? { action: 'busy', sip_status: 486, reason: 'busy' } : unavailable(outcome);
}

function unavailable(reason: StepReason): PlanStep {
  return { action: 'hangup', sip_status: 480, reason };
}

function sameEffect(a: PlanStep, b: PlanStep): boolean {
  if (a.action !== b.action) return false;
  if (a.action === 'forward' && b.action === 'forward') return a.destination === b.destination;
  if (a.action === 'voicemail' && b.action === 'voicemail') return a.mailbox_id === b.mailbox_id;
  return a.action !== 'busy' && a.action !== 'hangup';
}

/** Nobody holds a shift on the OnCall schedule that was dialled. */
export function nobodyOnCallSteps(): PlanStep[] {
  return [unavailable('nobody_on_call')];
}

export interface Recording {
  record: boolean;
  /** Play the recording announcement before connecting (only ever true when recording). */
  announce: boolean;
}

export function recordingFor(callRecording: string, playAnnouncement: boolean, direction: CallDirection): Recording {
  const record = callRecording === 'both' || callRecording === direction;
  return { record, announce: record && playAnnouncement };
}

export interface CallerId {
  name: string | null;
  number: string | null;
}

/** Outside the organisation: the user's external caller ID, each half falling back to the account's (the account name and its default number). */
export function externalCallerId(
  user: { external_caller_id_name: string | null; external_caller_id_number: string | null },
  account: { name: string; default_caller_id_number: string | null },
): CallerId {
  return { name: user.external_caller_id_name || account.name, number: user.external_caller_id_number || account.default_caller_id_number || null };
}

/** Inside the organisation: the person's name and extension. */
export function internalCallerId(user: { name: string; extension: string }): CallerId {
  return { name: user.name, number: user.extension };
}

export type Destination =
  | { kind: 'emergency'; number: string }
  | { kind: 'e164'; number: string }
  | { kind: 'digits'; digits: string }
  | { kind: 'username'; username: string }
  | { kind: 'invalid' };

/**
 * What a dialled string names, before any lookup: `sip:`/`sips:`/`tel:` URIs
 * are reduced to their user part (RFC 3261 §19.1.1, RFC 3966 §3); visual
 * separators in numbers are dropped (RFC 3966 §5.1.1).
 */
export function parseDestination(raw: string, emergencyNumbers: readonly string[]): Destination {
  let s = raw.trim();
  const uri = /^(?:sips?|tel):([^@;?>]*)/i.exec(s.replace(/^<|>$/g, ''));
  if (uri) s = uri[1]!;
  try {
    s = decodeURIComponent(s);
  } catch {
    return { kind: 'invalid' };
  }
  const compact = s.replace(/[\s().-]/g, '');
  if (emergencyNumbers.includes(compact)) return { kind: 'emergency', number: compact };
  if (/^\+[1-9]\d{6,14}$/.test(compact)) return { kind: 'e164', number: compact };
  if (/^\d{1,15}$/.test(compact)) return { kind: 'digits', digits: compact };
  if (/^[a-z0-9._-]{1,64}$/i.test(s)) return { kind: 'username', username: s.toLowerCase() };
  return { kind: 'invalid' };
}

export interface EmergencyLocation {
  location_id: number;
  name: string;
  address_line1: string;
  address_line2: string | null;
  city: string;
  region: string;
  postal_code: string;
  country: string;
  callback_number: string;
  /** One line a PSAP can read out (the "dispatchable location" of 47 CFR §9.3). */
  dispatchable_address: string;
}

export function dispatchableAddress(l: Omit<EmergencyLocation, 'dispatchable_address' | 'location_id' | 'name' | 'callback_number'>): string {
  return [l.address_line1, l.address_line2, l.city, [l.region, l.postal_code].filter(Boolean).join(' '), l.country].filter((p) => p && p.trim()).join(', ');
}

/**
 * The caller ID of a 911 call is the location's callback number when there is
 * one (the PSAP must be able to call back the place, not a main line), else
 * the caller's external caller ID.
 */
export function emergencyCallerId(location: EmergencyLocation | null, external: CallerId): CallerId {
  return location ? { name: external.name, number: location.callback_number } : external;
}
