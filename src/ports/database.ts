import { QueryResultRow } from 'pg';

/**
 * The one SQL seam of the module: everything that talks to PostgreSQL (event log, read tables,
 * migrations) goes through `Queryable`, so the same SQL runs on any connection that speaks it.
 */
export interface Queryable {
  /** With `params` (also `[]`) one statement; without, a script of several (migrations, TRUNCATE). */
  query<R extends QueryResultRow = QueryResultRow>(text: string, params?: unknown[]): Promise<{ rows: R[] }>;
}

export interface Database extends Queryable {
  /** Runs `fn` in one transaction on one connection: commits when it resolves, rolls back when it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  /**
   * One statement as a transaction of its own (autocommit): one round trip where a transaction takes
   * three. A connection lost while it ran leaves its outcome unknown (InteractionUnavailableError with
   * `committed: 'unknown'`), where `query` says false. Optional: without it, a transaction does the same.
   */
  autocommit?<R extends QueryResultRow = QueryResultRow>(text: string, params: unknown[]): Promise<{ rows: R[] }>;
  readonly schema: string;
  close(): Promise<void>;
}
