import { QueryTypes, type Sequelize } from 'sequelize';
import type { SecretBox } from '../crypto/secret-box.js';
import { ENCRYPTED_COLUMNS } from './encrypted-columns.js';

export interface RotationProgress {
  table: string;
  done: number;
  total: number;
}

export interface RotationOptions {
  batchSize?: number;
  onProgress?: (p: RotationProgress) => void;
  /** Stops between batches; a later run picks up where this one stopped. */
  signal?: AbortSignal;
}

export interface RotationResult {
  reencrypted: number;
  remaining: number;
  aborted: boolean;
}

/**
 * Re-encrypts every stored secret under the current master key. Rows already
 * under it are skipped by their key id prefix, so the run is resumable and
 * idempotent; each batch commits on its own, so an interruption loses nothing.
 */
export async function rotateMasterKey(sequelize: Sequelize, box: SecretBox, opts: RotationOptions = {}): Promise<RotationResult> {
  const batchSize = opts.batchSize ?? 500;
  const current = `v1.${box.keyId}.%`;
  let reencrypted = 0;
  for (const { table, columns } of ENCRYPTED_COLUMNS) {
    const stale = columns.map((c) => `(${c} IS NOT NULL AND ${c} NOT LIKE :current)`).join(' OR ');
    const [{ n }] = (await sequelize.query<{ n: number }>(`SELECT COUNT(*) AS n FROM ${table} WHERE ${stale}`, {
      replacements: { current },
      type: QueryTypes.SELECT,
    })) as [{ n: number }];
    const total = Number(n);
    let done = 0;
    let lastId = 0;
    opts.onProgress?.({ table, done, total });
    for (;;) {
      if (opts.signal?.aborted) return { reencrypted, remaining: await countRemaining(sequelize, current), aborted: true };
      const rows = await sequelize.query<Record<string, string | number | null>>(
        `SELECT id, ${columns.join(', ')} FROM ${table} WHERE id > :lastId AND (${stale}) ORDER BY id LIMIT ${batchSize}`,
        { replacements: { lastId, current }, type: QueryTypes.SELECT },
      );
      if (!rows.length) break;
      await sequelize.transaction(async (tx) => {
        for (const row of rows) {
          const sets: string[] = [];
          const guards: string[] = [];
          const values: Record<string, unknown> = { id: row.id };
          for (const c of columns) {
            const v = row[c];
            if (typeof v === 'string' && !v.startsWith(`v1.${box.keyId}.`)) {
              sets.push(`${c} = :new_${c}`);
              guards.push(`${c} = :old_${c}`);
              values[`new_${c}`] = box.encrypt(box.decrypt(v));
              values[`old_${c}`] = v;
            }
          }
          // Guarded by the old ciphertext: a secret the API changed meanwhile is already under the new key.
          if (sets.length) {
            await sequelize.query(`UPDATE ${table} SET ${sets.join(', ')} WHERE id = :id AND ${guards.join(' AND ')}`, {
              replacements: values,
              transaction: tx,
            });
          }
        }
      });
      lastId = Number(rows[rows.length - 1]!.id);
      done += rows.length;
      reencrypted += rows.length;
      opts.onProgress?.({ table, done, total });
    }
  }
  return { reencrypted, remaining: await countRemaining(sequelize, current), aborted: false };
}

async function countRemaining(sequelize: Sequelize, current: string): Promise<number> {
  let remaining = 0;
  for (const { table, columns } of ENCRYPTED_COLUMNS) {
    const stale = columns.map((c) => `(${c} IS NOT NULL AND ${c} NOT LIKE :current)`).join(' OR ');
    const [row] = await sequelize.query<{ n: number }>(`SELECT COUNT(*) AS n FROM ${table} WHERE ${stale}`, {
      replacements: { current },
      type: QueryTypes.SELECT,
    });
    remaining += Number(row?.n ?? 0);
  }
  return remaining;
}
