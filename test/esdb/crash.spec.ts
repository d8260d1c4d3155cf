import { ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { EventStoreDbEventStore } from '../../src/adapters/eventstoredb/eventstoredb-event-store';
import { SubscriptionProjector } from '../../src/adapters/eventstoredb/subscription-projector';
import { Database } from '../../src/ports/database';
import { comparePositions, Position, RecordedEvent } from '../../src/ports/event-store';
import { readCheckpoint, rebuild } from '../../projections/catch-up';
import { TEST_DATABASE_URL } from '../support/postgres';
import { readTables } from '../support/read-tables';
import { EsdbUnderTest, migratedPostgres, originOf, startEsdb, writerOver } from './support';
import { compiledPath } from '../support/compiled';

/**
 * A projector process is killed (SIGKILL) while a batch is half written: PostgreSQL rolls the open
 * transaction back, so the read tables hold exactly the events up to the stored checkpoint. A new
 * projector resumes there, and the tables end up equal to a full rebuild.
 */
describe('a projector killed mid-batch', () => {
  let esdb: EsdbUnderTest;
  let store: EventStoreDbEventStore;
  let db: Database;
  let cleanupDb: () => Promise<void>;
  let child: ChildProcess | null = null;
  let origin: Position;

  beforeEach(async () => {
    esdb = await startEsdb();
    store = EventStoreDbEventStore.connect(esdb.connectionString);
    ({ db, cleanup: cleanupDb } = await migratedPostgres(3));
    origin = await originOf(esdb.connectionString);
    if (origin.commit > 0n) await db.query(
      `INSERT INTO projection_checkpoints (name, commit_position, prepare_position) VALUES ('interactions', $1, $2)`,
      [origin.commit.toString(), origin.prepare.toString()],
    );
  });
  afterEach(async () => {
    child?.kill('SIGKILL');
    await store.close();
    await esdb.close();
    await cleanupDb();
  });

  it('leaves the tables at its last committed batch; after a restart they equal a full rebuild', async () => {
    const write = writerOver(store);
    for (let i = 0; i < 30; i++) await write.create(`crash ${i}`, ['Party']); // 60 events, batches of 10

    child = spawn(
      process.execPath,
      [compiledPath(join(__dirname, 'crash-child.ts')), esdb.connectionString, db.schema],
      { env: { ...process.env, TEST_DATABASE_URL }, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child!.once('exit', (_code, signal) => resolve(signal)));
    let killedInBatch = false;
    for await (const line of createInterface({ input: child.stdout! })) {
      if (line === 'in-batch 3') {
        child.kill('SIGKILL'); // batches 1 and 2 are committed, batch 3 is written but not committed
        killedInBatch = true;
        break;
      }
    }
    expect(killedInBatch).toBe(true);
    expect(await exited).toBe('SIGKILL');

    // The checkpoint is the end of a committed batch, and the tables hold exactly the events up to it.
    const checkpoint = await readCheckpoint(db);
    const log: RecordedEvent[] = [];
    for await (const batch of store.readAll(origin)) log.push(...batch);
    expect(log).toHaveLength(60);
    const applied = log.filter((e) => comparePositions(e.position, checkpoint) <= 0);
    expect(applied.length).toBeGreaterThan(0); // two batches (of whatever had arrived, at most 10)
    expect(applied.length).toBeLessThan(log.length);
    expect(applied[applied.length - 1]!.position).toEqual(checkpoint);
    const interactions = await db.query<{ n: string }>('SELECT count(*) AS n FROM interactions');
    expect(Number(interactions.rows[0]!.n)).toBe(applied.filter((e) => e.type === 'InteractionLogged').length);

    const restarted = new SubscriptionProjector(db, store).start();
    try {
      expect(await restarted.waitFor(log[log.length - 1]!.position, 10_000)).toBe('reached');
    } finally {
      await restarted.stop();
    }
    const live = await readTables(db);
    await rebuild(db, store);
    expect(await readTables(db)).toEqual(live);
    expect(live.interactions).toHaveLength(30);
  }, 120_000); // a child process to start: slow on a loaded machine
});
