import { randomUUID } from 'node:crypto';
import { PostgresEventStore } from '../../src/adapters/postgres/postgres-event-store';
import { Database } from '../../src/ports/database';
import { RecordedEvent, START } from '../../src/ports/event-store';
import { BACKENDS, migratedDatabase } from '../support/backends';

/**
 * The global order is (transaction id, row sequence) on every SQL backend. PGlite's 32-bit build sorted
 * transaction ids wrongly through an index when they were stored as xid8 (997 after 1002), which
 * replayed a stream's update before its creation; this pins the order across such boundaries.
 */
describe.each(BACKENDS.map((backend) => [backend.name, backend] as const))('global order on %s', (_name, backend) => {
  let db: Database;
  let cleanup: () => Promise<void>;
  beforeEach(async () => ({ db, cleanup } = await migratedDatabase(backend)));
  afterEach(() => cleanup());

  it('reads transactions in numeric order across digit-length boundaries, also in batches and through a transaction', async () => {
    const transactionIds = [1002, 997, 99_999, 100_000, 5_000_000_000, 9, 998];
    for (const [n, transactionId] of transactionIds.entries()) {
      await db.query(
        `INSERT INTO events (transaction_id, event_id, stream_name, stream_revision, event_type, data, metadata)
         VALUES ($1, $2, $3, 0, 'Test', $4, $5)`,
        [transactionId, randomUUID(), `s-${n}`, JSON.stringify({ n }), JSON.stringify({ recordedAt: new Date().toISOString() })],
      );
    }
    const expected = [...transactionIds].sort((a, b) => a - b).map(BigInt);
    const store = new PostgresEventStore(db);
    const read = async (batchSize: number) => {
      const events: RecordedEvent[] = [];
      await db.transaction(async (tx) => {
        for await (const batch of store.readAll(START, { batchSize, within: tx })) events.push(...batch);
      });
      return events.map((e) => e.position.commit);
    };
    expect(await read(100)).toEqual(expected);
    expect(await read(2)).toEqual(expected);
  });
});
