#!/usr/bin/env node
import './v8-tuning.js';
import { importApp } from './app-modules.js';

const { runCli } = await importApp('src/cli');
// src/ never imports sip/; the SIP edge joins the process here (server/ may import both).
const { sipServerComponent } = await importApp('server/sip-component');
await runCli(process.argv, { components: [sipServerComponent] });
