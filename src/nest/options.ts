import { FactoryProvider, ModuleMetadata } from '@nestjs/common';
import { EventUpcaster } from '../domain/events';
import { ContactDirectory, StaffDirectory } from '../ports/directories';
import { PGliteInstance } from '../ports/database';

/** A PostgreSQL server the module connects to (the database, or its read replica). */
export interface PostgresServer {
  connectionString: string;
  maxConnections?: number;
  /**
   * How long a statement may go without an answer before it fails (InteractionUnavailableError; an
   * autocommitted write's outcome then unknown) and its connection is dropped: how the pool gets away
   * from a server gone without a reset (its host down, a partition), which TCP would notice after about
   * two hours. Default 300000 (5 minutes), far longer than the module's statements take; a migration
   * that backfills a very large table may need more for that start. `false`: no limit.
   */
  queryTimeoutMs?: number | false;
}

/** `PostgresServer.queryTimeoutMs`'s default. */
export const DEFAULT_QUERY_TIMEOUT_MS = 300_000;

/** docs/contract.md "Module wiring". */
export interface InteractionsModuleOptions {
  /**
   * A PostgreSQL server, or the embedded PGlite: on `dataDir` (default './.data'; 'memory://' keeps
   * nothing on disk), or on an `instance` the host opened and closes itself.
   *
   * `readReplica`: a hot standby of that server, which the read queries (feeds, counts, getInteraction,
   * the subject uuids, findUnresolvedParties) go to; commands, their results, history, the lifecycle
   * and maintenance stay on the primary. A query then sees a write once the standby has replayed it:
   * read-your-writes holds for a command's own result, not for a query sent right after it.
   */
  database: (PostgresServer & { readReplica?: PostgresServer }) | { pglite: { dataDir?: string; instance?: PGliteInstance } };
  /** PostgreSQL schema for every table of the module; default 'crm_interactions'. */
  schema?: string;
  /**
   * Where the event log lives; default the module's PostgreSQL database. `eventstoredb`: an
   * EventStoreDB/KurrentDB server (`esdb://host:2113?tls=false`); the read tables stay in `database`.
   * `resolveWithinMs`: how long an append of unknown outcome is re-sent (same event ids) before the
   * command fails with `committed: 'unknown'`; default 5000, at most 600000. Set it longer than the
   * cluster's elections.
   */
  eventStore?: { kind: 'postgres' } | { kind: 'eventstoredb'; connectionString: string; resolveWithinMs?: number };
  /**
   * With an event store whose projection runs after the append (eventstoredb): commands wait until the
   * read tables include their events, at most `timeoutMs` (default 5000), then fail with
   * InteractionProjectionTimeoutError (the change is saved). `false`: return right after the append.
   */
  readYourWrites?: false | { timeoutMs?: number };
  /** Falls back to a provider of the CONTACT_DIRECTORY token visible to the module (global or imported). */
  contactDirectory?: ContactDirectory;
  /** Falls back to a provider of the STAFF_DIRECTORY token; without one, staff snapshots carry no details. */
  staffDirectory?: StaffDirectory;
  /** Create/upgrade the tables on start; default true. */
  migrate?: boolean;
  /**
   * Links of the events' upcaster chains (schemaVersion n to n+1), registered when the module starts and
   * removed when it closes. Process-wide, as `registerUpcaster`: every reader of the events upcasts alike.
   */
  upcasters?: EventUpcaster[];
  /**
   * Finish, in the background once the application is up, the contacts' lifecycle decisions a process
   * left pending; default true (the CLI turns it off except for `resume`).
   */
  resumeLifecycleOnStart?: boolean;
  /**
   * How often (ms) the counts' new rows are folded (see CountsCompactor); default 10,000, false turns it
   * off (counts stay exact, they only get slower to read as rows pile up).
   */
  countsCompactionMs?: number | false;
}

export interface InteractionsModuleAsyncOptions extends Pick<ModuleMetadata, 'imports'> {
  inject?: FactoryProvider['inject'];
  useFactory: (...args: never[]) => InteractionsModuleOptions | Promise<InteractionsModuleOptions>;
}

export const INTERACTIONS_OPTIONS = Symbol.for('crm-interactions:OPTIONS');
export const DEFAULT_SCHEMA = 'crm_interactions';
export const DEFAULT_PGLITE_DATA_DIR = './.data';
