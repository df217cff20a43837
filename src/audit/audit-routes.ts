import type { RouteContext } from '../http/route-context.js';
import { defineRoute } from '../http/route.js';
import { pageOf } from '../shared/schemas.js';
import { AuditEntrySchema, AuditListQuery } from './audit-schemas.js';

const AuditPage = pageOf(AuditEntrySchema, 'AuditEntryPage');

export function registerAuditRoutes({ router, registry, services }: RouteContext): void {
  defineRoute(router, registry, {
    method: 'get',
    path: '/v1/audit',
    tag: 'Audit',
    auth: true,
    summary: 'Read the audit trail, newest first (owner and admins)',
    query: AuditListQuery,
    responses: { 200: { description: 'A page of audit entries', schema: AuditPage } },
    handler: async ({ actor, query }) => ({ status: 200, body: await services.auditTrail.list(actor, query) }),
  });
}
