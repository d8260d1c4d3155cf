import { uuidv7 } from 'uuidv7';
import { PgDatabase } from '../../src/adapters/postgres/database';
import { PostgresEventStore } from '../../src/adapters/postgres/postgres-event-store';
import { EventToAppend } from '../../src/ports/event-store';
import { EVENT_LOG_MIGRATIONS, migrate } from '../../projections/migrate';
import { partitionableProxy } from '../support/faults';
import { dropSchema, TEST_DATABASE_URL, uniqueSchema } from '../support/postgres';

/**
 * An instance of the host that vanishes without closing its sockets (a crash of its machine, a partition)
 * while it holds a stream's lock, in the middle of a command: the server never hears it go. Every other
 * instance's writers of that stream queue on the lock; the server ends the silent transaction within
 * seconds, so they go on, instead of waiting until TCP gives up on the connection (hours).
 */
describe('a writer gone silent while it holds a stream lock (PostgreSQL event store)', () => {
  const schema = uniqueSchema('frozen');
  let db: PgDatabase;
  beforeAll(async () => {
    db = new PgDatabase({ connectionString: TEST_DATABASE_URL, schema, max: 2 });
    await migrate(db, [EVENT_LOG_MIGRATIONS]);
  });
  afterAll(async () => {
    await db.close();
    await dropSchema(schema);
  });

  const event = (): EventToAppend => ({
    id: uuidv7(),
    type: 'Noted',
    data: { n: 1 },
    metadata: { actorUuid: null, correlationId: uuidv7(), causationId: null, recordedAt: new Date().toISOString() },
  });

  it("holds up the stream's other writers for seconds, not until TCP gives up", async () => {
    const stream = `interaction-${uuidv7()}`;
    const store = new PostgresEventStore(db);
    await store.withStream(stream, (session) => session.appendToStream([event()], 'no_stream'));
    const proxy = await partitionableProxy();
    const cutOff = new PgDatabase({ connectionString: proxy.url(new URL(TEST_DATABASE_URL).pathname.slice(1)), schema, max: 1 });
    let holding!: () => void;
    const holds = new Promise<void>((resolve) => (holding = resolve));
    const frozen = new PostgresEventStore(cutOff)
      .withStream(stream, async (session) => {
        await session.readStream(); // under the stream's lock
        proxy.freeze();
        holding();
        return session.appendToStream([event()], 0);
      })
      .catch(() => 'failed');
    try {
      await holds;
      const started = Date.now();
      const appended = await Promise.race([
        store.withStream(stream, async (session) => session.appendToStream([event()], (await session.readStream()).length - 1)),
        new Promise((resolve) => setTimeout(() => resolve('still waiting for the silent writer'), 20_000).unref()),
      ]);
      expect(appended).toMatchObject({ nextRevision: 1 });
      expect(Date.now() - started).toBeLessThan(15_000);
    } finally {
      await proxy.close();
      await frozen;
      await cutOff.close();
    }
  }, 40_000);
});
