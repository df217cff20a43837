#!/usr/bin/env node
// A SIP worker process, forked by `switchboard serve` when sip.workers > 0 (see server/sip-workers.ts).
import { fileURLToPath } from 'node:url';
import { register } from 'tsx/esm/api';

process.env.NODE_CONFIG_DIR ??= fileURLToPath(new URL('../config', import.meta.url));

register();
const { runSipWorker } = await import('../server/sip-worker.ts');
await runSipWorker();
