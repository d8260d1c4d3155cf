import { EventStoreDbEventStore } from '../../src/adapters/eventstoredb/eventstoredb-event-store';
import { SubscriptionProjector } from '../../src/adapters/eventstoredb/subscription-projector';
import { PgDatabase } from '../../src/adapters/postgres/database';
import { Database, Queryable } from '../../src/ports/database';

/**
 * The projector in a process of its own, for crash.spec.ts to SIGKILL: `crash-child.ts <esdb> <schema>`.
 * Its batch transactions are slowed down and announce themselves on stdout (`in-batch N` once a batch has
 * written something), so the parent can kill it while a batch is half written.
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
      let queries = 0;
      const batch = ++batches;
      const slowed: Queryable = {
        query: async (text, params) => {
          const result = await tx.query(text, params);
          if (++queries === 4) process.stdout.write(`in-batch ${batch}\n`);
          await new Promise((resolve) => setTimeout(resolve, 5));
          return result as never;
        },
      };
      return fn(slowed);
    }),
  close: () => inner.close(),
};

const store = EventStoreDbEventStore.connect(connectionString!);
new SubscriptionProjector(slow, store, { batchSize: 10 }).start();
process.stdout.write('started\n');
