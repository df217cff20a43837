import express, { Router } from 'express';
import swaggerUi from 'swagger-ui-express';
import { OpenAPIRegistry, OpenApiGeneratorV31 } from '@asteasolutions/zod-to-openapi';
import type { Services } from './services.js';
import { authenticate } from './auth/authenticate.js';
import { errorHandler, notFoundHandler } from './http/error-handler.js';
import type { RouteContext } from './http/route-context.js';
import { registerAuthRoutes } from './auth/auth-routes.js';
import { registerUserRoutes } from './users/user-routes.js';
import { registerRegistrationRoutes } from './registrations/registration-routes.js';

/** Each area contributes its routes here; order does not matter. */
const AREAS: Array<(ctx: RouteContext) => void> = [registerAuthRoutes, registerUserRoutes, registerRegistrationRoutes];

/** Builds the express app without listening (tests mount it on port 0). */
export function createApp(services: Services): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', services.config.http.trustProxy);
  app.set('query parser', 'simple');
  app.use(express.json({ limit: '256kb', strict: true }));

  const registry = new OpenAPIRegistry();
  registry.registerComponent('securitySchemes', 'bearerAuth', { type: 'http', scheme: 'bearer', description: 'Access token from POST /v1/auth/token' });
  registry.registerComponent('securitySchemes', 'apiKeyHeader', { type: 'apiKey', in: 'header', name: 'X-API-KEY', description: 'Workspace API key' });

  const api = Router();
  api.use(authenticate(services.accessTokens));
  for (const area of AREAS) area({ router: api, registry, services });

  const document = new OpenApiGeneratorV31(registry.definitions).generateDocument({
    openapi: '3.1.0',
    info: { title: 'Switchboard provisioning API', version: '1', description: 'Accounts, PBX users and everything a user refers to. Errors share one shape: {"error":{"code","message","field?"}}.' },
    servers: [{ url: '/' }],
  });

  app.get('/healthz', async (_req, res) => {
    const started = Date.now();
    try {
      await services.db.sequelize.query('SELECT 1');
      res.json({ status: 'ok', database: { status: 'ok', dialect: services.db.dialect, latency_ms: Date.now() - started } });
    } catch {
      res.status(503).json({ status: 'unavailable', database: { status: 'unreachable', dialect: services.db.dialect } });
    }
  });
  app.get('/openapi.json', (_req, res) => {
    res.json(document);
  });
  app.use('/docs', swaggerUi.serve, swaggerUi.setup(document as never));
  app.use(api);
  app.use(notFoundHandler);
  app.use(errorHandler(services.logger));
  return app;
}
