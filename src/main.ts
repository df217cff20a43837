import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AppConfig } from './config.js';
import { createApp } from './app.js';
import { bootstrap } from './runtime.js';
import { redactUrl } from './db/database.js';
import type { Services } from './services.js';

export interface RunningServer {
  httpPort: number;
  /** What each started component reported (e.g. the SIP listeners and their ports). */
  components: Record<string, unknown>;
  stop(): Promise<void>;
}

/**
 * A part of the process started with the HTTP API and stopped before the
 * database closes (the SIP edge). Passed in by the bin layer, so src/ does
 * not import sip/ (CONVENTIONS: one-way layering).
 */
export type ServerComponent = (services: Services) => Promise<{ name: string; details?: Record<string, unknown>; stop(): Promise<void> }>;

/** `switchboard serve`: migrations, HTTP API; stops gracefully on SIGINT/SIGTERM. */
export async function serve(config: AppConfig, opts: { installSignalHandlers?: boolean; components?: ServerComponent[] } = {}): Promise<RunningServer> {
  const services = await bootstrap(config, { migrate: true });
  const { logger } = services;
  const server = http.createServer(createApp(services));
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.http.port, config.http.host, () => resolve());
  });
  const httpPort = (server.address() as AddressInfo).port;
  logger.info({ host: config.http.host, port: httpPort, database: redactUrl(config.database.url) }, 'switchboard HTTP API listening');
  const started: Array<{ name: string; details?: Record<string, unknown>; stop(): Promise<void> }> = [];
  const components: Record<string, unknown> = {};
  try {
    for (const component of opts.components ?? []) {
      const c = await component(services);
      started.push(c);
      components[c.name] = c.details ?? {};
    }
  } catch (err) {
    for (const c of started.reverse()) await c.stop();
    server.closeAllConnections();
    server.close();
    await services.db.close();
    throw err;
  }

  let stopping: Promise<void> | null = null;
  const stop = () => {
    stopping ??= (async () => {
      logger.info('shutting down');
      for (const c of [...started].reverse()) {
        await c.stop().catch((err: unknown) => logger.error({ err, component: c.name }, 'component stop failed'));
      }
      const closed = new Promise<void>((r) => server.close(() => r()));
      server.closeIdleConnections();
      // In-flight requests get a bounded grace period, then connections are cut.
      await Promise.race([closed, new Promise((r) => setTimeout(r, 5000).unref())]);
      server.closeAllConnections();
      await services.db.close();
    })();
    return stopping;
  };
  if (opts.installSignalHandlers) {
    for (const sig of ['SIGINT', 'SIGTERM'] as const) {
      process.once(sig, () => {
        stop().then(() => process.exit(0), (err) => {
          logger.error({ err }, 'shutdown failed');
          process.exit(1);
        });
      });
    }
  }
  return { httpPort, components, stop };
}
