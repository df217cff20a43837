import { Op, type ModelStatic, type Model, type WhereOptions, type Transaction } from 'sequelize';
import { z, type ZodType } from 'zod';
import { ValidationError } from '../errors.js';

/** The query parameters every list endpoint takes, with the same names and bounds. */
export const PageQuery = {
  limit: z.coerce.number().int().min(1).max(200).default(50).describe('Page size (1–200)'),
  cursor: z.string().max(500).optional().describe('next_cursor from the previous page; opaque'),
};

/** The query of a list endpoint that has no filters. */
export const PageOnlyQuery = z.object(PageQuery).strict();

/** What a list endpoint hands its service: the parsed PageQuery. */
export interface PageRequest {
  limit: number;
  cursor?: string | undefined;
}

export interface Page<T> {
  data: T[];
  next_cursor: string | null;
}

/** An id as a cursor may carry it: a positive integer that SQL and JavaScript agree on. */
export const CursorId = z.number().int().positive().max(Number.MAX_SAFE_INTEGER);
/** A string sort value; a lone surrogate could not have come from a stored row. */
const CursorString = z
  .string()
  .max(1000)
  .refine((s) => !/\p{Cs}/u.test(s));

const BASE64URL = /^[A-Za-z0-9_-]+$/;

export function encodeCursor(value: Record<string, unknown>): string {
  return Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
}

/**
 * A cursor is only what this API handed out: canonical base64url of UTF-8
 * JSON that matches `schema` exactly (strict objects, finite safe integers).
 * Anything else is 400 invalid_cursor before it reaches SQL, where
 * `{"id":1e400}` became Infinity and an object sort value a driver error.
 */
export function decodeCursor<T>(raw: string, schema: ZodType<T>): T {
  const bytes = BASE64URL.test(raw) ? Buffer.from(raw, 'base64url') : null;
  if (bytes && bytes.toString('base64url') === raw) {
    let json: unknown;
    try {
      json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
    } catch {
      json = undefined;
    }
    const r = schema.safeParse(json);
    if (r.success) return r.data;
  }
  throw ValidationError.of({ field: 'cursor', code: 'invalid_cursor', message: 'is not a cursor this API returned for this list and sort order' });
}

const STRING_TYPES = new Set(['STRING', 'TEXT', 'CHAR', 'CITEXT']);
const INTEGER_TYPES = new Set(['INTEGER', 'BIGINT', 'SMALLINT', 'MEDIUMINT', 'TINYINT']);

/** The cursor shape for a keyset on (sort, id): the sort value must have the column's type. */
function keysetCursorSchema(model: ModelStatic<Model>, sort: string): ZodType<{ s: string; id: number; v?: string | number }> {
  if (sort === 'id') return z.object({ s: z.literal('id'), id: CursorId }).strict();
  const attribute = model.getAttributes()[sort];
  const key = (attribute?.type as { key?: string } | undefined)?.key ?? '';
  // A programming error, not a request error: only string and integer columns are sortable.
  if (!STRING_TYPES.has(key) && !INTEGER_TYPES.has(key)) throw new Error(`keysetPage cannot sort ${model.name} on ${sort} (${key})`);
  const value: ZodType<string | number> = STRING_TYPES.has(key) ? CursorString : z.number().int().min(Number.MIN_SAFE_INTEGER).max(Number.MAX_SAFE_INTEGER);
  // Sortable columns hold a value in every row (name, extension), so a cursor never carries null.
  return z.object({ s: z.literal(sort), v: value, id: CursorId }).strict();
}

/**
 * Keyset pagination on (sortField, id): stable under concurrent inserts and
 * O(page) at any depth, unlike OFFSET, which gets slower the deeper you go.
 * The cursor names its sort field, so a cursor of one sort order is refused
 * by another instead of silently skipping rows.
 */
export async function keysetPage<M extends Model>(
  model: ModelStatic<M>,
  where: WhereOptions,
  opts: { sort: string; limit: number; cursor?: string | undefined; transaction?: Transaction; descending?: boolean },
): Promise<Page<M>> {
  const sort = opts.sort;
  const dir = opts.descending ? 'DESC' : 'ASC';
  const after = opts.descending ? Op.lt : Op.gt;
  const conditions: WhereOptions[] = [where];
  if (opts.cursor) {
    const c = decodeCursor(opts.cursor, keysetCursorSchema(model as unknown as ModelStatic<Model>, sort));
    if (sort === 'id') conditions.push({ id: { [after]: c.id } });
    else conditions.push({ [Op.or]: [{ [sort]: { [after]: c.v } }, { [sort]: c.v, id: { [after]: c.id } }] });
  }
  const rows = await model.findAll({
    where: { [Op.and]: conditions },
    order:
      sort === 'id'
        ? [['id', dir]]
        : [
            [sort, dir],
            ['id', dir],
          ],
    limit: opts.limit + 1,
    transaction: opts.transaction,
  });
  const more = rows.length > opts.limit;
  const data = more ? rows.slice(0, opts.limit) : rows;
  const last = data[data.length - 1] as unknown as Record<string, unknown> | undefined;
  const next = more && last ? encodeCursor(sort === 'id' ? { s: sort, id: last.id } : { s: sort, v: last[sort], id: last.id }) : null;
  return { data, next_cursor: next };
}

/**
 * A case-sensitive "starts with" that an index on the column can serve on
 * both dialects. SQLite's LIKE is case-insensitive and so never uses a
 * BINARY index (EXPLAIN showed a scan of the whole account); the range
 * [prefix, prefix + U+10FFFF) is exact under binary collation. MariaDB's
 * utf8mb4_bin pads with spaces, so a prefix ending in a space would also
 * match the name without it: LIKE keeps that exact. SQLite has no default
 * LIKE escape character, so LIKE is left out when the prefix holds one of
 * LIKE's special characters (the range alone is exact there).
 */
export function prefixMatch(prefix: string): Record<symbol, unknown> {
  const range = { [Op.gte]: prefix, [Op.lt]: prefix + '\u{10FFFF}' };
  return /[\\%_]/.test(prefix) ? range : { ...range, [Op.like]: `${prefix}%` };
}

export function escapeLike(s: string): string {
  return s.replace(/[\\%_]/g, (c) => `\\${c}`);
}
