import { PgDatabase } from '../../src/adapters/postgres/database';
import { PostgresEventStore } from '../../src/adapters/postgres/postgres-event-store';
import { START } from '../../src/ports/event-store';
import { EVENT_LOG_MIGRATIONS, migrate, READ_TABLE_MIGRATIONS } from '../../projections/migrate';
import { describeEventStoreContract } from '../support/event-store-contract';
import { dropSchema, TEST_DATABASE_URL, uniqueSchema } from '../support/postgres';

describeEventStoreContract('PostgresEventStore', async () => {
  // Enough connections for the concurrency tests: appends to one stream queue on its lock.
  const db = new PgDatabase({ connectionString: TEST_DATABASE_URL, schema: uniqueSchema(), max: 12 });
  await migrate(db, [EVENT_LOG_MIGRATIONS, READ_TABLE_MIGRATIONS]);
  return {
    store: new PostgresEventStore(db),
    db,
    origin: START,
    cleanup: async () => {
      await db.close();
      await dropSchema(db.schema);
    },
  };
});
