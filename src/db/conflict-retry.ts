/**
 * The one retry loop for a transaction that lost to another (a REGISTER
 * binding transaction, a shared failure counter upsert):
 * an InnoDB deadlock victim (gap locks on the registrations index), an
 * SQLite file another process holds, and on Galera a certification failure
 * or a brute-force abort (a replicated write set that touched a row this
 * transaction had locked). Galera reports both of the latter as
 * ER_LOCK_DEADLOCK (1213), at COMMIT or at the next statement. The step
 * passed in must be the whole transaction, reads included: a retry decides
 * again on fresh reads, never replays the writes of the lost attempt.
 */
export interface ConflictRetryOptions {
  /** Attempts in all, the first included. */
  attempts?: number;
  /** Called before each retry (metrics). */
  onRetry?: (code: string) => void;
  /** Called when the last attempt failed on a conflict too. */
  onGiveUp?: (code: string) => void;
}

const RETRYABLE = new Set(['ER_LOCK_DEADLOCK', 'ER_LOCK_WAIT_TIMEOUT', 'SQLITE_BUSY']);

/** The driver's error code, whether the error came from mysql2 directly or wrapped by Sequelize. */
export function conflictCode(err: unknown): string | undefined {
  const e = err as { parent?: { code?: string }; original?: { code?: string }; code?: string } | undefined;
  const code = e?.parent?.code ?? e?.original?.code ?? e?.code;
  return code && RETRYABLE.has(code) ? code : undefined;
}

export function isRetryable(err: unknown): boolean {
  return conflictCode(err) !== undefined;
}

/**
 * Bounded, with full jitter: two nodes whose transactions keep colliding
 * on one user's row would otherwise retry in lockstep and collide again.
 */
export async function retryConflicts<T>(step: () => Promise<T>, o: ConflictRetryOptions = {}): Promise<T> {
  const attempts = o.attempts ?? 8;
  for (let attempt = 1; ; attempt++) {
    try {
      return await step();
    } catch (err) {
      const code = conflictCode(err);
      if (!code) throw err;
      if (attempt >= attempts) {
        o.onGiveUp?.(code);
        throw err;
      }
      o.onRetry?.(code);
      await new Promise((r) => setTimeout(r, Math.random() * Math.min(200, 5 * 2 ** attempt)));
    }
  }
}
