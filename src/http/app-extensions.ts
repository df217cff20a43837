import { Counter, Histogram, Registry } from 'prom-client';
import type express from 'express';

/** One part of the process /healthz reports on (the SIP edge). Unhealthy → 503. */
export interface HealthCheck {
  name: string;
  check(): { healthy: boolean; details: Record<string, unknown> };
}

/** Prometheus text exposition of one part of the process (the registrar's registry). */
export interface MetricsSource {
  metrics(): Promise<string>;
}

/**
 * What other parts of the process add to the HTTP app without src/
 * importing them (CONVENTIONS: src never imports sip). The lists are read
 * per request, so components started after the app can still register.
 */
export interface AppExtensions {
  health: HealthCheck[];
  metrics: MetricsSource[];
}

export function emptyExtensions(): AppExtensions {
  return { health: [], metrics: [] };
}

/** HTTP request count and latency by method, matched route pattern and status (low cardinality: no ids). */
export function httpMetrics(): { source: MetricsSource; middleware: express.RequestHandler } {
  const registry = new Registry();
  const requests = new Counter({
    name: 'switchboard_http_requests_total',
    help: 'HTTP requests by method, route and status',
    labelNames: ['method', 'route', 'status'],
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'switchboard_http_request_duration_seconds',
    help: 'HTTP request latency',
    labelNames: ['method', 'route'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  const middleware: express.RequestHandler = (req, res, next) => {
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const routePath = (req.route as { path?: unknown } | undefined)?.path;
      const route = typeof routePath === 'string' && routePath ? `${req.baseUrl}${routePath}` : 'unmatched';
      requests.inc({ method: req.method, route, status: String(res.statusCode) });
      duration.observe({ method: req.method, route }, Number(process.hrtime.bigint() - started) / 1e9);
    });
    next();
  };
  return { source: { metrics: () => registry.metrics() }, middleware };
}
