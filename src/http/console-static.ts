import fs from 'node:fs';
import path from 'node:path';
import express, { Router } from 'express';

/**
 * The policy the console is built for: nothing inline, nothing from another
 * origin. Sent with the console's HTML so the page is held to it even where
 * no other middleware sets one.
 */
export const CONSOLE_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'";

/** Paths the console's client-side router never owns (API, docs, probes). */
const NOT_CONSOLE = /^\/(v1|myphones|docs|openapi\.json|healthz|metrics|logos)(\/|$)/;

/**
 * Serves the built web console (console/dist) from the API's own process: the
 * hashed assets with a year's cache, and index.html for every other GET that
 * asks for HTML, so /settings or an emailed /invitations/<token> link opens
 * the console on a reload. When the console was not built the router is empty
 * and those paths keep answering the JSON 404.
 */
export function consoleRouter(dir: string): Router {
  const router = Router();
  const root = path.resolve(dir);
  const index = path.join(root, 'index.html');
  if (!fs.existsSync(index)) return router;
  const html = fs.readFileSync(index);
  router.use((req, _res, next) => (NOT_CONSOLE.test(req.path) ? next('router') : next()));
  router.use('/assets', express.static(path.join(root, 'assets'), { immutable: true, maxAge: '365d', index: false, fallthrough: false }));
  router.use(express.static(root, { index: false, maxAge: '1h' }));
  router.get(/.*/, (req, res, next) => {
    // Only a page load (a browser asks for text/html first); API clients sending */* keep their JSON 404.
    if (req.accepts(['json', 'html']) !== 'html') return next();
    res.setHeader('Cache-Control', 'no-cache');
    res.setHeader('Content-Security-Policy', CONSOLE_CSP);
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'same-origin');
    res.type('html').send(html);
  });
  return router;
}
