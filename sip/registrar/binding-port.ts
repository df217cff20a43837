import type { ApplyRegisterInput, ApplyRegisterResult, StoredBinding } from './register-decision.js';

/**
 * What the registrar and its sweepers need from storage, and nothing of
 * how: one adapter per dialect stands behind it (binding-store.ts, with
 * the SQLite batch writer and the MySQL group commit and write-behind),
 * each running the same pure decision (register-decision.ts) under its
 * own lock.
 */
export interface BindingPort {
  /** One REGISTER: decided and written atomically per user (max_bindings holds across processes). */
  apply(input: ApplyRegisterInput): Promise<ApplyRegisterResult>;
}

/** Removals that do not come from a REGISTER; each writes its registration.* events in the same transaction. */
export interface BindingRemovals {
  /** Bindings past expiry, a batch per transaction; returns how many. */
  sweepExpired(now: Date, maxBatches?: number): Promise<number>;
  /** Bindings made over a stream connection that is gone (and without Path). */
  removeConnection(connectionId: string, nodeId: string): Promise<number>;
  /** Bindings that failed two probes in a row and did not refresh since `probedSince`. */
  removeUnreachable(ids: number[], probedSince: Date): Promise<number>;
}

export type { StoredBinding };
