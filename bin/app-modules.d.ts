/** Whether dist/ holds a build at least as new as every source (what `serve` and the SIP workers then run). */
export function compiledIsCurrent(): boolean;
/** 'dist' or 'sources': what this process runs. */
export const loadedFrom: 'dist' | 'sources';
/** Imports an application module by its path from the repository root without extension, e.g. `src/cli`. */
export function importApp(modulePath: string): Promise<Record<string, unknown>>;
