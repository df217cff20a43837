import { z } from 'zod';
import { PageQuery } from '../shared/pagination.js';
import { E164, timestamps } from '../shared/schemas.js';

const line = (max: number) => z.string().trim().min(1).max(max);

const fields = {
  name: line(120).describe('What admins call the place, e.g. "HQ 3rd floor"'),
  address_line1: line(200).describe('Street address sent to the emergency service'),
  address_line2: z.string().trim().max(200).nullable().optional().describe('Suite, floor, room'),
  city: line(100),
  region: line(100).describe('State, province or region'),
  postal_code: z
    .string()
    .trim()
    .min(1)
    .max(20)
    .regex(/^[A-Za-z0-9][A-Za-z0-9 -]*$/, 'must be letters, digits, spaces or -'),
  country: z
    .string()
    .regex(/^[A-Z]{2}$/, 'must be an ISO 3166-1 alpha-2 code in capitals, e.g. US')
    .describe('ISO 3166-1 alpha-2'),
  callback_number: E164.describe('Number the emergency service calls back (E.164)'),
};

export const CreateLocationBody = z.object(fields).strict().meta({ id: 'CreateLocation' });
export const UpdateLocationBody = CreateLocationBody.partial().strict().meta({ id: 'UpdateLocation' });
export type CreateLocationInput = z.infer<typeof CreateLocationBody>;
export type UpdateLocationInput = z.infer<typeof UpdateLocationBody>;

export const LocationSchema = z
  .object({
    id: z.number(),
    account_id: z.number(),
    name: z.string(),
    address_line1: z.string(),
    address_line2: z.string().nullable(),
    city: z.string(),
    region: z.string(),
    postal_code: z.string(),
    country: z.string(),
    callback_number: z.string(),
    ...timestamps,
  })
  .meta({ id: 'Location' });

export const LocationListQuery = z
  .object({
    ...PageQuery,
    name: z.string().max(120).optional().describe('Prefix of the name (case-sensitive)'),
    country: z.string().max(2).optional(),
    city: z.string().max(100).optional(),
  })
  .strict();
export type LocationListInput = z.infer<typeof LocationListQuery>;
