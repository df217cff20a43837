import { z } from 'zod';
import { PageQuery } from '../shared/pagination.js';
import { timestamps } from '../shared/schemas.js';

const fields = {
  name: z.string().trim().min(1).max(120),
  number_id: z.number().int().positive().describe('A fax-capable number (/v1/numbers) of this account that receives the faxes'),
  notify_email: z.string().email().max(254).nullable().optional().describe('Where received faxes are announced'),
};

export const CreateFaxServiceBody = z.object(fields).strict().meta({ id: 'CreateFaxService' });
export const UpdateFaxServiceBody = CreateFaxServiceBody.partial().strict().meta({ id: 'UpdateFaxService' });
export type CreateFaxServiceInput = z.infer<typeof CreateFaxServiceBody>;
export type UpdateFaxServiceInput = z.infer<typeof UpdateFaxServiceBody>;

export const FaxServiceSchema = z
  .object({
    id: z.number(),
    account_id: z.number(),
    name: z.string(),
    number_id: z.number().nullable(),
    notify_email: z.string().nullable(),
    ...timestamps,
  })
  .meta({ id: 'FaxService' });

export const FaxServiceListQuery = z
  .object({
    ...PageQuery,
    name: z.string().max(120).optional().describe('Prefix of the name (case-sensitive)'),
    number_id: z.coerce.number().int().positive().optional(),
  })
  .strict();
export type FaxServiceListInput = z.infer<typeof FaxServiceListQuery>;
