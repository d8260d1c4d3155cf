import { PostgresEventStore } from '../../src/adapters/postgres/postgres-event-store';
import { START } from '../../src/ports/event-store';
import { EVENT_LOG_MIGRATIONS, migrate, READ_TABLE_MIGRATIONS } from '../../projections/migrate';
import { BACKENDS } from '../support/backends';
import { describeEventStoreContract } from '../support/event-store-contract';
import { uniqueSchema } from '../support/postgres';

for (const backend of BACKENDS) {
  describeEventStoreContract(`PostgresEventStore on ${backend.name}`, async () => {
    // Enough connections for the concurrency tests: appends to one stream queue on its lock.
    const db = await backend.open(uniqueSchema(), 12);
    await migrate(db, [EVENT_LOG_MIGRATIONS, READ_TABLE_MIGRATIONS]);
    return {
      store: new PostgresEventStore(db),
      db,
      origin: START,
      cleanup: async () => {
        await db.close();
        await backend.dropSchema(db.schema);
      },
    };
  });
}
