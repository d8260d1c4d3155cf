import { EventStoreDBClient } from '@eventstore/db-client';
import { EventStoreDbEventStore } from '../../src/adapters/eventstoredb/eventstoredb-event-store';
import { PgDatabase } from '../../src/adapters/postgres/database';
import { Database } from '../../src/ports/database';
import { Position, START } from '../../src/ports/event-store';
import { EVENT_LOG_MIGRATIONS, migrate, READ_TABLE_MIGRATIONS } from '../../projections/migrate';
import { dropSchema, TEST_DATABASE_URL, uniqueSchema } from '../support/postgres';
import { EsdbTestServer } from './test-server/server';

/**
 * Where the EventStoreDB tests find a server: KURRENTDB_URL (a real EventStoreDB/KurrentDB, e.g. the one
 * of docker-compose.yml: `esdb://localhost:2113?tls=false`), else a protocol test server of their own.
 */
export const KURRENTDB_URL = process.env.KURRENTDB_URL || undefined;

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
