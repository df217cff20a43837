import type { QualifyTarget } from './qualify-sender.js';

/** A registered device, as its binding records it (the same facts a qualify probe needs). */
export type DeviceTarget = QualifyTarget;

/**
 * A request the registrar originates towards a registered device: an MWI
 * NOTIFY (RFC 3842), a MESSAGE (RFC 3428), an OPTIONS probe.
 *
 * The caller owns the request line's URI (normally the binding's Contact)
 * and the headers that make it part of a dialog or not — From, To, Call-ID,
 * CSeq, Event, Subscription-State, Content-Type. The edge adds Via (fresh
 * branch), Max-Forwards and Content-Length, picks the path that reaches the
 * device (the connection it registered on, or its UDP source address), and
 * runs an RFC 3261 §17.1.2 non-INVITE client transaction.
 */
export interface DeviceRequest {
  method: string;
  /** Request-URI; the binding's Contact URI unless the dialog says otherwise. */
  uri: string;
  target: DeviceTarget;
  /** Complete header lines ("Name: value") without Via, Max-Forwards and Content-Length. */
  headers: string[];
  body?: string;
}

export interface DeviceResponse {
  status: number;
  reason: string;
  /** Header values by lower-case name, first occurrence. */
  header(name: string): string | undefined;
}

/**
 * The one way the registrar sends requests to devices, whatever the edge.
 * `send` always resolves: timer F (no final response) is a 408, a device
 * that cannot be reached from this process (its connection is gone or is
 * owned by another node) is a 503 — so callers record per-device outcomes
 * without try/catch.
 */
export interface DeviceRequestPort {
  /** Host and port to put in our From/Contact for this transport. */
  local(transport: DeviceTarget['transport']): { host: string; port: number };
  send(request: DeviceRequest): Promise<DeviceResponse>;
}
