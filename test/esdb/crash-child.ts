import { EventStoreDbEventStore } from '../../src/adapters/eventstoredb/eventstoredb-event-store';
import { SubscriptionProjector } from '../../src/adapters/eventstoredb/subscription-projector';
import { PgDatabase } from '../../src/adapters/postgres/database';
import { Database, Queryable } from '../../src/ports/database';

/**
 * The projector in a process of its own, for crash.spec.ts to SIGKILL: `crash-child.ts <esdb> <schema>`.
 * Each batch announces itself on stdout (`in-batch N`) when it has made all its read-table writes and is
 * about to write its checkpoint, and then dawdles there, so the parent can kill it with the batch half
 * done: written but not committed.
 */
const [connectionString, schema] = process.argv.slice(2);
const databaseUrl = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const inner = new PgDatabase({ connectionString: databaseUrl, schema: schema!, max: 2 });
let batches = 0;

const slow: Database = {
  schema: inner.schema,
  query: (text, params) => inner.query(text, params),
  transaction: (fn) =>
    inner.transaction((tx) => {
      const batch = ++batches;
      const slowed: Queryable = {
        query: async (text, params) => {
          if (/projection_checkpoints/.test(text) && /DO UPDATE/.test(text)) {
            process.stdout.write(`in-batch ${batch}\n`);
            await new Promise((resolve) => setTimeout(resolve, 500));
          }
          return tx.query(text, params) as never;
        },
      };
      return fn(slowed);
    }),
  close: () => inner.close(),
};

const store = EventStoreDbEventStore.connect(connectionString!);
new SubscriptionProjector(slow, store, { batchSize: 10 }).start();
process.stdout.write('started\n');
