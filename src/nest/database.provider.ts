import { PGliteDatabase } from '../adapters/pglite/database';
import { PgDatabase } from '../adapters/postgres/database';
import { Database } from '../ports/database';
import { EVENT_LOG_MIGRATIONS, migrate, READ_TABLE_MIGRATIONS } from '../../projections/migrate';
import { DEFAULT_PGLITE_DATA_DIR, DEFAULT_SCHEMA, InteractionsModuleOptions } from './options';

/** Applies the module's pending migrations (the event log's only where the log lives in this database). */
export function migrateDatabase(db: Database, options: InteractionsModuleOptions): Promise<string[]> {
  const logInThisDatabase = (options.eventStore?.kind ?? 'postgres') === 'postgres';
  return migrate(db, logInThisDatabase ? [EVENT_LOG_MIGRATIONS, READ_TABLE_MIGRATIONS] : [READ_TABLE_MIGRATIONS]);
}

async function connect(options: InteractionsModuleOptions): Promise<Database> {
  const { database } = options;
  const schema = options.schema ?? DEFAULT_SCHEMA;
  if ('connectionString' in database) {
    return new PgDatabase({ connectionString: database.connectionString, max: database.maxConnections, schema });
  }
  const { instance, dataDir } = database.pglite;
  return instance
    ? PGliteDatabase.on(instance, schema)
    : PGliteDatabase.open({ dataDir: dataDir ?? DEFAULT_PGLITE_DATA_DIR, schema });
}

/**
 * Opens the database of the read tables (and of the event log, with the PostgreSQL event store) and
 * migrates it unless told not to.
 */
export async function openDatabase(options: InteractionsModuleOptions): Promise<Database> {
  const db = await connect(options);
  if (options.migrate === false) return db;
  try {
    await migrateDatabase(db, options);
  } catch (error) {
    await db.close();
    throw error;
  }
  return db;
}
