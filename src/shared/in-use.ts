import { ConflictError } from '../errors.js';

/** Ids of the objects that still point at the one being changed, by collection ("users", "fax_services", …). */
export type ReferencedBy = Record<string, number[]>;

/** Drops empty collections; returns null when nothing refers to the object. */
export function nonEmpty(refs: ReferencedBy): ReferencedBy | null {
  const out: ReferencedBy = {};
  for (const [k, ids] of Object.entries(refs)) if (ids.length) out[k] = [...new Set(ids)].sort((a, b) => a - b);
  return Object.keys(out).length ? out : null;
}

/**
 * 409 in_use naming every referrer, so the caller can detach them first
 * instead of guessing: {"error":{"code":"in_use","referenced_by":{"users":[3,7]}}}.
 */
export function assertNotReferenced(what: string, id: number, refs: ReferencedBy, doing = 'deleted', field?: string): void {
  const found = nonEmpty(refs);
  if (!found) return;
  const list = Object.entries(found)
    .map(([k, ids]) => `${k.replace(/_/g, ' ')} ${ids.join(', ')}`)
    .join('; ');
  throw new ConflictError('in_use', `${what.replace(/_/g, ' ')} ${id} cannot be ${doing} while referenced by ${list}; change those first`, field, {
    referenced_by: found,
  });
}
