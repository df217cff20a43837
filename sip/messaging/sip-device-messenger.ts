import crypto from 'node:crypto';
import { Op } from 'sequelize';
import type { Models } from '../../src/db/models/index.js';
import type { DeviceMessage, DeviceMessenger, DeviceOutcome } from '../../src/messaging/message-service.js';
import type { DeviceRequestPort } from '../registrar/device-request-port.js';
import type { SipTransportName } from '../message/types.js';

/**
 * An inbound SMS to the recipient's phones: one SIP MESSAGE (RFC 3428,
 * text/plain, outside any dialog) to each live binding, all at once, with
 * From <sip:+E164@domain> so a phone shows and answers the sender's number.
 * The port runs each client transaction and resolves with its final status
 * (408 when none came, 503 when the device is not reachable from this node),
 * so every device gets an outcome.
 */
export class SipDeviceMessenger implements DeviceMessenger {
  private readonly now: () => number;

  constructor(
    private readonly models: Models,
    private readonly port: DeviceRequestPort,
    private readonly options: {
      /** Timer F of each MESSAGE (messaging.deviceTimeoutMs); the port's default when absent. */ timeoutMs?: number;
      now?: () => number;
    } = {},
  ) {
    this.now = options.now ?? Date.now;
  }

  async deliver(m: DeviceMessage): Promise<DeviceOutcome[]> {
    const bindings = await this.models.Registration.findAll({
      where: { user_id: m.userId, expires_at: { [Op.gt]: new Date(this.now()) } },
      order: [['id', 'ASC']],
    });
    return Promise.all(
      bindings.map(async (b): Promise<DeviceOutcome> => {
        const transport = b.transport as SipTransportName;
        const host = this.port.local(transport).host;
        const headers = [
          `From: <sip:${m.from}@${m.domain}>;tag=${crypto.randomBytes(6).toString('hex')}`,
          `To: <sip:${m.username}@${m.domain}>`,
          `Call-ID: ${crypto.randomBytes(12).toString('hex')}@${host.includes(':') ? `[${host}]` : host}`,
          'CSeq: 1 MESSAGE',
          // RFC 3327 §5.3: a request to a contact registered with Path is routed through it.
          ...pathRoutes(b.path),
          'Content-Type: text/plain;charset=UTF-8',
        ];
        const res = await this.port.send({
          method: 'MESSAGE',
          uri: b.contact_uri,
          target: {
            contactUri: b.contact_uri,
            transport,
            source: { address: b.source_address, port: b.source_port },
            ...(b.connection_id ? { connectionId: b.connection_id } : {}),
            nodeId: b.node_id,
          },
          headers,
          body: m.body,
          ...(this.options.timeoutMs ? { timeoutMs: this.options.timeoutMs } : {}),
        });
        const delivered = res.status >= 200 && res.status < 300;
        return {
          registrationId: Number(b.id),
          contact: b.contact_uri,
          userAgent: b.user_agent,
          status: delivered ? 'delivered' : 'failed',
          sipStatus: res.status,
          // Say whether the device answered so or we never reached it (timer F, no path from this node).
          reason: delivered ? null : `${res.reason || 'failed'}${res.origin && res.origin !== 'device' ? ` (${res.origin})` : ''}`,
        };
      }),
    );
  }
}

function pathRoutes(path: string | null): string[] {
  if (!path) return [];
  try {
    const values = JSON.parse(path) as unknown;
    return Array.isArray(values) ? values.map((v) => `Route: ${String(v)}`) : [];
  } catch {
    return [`Route: ${path}`];
  }
}
