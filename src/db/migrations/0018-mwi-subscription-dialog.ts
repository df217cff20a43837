import { DataTypes, type QueryInterface } from 'sequelize';

/**
 * What a SUBSCRIBE dialog needs besides its tags to be notified correctly
 * (RFC 6665 with RFC 3261 §12.1.1):
 * - event_id: the `id` parameter of the SUBSCRIBE's Event header, which
 *   every NOTIFY of the subscription must carry back (RFC 6665 §8.2.1).
 * - route_set: the Record-Route values of the SUBSCRIBE, in order, one per
 *   line; our NOTIFYs carry them as Route (an edge proxy that record-routed
 *   stays on the path).
 */
export async function up({ context: qi }: { context: QueryInterface }): Promise<void> {
  await qi.addColumn('mwi_subscriptions', 'event_id', { type: DataTypes.STRING(255), allowNull: true });
  await qi.addColumn('mwi_subscriptions', 'route_set', { type: DataTypes.TEXT, allowNull: true });
}

export async function down({ context: qi }: { context: QueryInterface }): Promise<void> {
  await qi.removeColumn('mwi_subscriptions', 'route_set');
  await qi.removeColumn('mwi_subscriptions', 'event_id');
}
