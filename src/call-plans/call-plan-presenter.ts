import type { z } from 'zod';
import type { CallPlanProfile } from './call-plan-profiles.js';
import type { CallDirection, CallerId, EmergencyLocation, PlanStep, Recording } from './call-plan-rules.js';
import type { CallPlanSchema } from './call-plan-schemas.js';

export type CallPlanView = z.infer<typeof CallPlanSchema>;

/** What the service decided, before it is shaped for the API. */
export interface PlanParts {
  direction: CallDirection;
  profile: CallPlanProfile | null;
  destination: { kind: 'user' | 'oncall' | 'external' | 'emergency'; input: string } | null;
  availability: 'registered' | 'not_registered' | null;
  steps: PlanStep[];
  recording: Recording;
  callerId: CallerId;
  oncall?: { schedule_id: number; shift_id: number | null; user_id: number | null };
  emergency?: { number: string; location: EmergencyLocation | null; location_missing: boolean };
}

export interface CallPlanResult {
  plan: CallPlanView;
  /** The profile came from the cache after its stamp check (reported in X-Call-Plan-Cache). */
  cached: boolean;
}

/** Whitelists the plan: only routing facts leave, never a secret or an internal column. */
export function presentCallPlan(p: PlanParts, cached: boolean): CallPlanResult {
  const u = p.profile;
  return {
    cached,
    plan: {
      direction: p.direction,
      user: u ? { id: u.userId, name: u.name, extension: u.extension, username: u.username, domain: u.account.sipDomain } : null,
      destination: p.destination,
      availability: p.availability,
      steps: p.steps,
      recording: p.recording,
      caller_id: p.callerId,
      oncall: p.oncall ?? null,
      emergency: p.emergency ?? null,
    },
  };
}
