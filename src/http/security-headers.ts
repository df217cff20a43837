import type { RequestHandler } from 'express';
import helmet, { strictTransportSecurity } from 'helmet';

/**
 * The policy of the web admin console this process serves at `/`: a bundled
 * single-page app whose scripts and styles come only from this origin, with
 * no inline script, images from here or data: URLs, API calls to this
 * origin, and never framed (clickjacking).
 */
const CONSOLE_POLICY = {
  defaultSrc: ["'self'"],
  scriptSrc: ["'self'"],
  styleSrc: ["'self'"],
  imgSrc: ["'self'", 'data:'],
  fontSrc: ["'self'"],
  connectSrc: ["'self'"],
  objectSrc: ["'none'"],
  baseUri: ["'self'"],
  formAction: ["'self'"],
  frameAncestors: ["'none'"],
};

/**
 * Swagger UI at /docs loads its scripts from this origin (swagger-ui-express
 * serves the bundle and a separate init script, so script-src stays 'self'),
 * but its page carries inline <style> blocks and an inline SVG sprite with a
 * style attribute, and its icons are data: images. Inline styles are allowed
 * there and only there; inline scripts never are.
 */
const DOCS_POLICY = { ...CONSOLE_POLICY, styleSrc: ["'self'", "'unsafe-inline'"] };

const common = {
  // nosniff, X-Frame-Options for browsers without frame-ancestors, no Referer leaking ids in URLs.
  xContentTypeOptions: true,
  xFrameOptions: { action: 'deny' as const },
  referrerPolicy: { policy: 'no-referrer' as const },
  // Sent only over TLS, below.
  strictTransportSecurity: false,
};

/**
 * Security headers for every response (helmet: maintained, and it tracks
 * what browsers honour), HSTS only when the request came over TLS, directly
 * or through a trusted proxy (RFC 6797 §7.2: not over plain HTTP), and
 * `Cache-Control: no-store` on the API, whose answers carry account data
 * and sometimes secrets.
 */
export function securityHeaders(): { all: RequestHandler; docs: RequestHandler; noStore: RequestHandler } {
  const base = helmet({ ...common, contentSecurityPolicy: { useDefaults: false, directives: CONSOLE_POLICY } });
  const docs = helmet({ ...common, contentSecurityPolicy: { useDefaults: false, directives: DOCS_POLICY } });
  const hsts = strictTransportSecurity({ maxAge: 31_536_000, includeSubDomains: false });
  const withHsts =
    (h: RequestHandler): RequestHandler =>
    (req, res, next) =>
      h(req, res, (err?: unknown) => (err || !req.secure ? next(err) : hsts(req, res, next)));
  return {
    all: withHsts(base),
    docs: withHsts(docs),
    noStore: (_req, res, next) => {
      res.setHeader('Cache-Control', 'no-store');
      next();
    },
  };
}
