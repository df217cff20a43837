import { DataTypes, type QueryInterface } from 'sequelize';

/**
 * Removing a device's binding over the API forces the device to
 * authenticate again: answers to nonces issued before this instant are
 * refused with stale=true (RFC 7616 §3.3), so the phone asks for a new one.
 */
export async function up({ context: qi }: { context: QueryInterface }): Promise<void> {
  await qi.addColumn('users', 'sip_reauth_after', { type: DataTypes.DATE(3), allowNull: true });
}

export async function down({ context: qi }: { context: QueryInterface }): Promise<void> {
  await qi.removeColumn('users', 'sip_reauth_after');
}
