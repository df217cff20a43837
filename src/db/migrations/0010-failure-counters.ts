import { DataTypes, type QueryInterface } from 'sequelize';

/**
 * Failure counters shared by every node on MySQL (login, OnCall PIN, SIP
 * digest), in the shape rate-limiter-flexible's MySQL store reads: one row
 * per prefixed key, the points consumed and when they expire (ms since the
 * epoch). Created here rather than by the library at run time, so the
 * schema is versioned like every other table. SQLite gets it too (one
 * schema everywhere), though a SQLite deployment counts in memory.
 */
export async function up({ context: qi }: { context: QueryInterface }): Promise<void> {
  await qi.createTable('failure_counters', {
    key: { type: DataTypes.STRING(255), primaryKey: true, allowNull: false },
    points: { type: DataTypes.INTEGER, allowNull: false, defaultValue: 0 },
    expire: { type: DataTypes.BIGINT, allowNull: true },
  });
  await qi.addIndex('failure_counters', ['expire']);
}

export async function down({ context: qi }: { context: QueryInterface }): Promise<void> {
  await qi.dropTable('failure_counters');
}
