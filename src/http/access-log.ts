import crypto from 'node:crypto';
import type { Request, RequestHandler, Response } from 'express';
import type { Logger } from '../logger.js';

type Level = 'info' | 'warn' | 'error';

/**
 * 503 from /healthz is an answer (a part of the node is down and logs its
 * own state change once, at warn), not a fault: one error line per probe
 * during an outage would page someone every few seconds.
 */
function levelOf(req: Request, res: Response): Level {
  const status = res.statusCode;
  if (status === 503 && req.path === '/healthz') return 'info';
  return status >= 500 ? 'error' : status >= 400 ? 'warn' : 'info';
}

/**
 * One access-log line per request, when it ends, with a request id (the
 * caller's X-Request-Id, else a new one, echoed in the response). Nothing is
 * built per request beyond the id unless the line is written: a logger that
 * binds a child per request (as pino-http does) serializes and redacts the
 * request on every call even at level warn, which cost the call-plan read
 * about 12 KB of garbage per request. The error handler logs a 5xx's cause
 * with its stack; this line has the outcome only. Credentials never appear:
 * the line carries method, path (no query string) and status, and the
 * logger redacts besides.
 */
export function accessLog(logger: Logger): RequestHandler {
  return (req, res, next) => {
    const id = (req.headers['x-request-id'] as string | undefined)?.slice(0, 64) || crypto.randomUUID();
    res.setHeader('X-Request-Id', id);
    const started = performance.now();
    const done = () => {
      res.off('finish', done);
      res.off('close', done);
      // 'close' before 'finish': the client went away before the answer was written.
      const finished = res.writableFinished;
      const level: Level = finished ? levelOf(req, res) : 'warn';
      if (!logger.isLevelEnabled(level)) return;
      logger[level](
        {
          req: { id, method: req.method, url: req.originalUrl.split('?')[0] },
          res: { statusCode: res.statusCode },
          responseTime: Math.round(performance.now() - started),
        },
        finished ? 'request completed' : 'request aborted',
      );
    };
    res.on('finish', done);
    res.on('close', done);
    next();
  };
}
