#!/usr/bin/env node
// The CLI runs the TypeScript sources through tsx's loader: one codebase, no build step to forget.
import { fileURLToPath } from 'node:url';
import { register } from 'tsx/esm/api';

// node-config reads ./config of the working directory; the CLI must find its own from anywhere.
process.env.NODE_CONFIG_DIR ??= fileURLToPath(new URL('../config', import.meta.url));

register();
const { runCli } = await import('../src/cli.ts');
// src/ never imports sip/; the SIP edge joins the process here (server/ may import both).
const { sipServerComponent } = await import('../server/sip-component.ts');
await runCli(process.argv, { components: [sipServerComponent] });
