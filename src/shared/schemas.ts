import { z } from 'zod';

/** Path parameter of every /{id} endpoint. */
export const IdParams = z.object({ id: z.coerce.number().int().positive() });

export const E164 = z.string().regex(/^\+[1-9]\d{6,14}$/, 'must be an E.164 number such as +14155550123');

/** A list page as every list endpoint returns it. */
export function pageOf<T extends z.ZodType>(item: T, id: string) {
  return z
    .object({ data: z.array(item), next_cursor: z.string().nullable().describe('Pass as ?cursor= for the next page; null on the last page') })
    .meta({ id });
}

export const timestamps = {
  created_at: z.string().describe('ISO 8601'),
  updated_at: z.string().describe('ISO 8601'),
};

export function iso(d: Date | string): string {
  return new Date(d).toISOString();
}
