import { z } from 'zod';
import { PageQuery } from '../shared/pagination.js';

export const UserIdParams = z.object({ id: z.coerce.number().int().positive() });
export const BindingParams = z.object({ id: z.coerce.number().int().positive(), bindingId: z.coerce.number().int().positive() });
export const RegistrationListQuery = z
  .object({
    ...PageQuery,
    user_id: z.coerce.number().int().positive().optional().describe("Only this user's bindings"),
  })
  .strict();
export type RegistrationListQueryInput = z.infer<typeof RegistrationListQuery>;

export const RegistrationSchema = z
  .object({
    id: z.number(),
    user_id: z.number(),
    aor: z.string().describe('Address-of-record, sip:username@domain'),
    contact: z.string().describe('Contact URI the device registered'),
    transport: z.string(),
    source_address: z.string(),
    source_port: z.number(),
    user_agent: z.string().nullable(),
    instance_id: z.string().nullable().describe('+sip.instance (RFC 5626)'),
    reg_id: z.number().nullable(),
    q: z.number().nullable(),
    path: z.array(z.string()).describe('Path header values (RFC 3327)'),
    unreachable: z.boolean().describe('Failed an OPTIONS qualify'),
    expires_at: z.string(),
    expires_in: z.number().describe('Seconds left'),
    registered_at: z.string().describe('Registered since'),
    updated_at: z.string(),
  })
  .meta({ id: 'Registration' });

export const RegistrationPage = z.object({ data: z.array(RegistrationSchema), next_cursor: z.string().nullable() }).meta({ id: 'RegistrationPage' });
