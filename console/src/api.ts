import createClient, { type Middleware } from 'openapi-fetch';
import type { components, paths } from './api/schema';

export type Schemas = components['schemas'];

/** One problem with one field, as the API reports it (error.field, or each entry of error.details). */
export interface FieldIssue {
  field: string;
  code: string;
  message: string;
}

/** A non-2xx answer, in the API's one error shape. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field: string | undefined,
    readonly issues: FieldIssue[],
    /** Members of the error besides code/message/field/details (e.g. in_use's referenced_by). */
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }

  /** Messages keyed by field, so a form shows each next to its input. */
  fieldErrors(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const i of this.issues) out[i.field] ??= i.message;
    if (this.field && !out[this.field]) out[this.field] = this.message;
    return out;
  }
}

function readCookie(name: string): string | undefined {
  for (const part of document.cookie.split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return decodeURIComponent(v.join('='));
  }
  return undefined;
}

/**
 * The session token is an HttpOnly cookie this code never sees; unsafe
 * requests prove they come from this page with the CSRF token from the
 * readable companion cookie.
 */
const csrf: Middleware = {
  onRequest({ request }) {
    if (!['GET', 'HEAD', 'OPTIONS'].includes(request.method)) {
      const token = readCookie('sb_csrf');
      if (token) request.headers.set('X-CSRF-Token', token);
    }
    return request;
  },
};

export const api = createClient<paths>({ baseUrl: '', credentials: 'same-origin' });
api.use(csrf);

/** Called on every 401 (the session expired or was revoked). */
let onUnauthenticated: () => void = () => {};
export function setUnauthenticatedHandler(fn: () => void): void {
  onUnauthenticated = fn;
}

/** Turns openapi-fetch's {data, error, response} into the data or a thrown ApiError. */
export async function ok<T>(call: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  const { data, error, response } = await call;
  if (response.ok) return data as T;
  const e = (error as { error?: { code?: string; message?: string; field?: string; details?: FieldIssue[] } } | undefined)?.error;
  const { code, message, field, details, ...extra } = e ?? {};
  const err = new ApiError(
    response.status,
    code ?? 'http_' + response.status,
    message ?? response.statusText,
    field,
    Array.isArray(details) ? details : [],
    extra,
  );
  if (response.status === 401 && err.code !== 'invalid_credentials' && err.code !== 'otp_required' && err.code !== 'invalid_otp') onUnauthenticated();
  throw err;
}
