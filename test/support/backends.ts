import { PGliteDatabase } from '../../src/adapters/pglite/database';
import { PgDatabase } from '../../src/adapters/postgres/database';
import { InteractionsModuleOptions } from '../../src';
import { Database } from '../../src/ports/database';
import { EVENT_LOG_MIGRATIONS, migrate, READ_TABLE_MIGRATIONS } from '../../projections/migrate';
import { dropSchema, TEST_DATABASE_URL, uniqueSchema } from './postgres';
import { sharedPGlite } from './pglite';
import { ownDatabase } from './faults';

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

/**
 * A migrated database in a PostgreSQL database of the test's own. The plan suites need it: VACUUM marks
 * pages all-visible only past the oldest snapshot of any transaction in the same database, and the
 * planner's choice between an index-only range scan and a bitmap scan turns on that. In the shared test
 * database another test file's open transaction (jest runs several at once) would change the plans.
 */
export async function migratedDatabaseOfItsOwn(): Promise<{ db: Database; cleanup: () => Promise<void> }> {
  const own = await ownDatabase('plans');
  const db = new PgDatabase({ connectionString: own.url(), schema: uniqueSchema(), max: 2 });
  try {
    await migrate(db, [EVENT_LOG_MIGRATIONS, READ_TABLE_MIGRATIONS]);
  } catch (error) {
    await db.close();
    await own.drop();
    throw error;
  }
  return {
    db,
    cleanup: async () => {
      await db.close();
      await own.drop();
    },
  };
}
