#!/usr/bin/env node
// A SIP worker process, forked by `switchboard serve` when sip.workers > 0 (see server/sip-workers.ts).
import './v8-tuning.js';
import { importApp } from './app-modules.js';

const { runSipWorker } = await importApp('server/sip-worker');
await runSipWorker();
