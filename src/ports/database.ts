/**
 * The one SQL seam of the module: everything that talks to PostgreSQL (event log, read tables,
 * migrations) goes through `Queryable`, so the same SQL runs on any connection that speaks it.
 */
/**
 * A row as a query returns it: the caller names its columns (`query<{ uuid: string }>`). Our own type, so
 * that the module's declarations need no driver's types.
 */
export type QueryResultRow = object;

export interface Queryable {
  /** With `params` (also `[]`) one statement; without, a script of several (migrations, TRUNCATE). */
  query<R extends QueryResultRow = Record<string, unknown>>(text: string, params?: unknown[]): Promise<{ rows: R[] }>;
}

export interface Database extends Queryable {
  /** Runs `fn` in one transaction on one connection: commits when it resolves, rolls back when it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  /**
   * One statement as a transaction of its own (autocommit): one round trip where a transaction takes
   * three. A connection lost while it ran leaves its outcome unknown (InteractionUnavailableError with
   * `committed: 'unknown'`), where `query` says false. Optional: without it, a transaction does the same.
   */
  autocommit?<R extends QueryResultRow = Record<string, unknown>>(text: string, params: unknown[]): Promise<{ rows: R[] }>;
  /**
   * Statements sent at once run at the same time, beside this process (connections to a PostgreSQL
   * server); absent where they run one after another in it (PGlite).
   */
  readonly concurrentStatements?: boolean;
  readonly schema: string;
  close(): Promise<void>;
}

/**
 * A PGlite instance the host opened and closes (`new PGlite()` of @electric-sql/pglite), declared by what
 * the module uses of it: the module's types then need neither PGlite's (whose declarations need
 * Emscripten's) nor PGlite installed for a host on a PostgreSQL server.
 */
export interface PGliteInstance {
  readonly closed: boolean;
  query(query: string, params?: unknown[]): Promise<{ rows: unknown[] }>;
  exec(query: string): Promise<unknown>;
  transaction<T>(callback: (tx: { query(query: string, params?: unknown[]): Promise<{ rows: unknown[] }>; exec(query: string): Promise<unknown> }) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}
