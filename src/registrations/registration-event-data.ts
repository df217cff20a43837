/**
 * The `data` of registration.* webhook events. Shared by the REST side
 * (DELETE of bindings) and the registrar (sip/ imports it; src/ never
 * imports sip/), so every producer sends the same shape.
 */
export interface BindingEventSource {
  id: number;
  user_id: number;
  aor: string;
  contact_uri: string;
  transport: string;
  source_address: string;
  source_port: number;
  user_agent: string | null;
  instance_id: string | null;
  reg_id: number | null;
  expires_at: Date | string;
  registered_at: Date | string;
}

export type BindingRemovalReason = 'unregistered' | 'unregistered_all' | 'connection_closed' | 'evicted' | 'api' | 'unreachable';

export interface BindingEventData {
  user_id: number;
  aor: string;
  binding: {
    id: number | null;
    contact: string;
    transport: string;
    source_address: string;
    source_port: number;
    user_agent: string | null;
    instance_id: string | null;
    reg_id: number | null;
    expires_at: string;
    registered_at: string;
  };
  reason?: BindingRemovalReason;
}

export function bindingEventData(b: BindingEventSource, reason?: BindingRemovalReason): BindingEventData {
  const data: BindingEventData = {
    user_id: Number(b.user_id),
    aor: b.aor,
    binding: {
      // null only when the id is not known (never for removals).
      id: b.id ? Number(b.id) : null,
      contact: b.contact_uri,
      transport: b.transport,
      source_address: b.source_address,
      source_port: Number(b.source_port),
      user_agent: b.user_agent,
      instance_id: b.instance_id,
      reg_id: b.reg_id === null ? null : Number(b.reg_id),
      expires_at: new Date(b.expires_at).toISOString(),
      registered_at: new Date(b.registered_at).toISOString(),
    },
  };
  if (reason) data.reason = reason;
  return data;
}
