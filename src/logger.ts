import { pino } from 'pino';

export type Logger = Pick<pino.Logger, 'info' | 'warn' | 'error' | 'debug' | 'fatal' | 'child' | 'level' | 'isLevelEnabled'>;

/** Paths that must never reach a log line, whatever object is logged. */
const REDACT = [
  'password',
  '*.password',
  'sip_password',
  '*.sip_password',
  'secret',
  '*.secret',
  'pin',
  '*.pin',
  'oncall_pin',
  '*.oncall_pin',
  'access_token',
  '*.access_token',
  'otp',
  '*.otp',
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'headers.authorization',
  'headers["x-api-key"]',
];

/** `toStderr` keeps stdout clean for commands whose output is data (the CLI prints JSON). */
export function createLogger(level: string, opts: { name?: string; toStderr?: boolean } = {}): Logger {
  const options = { name: opts.name ?? 'switchboard', level, redact: { paths: REDACT, censor: '[redacted]' } };
  return opts.toStderr ? pino(options, pino.destination(2)) : pino(options);
}
