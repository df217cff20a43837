import type { Request, Response, Router } from 'express';
import { z, type ZodType } from 'zod';
import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import { UnauthenticatedError, ValidationError, type FieldIssue } from '../errors.js';
import type { Actor } from './actor.js';
import { ErrorResponseSchema } from './error-schema.js';

export interface HttpResult {
  status: number;
  body?: unknown;
  /** A body that is not JSON (a CSV export), sent as is with the Content-Type in headers. */
  text?: string;
  headers?: Record<string, string>;
}

export interface RouteInput<P, Q, B, A> {
  params: P;
  query: Q;
  body: B;
  actor: A;
  req: Request;
}

type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';

export interface RouteSpec<P extends ZodType, Q extends ZodType, B extends ZodType, Auth extends boolean> {
  method: Method;
  /** OpenAPI style, e.g. /v1/users/{id} */
  path: string;
  summary: string;
  tag: string;
  description?: string;
  /** false only for the token endpoint and health/docs. */
  auth: Auth;
  params?: P;
  query?: Q;
  body?: B;
  /** `csv`: the response may also be text/csv (the route picks it from a query parameter or Accept). */
  responses: Record<number, { description: string; schema?: ZodType; csv?: boolean }>;
  handler: (input: RouteInput<z.infer<P>, z.infer<Q>, z.infer<B>, Auth extends true ? Actor : Actor | null>) => Promise<HttpResult>;
}

/**
 * Registers one endpoint: validation from the zod schemas (the parsed value
 * is what the handler gets), the OpenAPI entry from the same schemas, and the
 * authentication requirement. Errors go to the single error handler.
 */
export function defineRoute<
  P extends ZodType = ZodType<Record<string, never>>,
  Q extends ZodType = ZodType<Record<string, never>>,
  B extends ZodType = ZodType<undefined>,
  Auth extends boolean = true,
>(router: Router, registry: OpenAPIRegistry, spec: RouteSpec<P, Q, B, Auth>): void {
  const responses: Record<string, unknown> = {};
  for (const [status, r] of Object.entries(spec.responses)) {
    const content: Record<string, unknown> = {};
    if (r.schema) content['application/json'] = { schema: r.schema };
    if (r.csv) content['text/csv'] = { schema: { type: 'string', description: 'RFC 4180 CSV with a header row' } };
    responses[status] = Object.keys(content).length ? { description: r.description, content } : { description: r.description };
  }
  for (const [status, description] of [
    [400, 'Invalid request'],
    [401, 'Missing or invalid credentials'],
    [403, 'Not allowed'],
    [404, 'Not found'],
  ] as const) {
    if (status === 401 && !spec.auth) continue;
    responses[String(status)] ??= { description, content: { 'application/json': { schema: ErrorResponseSchema } } };
  }
  registry.registerPath({
    method: spec.method,
    path: spec.path,
    summary: spec.summary,
    description: spec.description,
    tags: [spec.tag],
    security: spec.auth ? [{ bearerAuth: [] }, { apiKeyHeader: [] }] : [],
    request: {
      params: spec.params as never,
      query: spec.query as never,
      body: spec.body ? { content: { 'application/json': { schema: spec.body } }, required: true } : undefined,
    },
    responses: responses as never,
  });

  const expressPath = spec.path.replace(/\{([^}]+)\}/g, ':$1');
  router[spec.method](expressPath, async (req: Request, res: Response) => {
    const actor = (res.locals.actor as Actor | undefined) ?? null;
    if (spec.auth && !actor) throw new UnauthenticatedError('authentication_required', 'Send an access token (Authorization: Bearer …) or an X-API-KEY header');
    const issues: FieldIssue[] = [];
    const params = parsePart(spec.params, req.params, '', issues);
    const query = spec.query ? parsePart(spec.query, req.query, '', issues) : refuseAny(req.query, 'query parameter', issues);
    const body = spec.body ? parsePart(spec.body, req.body ?? {}, '', issues) : refuseAny(req.body, 'body field', issues);
    if (issues.length) throw new ValidationError(issues);
    const result = await spec.handler({ params, query, body, actor: actor as never, req } as never);
    for (const [k, v] of Object.entries(result.headers ?? {})) res.setHeader(k, v);
    if (result.text !== undefined) res.status(result.status).send(result.text);
    else if (result.body === undefined) res.status(result.status).end();
    else res.status(result.status).json(result.body);
  });
}

function parsePart(schema: ZodType | undefined, value: unknown, prefix: string, issues: FieldIssue[]): unknown {
  if (!schema) return {};
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  for (const i of r.error.issues) issues.push(zodIssueToField(i, prefix));
  return undefined;
}

/**
 * An endpoint without a query or body schema takes none: an unknown field
 * is refused as a schema would refuse it, rather than silently dropped, so a
 * client never believes a value it sent was used. An empty JSON object is
 * accepted as "no body".
 */
function refuseAny(value: unknown, what: string, issues: FieldIssue[]): undefined {
  if (value === undefined) return undefined;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    issues.push({ field: '', code: 'invalid_type', message: `this endpoint takes no ${what}s` });
    return undefined;
  }
  for (const key of Object.keys(value)) issues.push({ field: key, code: 'unknown_field', message: `unknown ${what} ${key}` });
  return undefined;
}

export function zodIssueToField(i: z.core.$ZodIssue, prefix = ''): FieldIssue {
  const field = prefix + i.path.map(String).join('.');
  let code = 'invalid';
  if (i.code === 'invalid_type') code = i.input === undefined ? 'required' : 'invalid_type';
  else if (i.code === 'too_small') code = 'too_small';
  else if (i.code === 'too_big') code = 'too_big';
  else if (i.code === 'invalid_value') code = 'invalid_choice';
  else if (i.code === 'unrecognized_keys') code = 'unknown_field';
  else if (i.code === 'invalid_format') code = 'invalid_format';
  else if (i.code === 'custom' && typeof i.params?.code === 'string') code = i.params.code;
  const message = code === 'required' ? 'is required' : i.message;
  if (i.code === 'unrecognized_keys') {
    return { field: prefix + [...i.path, ...i.keys].map(String).join('.'), code, message: `unknown field ${i.keys.join(', ')}` };
  }
  return { field, code, message };
}
