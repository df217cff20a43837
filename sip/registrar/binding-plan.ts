import type { BindingPolicy } from '../../src/db/models/account.js';

/** A live (unexpired) binding as the planner needs it. */
export interface LiveBinding {
  id: number;
  contactUri: string;
  callId: string;
  cseq: number;
  instanceId: string | null;
  regId: number | null;
  registeredAt: Date;
  unreachable: boolean;
  userAgent: string | null;
}

/** One Contact of the REGISTER with its effective expiry already decided. */
export interface RequestedContact {
  uri: string;
  raw: string;
  /** Seconds; 0 removes. */
  expires: number;
  q: number | null;
  instanceId: string | null;
  regId: number | null;
}

export interface PlanInput {
  live: LiveBinding[];
  /** 'wildcard' = `Contact: *` with `Expires: 0`. */
  contacts: RequestedContact[] | 'wildcard';
  callId: string;
  cseq: number;
  maxBindings: number;
  policy: BindingPolicy;
}

export type BindingPlan =
  /** The request that set a live binding, seen again: nothing to change, answer with the bindings as they are. */
  | { kind: 'replay' }
  | {
      kind: 'rejected';
      outcome: 'out_of_order' | 'too_many_bindings' | 'registration_disabled';
      /** too_many_bindings: the bindings that stay; out_of_order: the binding whose CSeq is not lower. */
      holders: LiveBinding[];
      /** New devices this REGISTER asked for (too_many_bindings). */
      requested: number;
    }
  | {
      kind: 'accepted';
      removeIds: number[];
      evictIds: number[];
      updates: Array<{ id: number; contact: RequestedContact }>;
      inserts: RequestedContact[];
    };

/**
 * RFC 3261 §10.3 step 7 against the user's live bindings, then the
 * max-bindings rule: count the live bindings, apply the request's delta
 * (+1 per new contact, 0 for a refresh or an instance replacement, −1 per
 * removal) and refuse before anything is written. Pure: the caller holds
 * the per-user lock and writes the plan.
 */
export function planBindings(input: PlanInput): BindingPlan {
  const { live } = input;
  // A UA gives each REGISTER of a Call-ID a new CSeq (RFC 3261 §10.2), so a live binding
  // carrying this request's Call-ID and CSeq was written by this very request: this is a
  // retransmission that no server transaction absorbed (it reached a sibling SIP worker or
  // another node, or came after Timer J). Its transaction would have answered 200 again;
  // failing it as out of order would fail a registration that took effect.
  if (live.some((b) => b.callId === input.callId && b.cseq === input.cseq)) return { kind: 'replay' };
  if (input.contacts === 'wildcard') {
    // RFC 3261 §10.3 step 6 → 7: remove every binding, unless the Call-ID
    // matches and the stored CSeq is not lower (then the update fails).
    for (const b of live) {
      if (b.callId === input.callId && b.cseq >= input.cseq) return { kind: 'rejected', outcome: 'out_of_order', holders: [b], requested: 0 };
    }
    return { kind: 'accepted', removeIds: live.map((b) => b.id), evictIds: [], updates: [], inserts: [] };
  }

  const removeIds: number[] = [];
  const updates: Array<{ id: number; contact: RequestedContact }> = [];
  const inserts: RequestedContact[] = [];
  const touched = new Set<number>();
  for (const c of input.contacts) {
    const match = findBinding(live, c);
    if (match && touched.has(match.id)) {
      // Two contacts of one REGISTER naming the same binding: the last wins.
      const i = updates.findIndex((u) => u.id === match.id);
      if (i >= 0) updates.splice(i, 1);
      const r = removeIds.indexOf(match.id);
      if (r >= 0) removeIds.splice(r, 1);
    }
    if (match) {
      // RFC 3261 §10.3 step 7: "If the Call-ID value in the existing binding differs from the
      // Call-ID value in the request, the binding MUST be removed if the expiration time is zero
      // and updated otherwise. If they are the same, the registrar compares the CSeq value. If the
      // value is higher than that of the existing binding, it MUST update or remove the binding as
      // above. If not, the update MUST be aborted and the request fails."
      if (match.callId === input.callId && match.cseq >= input.cseq) return { kind: 'rejected', outcome: 'out_of_order', holders: [match], requested: 0 };
      touched.add(match.id);
      if (c.expires === 0) removeIds.push(match.id);
      else updates.push({ id: match.id, contact: c });
    } else if (c.expires > 0) {
      const dup = inserts.findIndex((x) => sameBindingKey(x, c));
      if (dup >= 0) inserts.splice(dup, 1);
      inserts.push(c);
    }
    // A removal of a binding that does not exist changes nothing.
  }

  if (inserts.length === 0) return { kind: 'accepted', removeIds, evictIds: [], updates, inserts };

  // Max bindings. Refreshes, replacements and removals never get here.
  const remaining = live.filter((b) => !removeIds.includes(b.id));
  const after = remaining.length + inserts.length;
  if (input.maxBindings <= 0) return { kind: 'rejected', outcome: 'registration_disabled', holders: [], requested: inserts.length };
  if (after <= input.maxBindings) return { kind: 'accepted', removeIds, evictIds: [], updates, inserts };

  const excess = after - input.maxBindings;
  const evictable = remaining.filter((b) => !touched.has(b.id));
  let victims: LiveBinding[] = [];
  if (input.policy === 'evict_oldest') {
    // Asterisk's remove_existing: the oldest registrations make room.
    victims = [...evictable].sort(byRegisteredAt).slice(0, excess);
  } else if (input.policy === 'evict_unreachable') {
    victims = evictable
      .filter((b) => b.unreachable)
      .sort(byRegisteredAt)
      .slice(0, excess);
  }
  if (victims.length < excess) return { kind: 'rejected', outcome: 'too_many_bindings', holders: remaining, requested: inserts.length };
  return { kind: 'accepted', removeIds, evictIds: victims.map((v) => v.id), updates, inserts };
}

function byRegisteredAt(a: LiveBinding, b: LiveBinding): number {
  return a.registeredAt.getTime() - b.registeredAt.getTime() || a.id - b.id;
}

/**
 * RFC 5626 §6: with +sip.instance (and reg-id) the binding is identified by
 * the instance, so a device coming back from a new address replaces its own
 * binding; otherwise by the contact URI (RFC 3261 §10.3 step 7, compared per §19.1.4).
 */
function findBinding(live: LiveBinding[], c: RequestedContact): LiveBinding | undefined {
  if (c.instanceId !== null) {
    const byInstance = live.find((b) => b.instanceId === c.instanceId && b.regId === c.regId);
    if (byInstance) return byInstance;
  }
  return live.find((b) => (c.instanceId === null || b.instanceId === null) && sameContactUri(b.contactUri, c.uri));
}

function sameBindingKey(a: RequestedContact, b: RequestedContact): boolean {
  if (a.instanceId !== null || b.instanceId !== null) return a.instanceId === b.instanceId && a.regId === b.regId;
  return sameContactUri(a.uri, b.uri);
}

/**
 * URI equality in the spirit of RFC 3261 §19.1.4: scheme and host compare
 * case-insensitively, user part case-sensitively, parameters in any order
 * (names case-insensitive), escaped characters equal to their unescaped form.
 */
export function sameContactUri(a: string, b: string): boolean {
  if (a === b) return true;
  return normaliseUri(a) === normaliseUri(b);
}

function normaliseUri(uri: string): string {
  let u = uri;
  try {
    u = u.replace(/%[0-9A-Fa-f]{2}/g, (m) => {
      const ch = decodeURIComponent(m);
      return /[A-Za-z0-9\-_.!~*'()]/.test(ch) ? ch : m.toUpperCase();
    });
  } catch {
    /* keep as is */
  }
  const q = u.indexOf('?');
  const headers = q >= 0 ? u.slice(q) : '';
  const base = q >= 0 ? u.slice(0, q) : u;
  const [main = '', ...params] = base.split(';');
  const colon = main.indexOf(':');
  const scheme = main.slice(0, colon).toLowerCase();
  const rest = main.slice(colon + 1);
  const at = rest.lastIndexOf('@');
  const user = at >= 0 ? rest.slice(0, at + 1) : '';
  const hostport = (at >= 0 ? rest.slice(at + 1) : rest).toLowerCase();
  const normParams = params
    .map((p) => {
      const eq = p.indexOf('=');
      return eq < 0 ? p.toLowerCase() : `${p.slice(0, eq).toLowerCase()}=${p.slice(eq + 1).toLowerCase()}`;
    })
    .sort();
  return `${scheme}:${user}${hostport};${normParams.join(';')}${headers}`;
}
