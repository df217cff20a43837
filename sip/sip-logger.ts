/**
 * The logging surface the SIP layer needs. A pino logger satisfies it as-is;
 * the SIP layer never imports app code, so the app passes its logger in.
 */
export interface SipLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

const noop = (): void => {};

export const noopSipLogger: SipLogger = { debug: noop, info: noop, warn: noop, error: noop };
