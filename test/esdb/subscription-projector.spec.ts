import { jsonEvent } from '@eventstore/db-client';
import { uuidv7 } from 'uuidv7';
import { EventStoreDbEventStore } from '../../src/adapters/eventstoredb/eventstoredb-event-store';
import { SubscriptionProjector } from '../../src/adapters/eventstoredb/subscription-projector';
import { Database } from '../../src/ports/database';
import { comparePositions, Position } from '../../src/ports/event-store';
import { readCheckpoint, rebuild } from '../../projections/catch-up';
import {
  EsdbUnderTest,
  eventually,
  FaultyDatabase,
  itWithTestServer,
  migratedPostgres,
  originOf,
  startEsdb,
  writerOver,
} from './support';
import { readTables } from '../support/read-tables';

/**
 * The subscription projection: a catch-up subscription to `$all` (module prefix filter) from the stored
 * checkpoint, batches applied with their checkpoint in one PostgreSQL transaction, reconnection with
 * back-off, clean stop. "Correct" always means: the read tables equal a full rebuild from the log.
 */
describe('SubscriptionProjector', () => {
  let esdb: EsdbUnderTest;
  let store: EventStoreDbEventStore;
  let db: Database;
  let cleanupDb: () => Promise<void>;
  let projectors: SubscriptionProjector[];

  beforeEach(async () => {
    esdb = await startEsdb();
    store = EventStoreDbEventStore.connect(esdb.connectionString);
    ({ db, cleanup: cleanupDb } = await migratedPostgres(5));
    const origin = await originOf(esdb.connectionString);
    if (origin.commit > 0n) await db.query(
      `INSERT INTO projection_checkpoints (name, commit_position, prepare_position) VALUES ('interactions', $1, $2)`,
      [origin.commit.toString(), origin.prepare.toString()],
    );
    projectors = [];
  });
  afterEach(async () => {
    await Promise.all(projectors.map((p) => p.stop()));
    await store.close();
    await esdb.close();
    await cleanupDb();
  });

  function start(on: Database = db, options: ConstructorParameters<typeof SubscriptionProjector>[2] = {}): SubscriptionProjector {
    const projector = new SubscriptionProjector(on, store, { retry: { initialMs: 20, maxMs: 200 }, ...options }).start();
    projectors.push(projector);
    return projector;
  }

  async function head(): Promise<Position> {
    return store.headPosition();
  }

  async function caughtUp(projector: SubscriptionProjector): Promise<void> {
    const target = await head();
    expect(await projector.waitFor(target, 10_000)).toBe('reached');
    expect(await readCheckpoint(db)).toEqual(target);
  }

  /** The tables as they are, then rebuilt from the whole log: they must be the same. */
  async function expectEqualToRebuild(): Promise<void> {
    const live = await readTables(db);
    await rebuild(db, store);
    expect(await readTables(db)).toEqual(live);
  }

  it('applies the events already in the log, then live ones, and stores the checkpoint with them', async () => {
    const write = writerOver(store);
    const first = await write.create('before start', ['Ann', 'Bob']);
    const projector = start();
    await caughtUp(projector);
    expect(projector.status()).toMatchObject({ running: true, connected: true, caughtUp: true });

    await write.update(first, 'edited live');
    const second = await write.create('live');
    await write.remove(second);
    await caughtUp(projector);
    const { rows } = await db.query<{ uuid: string; subject: string }>('SELECT uuid, subject FROM interactions');
    expect(rows).toEqual([{ uuid: first, subject: 'edited live' }]);
    await projector.stop();
    await expectEqualToRebuild();
  });

  it('resumes after the stored checkpoint when started again: nothing lost, nothing applied twice', async () => {
    const write = writerOver(store);
    for (let i = 0; i < 5; i++) await write.create(`one ${i}`);
    const firstRun = start();
    await caughtUp(firstRun);
    await firstRun.stop();
    expect(firstRun.status().running).toBe(false);

    const uuids = [];
    for (let i = 0; i < 5; i++) uuids.push(await write.create(`two ${i}`));
    await write.update(uuids[0]!, 'changed while stopped');
    const counted = new FaultyDatabase(db);
    const secondRun = start(counted);
    await caughtUp(secondRun);
    const { rows } = await db.query<{ n: string }>('SELECT count(*) AS n FROM interactions');
    expect(Number(rows[0]!.n)).toBe(10);
    await secondRun.stop();
    await expectEqualToRebuild();
  });

  it('applies a backlog in batches, each one transaction', async () => {
    const write = writerOver(store);
    for (let i = 0; i < 60; i++) await write.create(`backlog ${i}`); // 120 events
    const counted = new FaultyDatabase(db);
    const projector = start(counted, { batchSize: 25 });
    await caughtUp(projector);
    expect(counted.commits).toBeGreaterThanOrEqual(5); // 120 events / at most 25 per batch
    expect(counted.commits).toBeLessThan(60);
    await projector.stop();
    await expectEqualToRebuild();
  });

  it('rolls a batch that fails part-way back entirely and applies it again on the retry', async () => {
    const write = writerOver(store);
    const faulty = new FaultyDatabase(db);
    // The first batch dies at its checkpoint write, after all its read-table writes.
    faulty.failAt = (sql) => /projection_checkpoints/.test(sql) && /DO UPDATE/.test(sql);
    for (let i = 0; i < 4; i++) await write.create(`batch ${i}`, ['Party']);
    const errors: unknown[] = [];
    const projector = start(faulty, { onError: (error) => errors.push(error) });
    await caughtUp(projector);
    expect(errors).toHaveLength(1);
    expect(String(errors[0])).toMatch(/injected failure at query \d+/);
    expect(projector.status().reconnects).toBeGreaterThanOrEqual(1);
    await projector.stop();
    await expectEqualToRebuild();
  });

  itWithTestServer('reconnects with back-off when the server goes away and catches up when it is back', async () => {
    const write = writerOver(store);
    await write.create('before the outage');
    const projector = start();
    await caughtUp(projector);

    await esdb.server!.kill();
    await eventually(async () => projector.status().connected, (connected) => !connected);
    await new Promise((resolve) => setTimeout(resolve, 300)); // a few failed attempts while it is away
    expect(projector.status().lastError).not.toBeNull();
    await esdb.server!.restart();

    const after = await eventually(
      () => write.create('after the outage').catch(() => null),
      (uuid) => uuid !== null,
    );
    expect(after).not.toBeNull();
    await caughtUp(projector);
    expect(projector.status()).toMatchObject({ connected: true });
    expect(projector.status().reconnects).toBeGreaterThanOrEqual(1);
    await projector.stop();
    await expectEqualToRebuild();
  });

  it("stores the server's checkpoints past other streams' events, so a restart does not read them again", async () => {
    const write = writerOver(store);
    await write.create('module event');
    const projector = start(db, { checkpointEveryMs: 0 });
    await caughtUp(projector);
    const afterModule = await readCheckpoint(db);
    for (let i = 0; i < 80; i++) {
      await store.client.appendToStream(`other-${uuidv7()}`, jsonEvent({ type: 'Unrelated', data: { i } }));
    }
    const checkpoint = await eventually(() => readCheckpoint(db), (p) => comparePositions(p, afterModule) > 0);
    expect(comparePositions(checkpoint, afterModule)).toBeGreaterThan(0);
    expect(comparePositions(projector.status().position, checkpoint)).toBeGreaterThanOrEqual(0);
  });

  it('tells a waiter when the position is reached, when time is up, and when it stopped', async () => {
    const write = writerOver(store);
    await write.create('first');
    const projector = start();
    await caughtUp(projector);
    const beyond = { commit: (await head()).commit + 1_000_000n, prepare: (await head()).prepare + 1_000_000n };
    expect(await projector.waitFor(await head(), 1000)).toBe('reached');
    expect(await projector.waitFor(beyond, 50)).toBe('timeout');
    const pending = projector.waitFor(beyond, 10_000);
    await projector.stop();
    expect(await pending).toBe('stopped');
    expect(await projector.waitFor(beyond, 10_000)).toBe('stopped');
  });

  itWithTestServer('closes its subscription on stop: the server has no call left open', async () => {
    const projector = start();
    await eventually(async () => projector.status().connected, Boolean);
    expect(esdb.server!.openCalls).toBeGreaterThan(0);
    await projector.stop();
    await store.close();
    expect(await eventually(async () => esdb.server!.openCalls, (n) => n === 0)).toBe(0);
  });
});
