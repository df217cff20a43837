import type { Sequelize } from 'sequelize';
import type { Actor } from '../http/actor.js';
import type { Logger } from '../logger.js';
import type { Clock } from '../shared/clock.js';
import { ForbiddenError, NotFoundError, RuleError, ValidationError } from '../errors.js';
import { isAdmin, requireReader } from '../shared/policy.js';
import type { WebhookOutbox } from '../webhooks/webhook-outbox.js';
import type { CallPlanProfile, CallPlanProfiles } from './call-plan-profiles.js';
import type { CallPlanLookups } from './call-plan-lookups.js';
import * as rules from './call-plan-rules.js';
import { presentCallPlan, type CallPlanResult, type PlanParts } from './call-plan-presenter.js';

export interface CallPlanServiceDeps {
  sequelize: Sequelize;
  logger: Logger;
  outbox: WebhookOutbox;
  profiles: CallPlanProfiles;
  lookups: CallPlanLookups;
  /** Dialled strings that are emergency calls (config callPlans.emergencyNumbers). */
  emergencyNumbers: readonly string[];
  now: Clock;
}

export interface ResolveInput {
  to: string;
  from: string;
}

/**
 * Answers a call engine's question "what do I do with this call?" from the
 * provisioned user record, the live bindings and the OnCall shifts. Reads
 * only: the one write is the emergency.location_missing event.
 */
export class CallPlanService {
  constructor(private readonly d: CallPlanServiceDeps) {}

  /** GET /v1/users/{id}/call-plan: the plan of a call reaching the user, or what applies to every call the user places. */
  async forUser(actor: Actor, userId: number, direction: rules.CallDirection): Promise<CallPlanResult> {
    requireReader(actor);
    if (!isAdmin(actor) && actor.role !== 'viewer' && actor.userId !== userId) throw new NotFoundError('user', userId);
    if (direction === 'inbound') return this.inboundFor(actor.accountId, userId, { name: null, number: null }, { kind: 'user', input: String(userId) });
    const p = await this.profileOrFail(actor.accountId, userId);
    const location = p.profile.location;
    return presentCallPlan(
      {
        direction: 'outbound',
        profile: p.profile,
        destination: null,
        availability: null,
        steps: [],
        recording: rules.recordingFor(p.profile.callRecording, p.profile.playRecordingAnnouncement, 'outbound'),
        callerId: this.externalCallerId(p.profile),
        emergency: { number: this.d.emergencyNumbers[0] ?? '911', location, location_missing: !location },
      },
      p.cached,
    );
  }

  /** POST /v1/call-plans: a call from `from` to `to` in the credential's account. */
  async resolve(actor: Actor, input: ResolveInput): Promise<CallPlanResult> {
    requireReader(actor);
    if (actor.role === 'user') {
      throw new ForbiddenError(
        'call_engine_credential_required',
        'Call plans for arbitrary calls are read with the workspace key or an admin or viewer credential',
      );
    }
    const accountId = actor.accountId;
    const to = rules.parseDestination(input.to, this.d.emergencyNumbers);
    if (to.kind === 'invalid')
      throw new ValidationError([{ field: 'to', code: 'invalid_destination', message: 'is not an extension, username, number or SIP URI' }]);
    const seen = (caller: CallPlanProfile | null): rules.CallerId => (caller ? rules.internalCallerId(caller) : { name: null, number: input.from });
    const unknown = () => new RuleError('unknown_destination', `${input.to} is not a user, OnCall number or routable number of this account`, 'to');

    if (to.kind === 'emergency') {
      const caller = await this.callerProfile(accountId, input.from);
      if (!caller) throw new RuleError('caller_not_a_user', 'An emergency call plan needs the calling user (from: their extension or username)', 'from');
      return presentCallPlan(await this.emergency(caller, to.number, input), false);
    }
    // The caller and the destination are independent reads: on a networked database they overlap, one round trip of latency, not two.
    if (to.kind === 'digits' || to.kind === 'username') {
      const by = to.kind === 'digits' ? { extension: to.digits } : { username: to.username };
      const [caller, callee] = await Promise.all([this.callerProfile(accountId, input.from), this.d.profiles.dialledWithBindings(accountId, by, this.d.now())]);
      if (callee) return presentCallPlan(await this.inbound(callee.profile, seen(caller), { kind: 'user', input: input.to }, callee.bindings), callee.cached);
      if (to.kind === 'digits' && caller) return presentCallPlan(this.dialOut(caller, to.digits, input.to), false);
      throw unknown();
    }
    // E.164: one of the account's numbers (OnCall schedule, or a user's direct line), or an outside number the caller dials out to.
    const [caller, own] = await Promise.all([this.callerProfile(accountId, input.from), this.d.lookups.number(accountId, to.number)]);
    const callerSeen = seen(caller);
    if (!own) {
      if (caller) return presentCallPlan(this.dialOut(caller, to.number, input.to), false);
      throw unknown();
    }
    if (own.scheduleId !== null) return this.onCall(accountId, own.scheduleId, callerSeen, input.to);
    // A number that is exactly one user's external caller ID is that user's direct line.
    if (own.ownerIds.length === 1) return this.inboundFor(accountId, own.ownerIds[0]!, callerSeen, { kind: 'user', input: input.to });
    throw unknown();
  }

  private async inboundFor(accountId: number, userId: number, callerId: rules.CallerId, destination: PlanParts['destination']): Promise<CallPlanResult> {
    // One round trip for the profile check and the bindings (call-plan-profiles.ts).
    const p = await this.d.profiles.profileWithBindings(accountId, userId, this.d.now());
    if (!p) throw new NotFoundError('user', userId);
    return presentCallPlan(await this.inbound(p.profile, callerId, destination, p.bindings), p.cached);
  }

  private async inbound(
    profile: CallPlanProfile,
    callerId: rules.CallerId,
    destination: PlanParts['destination'],
    live?: rules.LiveBinding[],
  ): Promise<PlanParts> {
    const bindings = live ?? (await this.d.profiles.liveBindings(profile.accountId, profile.userId, this.d.now()));
    // A disabled user's phones are refused and their bindings removed right after the change commits;
    // a binding still in the table in that moment (or on a node whose removal failed) must not ring.
    const targets = profile.status === 'active' ? rules.ringTargets(bindings) : [];
    return {
      direction: 'inbound',
      profile,
      destination,
      availability: targets.length ? 'registered' : 'not_registered',
      steps: rules.inboundSteps({ forward: profile.forward, callTimeout: profile.callTimeout, mailbox: profile.mailbox, targets }),
      recording: rules.recordingFor(profile.callRecording, profile.playRecordingAnnouncement, 'inbound'),
      callerId,
    };
  }

  /** The user on call now (CallPlanLookups.shiftNow says which shift counts), then their plan. */
  private async onCall(accountId: number, scheduleId: number, callerId: rules.CallerId, input: string): Promise<CallPlanResult> {
    const at = this.d.now();
    const shift = await this.d.lookups.shiftNow(accountId, scheduleId, at);
    const destination = { kind: 'oncall' as const, input };
    const p = shift ? await this.d.profiles.profileWithBindings(accountId, shift.userId, at) : null;
    if (!shift || !p) {
      return presentCallPlan(
        {
          direction: 'inbound',
          profile: null,
          destination,
          availability: null,
          steps: rules.nobodyOnCallSteps(),
          recording: { record: false, announce: false },
          callerId,
          oncall: { schedule_id: scheduleId, shift_id: null, user_id: null },
        },
        false,
      );
    }
    const parts = await this.inbound(p.profile, callerId, destination, p.bindings);
    return presentCallPlan({ ...parts, oncall: { schedule_id: scheduleId, shift_id: shift.id, user_id: shift.userId } }, p.cached);
  }

  private dialOut(caller: CallPlanProfile, number: string, input: string): PlanParts {
    return {
      direction: 'outbound',
      profile: caller,
      destination: { kind: 'external', input },
      availability: null,
      steps: [{ action: 'dial_out', number }],
      recording: rules.recordingFor(caller.callRecording, caller.playRecordingAnnouncement, 'outbound'),
      callerId: this.externalCallerId(caller),
    };
  }

  /**
   * A 911 call always gets a plan (it is never refused for missing data). With
   * no location on the user the plan says so, and emergency.location_missing
   * is queued for the account's webhooks so someone fixes the record.
   */
  private async emergency(caller: CallPlanProfile, number: string, input: ResolveInput): Promise<PlanParts> {
    const location = caller.location;
    if (!location) {
      this.d.logger.warn({ account_id: caller.accountId, user_id: caller.userId }, 'emergency call plan without a location');
      await this.d.sequelize.transaction(async (tx) => {
        await this.d.outbox.enqueue(tx, caller.accountId, 'emergency.location_missing', {
          user_id: caller.userId,
          name: caller.name,
          extension: caller.extension,
          to: input.to,
          from: input.from,
          at: this.d.now().toISOString(),
        });
      });
    }
    return {
      direction: 'outbound',
      profile: caller,
      destination: { kind: 'emergency', input: input.to },
      availability: null,
      steps: [{ action: 'emergency', number, location_missing: !location }],
      recording: rules.recordingFor(caller.callRecording, caller.playRecordingAnnouncement, 'outbound'),
      callerId: rules.emergencyCallerId(location, this.externalCallerId(caller)),
      emergency: { number, location, location_missing: !location },
    };
  }

  private externalCallerId(p: CallPlanProfile): rules.CallerId {
    return rules.externalCallerId(
      { external_caller_id_name: p.externalCallerIdName, external_caller_id_number: p.externalCallerIdNumber },
      { name: p.account.name, default_caller_id_number: p.account.defaultCallerIdNumber },
    );
  }

  /** `from` names a user of the account when it is their extension or username (or a SIP URI with one); anything else is an outside caller. */
  private async callerProfile(accountId: number, from: string): Promise<CallPlanProfile | null> {
    const f = rules.parseDestination(from, []);
    if (f.kind !== 'digits' && f.kind !== 'username') return null;
    return (await this.d.profiles.profileBy(accountId, f.kind === 'digits' ? { extension: f.digits } : { username: f.username }))?.profile ?? null;
  }

  private async profileOrFail(accountId: number, userId: number) {
    const p = await this.d.profiles.profile(accountId, userId);
    if (!p) throw new NotFoundError('user', userId);
    return p;
  }
}
