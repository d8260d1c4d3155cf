import { INestApplicationContext } from '@nestjs/common';
import { CqrsModule, EventBus, IEvent } from '@nestjs/cqrs';
import { Test } from '@nestjs/testing';
import { uuidv7 } from 'uuidv7';
import { PgDatabase } from '../../src/adapters/postgres/database';
import { PostgresEventStore } from '../../src/adapters/postgres/postgres-event-store';
import { InteractionsModule, InteractionsService } from '../../src';
import { dropSchema, TEST_DATABASE_URL, uniqueSchema } from './postgres';
import { InMemoryContactDirectory, InMemoryStaffDirectory } from './directories';

export interface ModuleUnderTest {
  app: INestApplicationContext;
  service: InteractionsService;
  contacts: InMemoryContactDirectory;
  staff: InMemoryStaffDirectory | null;
  /** A separate connection to the module's schema, for looking at the tables directly. */
  db: PgDatabase;
  store: PostgresEventStore;
  /** Every event the module published on the EventBus, in order. */
  published: IEvent[];
  /** A contact the directory knows, with a fresh uuid. */
  newContact(fields?: { name?: string; email?: string; company?: string; roleInCompany?: string; department?: string }): string;
  close(): Promise<void>;
}

/** Boots InteractionsModule in a Nest application context over a fresh schema of the real PostgreSQL. */
export async function startModule(options: { withStaffDirectory?: boolean } = {}): Promise<ModuleUnderTest> {
  const schema = uniqueSchema();
  const contacts = new InMemoryContactDirectory();
  const staff = options.withStaffDirectory ? new InMemoryStaffDirectory() : null;
  const moduleRef = await Test.createTestingModule({
    imports: [
      CqrsModule.forRoot(),
      InteractionsModule.forRoot({
        database: { connectionString: TEST_DATABASE_URL, maxConnections: 5 },
        schema,
        contactDirectory: contacts,
        ...(staff && { staffDirectory: staff }),
      }),
    ],
  }).compile();
  const app = await moduleRef.init();
  const published: IEvent[] = [];
  app.get(EventBus).subscribe((event: IEvent) => published.push(event));
  const db = new PgDatabase({ connectionString: TEST_DATABASE_URL, schema, max: 2 });
  return {
    app,
    service: app.get(InteractionsService),
    contacts,
    staff,
    db,
    store: new PostgresEventStore(db),
    published,
    newContact(fields = { name: 'Contact' }) {
      return contacts.add({ uuid: uuidv7(), ...fields }).uuid;
    },
    async close() {
      await app.close();
      await db.close();
      await dropSchema(schema);
    },
  };
}
