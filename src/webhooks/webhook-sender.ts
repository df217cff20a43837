import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { addressRefusal, guardedLookup, type TargetPolicy } from './ssrf-guard.js';

export interface SendResult {
  ok: boolean;
  status: number | null;
  error: string | null;
  durationMs: number;
}

export interface SendOptions extends TargetPolicy {
  timeoutMs: number;
  maxResponseBytes: number;
}

/**
 * One POST, with the guards a webhook sender needs: the target address is
 * checked at connect time, redirects are never followed (a 3xx is a failure),
 * the whole exchange is bounded in time, and at most maxResponseBytes of the
 * answer are read (we keep none of it; reading drains the socket politely).
 */
export function postJson(url: URL, body: string, headers: Record<string, string>, opts: SendOptions): Promise<SendResult> {
  const started = Date.now();
  const done = (ok: boolean, status: number | null, error: string | null): SendResult => ({ ok, status, error, durationMs: Date.now() - started });
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (net.isIP(host)) {
    const why = addressRefusal(host, opts);
    if (why) return Promise.resolve(done(false, null, `target refused: ${why}`));
  }
  return new Promise((resolve) => {
    const lib = url.protocol === 'https:' ? https : http;
    let settled = false;
    const finish = (r: SendResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(r);
    };
    const req = lib.request(url, {
      method: 'POST',
      headers: { ...headers, 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(body)) },
      lookup: guardedLookup(opts),
      agent: false,
    });
    const timer = setTimeout(() => {
      req.destroy();
      finish(done(false, null, `timed out after ${opts.timeoutMs} ms`));
    }, opts.timeoutMs);
    req.on('error', (err: NodeJS.ErrnoException) => {
      finish(done(false, null, err.code === 'ETARGETFORBIDDEN' ? err.message : `${err.code ?? 'error'}: ${err.message}`.slice(0, 300)));
    });
    req.on('response', (res) => {
      const status = res.statusCode ?? 0;
      let read = 0;
      const conclude = (extra: string | null) => {
        if (status >= 300 && status < 400) return finish(done(false, status, `redirect to ${String(res.headers.location ?? '?').slice(0, 200)} not followed`));
        const ok = status >= 200 && status < 300;
        finish(done(ok, status, ok ? extra : `HTTP ${status}${extra ? `; ${extra}` : ''}`));
      };
      res.on('data', (chunk: Buffer) => {
        read += chunk.length;
        if (read > opts.maxResponseBytes) {
          res.destroy();
          conclude(`response body over ${opts.maxResponseBytes} bytes was cut off`);
        }
      });
      res.on('end', () => conclude(null));
      res.on('error', () => conclude(null));
    });
    req.end(body);
  });
}
