import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Umzug, SequelizeStorage } from 'umzug';
import type { QueryInterface, Sequelize } from 'sequelize';
import type { Logger } from '../logger.js';

const HERE = fileURLToPath(import.meta.url);
const MIGRATIONS_DIR = path.join(path.dirname(HERE), 'migrations');
// .ts when run from the sources (tsx), .js when run from the build in dist/; the name stored is the same.
const EXT = path.extname(HERE);

/** What every file in migrations/ exports. */
interface MigrationModule {
  up(params: { context: QueryInterface }): Promise<unknown>;
  down(params: { context: QueryInterface }): Promise<unknown>;
}

export function createMigrator(sequelize: Sequelize, logger?: Logger): Umzug<QueryInterface> {
  return new Umzug<QueryInterface>({
    migrations: {
      glob: [`*${EXT}`, { cwd: MIGRATIONS_DIR, ignore: ['*.d.ts'] }],
      resolve: ({ name, path: file, context }) => ({
        name: name.slice(0, -EXT.length),
        up: async () => ((await import(file!)) as MigrationModule).up({ context }),
        down: async () => ((await import(file!)) as MigrationModule).down({ context }),
      }),
    },
    context: sequelize.getQueryInterface(),
    storage: new SequelizeStorage({ sequelize, tableName: 'schema_migrations' }),
    logger: logger ? { info: (m) => logger.info(m, 'migration'), warn: (m) => logger.warn(m), error: (m) => logger.error(m), debug: () => {} } : undefined,
  });
}

export async function migrateToLatest(sequelize: Sequelize, logger?: Logger): Promise<string[]> {
  const done = await createMigrator(sequelize, logger).up();
  return done.map((m) => m.name);
}
