import { EventStoreDbEventStore } from '../../src/adapters/eventstoredb/eventstoredb-event-store';
import { describeEventStoreContract } from '../support/event-store-contract';
import { migratedPostgres, originOf, startEsdb } from './support';

describeEventStoreContract(`EventStoreDbEventStore (${process.env.KURRENTDB_URL ? 'KURRENTDB_URL' : 'protocol test server'})`, async () => {
  const esdb = await startEsdb();
  const { db, cleanup } = await migratedPostgres(2);
  const origin = await originOf(esdb.connectionString);
  const store = EventStoreDbEventStore.connect(esdb.connectionString);
  return {
    store,
    db,
    origin,
    cleanup: async () => {
      await store.close();
      await esdb.close();
      await cleanup();
    },
  };
});
