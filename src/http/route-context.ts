import type { Router } from 'express';
import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import type { Services } from '../services.js';

/** What every area's register*Routes function receives. */
export interface RouteContext {
  router: Router;
  registry: OpenAPIRegistry;
  services: Services;
}
