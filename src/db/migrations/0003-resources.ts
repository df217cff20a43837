import type { QueryInterface } from 'sequelize';

/**
 * Indexes for the "is anything still using this?" checks behind 409 in_use:
 * users name numbers by text and locations/fax services by id; without these
 * a delete scans every user of the account (SQLite does not index foreign
 * keys on its own). fax_services.number_id serves the same check for numbers.
 */
export async function up({ context: qi }: { context: QueryInterface }): Promise<void> {
  await qi.addIndex('users', ['account_id', 'external_caller_id_number'], { name: 'users_account_caller_id_number' });
  await qi.addIndex('users', ['account_id', 'outbound_sms_number'], { name: 'users_account_sms_number' });
  await qi.addIndex('users', ['location_id'], { name: 'users_location' });
  await qi.addIndex('users', ['fax_service_id'], { name: 'users_fax_service' });
  await qi.addIndex('fax_services', ['number_id'], { name: 'fax_services_number' });
}

export async function down({ context: qi }: { context: QueryInterface }): Promise<void> {
  await qi.removeIndex('fax_services', 'fax_services_number');
  await qi.removeIndex('users', 'users_fax_service');
  await qi.removeIndex('users', 'users_location');
  await qi.removeIndex('users', 'users_account_sms_number');
  await qi.removeIndex('users', 'users_account_caller_id_number');
}
