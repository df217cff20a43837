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
  /** Timer F for this request (default the edge's, 64·T1): an OPTIONS probe gives up sooner than a NOTIFY. */
  timeoutMs?: number;
}

export interface DeviceResponse {
  status: number;
  reason: string;
  /** Header values by lower-case name, first occurrence. */
  header(name: string): string | undefined;
  /**
   * Who produced the status: the device, or this process on its behalf
   * (`timeout`: Timer F, 408; `unreachable`: no path from here, 503). Tells
   * a device's own 408/503 apart from ours. Absent means `device`.
   */
  origin?: 'device' | 'timeout' | 'unreachable';
}

/** A response the device sent. */
export function deviceResponse(status: number, reason: string, header: (name: string) => string | undefined): DeviceResponse {
  return { status, reason, header, origin: 'device' };
}

/** The 408 (Timer F) or 503 (unreachable) a port answers in the device's place. */
export function localResponse(status: 408 | 503, reason: string, origin: 'timeout' | 'unreachable'): DeviceResponse {
  return { status, reason, header: () => undefined, origin };
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
