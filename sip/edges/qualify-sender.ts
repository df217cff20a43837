// The qualify port is the registrar's (sip/registrar/qualify-sender.ts); the edges implement it.
export type { QualifySender, QualifyTarget } from '../registrar/qualify-sender.js';
