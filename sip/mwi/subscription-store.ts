import { QueryTypes, type Sequelize } from 'sequelize';
import type { SipTransportName } from '../message/types.js';
import { asDate, dbDateText } from '../registrar/binding-rows.js';

/** Where a subscriber's requests came from: the path its NOTIFYs take back (as a binding's). */
export interface SubscriberOrigin {
  transport: SipTransportName;
  sourceAddress: string;
  sourcePort: number;
  connectionId: string | null;
  nodeId: string;
}

/** One SUBSCRIBE dialog (RFC 6665 §4.1.2) as stored in mwi_subscriptions. */
export interface StoredSubscription extends SubscriberOrigin {
  id: number;
  accountId: number;
  userId: number;
  registrationId: number | null;
  /** The To URI of the SUBSCRIBE: our side of the dialog (the NOTIFY's From) and the Message-Account. */
  aor: string;
  callId: string;
  localTag: string;
  remoteTag: string;
  /** The subscriber's From URI (the NOTIFY's To). */
  remoteUri: string;
  /** The subscriber's Contact: the NOTIFY's Request-URI (RFC 3261 §12.1.1 remote target). */
  contactUri: string;
  expiresAt: Date;
  /** The Event `id` of the SUBSCRIBE, echoed in every NOTIFY (RFC 6665 §8.2.1). */
  eventId: string | null;
  /** The SUBSCRIBE's Record-Route values in order: our NOTIFYs' Route (RFC 3261 §12.1.1). */
  routeSet: string[];
}

export type NewSubscription = Omit<StoredSubscription, 'id'>;

/** The counts a NOTIFY reports; zeros (Messages-Waiting: no) when the user has no primary mailbox or the account has MWI off. */
export interface SubscriberCounts {
  new: number;
  old: number;
  urgentNew: number;
  urgentOld: number;
}

/** What the SUBSCRIBE handling and the notifier need from storage. */
export interface MwiSubscriptionStore {
  create(s: NewSubscription, now: Date): Promise<StoredSubscription>;
  findDialog(callId: string, localTag: string): Promise<StoredSubscription | null>;
  /** A refresh: new expiry, and the remote target and path the refreshing request came by (RFC 6665 §4.1.2.2 / RFC 3261 §12.2.2). */
  refresh(id: number, patch: Pick<StoredSubscription, 'expiresAt' | 'contactUri' | 'registrationId'> & SubscriberOrigin): Promise<void>;
  remove(id: number): Promise<boolean>;
  /** The next CSeq of our NOTIFYs in this dialog, persisted (RFC 3261 §12.2.1.1: strictly increasing); null when the row is gone. */
  nextCseq(id: number): Promise<number | null>;
  /** Live subscriptions this node holds of the users whose primary mailbox is one of these, on accounts with MWI on. */
  forMailboxes(mailboxIds: number[], nodeId: string, now: Date): Promise<StoredSubscription[]>;
  expired(nodeId: string, now: Date, limit: number): Promise<StoredSubscription[]>;
  /** Subscriptions that arrived over a stream connection that has closed (or that a previous run of this node held). */
  removeConnection(nodeId: string, connectionId: string | null): Promise<number>;
  counts(userId: number): Promise<SubscriberCounts>;
  /** The live binding of this user the subscriber is: same connection, else same UDP source, else same Contact. */
  bindingOf(userId: number, origin: SubscriberOrigin, contactUri: string, now: Date): Promise<number | null>;
}

type Row = Record<string, unknown>;

function toSubscription(r: Row): StoredSubscription {
  const str = (v: unknown) => String(v);
  return {
    id: Number(r['id']),
    accountId: Number(r['account_id']),
    userId: Number(r['user_id']),
    registrationId: r['registration_id'] === null || r['registration_id'] === undefined ? null : Number(r['registration_id']),
    aor: str(r['aor']),
    callId: str(r['call_id']),
    localTag: str(r['local_tag']),
    remoteTag: str(r['remote_tag']),
    remoteUri: str(r['remote_uri']),
    contactUri: str(r['contact_uri']),
    expiresAt: asDate(r['expires_at']),
    transport: str(r['transport']) as SipTransportName,
    sourceAddress: str(r['source_address']),
    sourcePort: Number(r['source_port']),
    connectionId: r['connection_id'] === null || r['connection_id'] === undefined ? null : str(r['connection_id']),
    nodeId: str(r['node_id']),
    eventId: r['event_id'] === null || r['event_id'] === undefined ? null : str(r['event_id']),
    routeSet: r['route_set'] ? str(r['route_set']).split('\n') : [],
  };
}

const COLUMNS =
  's.id, s.account_id, s.user_id, s.registration_id, s.aor, s.call_id, s.local_tag, s.remote_tag, s.remote_uri, s.contact_uri, ' +
  's.expires_at, s.transport, s.source_address, s.source_port, s.connection_id, s.node_id, s.event_id, s.route_set';

/** mwi_subscriptions (migration 0014) through plain SQL, the same on SQLite and MySQL. */
export class SqlMwiSubscriptionStore implements MwiSubscriptionStore {
  constructor(
    private readonly sequelize: Sequelize,
    private readonly dialect: 'sqlite' | 'mysql',
  ) {}

  private date(d: Date): string {
    return dbDateText(d, this.dialect);
  }

  /** Rows deleted: BULKDELETE makes both dialects report the count (a raw DELETE on SQLite reports none). */
  private async delete(sql: string, replacements: Record<string, unknown>): Promise<number> {
    return Number(await this.sequelize.query(sql, { replacements, type: QueryTypes.BULKDELETE }));
  }

  private select(where: string, replacements: Record<string, unknown>): Promise<Row[]> {
    return this.sequelize.query<Row>(`SELECT ${COLUMNS} FROM mwi_subscriptions s ${where}`, { replacements, type: QueryTypes.SELECT });
  }

  async create(s: NewSubscription, now: Date): Promise<StoredSubscription> {
    await this.sequelize.query(
      `INSERT INTO mwi_subscriptions (account_id, user_id, registration_id, aor, call_id, local_tag, remote_tag, remote_uri, contact_uri,
         notify_cseq, expires_at, transport, source_address, source_port, connection_id, node_id, event_id, route_set, created_at)
       VALUES (:accountId, :userId, :registrationId, :aor, :callId, :localTag, :remoteTag, :remoteUri, :contactUri,
         0, :expiresAt, :transport, :sourceAddress, :sourcePort, :connectionId, :nodeId, :eventId, :routeSet, :now)`,
      { replacements: { ...s, routeSet: s.routeSet.length ? s.routeSet.join('\n') : null, expiresAt: this.date(s.expiresAt), now: this.date(now) } },
    );
    const created = await this.findDialog(s.callId, s.localTag);
    if (!created) throw new Error('subscription row not found after insert');
    return created;
  }

  async findDialog(callId: string, localTag: string): Promise<StoredSubscription | null> {
    const [r] = await this.select('WHERE s.call_id = :callId AND s.local_tag = :localTag', { callId, localTag });
    return r ? toSubscription(r) : null;
  }

  async refresh(id: number, p: Pick<StoredSubscription, 'expiresAt' | 'contactUri' | 'registrationId'> & SubscriberOrigin): Promise<void> {
    await this.sequelize.query(
      `UPDATE mwi_subscriptions SET expires_at = :expiresAt, contact_uri = :contactUri, registration_id = :registrationId, transport = :transport,
         source_address = :sourceAddress, source_port = :sourcePort, connection_id = :connectionId, node_id = :nodeId WHERE id = :id`,
      { replacements: { ...p, id, expiresAt: this.date(p.expiresAt) } },
    );
  }

  async remove(id: number): Promise<boolean> {
    return (await this.delete('DELETE FROM mwi_subscriptions WHERE id = :id', { id })) > 0;
  }

  async nextCseq(id: number): Promise<number | null> {
    await this.sequelize.query('UPDATE mwi_subscriptions SET notify_cseq = notify_cseq + 1 WHERE id = :id', { replacements: { id } });
    const [r] = await this.sequelize.query<{ notify_cseq: number }>('SELECT notify_cseq FROM mwi_subscriptions WHERE id = :id', {
      replacements: { id },
      type: QueryTypes.SELECT,
    });
    return r ? Number(r.notify_cseq) : null;
  }

  async forMailboxes(mailboxIds: number[], nodeId: string, now: Date): Promise<StoredSubscription[]> {
    if (!mailboxIds.length) return [];
    const rows = await this.select(
      `JOIN users u ON u.id = s.user_id JOIN accounts a ON a.id = s.account_id
        WHERE u.mailbox_id IN (:ids) AND a.mwi_enabled <> 0 AND s.node_id = :nodeId AND s.expires_at > :now`,
      { ids: mailboxIds, nodeId, now: this.date(now) },
    );
    return rows.map(toSubscription);
  }

  async expired(nodeId: string, now: Date, limit: number): Promise<StoredSubscription[]> {
    const rows = await this.select(`WHERE s.node_id = :nodeId AND s.expires_at <= :now ORDER BY s.expires_at LIMIT ${Math.floor(limit)}`, {
      nodeId,
      now: this.date(now),
    });
    return rows.map(toSubscription);
  }

  async removeConnection(nodeId: string, connectionId: string | null): Promise<number> {
    return this.delete(
      connectionId === null
        ? 'DELETE FROM mwi_subscriptions WHERE node_id = :nodeId AND connection_id IS NOT NULL'
        : 'DELETE FROM mwi_subscriptions WHERE node_id = :nodeId AND connection_id = :connectionId',
      { nodeId, connectionId },
    );
  }

  async counts(userId: number): Promise<SubscriberCounts> {
    const [r] = await this.sequelize.query<Row>(
      `SELECT m.new_messages, m.old_messages, m.urgent_new_messages, m.urgent_old_messages
         FROM users u JOIN accounts a ON a.id = u.account_id JOIN mailboxes m ON m.id = u.mailbox_id
        WHERE u.id = :userId AND a.mwi_enabled <> 0`,
      { replacements: { userId }, type: QueryTypes.SELECT },
    );
    if (!r) return { new: 0, old: 0, urgentNew: 0, urgentOld: 0 };
    return {
      new: Number(r['new_messages']),
      old: Number(r['old_messages']),
      urgentNew: Number(r['urgent_new_messages']),
      urgentOld: Number(r['urgent_old_messages']),
    };
  }

  async bindingOf(userId: number, o: SubscriberOrigin, contactUri: string, now: Date): Promise<number | null> {
    const [r] = await this.sequelize.query<{ id: number }>(
      `SELECT id FROM registrations
        WHERE user_id = :userId AND expires_at > :now
          AND ((:connectionId IS NOT NULL AND connection_id = :connectionId AND node_id = :nodeId)
            OR (connection_id IS NULL AND transport = :transport AND source_address = :sourceAddress AND source_port = :sourcePort)
            OR contact_uri = :contactUri)
        ORDER BY CASE WHEN connection_id = :connectionId THEN 0 WHEN source_address = :sourceAddress AND source_port = :sourcePort THEN 1 ELSE 2 END, id DESC
        LIMIT 1`,
      { replacements: { userId, now: this.date(now), ...o, contactUri }, type: QueryTypes.SELECT },
    );
    return r ? Number(r.id) : null;
  }
}
