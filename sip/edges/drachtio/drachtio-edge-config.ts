import type { AppConfig } from '../../../src/config.js';
import type { SipRequestHandler } from '../../message/types.js';
import type { SipLogger } from '../../sip-logger.js';
import type { DrachtioSipEdgeOptions } from './drachtio-sip-edge.js';

/** DrachtioSipEdge options from validated config (`sip.drachtio`). */
export function drachtioEdgeOptions(config: AppConfig['sip']['drachtio'], handler: SipRequestHandler, logger?: SipLogger): DrachtioSipEdgeOptions {
  const options: DrachtioSipEdgeOptions = {
    handler,
    mode: config.mode,
    host: config.host,
    port: config.port,
    secret: config.secret,
    listenHost: config.listenHost,
    listenPort: config.listenPort,
    reconnectMinMs: config.reconnectMinMs,
    reconnectMaxMs: config.reconnectMaxMs,
    reconnectFastMs: config.reconnectFastMs,
    reconnectFastWindowMs: config.reconnectFastWindowMs,
  };
  if (logger) options.logger = logger;
  return options;
}
