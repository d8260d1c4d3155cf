import { Logger } from '@nestjs/common';
import type { PGliteDatabase } from '../adapters/pglite/database';
import { DirectoryInUseError } from '../adapters/pglite/directory-lock';
import { PgDatabase } from '../adapters/postgres/database';
import { Database } from '../ports/database';
import { EVENT_LOG_MIGRATIONS, migrate, MigrationSet, pendingMigrations, READ_TABLE_MIGRATIONS } from '../../projections/migrate';
import { DEFAULT_PGLITE_DATA_DIR, DEFAULT_QUERY_TIMEOUT_MS, DEFAULT_SCHEMA, InteractionsModuleOptions, PostgresServer } from './options';
import { loadOptional } from './optional-package';

/** The module's migrations: the event log's only where the log lives in this database. */
function migrationSets(options: InteractionsModuleOptions): MigrationSet[] {
  const logInThisDatabase = (options.eventStore?.kind ?? 'postgres') === 'postgres';
  return logInThisDatabase ? [EVENT_LOG_MIGRATIONS, READ_TABLE_MIGRATIONS] : [READ_TABLE_MIGRATIONS];
}

/** Applies the module's pending migrations. */
export function migrateDatabase(db: Database, options: InteractionsModuleOptions): Promise<string[]> {
  return migrate(db, migrationSets(options));
}

/**
 * With `migrate: false`, says at start what is not applied: the calls until it is fail with the database's
 * own errors. Not a failed start: a host may apply them afterwards (`InteractionsMaintenance.migrate()`),
 * and a server out of reach must not stop a start that asks nothing of it (its calls answer unavailable).
 */
async function warnOfPendingMigrations(db: Database, options: InteractionsModuleOptions): Promise<void> {
  const pending = await pendingMigrations(db, migrationSets(options)).catch(() => []);
  if (pending.length === 0) return;
  new Logger('InteractionsModule').warn(
    `migrate is false and ${pending.length} migration(s) are not applied in schema ${db.schema} (the first: ${pending[0]}): ` +
      'calls fail until InteractionsMaintenance.migrate() or `crm-interactions migrate` applies them',
  );
}

function pool(server: PostgresServer, schema: string, name: string): PgDatabase {
  const logger = new Logger('InteractionsModule');
  const timeout = server.queryTimeoutMs ?? DEFAULT_QUERY_TIMEOUT_MS;
  return new PgDatabase({
    connectionString: server.connectionString,
    max: server.maxConnections,
    query_timeout: timeout === false ? undefined : timeout,
    schema,
    onConnectionError: (error) => logger.warn(`${name} connection lost (the pool reconnects): ${error.message}`),
  });
}

async function connect(options: InteractionsModuleOptions): Promise<Database> {
  const { database } = options;
  const schema = options.schema ?? DEFAULT_SCHEMA;
  if ('connectionString' in database) return pool(database, schema, 'PostgreSQL');
  const { instance, dataDir } = database.pglite;
  const { PGliteDatabase: Adapter } = loadOptional('@electric-sql/pglite', 'database: { pglite }', () =>
    require('../adapters/pglite/database') as { PGliteDatabase: typeof PGliteDatabase },
  );
  return instance ? Adapter.on(instance, schema) : Adapter.open({ dataDir: dataDir ?? DEFAULT_PGLITE_DATA_DIR, schema });
}

/** Where the data is, for people and error messages: host, port and database, never a password. */
export function describeDatabaseTarget(database: InteractionsModuleOptions['database']): string {
  if ('connectionString' in database) {
    try {
      const url = new URL(database.connectionString);
      return `PostgreSQL ${url.host}${url.pathname}`;
    } catch {
      return 'PostgreSQL'; // a connection string that is not a URL (key=value form)
    }
  }
  if (database.pglite.instance) return 'PGlite (an instance of the host)';
  return `PGlite in ${database.pglite.dataDir ?? DEFAULT_PGLITE_DATA_DIR}`;
}

/** A failure's own words; a refused connection to every address of a host is an AggregateError without any. */
function reasonOf(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  if (error.message) return error.message;
  if (error instanceof AggregateError) return error.errors.map(reasonOf).join('; ');
  return String((error as { code?: unknown }).code ?? error.name);
}

/**
 * The pool of `database.readReplica`, asked one query so that a replica out of reach fails the start
 * as the primary would; null without one. It is never migrated: the primary's migrations replicate.
 */
export async function openReadReplica(options: InteractionsModuleOptions): Promise<Database | null> {
  const { database } = options;
  if (!('connectionString' in database) || database.readReplica === undefined) return null;
  const replica = database.readReplica; // its shape checked before anything was opened (checkDatabaseOption)
  const db = pool(replica, options.schema ?? DEFAULT_SCHEMA, 'PostgreSQL read replica');
  try {
    await db.query('SELECT 1', []);
    return db;
  } catch (error) {
    await db.close().catch(() => undefined);
    const target = describeDatabaseTarget({ connectionString: replica.connectionString });
    throw new Error(`InteractionsModule: could not open the read replica, ${target}: ${reasonOf(error)}`, { cause: error });
  }
}

/**
 * Opens the database of the read tables (and of the event log, with the PostgreSQL event store) and
 * migrates it unless told not to. On any failure nothing stays open, and the error names the target.
 */
export async function openDatabase(options: InteractionsModuleOptions): Promise<Database> {
  let db: Database | undefined;
  try {
    db = await connect(options);
    if (options.migrate === false) await warnOfPendingMigrations(db, options);
    else await migrateDatabase(db, options);
    return db;
  } catch (error) {
    await db?.close().catch(() => undefined);
    if (error instanceof DirectoryInUseError) throw error; // names the directory and its holder already
    throw new Error(`InteractionsModule: could not open ${describeDatabaseTarget(options.database)}: ${reasonOf(error)}`, {
      cause: error,
    });
  }
}
