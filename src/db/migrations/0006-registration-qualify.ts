import { DataTypes, type QueryInterface } from 'sequelize';

/**
 * OPTIONS qualify (RFC 3261 §11): when each binding was last probed, so a
 * sweeper tick picks only bindings not probed recently, oldest first, per
 * node (each node probes the bindings it registered).
 */
export async function up({ context: qi }: { context: QueryInterface }): Promise<void> {
  await qi.addColumn('registrations', 'qualified_at', { type: DataTypes.DATE(3), allowNull: true });
  await qi.addIndex('registrations', ['node_id', 'qualified_at'], { name: 'registrations_node_qualified' });
}

export async function down({ context: qi }: { context: QueryInterface }): Promise<void> {
  await qi.removeIndex('registrations', 'registrations_node_qualified');
  await qi.removeColumn('registrations', 'qualified_at');
}
