import { describeDatabaseTarget } from '../nest/database.provider';
import { InteractionsModuleOptions } from '../nest/options';

/**
 * What the demo host and the CLI read from the environment, so both point at the same data:
 * DATABASE_URL (a PostgreSQL server) else PGlite in PGLITE_DATA_DIR (default ./.data);
 * KURRENTDB_URL moves the event log to EventStoreDB/KurrentDB; CRM_INTERACTIONS_SCHEMA picks the schema.
 */
export function moduleOptionsFromEnvironment(
  env: NodeJS.ProcessEnv = process.env,
): Pick<InteractionsModuleOptions, 'database' | 'eventStore' | 'schema'> {
  return {
    database: env.DATABASE_URL
      ? { connectionString: env.DATABASE_URL }
      : { pglite: { dataDir: env.PGLITE_DATA_DIR || './.data' } },
    ...(env.KURRENTDB_URL && { eventStore: { kind: 'eventstoredb', connectionString: env.KURRENTDB_URL } }),
    ...(env.CRM_INTERACTIONS_SCHEMA && { schema: env.CRM_INTERACTIONS_SCHEMA }),
  };
}

/** Where the data is, for people: never prints a password. */
export function describeDatabase(options: Pick<InteractionsModuleOptions, 'database'>): string {
  return describeDatabaseTarget(options.database);
}
