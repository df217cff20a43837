import { compiledIsCurrent } from '../../bin/app-modules.js';

/**
 * The benchmarks measure the server as deployed: the compiled build. A
 * source edited after `npm run build` would make bin/switchboard.js run
 * the sources through tsx instead (more CPU per request and ~40 MB more per
 * process), and the figures would be of a process nobody runs.
 */
export function requireCurrentBuild(): void {
  if (!compiledIsCurrent()) throw new Error('dist/ is missing or older than a source in src/, sip/ or server/: run `npm run build` first');
}
