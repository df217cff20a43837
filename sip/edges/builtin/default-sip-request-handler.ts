// Method routing is the core's (sip/registrar/default-sip-request-handler.ts); kept here for the edges' imports.
export { createDefaultSipRequestHandler, optionsResponse, type DefaultSipRequestHandlerOptions } from '../../registrar/default-sip-request-handler.js';
