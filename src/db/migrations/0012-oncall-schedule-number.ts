import { DataTypes, type QueryInterface } from 'sequelize';

/**
 * An OnCall schedule may own a phone number: a call to it reaches whoever is
 * on call at that moment (the call-plan endpoints resolve it). One number
 * serves at most one schedule, hence the unique index; deleting a number a
 * schedule uses is refused by the API (409 in_use), and the foreign key
 * backs that up.
 */
export async function up({ context: qi }: { context: QueryInterface }): Promise<void> {
  await qi.addColumn('oncall_schedules', 'number_id', {
    type: DataTypes.INTEGER,
    allowNull: true,
    references: { model: 'phone_numbers', key: 'id' },
    onDelete: 'RESTRICT',
  });
  await qi.addIndex('oncall_schedules', ['number_id'], { unique: true, name: 'oncall_schedules_number' });
}

export async function down({ context: qi }: { context: QueryInterface }): Promise<void> {
  // MySQL keeps the foreign key on the index and refuses to drop either first; SQLite rebuilds the table without them.
  if (qi.sequelize.getDialect() === 'mysql') {
    const refs = (await qi.getForeignKeyReferencesForTable('oncall_schedules')) as Array<{ columnName: string; constraintName: string }>;
    for (const r of refs.filter((x) => x.columnName === 'number_id')) await qi.removeConstraint('oncall_schedules', r.constraintName);
  }
  await qi.removeIndex('oncall_schedules', 'oncall_schedules_number');
  await qi.removeColumn('oncall_schedules', 'number_id');
}
