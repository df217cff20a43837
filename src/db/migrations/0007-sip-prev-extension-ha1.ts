import { DataTypes, type QueryInterface } from 'sequelize';

/**
 * The rotation grace window also for phones that authenticate with the
 * extension: HA1 = H(extension:realm:password) of the previous password.
 * Hashes, not the password, so there is no second secret to re-encrypt
 * when the master key rotates.
 */
export async function up({ context: qi }: { context: QueryInterface }): Promise<void> {
  await qi.addColumn('users', 'sip_prev_ext_ha1_md5', { type: DataTypes.STRING(32), allowNull: true });
  await qi.addColumn('users', 'sip_prev_ext_ha1_sha256', { type: DataTypes.STRING(64), allowNull: true });
}

export async function down({ context: qi }: { context: QueryInterface }): Promise<void> {
  await qi.removeColumn('users', 'sip_prev_ext_ha1_sha256');
  await qi.removeColumn('users', 'sip_prev_ext_ha1_md5');
}
