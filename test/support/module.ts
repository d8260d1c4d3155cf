import { INestApplicationContext } from '@nestjs/common';
import { CqrsModule, EventBus, IEvent } from '@nestjs/cqrs';
import { Test } from '@nestjs/testing';
import { uuidv7 } from 'uuidv7';
import { ErasingEventStore } from '../../src/adapters/erasure/erasing-event-store';
import { EventStoreDbEventStore } from '../../src/adapters/eventstoredb/eventstoredb-event-store';
import { PostgresEventStore } from '../../src/adapters/postgres/postgres-event-store';
import { EventStore, START } from '../../src/ports/event-store';
import { originOf, seedCheckpoint, startEsdb } from '../esdb/support';
import { EsdbTestServer } from '../esdb/test-server/server';
import { InteractionsModule, InteractionsService } from '../../src';
import { Database } from '../../src/ports/database';
import { Backend, PGLITE, POSTGRES } from './backends';
import { uniqueSchema } from './postgres';
import { InMemoryContactDirectory, InMemoryStaffDirectory } from './directories';

export interface ModuleUnderTest {
  app: INestApplicationContext;
  service: InteractionsService;
  contacts: InMemoryContactDirectory;
  staff: InMemoryStaffDirectory | null;
  /** A separate connection to the module's schema, for looking at the tables directly. */
  db: Database;
  /** The module's event log, read directly. */
  /** The module's log as the module reads it: personal fields opened (or erased). */
  store: EventStore;
  /** The same log as stored: personal fields sealed. */
  log: EventStore;
  eventStore: EventStoreUnderTest;
  /** The EventStoreDB protocol test server the module runs on (null on PostgreSQL or KURRENTDB_URL). */
  esdbServer: EsdbTestServer | null;
  /** How many events the module has written (since it started, on a shared EventStoreDB). */
  countEvents(): Promise<number>;
  /** Every event the module published on the EventBus, in order. */
  published: IEvent[];
  /** A contact the directory knows, with a fresh uuid. */
  newContact(fields?: { name?: string; email?: string; company?: string; roleInCompany?: string; department?: string }): string;
  close(): Promise<void>;
}

/**
 * The event store startModule boots the module with: the PostgreSQL one (default), or EventStoreDB (a
 * protocol test server of the module's own, or KURRENTDB_URL); the read tables are in PostgreSQL either way.
 */
export type EventStoreUnderTest = 'postgres' | 'eventstoredb';

/**
 * Every database and event store a forget must leave nothing readable on, for `describe.each`: the log
 * in PostgreSQL, in PGlite, and on EventStoreDB (read tables on PostgreSQL).
 */
export const EVERY_STORE: Array<[string, Backend, EventStoreUnderTest]> = [
  ['PostgreSQL', POSTGRES, 'postgres'],
  ['PGlite', PGLITE, 'postgres'],
  ['EventStoreDB (read tables on PostgreSQL)', POSTGRES, 'eventstoredb'],
];
let defaultEventStore: EventStoreUnderTest = 'postgres';

/** Makes the suites of this test file boot on `kind` (test/esdb/service re-runs the service suites so). */
export function useEventStore(kind: EventStoreUnderTest): void {
  defaultEventStore = kind;
}

/** Boots InteractionsModule in a Nest application context over a fresh schema of the backend. */
export async function startModule(
  options: { withStaffDirectory?: boolean; eventStore?: EventStoreUnderTest; backend?: Backend } = {},
): Promise<ModuleUnderTest> {
  const backend = options.backend ?? POSTGRES;
  const schema = uniqueSchema();
  const contacts = new InMemoryContactDirectory();
  const staff = options.withStaffDirectory ? new InMemoryStaffDirectory() : null;
  const eventStore = options.eventStore ?? defaultEventStore;
  const esdb = eventStore === 'eventstoredb' ? await startEsdb() : null;
  const origin = esdb ? await originOf(esdb.connectionString) : START;
  if (esdb) await seedCheckpoint(schema, origin);
  const moduleRef = await Test.createTestingModule({
    imports: [
      CqrsModule.forRoot(),
      InteractionsModule.forRoot({
        database: await backend.databaseOption(),
        schema,
        ...(esdb && { eventStore: { kind: 'eventstoredb' as const, connectionString: esdb.connectionString } }),
        contactDirectory: contacts,
        ...(staff && { staffDirectory: staff }),
      }),
    ],
  }).compile();
  const app = await moduleRef.init();
  const published: IEvent[] = [];
  app.get(EventBus).subscribe((event: IEvent) => published.push(event));
  const db = await backend.open(schema);
  const log: EventStore = esdb ? EventStoreDbEventStore.connect(esdb.connectionString) : new PostgresEventStore(db);
  const store = new ErasingEventStore(log, db);
  return {
    app,
    service: app.get(InteractionsService),
    contacts,
    staff,
    db,
    store,
    log,
    eventStore,
    esdbServer: esdb?.server ?? null,
    published,
    async countEvents() {
      if (!esdb) {
        const { rows } = await db.query<{ n: string }>('SELECT count(*) AS n FROM events');
        return Number(rows[0]!.n);
      }
      let count = 0;
      for await (const batch of store.readAll(origin)) count += batch.length;
      return count;
    },
    newContact(fields = { name: 'Contact' }) {
      return contacts.add({ uuid: uuidv7(), ...fields }).uuid;
    },
    async close() {
      await app.close();
      if (esdb) {
        await store.close();
        await esdb.close();
      }
      await db.close();
      await backend.dropSchema(schema);
    },
  };
}
