import express from 'express';
import { z } from 'zod';
import type { RouteContext } from '../http/route-context.js';
import type { Actor } from '../http/actor.js';
import { defineRoute } from '../http/route.js';
import { NotFoundError, UnauthenticatedError } from '../errors.js';
import { MAX_LOGO_BYTES } from './account-logo-service.js';

const tag = 'Account';

/**
 * The upload takes the raw image as the body (not JSON, not multipart), so it
 * is mounted by hand with express.raw capped at 1 MB (413 beyond), and
 * registered in the OpenAPI document alongside.
 */
export function registerAccountLogoRoutes({ router, registry, services }: RouteContext): void {
  registry.registerPath({
    method: 'put',
    path: '/v1/account/logo',
    tags: [tag],
    summary: 'Upload the workspace logo: PNG, JPEG or WebP ≤ 1 MB, type checked by content; SVG is refused',
    security: [{ bearerAuth: [] }, { apiKeyHeader: [] }],
    request: {
      body: {
        required: true,
        content: {
          'image/png': { schema: z.string().meta({ format: 'binary' }) },
          'image/jpeg': { schema: z.string().meta({ format: 'binary' }) },
          'image/webp': { schema: z.string().meta({ format: 'binary' }) },
        },
      },
    },
    responses: {
      200: { description: 'The account with its new logo_url' },
      413: { description: 'Larger than 1 MB' },
      422: { description: 'Not a PNG, JPEG or WebP (or an SVG)' },
    },
  });
  router.put('/v1/account/logo', express.raw({ type: () => true, limit: MAX_LOGO_BYTES }), async (req, res) => {
    const actor = res.locals.actor as Actor | undefined;
    if (!actor) throw new UnauthenticatedError('authentication_required', 'Send an access token (Authorization: Bearer …) or an X-API-KEY header');
    await services.accountLogo.upload(actor, Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0));
    res.status(200).json(await services.accountSettings.get(actor));
  });

  defineRoute(router, registry, {
    method: 'delete',
    path: '/v1/account/logo',
    tag,
    auth: true,
    summary: 'Remove the workspace logo',
    responses: { 204: { description: 'Removed' } },
    handler: async ({ actor }) => {
      await services.accountLogo.remove(actor);
      return { status: 204 };
    },
  });

  // Bytes, not JSON, so this one is mounted by hand too.
  const LogoParams = z.object({ accountId: z.coerce.number().int().positive(), file: z.string().regex(/^[0-9a-f]{16}\.(png|jpg|webp)$/) });
  registry.registerPath({
    method: 'get',
    path: '/logos/{accountId}/{file}',
    tags: [tag],
    security: [],
    summary: 'The logo at the stable URL given as logo_url (public; cacheable forever because the name is the content hash)',
    request: { params: LogoParams },
    responses: { 200: { description: 'The image' }, 404: { description: 'No such logo (or it was replaced)' } },
  });
  router.get('/logos/:accountId/:file', async (req, res) => {
    const p = LogoParams.safeParse(req.params);
    if (!p.success) throw new NotFoundError('logo', String(req.params.accountId));
    const logo = await services.accountLogo.find(p.data.accountId, p.data.file.slice(0, 16));
    res.set(logoHeaders(logo.content_type, logo.sha256));
    if (req.get('if-none-match') === `"${logo.sha256}"`) return void res.status(304).end();
    res.status(200).send(Buffer.from(logo.data));
  });
}

function logoHeaders(contentType: string, sha: string): Record<string, string> {
  return {
    'Content-Type': contentType,
    'Cache-Control': 'public, max-age=31536000, immutable',
    ETag: `"${sha}"`,
    'X-Content-Type-Options': 'nosniff',
    'Content-Security-Policy': "default-src 'none'",
  };
}
