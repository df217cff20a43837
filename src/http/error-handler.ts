import type { ErrorRequestHandler, RequestHandler } from 'express';
import { DomainError, ThrottledError, ValidationError } from '../errors.js';
import type { Logger } from '../logger.js';

const STATUS: Record<DomainError['kind'], number> = {
  validation: 400,
  unauthenticated: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  precondition: 412,
  rule: 422,
  throttled: 429,
  upstream: 502,
};

interface ErrorBody {
  code: string;
  message: string;
  field?: string;
  details?: unknown;
  [k: string]: unknown;
}

/** The one place where errors become HTTP. Never leaks stack traces or SQL. */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    const [status, body] = toHttp(err);
    if (status >= 500) logger.error({ err, method: req.method, path: req.path }, 'request failed');
    if (err instanceof ThrottledError) res.setHeader('Retry-After', String(err.retryAfterSeconds));
    if (status === 401) res.setHeader('WWW-Authenticate', 'Bearer realm="switchboard"');
    res.status(status).json({ error: body });
  };
}

export const notFoundHandler: RequestHandler = (req, res) => {
  res.status(404).json({ error: { code: 'route_not_found', message: `No endpoint ${req.method} ${req.path}` } });
};

function toHttp(err: unknown): [number, ErrorBody] {
  if (err instanceof DomainError) {
    const body: ErrorBody = { code: err.code, message: err.message, ...err.extra };
    if (err.field) body.field = err.field;
    if (err instanceof ValidationError) body.details = err.issues;
    return [STATUS[err.kind], body];
  }
  const e = err as { name?: string; type?: string; status?: number; errors?: Array<{ path?: string }>; fields?: unknown };
  // body-parser errors
  if (e.type === 'entity.parse.failed') return [400, { code: 'invalid_json', message: 'The request body is not valid UTF-8 JSON' }];
  if (e.type === 'entity.too.large') return [413, { code: 'payload_too_large', message: 'The request body is too large' }];
  if (e.type === 'charset.unsupported' || e.type === 'encoding.unsupported') return [415, { code: 'unsupported_encoding', message: 'Send UTF-8 JSON' }];
  // A race that slipped past a service's own check still gets a clean answer.
  if (e.name === 'SequelizeUniqueConstraintError') {
    const field = e.errors?.[0]?.path ?? undefined;
    return [409, { code: 'already_exists', message: `Another object already uses this ${field ?? 'value'}`, ...(field ? { field } : {}) }];
  }
  if (e.name === 'SequelizeForeignKeyConstraintError') return [409, { code: 'in_use', message: 'The object is referenced by other objects' }];
  return [500, { code: 'internal_error', message: 'Something went wrong on our side; the error was logged' }];
}
