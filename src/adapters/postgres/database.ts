import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, ClientConfig, Pool, PoolClient, PoolConfig, QueryResultRow } from 'pg';
import { parseIntoClientConfig } from 'pg-connection-string';
import { databaseClosedError, InteractionUnavailableError } from '../../domain/errors';
import { Database, Queryable } from '../../ports/database';

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** Schema names become part of SQL text (identifiers cannot be parameters), so only plain names pass. */
export function assertSchemaName(schema: string): string {
  if (!SCHEMA_NAME.test(schema)) {
    throw new Error(`Invalid schema name "${schema}": use lower-case letters, digits and _ (at most 63)`);
  }
  return schema;
}

/**
 * The server ended the session for sitting idle in a transaction (IDLE_IN_TRANSACTION_LIMIT_MS): it rolled
 * the transaction back. A statement sent as the end arrives (the process was blocked: a GC pause, long
 * synchronous work) gets it as its own error, not as a closed connection.
 */
const IDLE_IN_TRANSACTION_ENDED = '25P03';

/** Socket errors and the server's "connection gone" SQLSTATEs (class 08, admin/crash shutdown, idle ends, too many connections). */
const CONNECTION_ERROR_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH',
  '57P01', '57P02', '57P03', '53300', IDLE_IN_TRANSACTION_ENDED,
]);
// "Query read timeout": no answer within `query_timeout` (a server gone without a reset: see PgDatabase).
const CONNECTION_ERROR_MESSAGES =
  /Connection terminated|connection error|not queryable|timeout exceeded when trying to connect|Connection closed|Query read timeout/i;

/** True when `error` says the connection to the server is gone or could not be made (not a failed statement). */
export function isConnectionError(error: unknown): boolean {
  // Duck-typed: errors of Node's own sockets may come from another realm (a test VM), failing instanceof.
  if (typeof error !== 'object' || error === null) return false;
  const { code, message } = error as { code?: unknown; message?: unknown };
  if (typeof code === 'string' && (CONNECTION_ERROR_CODES.has(code) || code.startsWith('08'))) return true;
  return typeof message === 'string' && CONNECTION_ERROR_MESSAGES.test(message);
}

/** Whether a COMMIT that failed so certainly did not commit. */
function commitNeverApplied(error: unknown): boolean {
  const { code, message } = error as { code?: unknown; message?: unknown };
  return code === IDLE_IN_TRANSACTION_ENDED || (typeof message === 'string' && /not queryable/i.test(message));
}

/** A connection error as the module's error; anything else unchanged. */
function unavailable(error: unknown, committed: boolean | 'unknown', mayStillLand = false): unknown {
  if (!isConnectionError(error)) return error;
  const { message, code } = error as { message?: string; code?: string };
  const reason = message || code;
  return new InteractionUnavailableError(`PostgreSQL is unavailable: ${reason}`, committed, { cause: error, mayStillLand });
}

/** How long a lost autocommitted statement waits to learn whether its backend is gone. */
const BACKEND_CHECK_MS = 2_000;

const statementNames = new Map<string, string>();
const MAX_NAMED_STATEMENTS = 1000;

/**
 * Dates as UTC ISO strings. node-postgres writes a Date in the process's local time with its offset cut to
 * whole minutes, so in a zone whose offset had seconds then (Paris before 1911: +00:09:21) an instant
 * moved by up to a minute: a feed's cursor then met its own row again, and `occurredFrom` missed it.
 */
function onTheWire(params: unknown[]): unknown[] {
  const utc = (value: unknown): unknown => (value instanceof Date ? value.toISOString() : Array.isArray(value) ? value.map(utc) : value);
  return params.some((value) => value instanceof Date || Array.isArray(value)) ? params.map(utc) : params;
}

/**
 * Sends a statement with parameters as a named (prepared) statement: each connection parses and plans it
 * once, later calls send only its parameters, which halves the server's work for the module's short
 * statements. Names are a hash of the text (two texts never share one). The module's texts are a fixed
 * few; past MAX_NAMED_STATEMENTS distinct texts (SQL built with values in it) statements go unnamed, so
 * no connection collects prepared statements without bound.
 */
function send<R extends QueryResultRow>(client: PoolClient, text: string, given?: unknown[]): Promise<{ rows: R[] }> {
  if (!given || given.length === 0) return client.query<R>(text, given);
  const params = onTheWire(given);
  let name = statementNames.get(text);
  if (name === undefined && statementNames.size < MAX_NAMED_STATEMENTS) {
    name = `crm_${createHash('sha256').update(text).digest('hex').slice(0, 24)}`;
    statementNames.set(text, name);
  }
  return name === undefined ? client.query<R>(text, params) : client.query<R>({ name, text, values: params });
}

/**
 * A connection that always has an 'error' listener. Without one, a server that drops it at a moment no
 * one listens (the pool hands a new connection over, and the same network read brings the server's
 * "terminating connection") emits an unhandled 'error' and ends the process. What is lost still reaches
 * whoever uses the connection next: its statement fails and the pool replaces it.
 */
class ListenedClient extends Client {
  constructor(config?: ClientConfig) {
    super(config);
    this.on('error', () => undefined);
  }
}

export interface PgDatabaseConfig extends PoolConfig {
  schema: string;
  /** Told about connection errors that reach no caller (an idle connection dropped by the server). */
  onConnectionError?: (error: Error) => void;
}

/** How long a module session may sit idle inside a transaction: as long as the projection lease's idle limit. */
const IDLE_IN_TRANSACTION_LIMIT_MS = 10_000;

/**
 * A PostgreSQL server through a node-postgres pool. Connection errors never escape as 'error' events (they
 * would end the host process): those of idle connections are reported to `onConnectionError` and the pool
 * replaces the connection; those of a statement or a transaction reach the caller as
 * InteractionUnavailableError. The pool reconnects by itself when the server is back.
 */
export class PgDatabase implements Database {
  private readonly pool: Pool;
  private readonly onConnectionError: (error: Error) => void;

  constructor(config: PgDatabaseConfig) {
    const { schema, onConnectionError, ...poolConfig } = config;
    this.schema = assertSchemaName(schema);
    this.onConnectionError = onConnectionError ?? (() => undefined);
    const { connectionString, ...rest } = poolConfig;
    const fromString = connectionString ? parseIntoClientConfig(connectionString) : {};
    this.pool = new Pool({
      Client: ListenedClient,
      connectionTimeoutMillis: 10_000,
      keepAlive: true,
      // A server gone without a reset (its host down, a partition) is otherwise noticed by TCP's keepalive
      // after 2 hours: idle connections are probed after 10 s, and a statement sent on one gets no answer
      // within `query_timeout` (set by the module: `database.queryTimeoutMs`) and the connection is dropped.
      keepAliveInitialDelayMillis: 10_000,
      ...fromString,
      ...rest,
      // Every connection resolves unqualified table names in the module's schema, so the SQL stays
      // schema-free. Appended to the connection string's own `options` (the last setting wins), which
      // would otherwise replace it and move the module into another schema.
      // A session of an instance gone without a reset (its machine down, a partition) in the middle of a
      // transaction would hold its locks (a stream's, the projection checkpoint's) until TCP gave up on it,
      // hours later, every other instance waiting: the server ends it once idle that long in a transaction.
      // First, so that the connection string's own setting wins.
      options: [`-c idle_in_transaction_session_timeout=${IDLE_IN_TRANSACTION_LIMIT_MS}`, fromString.options, rest.options, `-c search_path=${this.schema}`]
        .filter(Boolean)
        .join(' '),
    });
    this.pool.on('error', (error) => this.onConnectionError(error));
    this.concurrentStatements = this.pool.options.max > 1;
  }

  readonly schema: string;
  /** Unless the pool holds one connection: its statements then queue in it. */
  readonly concurrentStatements: boolean;

  query<R extends QueryResultRow = QueryResultRow>(text: string, params?: unknown[]): Promise<{ rows: R[] }> {
    return this.withClient(async (client) => {
      try {
        return await client.query<R>(text, params && onTheWire(params));
      } catch (error) {
        throw unavailable(error, false);
      }
    });
  }

  async autocommit<R extends QueryResultRow = QueryResultRow>(text: string, params: unknown[]): Promise<{ rows: R[] }> {
    let backend: number | undefined;
    try {
      return await this.withClient(async (client) => {
        backend = (client as { processID?: number }).processID;
        try {
          return await send<R>(client, text, params);
        } catch (error) {
          // Sent: the server may have committed it before the connection went, or may still: a statement
          // waiting for a lock runs on without its client once it gets the lock, and commits.
          throw unavailable(error, 'unknown', true);
        }
      });
    } catch (error) {
      // Unless its backend is gone: then what it did is done, and a read tells which.
      if (error instanceof InteractionUnavailableError && error.mayStillLand && backend !== undefined && (await this.backendGone(backend))) {
        throw new InteractionUnavailableError(error.message, 'unknown', { cause: error.cause });
      }
      throw error;
    }
  }

  /** Whether the server has no backend `pid` any more; false when that cannot be found out soon. */
  private async backendGone(pid: number): Promise<boolean> {
    // A terminated backend may still be listed for a moment after its client got the error: asked again.
    for (let attempt = 0; attempt < 3; attempt++) {
      if (attempt > 0) await sleep(50);
      const asked = this.pool.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [pid]).then(
        ({ rows }) => (rows.length === 0 ? 'gone' : 'there'),
        () => 'unknown',
      );
      const answer = await Promise.race([asked, sleep(BACKEND_CHECK_MS).then(() => 'unknown')]);
      if (answer !== 'there') return answer === 'gone';
    }
    return false;
  }

  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    return this.withClient(async (client) => {
      let committing = false;
      try {
        await client.query('BEGIN');
        const result = await fn({ query: (text, params) => send(client, text, params) });
        committing = true;
        await client.query('COMMIT');
        return result;
      } catch (error) {
        // After a failed COMMIT the server has ended the transaction; otherwise end it here (a
        // connection that cannot even do that is dropped by withClient).
        if (!committing && !isConnectionError(error)) await client.query('ROLLBACK').catch(() => undefined);
        // A connection lost during COMMIT leaves the outcome unknown: the caller must find out by reading.
        // Not when the COMMIT never left (the client knew the connection gone) or the server had ended the
        // session for idling in the transaction: then it was rolled back.
        throw unavailable(error, committing && !commitNeverApplied(error) ? 'unknown' : false);
      }
    });
  }

  /** Runs `work` on a connection of its own; one that was lost is dropped from the pool. */
  private async withClient<T>(work: (client: PoolClient) => Promise<T>): Promise<T> {
    let client: PoolClient;
    // The pool lets what is under way finish; what comes after is the module's error, not the pool's.
    if (this.closed) throw databaseClosedError();
    try {
      client = await this.pool.connect();
    } catch (error) {
      throw unavailable(error, false);
    }
    let lost: Error | undefined;
    try {
      return await work(client);
    } catch (error) {
      if (error instanceof InteractionUnavailableError) lost = error;
      throw error;
    } finally {
      client.release(lost);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.pool.end();
  }

  private closed = false;
}
