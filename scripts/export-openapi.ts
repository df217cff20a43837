// Writes the app's OpenAPI document (what GET /openapi.json serves) to a file,
// without a database server or a listening port: the console's build generates
// its API types from it, so an API change breaks the console's type check.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { loadConfig } from '../src/config.js';
import { createApp } from '../src/app.js';
import { createHttpServer } from '../src/http/http-server.js';
import { openDatabase } from '../src/db/database.js';
import { createLogger } from '../src/logger.js';
import { createServices } from '../src/services.js';

const out = process.argv[2];
if (!out) {
  console.error('usage: tsx scripts/export-openapi.ts <output.json>');
  process.exit(2);
}
const masterKey = crypto.randomBytes(32).toString('base64');
const config = loadConfig({ database: { url: 'sqlite::memory:' }, secrets: { masterKey, masterKeyFile: '' }, log: { level: 'silent' } });
const logger = createLogger('silent');
const db = await openDatabase({ url: config.database.url, logger });
const services = createServices(db, config, logger, Buffer.from(masterKey, 'base64'), []);
const server = createHttpServer(createApp(services));
await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
try {
  const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/openapi.json`);
  if (!res.ok) throw new Error(`GET /openapi.json answered ${res.status}`);
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, JSON.stringify(await res.json(), null, 2) + '\n');
} finally {
  server.close();
  await db.close();
}
