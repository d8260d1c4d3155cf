import { PGliteDatabase } from '../../src/adapters/pglite/database';
import { PgDatabase } from '../../src/adapters/postgres/database';
import { InteractionsModuleOptions } from '../../src';
import { Database } from '../../src/ports/database';
import { EVENT_LOG_MIGRATIONS, migrate, READ_TABLE_MIGRATIONS } from '../../projections/migrate';
import { dropSchema, TEST_DATABASE_URL, uniqueSchema } from './postgres';
import { sharedPGlite } from './pglite';

/** Where a test's tables live: the real PostgreSQL server, or the embedded PGlite. */
export interface Backend {
  name: 'postgres' | 'pglite';
  /** The module's `database` option. */
  databaseOption(): Promise<InteractionsModuleOptions['database']>;
  /** A connection of the test's own to `schema`. */
  open(schema: string, connections?: number): Promise<Database>;
  dropSchema(schema: string): Promise<void>;
}

export const POSTGRES: Backend = {
  name: 'postgres',
  databaseOption: async () => ({ connectionString: TEST_DATABASE_URL, maxConnections: 5 }),
  open: async (schema, connections = 2) => new PgDatabase({ connectionString: TEST_DATABASE_URL, schema, max: connections }),
  dropSchema,
};

export const PGLITE: Backend = {
  name: 'pglite',
  databaseOption: async () => ({ pglite: { instance: await sharedPGlite() } }),
  open: async (schema) => PGliteDatabase.on(await sharedPGlite(), schema),
  dropSchema: async (schema) => {
    await PGliteDatabase.on(await sharedPGlite(), schema).query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`, []);
  },
};

/** The backends the contract and projection suites run on (TEST_BACKENDS=postgres,pglite to choose). */
export const BACKENDS: Backend[] = (process.env.TEST_BACKENDS ?? 'postgres,pglite')
  .split(',')
  .map((name) => ({ postgres: POSTGRES, pglite: PGLITE })[name.trim() as Backend['name']])
  .filter((backend): backend is Backend => backend !== undefined);

/** A migrated database in a fresh schema; `cleanup` closes it and drops the schema. */
export async function migratedDatabase(backend: Backend = POSTGRES): Promise<{ db: Database; cleanup: () => Promise<void> }> {
  const db = await backend.open(uniqueSchema());
  await migrate(db, [EVENT_LOG_MIGRATIONS, READ_TABLE_MIGRATIONS]);
  return {
    db,
    cleanup: async () => {
      await db.close();
      await backend.dropSchema(db.schema);
    },
  };
}
