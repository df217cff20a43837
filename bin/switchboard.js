#!/usr/bin/env node
// The CLI runs the TypeScript sources through tsx's loader: one codebase, no build step to forget.
import { register } from 'tsx/esm/api';

register();
const { runCli } = await import('../src/cli.ts');
await runCli(process.argv);
