import type { RequestHandler } from 'express';
import type { RouteContext } from '../http/route-context.js';
import type { Actor } from '../http/actor.js';
import { defineRoute } from '../http/route.js';
import type { UsageRecorder } from './usage-recorder.js';
import { UsageQuerySchema, UsageReportSchema } from './usage-schemas.js';

export function registerUsageRoutes({ router, registry, services }: RouteContext): void {
  defineRoute(router, registry, {
    method: 'get',
    path: '/v1/usage',
    tag: 'Usage',
    auth: true,
    summary: 'Usage of the account by day, user or type (owner and admins)',
    description:
      'sms_inbound, sms_outbound, sms_auto_responses, sms_segments, api_requests, registrations (new bindings) and active_devices_peak (most devices registered at once), from daily rows per UTC day. since and until are both included. format=csv or Accept: text/csv returns the whole report as CSV (every user, not one page).',
    query: UsageQuerySchema,
    responses: { 200: { description: 'The usage report', schema: UsageReportSchema, csv: true } },
    handler: async ({ actor, query, req }) => {
      const { format, ...q } = query;
      const csv = format === 'csv' || (format === undefined && req.accepts(['application/json', 'text/csv']) === 'text/csv');
      if (!csv) return { status: 200, body: await services.usage.report(actor, q) };
      const out = await services.usage.csv(actor, q);
      return {
        status: 200,
        text: out.text,
        headers: { 'Content-Type': 'text/csv; charset=utf-8', 'Content-Disposition': `attachment; filename="${out.filename}"` },
      };
    },
  });
}

/** Every request a credential made to the API is one api_requests of its account and user (none for the workspace key). */
export function countApiRequests(recorder: UsageRecorder): RequestHandler {
  return (_req, res, next) => {
    const actor = res.locals.actor as Actor | undefined;
    if (actor && actor.kind !== 'system') recorder.record({ accountId: actor.accountId, userId: actor.userId, type: 'api_requests' });
    next();
  };
}
