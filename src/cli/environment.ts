import { resolve } from 'node:path';
import { errorText } from '../domain/errors';
import { EventUpcaster } from '../domain/events';
import { describeDatabaseTarget } from '../nest/database.provider';
import { InteractionsModuleOptions } from '../nest/options';

export type EnvironmentModuleOptions = Pick<InteractionsModuleOptions, 'database' | 'eventStore' | 'schema' | 'upcasters'>;

/**
 * What the demo host and the CLI read from the environment, so both point at the same data:
 * DATABASE_URL (a PostgreSQL server) else PGlite in PGLITE_DATA_DIR (default ./.data);
 * KURRENTDB_URL moves the event log to EventStoreDB/KurrentDB; CRM_INTERACTIONS_SCHEMA picks the schema;
 * CRM_INTERACTIONS_UPCASTERS loads the host's upcasters.
 */
export function moduleOptionsFromEnvironment(env: NodeJS.ProcessEnv = process.env): EnvironmentModuleOptions {
  return {
    database: env.DATABASE_URL
      ? { connectionString: env.DATABASE_URL }
      : { pglite: { dataDir: env.PGLITE_DATA_DIR || './.data' } },
    ...(env.KURRENTDB_URL && { eventStore: { kind: 'eventstoredb', connectionString: env.KURRENTDB_URL } }),
    ...(env.CRM_INTERACTIONS_SCHEMA && { schema: env.CRM_INTERACTIONS_SCHEMA }),
    ...(env.CRM_INTERACTIONS_UPCASTERS && { upcasters: upcastersFrom(env.CRM_INTERACTIONS_UPCASTERS) }),
  };
}

/**
 * The `upcasters` array a module file exports: the host's own links (its module option). A process that is
 * not the host (the CLI) needs them too, or its rebuild parks the older events the host reads, and its
 * `parked retry` cannot apply them. Each entry is checked when the module starts (`registerUpcaster`).
 */
function upcastersFrom(file: string): EventUpcaster[] {
  let exported: unknown;
  try {
    exported = (require(resolve(file)) as { upcasters?: unknown }).upcasters;
  } catch (error) {
    // Node's "Cannot find module" goes on with its require stack: the first line says it.
    throw new Error(`CRM_INTERACTIONS_UPCASTERS: cannot load ${file}: ${errorText(error).split('\n')[0]}`, { cause: error });
  }
  if (!Array.isArray(exported)) throw new Error(`CRM_INTERACTIONS_UPCASTERS: ${file} exports no \`upcasters\` array`);
  return exported as EventUpcaster[];
}

/** Where the data is, for people: never prints a password. */
export function describeDatabase(options: Pick<InteractionsModuleOptions, 'database'>): string {
  return describeDatabaseTarget(options.database);
}
