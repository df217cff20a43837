import type { z } from 'zod';
import type { Registration } from '../db/models/registration.js';
import type { RegistrationSchema } from './registration-schemas.js';

export type RegistrationView = z.infer<typeof RegistrationSchema>;

/** Whitelists what leaves the API about a binding. */
export function presentRegistration(r: Registration, now: number): RegistrationView {
  return {
    id: Number(r.id),
    user_id: r.user_id,
    aor: r.aor,
    contact: r.contact_uri,
    transport: r.transport,
    source_address: r.source_address,
    source_port: r.source_port,
    user_agent: r.user_agent,
    instance_id: r.instance_id,
    reg_id: r.reg_id,
    q: r.q,
    path: r.path ? (JSON.parse(r.path) as string[]) : [],
    unreachable: Boolean(r.unreachable),
    expires_at: new Date(r.expires_at).toISOString(),
    expires_in: Math.max(0, Math.round((new Date(r.expires_at).getTime() - now) / 1000)),
    registered_at: new Date(r.registered_at).toISOString(),
    updated_at: new Date(r.updated_at).toISOString(),
  };
}
