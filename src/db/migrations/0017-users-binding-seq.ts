import { DataTypes, type QueryInterface } from 'sequelize';

/**
 * A counter on the user row that every REGISTER transaction which changes
 * the user's bindings increments. On a Galera cluster a `SELECT … FOR
 * UPDATE` lock is local to one node and certification compares written
 * rows only: two nodes inserting bindings for one user never conflict
 * unless both also write the same row. Writing this one makes them
 * conflict at commit, so max_bindings, instance replacement and CSeq
 * ordering hold across nodes (the loser is aborted and decides again).
 * Not `version`: that is the API's optimistic-lock token (If-Match),
 * which a REGISTER must not change.
 */
export async function up({ context: qi }: { context: QueryInterface }): Promise<void> {
  await qi.addColumn('users', 'binding_seq', { type: DataTypes.BIGINT, allowNull: false, defaultValue: 0 });
}

export async function down({ context: qi }: { context: QueryInterface }): Promise<void> {
  await qi.removeColumn('users', 'binding_seq');
}
