import { RuleError, UpstreamError } from '../../errors.js';

export interface CarrierHttpSettings {
  timeoutMs: number;
  /** Further attempts after a 429, a 5xx or a network failure. */
  maxRetries: number;
  retryBaseMs: number;
  retryMaxMs: number;
}

export interface CarrierRequest {
  url: string;
  headers: Record<string, string>;
  /** Carrier name for messages ("Twilio"). */
  carrier: string;
  /** Pulls the carrier's own error text out of an error body. */
  errorMessage: (body: unknown) => string | null;
  /** Statuses that mean "these credentials are wrong" for this call (401 and 403 always). */
  authStatuses?: number[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * One authenticated GET to a carrier's REST API, answered with parsed JSON.
 * 429 and 5xx are transient by every carrier's documentation: they are retried
 * with exponential backoff (honouring Retry-After, capped at retryMaxMs);
 * wrong credentials become 422 provider_auth_failed with the carrier's words,
 * and anything else that keeps us from an answer 502 provider_unavailable.
 */
export async function carrierGet(req: CarrierRequest, s: CarrierHttpSettings): Promise<unknown> {
  const authStatuses = new Set([401, 403, ...(req.authStatuses ?? [])]);
  let lastProblem = '';
  for (let attempt = 0; ; attempt++) {
    let res: Response;
    try {
      res = await fetch(req.url, { headers: { accept: 'application/json', ...req.headers }, signal: AbortSignal.timeout(s.timeoutMs), redirect: 'error' });
    } catch (err) {
      const e = err as Error;
      lastProblem = e.name === 'TimeoutError' ? `no answer within ${s.timeoutMs} ms` : `unreachable (${(e.cause as Error | undefined)?.message ?? e.message})`;
      if (attempt < s.maxRetries) {
        await sleep(backoff(attempt, s));
        continue;
      }
      throw new UpstreamError('provider_unavailable', `${req.carrier} is ${lastProblem}`);
    }
    const body = await readBody(res);
    if (res.ok) {
      if (body === undefined || typeof body !== 'object' || body === null)
        throw new UpstreamError('provider_unavailable', `${req.carrier} answered without a JSON body`);
      return body;
    }
    const said = req.errorMessage(body) ?? `HTTP ${res.status}`;
    if (authStatuses.has(res.status))
      throw new RuleError('provider_auth_failed', `${req.carrier} refused the credentials: ${said}`, 'credentials', { provider_status: res.status });
    if (res.status === 429 || res.status >= 500) {
      lastProblem = `answering ${res.status} (${said})`;
      if (attempt < s.maxRetries) {
        await sleep(retryAfterMs(res.headers.get('retry-after'), s) ?? backoff(attempt, s));
        continue;
      }
      throw new UpstreamError('provider_unavailable', `${req.carrier} kept ${lastProblem}`, undefined, { provider_status: res.status });
    }
    throw new UpstreamError('provider_unavailable', `${req.carrier} answered ${res.status}: ${said}`, undefined, { provider_status: res.status });
  }
}

async function readBody(res: Response): Promise<unknown> {
  const text = await res.text().catch(() => '');
  if (!text) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text.slice(0, 300);
  }
}

function backoff(attempt: number, s: CarrierHttpSettings): number {
  const base = Math.min(s.retryMaxMs, s.retryBaseMs * 2 ** attempt);
  // Full jitter keeps several nodes from retrying in step.
  return Math.round(base / 2 + Math.random() * (base / 2));
}

/** RFC 9110 §10.2.3: delay-seconds or an HTTP-date. */
function retryAfterMs(header: string | null, s: CarrierHttpSettings): number | null {
  if (!header) return null;
  const secs = Number(header);
  const ms = Number.isFinite(secs) ? secs * 1000 : Date.parse(header) - Date.now();
  if (!Number.isFinite(ms) || ms < 0) return null;
  return Math.min(ms, s.retryMaxMs);
}

/** "Basic base64(user:pass)" (RFC 7617). */
export function basicAuth(user: string, pass: string): string {
  return `Basic ${Buffer.from(`${user}:${pass}`, 'utf8').toString('base64')}`;
}

/** Resolves a carrier's next-page reference (often a path) against its base URL, refusing another origin. */
export function nextUrl(base: string, ref: string, carrier: string): string {
  const u = new URL(ref, base.endsWith('/') ? base : `${base}/`);
  if (u.origin !== new URL(base).origin) throw new UpstreamError('provider_unavailable', `${carrier} sent a next page on another host`);
  // A base URL with a path prefix (a proxy) keeps it when the carrier hands back an absolute path.
  const prefix = new URL(base).pathname.replace(/\/$/, '');
  if (prefix && ref.startsWith('/') && !ref.startsWith(prefix + '/')) return new URL(prefix + ref, base).toString();
  return u.toString();
}

/**
 * How a send to a carrier ended when it did not succeed. `retry`: the
 * carrier did not take the message (429, 5xx, no answer) and a later attempt
 * may succeed; `refused`: it will never take it (a destination it refuses);
 * `auth`: our credentials were refused; `failed`: anything else.
 */
export class CarrierSendError extends Error {
  constructor(
    readonly kind: 'retry' | 'refused' | 'auth' | 'failed',
    message: string,
    readonly providerStatus: number | null = null,
    readonly retryAfterMs: number | null = null,
    readonly providerCode: string | null = null,
  ) {
    super(message);
    this.name = 'CarrierSendError';
  }
}

export interface CarrierPost {
  url: string;
  headers: Record<string, string>;
  carrier: string;
  /** A form (application/x-www-form-urlencoded) or a JSON body. */
  form?: Record<string, string>;
  json?: unknown;
  errorMessage: (body: unknown) => string | null;
  errorCode?: (body: unknown) => string | null;
}

/**
 * One POST that creates something at the carrier (a message), tried once:
 * the messaging outbox owns retries, so a 429 or 5xx comes back as a
 * `retry` error with the carrier's Retry-After, and nothing is sent twice
 * by a retry loop here.
 */
export async function carrierPost(req: CarrierPost, s: CarrierHttpSettings): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(req.url, {
      method: 'POST',
      headers: {
        accept: 'application/json',
        'content-type': req.form ? 'application/x-www-form-urlencoded' : 'application/json',
        ...req.headers,
      },
      body: req.form ? new URLSearchParams(req.form).toString() : JSON.stringify(req.json ?? {}),
      signal: AbortSignal.timeout(s.timeoutMs),
      redirect: 'error',
    });
  } catch (err) {
    const e = err as Error;
    const problem = e.name === 'TimeoutError' ? `no answer within ${s.timeoutMs} ms` : `unreachable (${(e.cause as Error | undefined)?.message ?? e.message})`;
    throw new CarrierSendError('retry', `${req.carrier} is ${problem}`);
  }
  const body = await readBody(res);
  if (res.ok) {
    if (body === undefined || typeof body !== 'object' || body === null)
      throw new CarrierSendError('failed', `${req.carrier} answered without a JSON body`, res.status);
    return body;
  }
  const said = req.errorMessage(body) ?? `HTTP ${res.status}`;
  const code = req.errorCode?.(body) ?? null;
  if (res.status === 401 || res.status === 403) throw new CarrierSendError('auth', `${req.carrier} refused the credentials: ${said}`, res.status, null, code);
  if (res.status === 429 || res.status >= 500)
    throw new CarrierSendError(
      'retry',
      `${req.carrier} answered ${res.status} (${said})`,
      res.status,
      retryAfterMs(res.headers.get('retry-after'), { ...s, retryMaxMs: Number.MAX_SAFE_INTEGER }),
      code,
    );
  // 400/404/422 from a messages endpoint: the carrier will not deliver to this destination from this number.
  throw new CarrierSendError('refused', `${req.carrier} refused the message: ${said}`, res.status, null, code);
}
