import { z } from 'zod';

export const ErrorResponseSchema = z
  .object({
    error: z
      .object({
        code: z.string().describe('Stable machine-readable code, e.g. extension_taken'),
        message: z.string().describe('What went wrong and what to do, for a person'),
        field: z.string().optional().describe('The request field at fault, when one is'),
        details: z
          .array(z.object({ field: z.string(), code: z.string(), message: z.string() }))
          .optional()
          .describe('Every field error of a 400, in one answer (the first is also message and field); code is e.g. required, unknown_field, invalid_cursor'),
        referenced_by: z
          .record(z.string(), z.array(z.number()))
          .optional()
          .describe('For 409 in_use: the ids of the objects that still refer to this one, by collection'),
      })
      .passthrough(),
  })
  .meta({ id: 'Error' });
