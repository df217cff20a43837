import express, { Router } from 'express';
import swaggerUi from 'swagger-ui-express';
import { OpenAPIRegistry, OpenApiGeneratorV31 } from '@asteasolutions/zod-to-openapi';
import type { Services } from './services.js';
import { authenticate } from './auth/authenticate.js';
import { errorHandler, notFoundHandler } from './http/error-handler.js';
import { credentialQueryGuard } from './http/credential-query-guard.js';
import { verifyUtf8Json } from './http/utf8-json.js';
import { securityHeaders } from './http/security-headers.js';
import { accessLog } from './http/access-log.js';
import type { RouteContext } from './http/route-context.js';
import { registerAuthRoutes } from './auth/auth-routes.js';
import { registerUserRoutes } from './users/user-routes.js';
import { registerApiKeyRoutes } from './api-keys/api-key-routes.js';
import { registerAccountRoutes } from './accounts/account-routes.js';
import { registerAccountLogoRoutes } from './accounts/account-logo-routes.js';
import { registerMemberRoutes } from './members/member-routes.js';
import { registerWebhookRoutes } from './webhooks/webhook-routes.js';
import { registerOncallRoutes } from './oncall/oncall-routes.js';

import { registerNumberRoutes } from './numbers/number-routes.js';
import { registerLocationRoutes } from './locations/location-routes.js';
import { registerMailboxRoutes } from './mailboxes/mailbox-routes.js';
import { registerFaxServiceRoutes } from './fax-services/fax-service-routes.js';
import { registerAuditRoutes } from './audit/audit-routes.js';
import { registerRegistrationRoutes } from './registrations/registration-routes.js';
import { consoleRouter } from './http/console-static.js';
import { registerCallPlanRoutes } from './call-plans/call-plan-routes.js';
import { registerProviderRoutes } from './telephony/provider-routes.js';
import { carrierWebhookRouter, registerCarrierWebhookDocs, registerMessageRoutes } from './messaging/message-routes.js';
import { emptyExtensions, httpMetrics, type AppExtensions } from './http/app-extensions.js';
import { countApiRequests, registerUsageRoutes } from './usage/usage-routes.js';

/**
 * Each area contributes its routes here. Order matters only for speed: the
 * router tries each route of the API in turn, and call engines read call
 * plans on every call (with the workspace key), so their routes come first.
 */
const AREAS: Array<(ctx: RouteContext) => void> = [
  registerCallPlanRoutes,
  registerAuthRoutes,
  registerUserRoutes,
  registerNumberRoutes,
  registerLocationRoutes,
  registerMailboxRoutes,
  registerFaxServiceRoutes,
  registerAuditRoutes,
  registerOncallRoutes,
  registerApiKeyRoutes,
  registerAccountRoutes,
  registerAccountLogoRoutes,
  registerMemberRoutes,
  registerWebhookRoutes,
  registerRegistrationRoutes,
  registerProviderRoutes,
  registerUsageRoutes,
  registerMessageRoutes,
];

/** Builds the express app without listening (tests mount it on port 0). */
export function createApp(services: Services, extensions: AppExtensions = emptyExtensions()): express.Express {
  const app = express();
  const http = httpMetrics();
  app.use(http.middleware);
  app.disable('x-powered-by');
  app.set('trust proxy', services.config.http.trustProxy);
  app.set('query parser', 'simple');
  // API answers are no-store: an ETag (a SHA-1 of every body) would never be revalidated.
  app.set('etag', false);
  // One access-log line per request with a request id; credentials are redacted by the logger.
  app.use(accessLog(services.logger));
  const headers = securityHeaders();
  app.use((req, res, next) => (req.path === '/docs' || req.path.startsWith('/docs/') ? headers.docs : headers.all)(req, res, next));
  app.use(['/v1', '/myphones'], headers.noStore);
  app.use(credentialQueryGuard);
  // Carriers sign the raw body: their webhooks read it before the JSON parser does.
  app.use(carrierWebhookRouter(services));
  app.use(express.json({ limit: '256kb', strict: true, verify: verifyUtf8Json }));

  const registry = new OpenAPIRegistry();
  registry.registerComponent('securitySchemes', 'bearerAuth', { type: 'http', scheme: 'bearer', description: 'Access token from POST /v1/auth/token' });
  registry.registerComponent('securitySchemes', 'apiKeyHeader', { type: 'apiKey', in: 'header', name: 'X-API-KEY', description: 'Workspace API key' });
  registry.registerComponent('securitySchemes', 'basicAuth', {
    type: 'http',
    scheme: 'basic',
    description: 'For engines that can only send Basic auth: an API key as token:secret, or the workspace key as the password',
  });

  const api = Router();
  api.use(authenticate(services.accessTokens, services.workspaceKey, services.apiKeys));
  api.use(countApiRequests(services.usage.recorder));
  for (const area of AREAS) area({ router: api, registry, services });
  registerCarrierWebhookDocs(registry);

  const document = new OpenApiGeneratorV31(registry.definitions).generateDocument({
    openapi: '3.1.0',
    info: {
      title: 'Switchboard provisioning API',
      version: '1',
      description:
        'Accounts, PBX users and everything a user refers to. Errors share one shape: {"error":{"code","message","field?","details?"}}; a 400 lists every field error in details, the first one also in message and field.',
    },
    servers: [{ url: '/' }],
  });

  app.get('/healthz', async (_req, res) => {
    const started = Date.now();
    // Each extension (the SIP edge) reports too; any unhealthy part makes the node unhealthy (503).
    const parts: Record<string, unknown> = {};
    let healthy = true;
    for (const h of extensions.health) {
      const r = h.check();
      healthy &&= r.healthy;
      parts[h.name] = { healthy: r.healthy, ...r.details };
    }
    try {
      await services.db.sequelize.query('SELECT 1');
      res
        .status(healthy ? 200 : 503)
        .json({ status: healthy ? 'ok' : 'unavailable', database: { status: 'ok', dialect: services.db.dialect, latency_ms: Date.now() - started }, ...parts });
    } catch {
      res.status(503).json({ status: 'unavailable', database: { status: 'unreachable', dialect: services.db.dialect }, ...parts });
    }
  });
  // Prometheus text exposition (unauthenticated, like /healthz: scrape it from the internal network only).
  app.get('/metrics', async (_req, res) => {
    const texts = await Promise.all([http.source, ...extensions.metrics].map((m) => m.metrics()));
    res.type('text/plain; version=0.0.4; charset=utf-8').send(texts.filter((t) => t.trim()).join('\n'));
  });
  app.get('/openapi.json', (_req, res) => {
    res.json(document);
  });
  app.use('/docs', swaggerUi.serve, swaggerUi.setup(document as never));
  // Before the API router: assets and pages need no credential look-up.
  app.use(consoleRouter(services.config.http.consoleDir));
  app.use(api);
  app.use(notFoundHandler);
  app.use(errorHandler(services.logger));
  return app;
}
