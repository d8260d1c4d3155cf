import { EventStoreDBClient } from '@eventstore/db-client';
import { EventStoreDbEventStore } from '../../src/adapters/eventstoredb/eventstoredb-event-store';
import { PgDatabase } from '../../src/adapters/postgres/database';
import { QueryResultRow } from 'pg';
import { Database, Queryable } from '../../src/ports/database';
import { EventStore, Position, START } from '../../src/ports/event-store';
import { InteractionWriter } from '../../src/nest/interaction-writer';
import { UnknownOutcomes } from '../../src/nest/unknown-outcomes';
import { uuidv7 } from 'uuidv7';
import { EVENT_LOG_MIGRATIONS, migrate, READ_TABLE_MIGRATIONS } from '../../projections/migrate';
import { dropSchema, TEST_DATABASE_URL, uniqueSchema } from '../support/postgres';
import { EsdbTestServer } from './test-server/server';

/**
 * Where the EventStoreDB tests find a server: KURRENTDB_URL (a real EventStoreDB/KurrentDB, e.g. the one
 * of docker-compose.yml: `esdb://localhost:2113?tls=false`), else a protocol test server of their own.
 */
export const KURRENTDB_URL = process.env.KURRENTDB_URL || undefined;

/** Call options that make @eventstore/db-client 6.2.1 append through the classic Streams.Append, not BatchAppend. */
export const CLASSIC_APPEND = { credentials: { username: 'admin', password: 'changeit' } };

/** Everything an iterable yields (a client's read), in order. */
export async function all<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

/** What a client call rejected with (duck-typed: errors cross jest's module realms), or 'resolved'. */
export async function failure(promise: Promise<unknown>): Promise<{ type?: string; code?: number; message?: string; details?: string } | 'resolved'> {
  try {
    await promise;
    return 'resolved';
  } catch (error) {
    return error as { type?: string; code?: number; message?: string; details?: string };
  }
}

/** Tests that take the server away (kill/restart) can only do so with the test server. */
export const itWithTestServer = KURRENTDB_URL ? it.skip : it;

export interface EsdbUnderTest {
  connectionString: string;
  /** null with KURRENTDB_URL. */
  server: EsdbTestServer | null;
  close(): Promise<void>;
}

export async function startEsdb(): Promise<EsdbUnderTest> {
  if (KURRENTDB_URL) return { connectionString: KURRENTDB_URL, server: null, close: async () => undefined };
  const server = await EsdbTestServer.start();
  return { connectionString: server.connectionString, server, close: () => server.close() };
}

/**
 * Where a test's module events start: START on a test server of its own, the current head of the module's
 * events on a shared real server (so earlier runs' events are not the test's).
 */
export async function originOf(connectionString: string): Promise<Position> {
  if (!KURRENTDB_URL) return START;
  const store = new EventStoreDbEventStore(EventStoreDBClient.connectionString(connectionString));
  try {
    return await store.headPosition();
  } finally {
    await store.close();
  }
}

/** A migrated PostgreSQL schema of its own for the read tables. */
export async function migratedPostgres(connections = 5): Promise<{ db: Database; cleanup(): Promise<void> }> {
  const db = new PgDatabase({ connectionString: TEST_DATABASE_URL, schema: uniqueSchema('esdb'), max: connections });
  await migrate(db, [EVENT_LOG_MIGRATIONS, READ_TABLE_MIGRATIONS]);
  return {
    db,
    cleanup: async () => {
      await db.close();
      await dropSchema(db.schema);
    },
  };
}

export async function eventually<T>(probe: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * The promise rejections nobody handled while `work` ran and `settleMs` after it (each would end a host
 * process under Node's default `--unhandled-rejections=throw`).
 */
export async function unhandledRejectionsDuring(work: () => Promise<void>, settleMs = 100): Promise<unknown[]> {
  const unhandled: unknown[] = [];
  const record = (reason: unknown) => unhandled.push(reason);
  process.on('unhandledRejection', record);
  try {
    await work();
    await new Promise((resolve) => setTimeout(resolve, settleMs));
  } finally {
    process.off('unhandledRejection', record);
  }
  return unhandled;
}

/**
 * A Database whose transactions can be made to fail part-way (a batch that dies after some of its writes)
 * and that counts the transactions it committed.
 */
export class FaultyDatabase implements Database {
  commits = 0;
  /** Fail the next transaction at the first query this accepts (then forget it). */
  failAt: ((sql: string) => boolean) | null = null;

  constructor(private readonly inner: Database) {}

  get schema(): string {
    return this.inner.schema;
  }

  query<R extends QueryResultRow = QueryResultRow>(text: string, params?: unknown[]): Promise<{ rows: R[] }> {
    return this.inner.query<R>(text, params);
  }

  async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    const failAt = this.failAt;
    this.failAt = null;
    const result = await this.inner.transaction((tx) => {
      let queries = 0;
      return fn({
        query: async <R extends QueryResultRow = QueryResultRow>(text: string, params?: unknown[]) => {
          queries++;
          if (failAt?.(text)) throw new Error(`injected failure at query ${queries} of the transaction`);
          return tx.query<R>(text, params);
        },
      });
    });
    this.commits++;
    return result;
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

/**
 * The module's write side without Nest: InteractionWriter over a store, with an in-memory contact
 * directory in which every uuid exists. For driving projections with real, valid event sequences.
 */
export function writerOver(store: EventStore): {
  create(subject: string, parties?: string[]): Promise<string>;
  update(uuid: string, subject: string): Promise<void>;
  remove(uuid: string): Promise<void>;
} {
  const contacts = { findContacts: async (uuids: string[]) => uuids.map((uuid) => ({ uuid, name: `Contact ${uuid.slice(-4)}` })) };
  // No idempotency keys here, so the writer never touches its database.
  const noDatabase = {} as Database;
  const writer = new InteractionWriter(store, noDatabase, { contacts, staff: null }, { publishAll: () => undefined } as never, new UnknownOutcomes());
  const subjectContact = uuidv7();
  return {
    async create(subject, parties = []) {
      const uuid = uuidv7();
      const now = new Date(Math.floor(Date.now() / 1000) * 1000);
      await writer.execute(
        {
          kind: 'create',
          interactionUuid: uuid,
          attrs: { contactUuid: subjectContact, interactionType: 'note', occurredAt: now, subject, body: null, ownerUserUuid: null, metadata: {} },
          parties: parties.map((rawName, inputIndex) => ({ rawName, contactUuid: uuidv7(), staffPersonUuid: null, inputIndex })),
          fileUuids: [],
        },
        {},
        now,
      );
      return uuid;
    },
    async update(uuid, subject) {
      await writer.execute({ kind: 'update', interactionUuid: uuid, attrs: { subject }, parties: null }, {}, new Date());
    },
    async remove(uuid) {
      await writer.execute({ kind: 'delete', interactionUuid: uuid }, {}, new Date());
    },
  };
}

/**
 * Starts a module's read model at `origin` (a shared server's head): migrates the schema and stores the
 * checkpoint before the module boots, so its subscription starts there instead of replaying old runs.
 */
export async function seedCheckpoint(schema: string, origin: Position): Promise<void> {
  if (origin.commit === 0n && origin.prepare === 0n) return;
  const db = new PgDatabase({ connectionString: TEST_DATABASE_URL, schema, max: 1 });
  try {
    await migrate(db, [EVENT_LOG_MIGRATIONS, READ_TABLE_MIGRATIONS]);
    await db.query(
      `INSERT INTO projection_checkpoints (name, commit_position, prepare_position) VALUES ('interactions', $1, $2)`,
      [origin.commit.toString(), origin.prepare.toString()],
    );
  } finally {
    await db.close();
  }
}
