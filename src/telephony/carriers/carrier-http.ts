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
