import express, { type Request, type Response } from 'express';
import { z } from 'zod';
import type { RouteContext } from '../http/route-context.js';
import { defineRoute, zodIssueToField } from '../http/route.js';
import { ErrorResponseSchema } from '../http/error-schema.js';
import { DomainError, UnauthenticatedError, ValidationError } from '../errors.js';
import type { Actor } from '../http/actor.js';
import { CallPlanSchema, CallPlanUserParams, CallPlanUserQuery, ResolveCallPlanBody } from './call-plan-schemas.js';
import type { CallPlanResult } from './call-plan-presenter.js';
import { NEXT_PREFIX, nextStepXml, notFoundXml, outcomeOfDisposition, planXml } from './freeswitch-dialplan.js';

const tag = 'Call plans';

const cacheHeader = (r: CallPlanResult) => ({ 'X-Call-Plan-Cache': r.cached ? 'hit' : 'miss', 'Cache-Control': 'no-store' });

/** The fields of a mod_xml_curl dialplan fetch we read (it posts many more; they are ignored). */
const FreeswitchFetch = z
  .object({
    section: z.string().max(64),
    'Caller-Destination-Number': z.string().max(256).optional(),
    'Hunt-Destination-Number': z.string().max(256).optional(),
    'Caller-Caller-ID-Number': z.string().max(256).optional(),
    'Hunt-Context': z.string().max(128).optional(),
    'Caller-Context': z.string().max(128).optional(),
    variable_switchboard_user_id: z
      .string()
      .regex(/^\d{1,10}$/)
      .optional(),
  })
  .passthrough()
  .meta({ id: 'FreeswitchDialplanFetch' });

export function registerCallPlanRoutes({ router, registry, services }: RouteContext): void {
  const plans = services.callPlans;

  defineRoute(router, registry, {
    method: 'get',
    path: '/v1/users/{id}/call-plan',
    tag,
    auth: true,
    summary: 'What a call engine does with a call reaching the user (inbound) or placed by the user (outbound: caller ID, recording, 911 location)',
    params: CallPlanUserParams,
    query: CallPlanUserQuery,
    responses: { 200: { description: 'The call plan', schema: CallPlanSchema } },
    handler: async ({ actor, params, query }) => {
      const r = await plans.forUser(actor, params.id, query.direction);
      return { status: 200, headers: cacheHeader(r), body: r.plan };
    },
  });

  defineRoute(router, registry, {
    method: 'post',
    path: '/v1/call-plans',
    tag,
    auth: true,
    summary: 'Resolve a dialled extension, username, account number, OnCall number or 911 into a call plan',
    body: ResolveCallPlanBody,
    responses: { 200: { description: 'The call plan', schema: CallPlanSchema }, 422: { description: 'Not routable', schema: ErrorResponseSchema } },
    handler: async ({ actor, body }) => {
      const r = await plans.resolve(actor, body);
      return { status: 200, headers: cacheHeader(r), body: r.plan };
    },
  });

  // FreeSWITCH mod_xml_curl posts form fields and authenticates with HTTP Basic; it reads XML, never JSON.
  registry.registerPath({
    method: 'post',
    path: '/v1/call-plans/freeswitch',
    tags: [tag],
    summary: 'FreeSWITCH mod_xml_curl dialplan binding: the call plan as dialplan XML (see docs/call-plans.md)',
    security: [{ basicAuth: [] }, { apiKeyHeader: [] }, { bearerAuth: [] }],
    request: { body: { content: { 'application/x-www-form-urlencoded': { schema: FreeswitchFetch } }, required: true } },
    responses: {
      200: {
        description: 'freeswitch/xml document (a "not found" result when the call is not Switchboard\'s)',
        content: { 'text/xml': { schema: z.string() } },
      },
      401: { description: 'Missing or invalid credentials', content: { 'application/json': { schema: ErrorResponseSchema } } },
    },
  });
  router.post('/v1/call-plans/freeswitch', express.urlencoded({ extended: false, limit: '256kb' }), async (req: Request, res: Response) => {
    const actor = res.locals.actor as Actor | undefined;
    if (!actor) throw new UnauthenticatedError('authentication_required', 'Set gateway-credentials in xml_curl.conf.xml (HTTP Basic, see docs/call-plans.md)');
    const parsed = FreeswitchFetch.safeParse(req.body ?? {});
    if (!parsed.success) throw new ValidationError(parsed.error.issues.map((i) => zodIssueToField(i)));
    const f = parsed.data;
    const fs = services.config.callPlans.freeswitch;
    const destinationNumber = f['Hunt-Destination-Number'] ?? f['Caller-Destination-Number'] ?? '';
    const context = f['Hunt-Context'] ?? f['Caller-Context'] ?? 'default';
    res.type('text/xml').setHeader('Cache-Control', 'no-store');
    if (f.section !== 'dialplan' || !destinationNumber) {
      res.send(notFoundXml());
      return;
    }
    try {
      if (destinationNumber.startsWith(NEXT_PREFIX) && f.variable_switchboard_user_id) {
        const r = await plans.forUser(actor, Number(f.variable_switchboard_user_id), 'inbound');
        res.send(nextStepXml(r.plan, outcomeOfDisposition(destinationNumber.slice(NEXT_PREFIX.length)), { context, destinationNumber }, fs));
        return;
      }
      const r = await plans.resolve(actor, { to: destinationNumber, from: f['Caller-Caller-ID-Number'] || 'anonymous' });
      res.setHeader('X-Call-Plan-Cache', r.cached ? 'hit' : 'miss');
      res.send(planXml(r.plan, { context, destinationNumber }, fs));
    } catch (e) {
      // Not a call Switchboard routes (unknown number, another account's user): FreeSWITCH's own dialplan may know it.
      if (e instanceof DomainError && (e.kind === 'rule' || e.kind === 'not_found' || e.kind === 'validation')) {
        res.send(notFoundXml());
        return;
      }
      throw e;
    }
  });
}
