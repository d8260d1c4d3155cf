import { PgDatabase } from '../adapters/postgres/database';
import { Database } from '../ports/database';
import { EVENT_LOG_MIGRATIONS, migrate, READ_TABLE_MIGRATIONS } from '../../projections/migrate';
import { DEFAULT_SCHEMA, InteractionsModuleOptions } from './options';

/** Opens the database of the read tables (and of the event log, with the PostgreSQL event store). */
export async function openDatabase(options: InteractionsModuleOptions): Promise<Database> {
  const { database } = options;
  if (!('connectionString' in database)) {
    throw new Error('InteractionsModule: database.pglite is not available in this version; use database.connectionString');
  }
  const db = new PgDatabase({
    connectionString: database.connectionString,
    max: database.maxConnections,
    schema: options.schema ?? DEFAULT_SCHEMA,
  });
  if (options.migrate !== false) {
    try {
      await migrate(db, [EVENT_LOG_MIGRATIONS, READ_TABLE_MIGRATIONS]);
    } catch (error) {
      await db.close();
      throw error;
    }
  }
  return db;
}
