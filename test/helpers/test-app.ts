import crypto from 'node:crypto';
import { createHttpServer } from '../../src/http/http-server.js';
import type { AddressInfo } from 'node:net';
import { loadConfig, type AppConfig } from '../../src/config.js';
import { createApp } from '../../src/app.js';
import { openDatabase } from '../../src/db/database.js';
import { migrateToLatest } from '../../src/db/migrator.js';
import { createLogger } from '../../src/logger.js';
import { createServices, type Services } from '../../src/services.js';
import { freshDatabaseUrl } from './test-database.js';
import type { Clock } from '../../src/shared/clock.js';
import type { UsageRecorder } from '../../src/usage/usage-recorder.js';

export interface ApiResponse<T = any> {
  status: number;
  headers: Headers;
  body: T;
}

export interface TestApp {
  baseUrl: string;
  services: Services;
  config: AppConfig;
  /** Calls the API; `token` is sent as a bearer token, headers as given. */
  call<T = any>(method: string, path: string, opts?: { token?: string; body?: unknown; headers?: Record<string, string> }): Promise<ApiResponse<T>>;
  stop(): Promise<void>;
}

/** A real HTTP server on 127.0.0.1:0 over a fresh migrated database. */
export async function startTestApp(overrides: Record<string, unknown> = {}, opts: { clock?: Clock; usage?: UsageRecorder } = {}): Promise<TestApp> {
  const db = freshDatabaseUrl();
  const config = loadConfig({ database: { url: db.url }, secrets: { masterKey: crypto.randomBytes(32).toString('base64') }, ...overrides });
  const logger = createLogger(config.log.level);
  const database = await openDatabase({ url: config.database.url, logger });
  await migrateToLatest(database.sequelize);
  const services = createServices(database, config, logger, Buffer.from(config.secrets.masterKey, 'base64'), [], opts.clock, opts.usage);
  const server = createHttpServer(createApp(services));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    baseUrl,
    services,
    config,
    async call(method, path, opts = {}) {
      const headers: Record<string, string> = { ...(opts.headers ?? {}) };
      if (opts.token) headers.authorization = `Bearer ${opts.token}`;
      let body: string | undefined;
      if (opts.body !== undefined) {
        headers['content-type'] ??= 'application/json';
        body = typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
      }
      const res = await fetch(baseUrl + path, { method, headers, body });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        /* not JSON: keep the text */
      }
      return { status: res.status, headers: res.headers, body: parsed as any };
    },
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await services.usage.stop();
      await services.failureStore.close();
      await database.close();
      await db.drop();
    },
  };
}
