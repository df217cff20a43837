import { createHttpServer } from './http/http-server.js';
import type { AddressInfo } from 'node:net';
import type { AppConfig } from './config.js';
import { createApp } from './app.js';
import { bootstrap } from './runtime.js';
import { redactUrl } from './db/database.js';
import type { Services } from './services.js';
import { createOncallReminderJob } from './jobs/oncall-reminder-job.js';
import { startJobs, type RunningJobs } from './jobs/job-scheduler.js';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { emptyExtensions, type AppExtensions } from './http/app-extensions.js';
import { applyHeapGrowth } from './heap-growth.js';

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
export type ServerComponent = (
  services: Services,
  extensions: AppExtensions,
) => Promise<{ name: string; details?: Record<string, unknown>; stop(): Promise<void> }>;

/** `switchboard serve`: migrations, HTTP API, jobs (unless jobs.enabled is false), components (the SIP edge); stops gracefully on SIGINT/SIGTERM. */
export async function serve(config: AppConfig, opts: { installSignalHandlers?: boolean; components?: ServerComponent[] } = {}): Promise<RunningServer> {
  applyHeapGrowth(config.memory.heapGrowingPercent);
  const services = await bootstrap(config, { migrate: true });
  const { logger } = services;
  // Components (the SIP edge) add their health and metrics here once started.
  const extensions = emptyExtensions();
  const processRegistry = new Registry();
  collectDefaultMetrics({ register: processRegistry, prefix: 'switchboard_' });
  extensions.metrics.push({ metrics: () => processRegistry.metrics() });
  const server = createHttpServer(createApp(services, extensions));
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
      const c = await component(services, extensions);
      started.push(c);
      components[c.name] = c.details ?? {};
    }
  } catch (err) {
    for (const c of started.reverse()) await c.stop();
    server.closeAllConnections();
    server.close();
    await services.failureStore.close();
    await services.db.close();
    throw err;
  }
  const jobs: RunningJobs | null = config.jobs.enabled ? startJobs(createOncallReminderJob(services), config.jobs.oncallReminders.schedule, logger) : null;
  const stopWebhookDelivery = startWebhookDelivery(services);
  const stopProviderSync = startProviderSync(services);
  const stopUsageJobs = startUsageJobs(services);
  const stopSmsOutbox = startSmsOutbox(services);

  let stopping: Promise<void> | null = null;
  const stop = () => {
    stopping ??= (async () => {
      logger.info('shutting down');
      for (const c of [...started].reverse()) {
        await c.stop().catch((err: unknown) => logger.error({ err, component: c.name }, 'component stop failed'));
      }
      await stopWebhookDelivery();
      await stopProviderSync();
      await stopUsageJobs();
      await stopSmsOutbox();
      // Device deliveries and auto-responses started by webhooks already answered.
      await services.messages.settled();
      const closed = new Promise<void>((r) => server.close(() => r()));
      server.closeIdleConnections();
      // In-flight requests get a bounded grace period, then connections are cut.
      await Promise.race([closed, new Promise((r) => setTimeout(r, 5000).unref())]);
      server.closeAllConnections();
      // Let a running tick record what it sent before the database goes away.
      await jobs?.stop();
      // After the HTTP server and the SIP edge: the last requests and REGISTERs are counted too.
      await services.usage.stop().catch((err: unknown) => logger.error({ err }, 'writing the last usage failed'));
      await services.failureStore.close();
      await services.db.close();
    })();
    return stopping;
  };
  if (opts.installSignalHandlers) {
    for (const sig of ['SIGINT', 'SIGTERM'] as const) {
      process.once(sig, () => {
        stop().then(
          () => process.exit(0),
          (err) => {
            logger.error({ err }, 'shutdown failed');
            process.exit(1);
          },
        );
      });
    }
  }
  return { httpPort, components, stop };
}

/**
 * Runs `tick` every `intervalMs`, never overlapping itself (a tick still
 * running skips the next); the returned stop waits for a running tick.
 * A plain interval rather than node-cron: these jobs run every few seconds.
 */
function startInterval(
  services: Awaited<ReturnType<typeof bootstrap>>,
  name: string,
  intervalMs: number,
  tick: () => Promise<unknown>,
  runAtOnce = false,
): () => Promise<void> {
  let running: Promise<unknown> | null = null;
  const run = () => {
    if (running) return;
    running = tick()
      .catch((err: unknown) => services.logger.error({ err }, `${name} run failed`))
      .finally(() => (running = null));
  };
  const timer = setInterval(run, intervalMs);
  timer.unref();
  if (runAtOnce) run();
  return async () => {
    clearInterval(timer);
    await running;
  };
}

const noJob = async (): Promise<void> => {};

/** Webhook delivery runs in every `serve` process that enables it; leases make that safe. jobs.enabled turns every background job off on HTTP/SIP-only nodes. */
function startWebhookDelivery(services: Awaited<ReturnType<typeof bootstrap>>): () => Promise<void> {
  const settings = services.config.webhooks.delivery;
  if (!services.config.jobs.enabled || !settings.enabled) return noJob;
  return startInterval(services, 'webhook delivery', settings.intervalMs, () => services.webhookDelivery.runDue());
}

/**
 * The periodic carrier number import: a tick every telephony.syncTickSeconds
 * picks the providers whose last import is older than syncIntervalMinutes
 * (claimed per provider, so one node imports each).
 */
function startProviderSync(services: Awaited<ReturnType<typeof bootstrap>>): () => Promise<void> {
  const t = services.config.telephony;
  if (!services.config.jobs.enabled || t.syncIntervalMinutes <= 0) return noJob;
  return startInterval(services, 'provider sync', t.syncTickSeconds * 1000, () => services.providerSyncJob.runDue());
}

/**
 * The device-peak sample and the retry of threshold emails that failed.
 * Every node with jobs may run them: a peak keeps its maximum, and an
 * alert is claimed before it is sent.
 */
function startUsageJobs(services: Awaited<ReturnType<typeof bootstrap>>): () => Promise<void> {
  const u = services.config.usage;
  if (!services.config.jobs.enabled) return noJob;
  const tick = () => Promise.all([u.devicesSampleSeconds > 0 ? services.usage.sampleDevices() : null, services.usage.runDueAlerts()]);
  return startInterval(services, 'usage job', (u.devicesSampleSeconds || 60) * 1000, tick, true);
}

/** The SMS outbox: queued sends (a carrier answered 429/5xx, or the node that queued them died) are claimed per row and sent. */
function startSmsOutbox(services: Awaited<ReturnType<typeof bootstrap>>): () => Promise<void> {
  const o = services.config.messaging.outbox;
  if (!services.config.jobs.enabled || !o.enabled) return noJob;
  return startInterval(services, 'SMS outbox', o.intervalMs, () => services.messages.runOutbox());
}
