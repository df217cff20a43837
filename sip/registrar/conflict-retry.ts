// The registrar's binding transactions and the shared failure counters (src/throttle) retry the same conflicts the same way.
export * from '../../src/db/conflict-retry.js';
