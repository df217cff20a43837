import { Op, type ModelStatic, type Model, type WhereOptions, type Transaction } from 'sequelize';
import { z } from 'zod';
import { ValidationError } from '../errors.js';

export const PageQuery = {
  limit: z.coerce.number().int().min(1).max(200).default(50).describe('Page size (1–200)'),
  cursor: z.string().max(500).optional().describe('next_cursor from the previous page'),
};

export interface Page<T> {
  data: T[];
  next_cursor: string | null;
}

interface Cursor {
  v: string | number | null;
  id: number;
}

function decodeCursor(raw: string): Cursor {
  try {
    const c = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as Cursor;
    if (typeof c.id !== 'number') throw new Error();
    return c;
  } catch {
    throw new ValidationError([{ field: 'cursor', code: 'invalid_cursor', message: 'is not a cursor this API returned' }]);
  }
}

/**
 * Keyset pagination on (sortField, id): stable under concurrent inserts and
 * O(page) at any depth, unlike OFFSET, which gets slower the deeper you go.
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
    const c = decodeCursor(opts.cursor);
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
  const next = more && last ? Buffer.from(JSON.stringify({ v: last[sort] ?? null, id: last.id })).toString('base64url') : null;
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
