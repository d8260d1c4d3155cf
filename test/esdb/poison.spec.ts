import { jsonEvent } from '@eventstore/db-client';
import { randomUUID } from 'node:crypto';
import { uuidv7 } from 'uuidv7';
import { InteractionsMaintenance, registerUpcaster, unregisterUpcaster } from '../../src';
import { ErasingEventStore } from '../../src/adapters/erasure/erasing-event-store';
import { EventStoreDbEventStore } from '../../src/adapters/eventstoredb/eventstoredb-event-store';
import { backoffDelay, SubscriptionProjector } from '../../src/adapters/eventstoredb/subscription-projector';
import { SubscriptionReadYourWrites } from '../../src/nest/read-your-writes';
import { Database, Queryable } from '../../src/ports/database';
import { rebuild } from '../../projections/catch-up';
import { loggedData, partiesRebuiltData, partyData, updatedData, updatedV0 } from '../support/poison';
import { readTables } from '../support/read-tables';
import { EsdbUnderTest, eventually, migratedPostgres, originOf, startEsdb } from './support';

/**
 * Poison events through EventStoreDB (CONTRACT.md "Poison events are parked"): raw events appended with the
 * client, as another deploy or another module would, reach the SubscriptionProjector, which parks them and
 * goes on; and its back-off when a batch does fail.
 */

const recordedAt = () => new Date().toISOString();
const metadata = (overrides: Record<string, unknown> = {}) => ({
  actorUuid: null,
  correlationId: randomUUID(),
  causationId: null,
  recordedAt: recordedAt(),
  ...overrides,
});

const logged = loggedData;
const updated = updatedData;

describe('poison events through EventStoreDB', () => {
  let esdb: EsdbUnderTest;
  let store: EventStoreDbEventStore;
  let db: Database;
  let cleanupDb: () => Promise<void>;
  let projector: SubscriptionProjector | null;

  beforeEach(async () => {
    esdb = await startEsdb();
    store = EventStoreDbEventStore.connect(esdb.connectionString);
    ({ db, cleanup: cleanupDb } = await migratedPostgres(5));
    const origin = await originOf(esdb.connectionString);
    if (origin.commit > 0n) {
      await db.query(`INSERT INTO projection_checkpoints (name, commit_position, prepare_position) VALUES ('interactions', $1, $2)`, [
        origin.commit.toString(),
        origin.prepare.toString(),
      ]);
    }
    projector = null;
  });
  afterEach(async () => {
    unregisterUpcaster(updatedV0);
    await projector?.stop();
    await store.close();
    await esdb.close();
    await cleanupDb();
  });

  async function append(stream: string, type: string, data: unknown, meta: Record<string, unknown> = metadata()): Promise<void> {
    await store.client.appendToStream(stream, jsonEvent({ type, data: data as never, metadata: meta as never }));
  }

  function start(on: Database = db, options: ConstructorParameters<typeof SubscriptionProjector>[2] = {}): InteractionsMaintenance {
    projector = new SubscriptionProjector(on, store, { retry: { initialMs: 20, maxMs: 200 }, ...options }).start();
    return new InteractionsMaintenance(on, store, new SubscriptionReadYourWrites(projector, null), {
      database: { connectionString: '' },
      eventStore: { kind: 'eventstoredb', connectionString: esdb.connectionString },
    });
  }

  async function caughtUp(): Promise<void> {
    expect(await projector!.waitFor(await store.headPosition(), 10_000)).toBe('reached');
  }

  async function subjectOf(uuid: string): Promise<string | null | undefined> {
    const { rows } = await db.query<{ subject: string | null }>('SELECT subject FROM interactions WHERE uuid = $1', [uuid]);
    return rows[0]?.subject;
  }

  it('parks unknown type, bad data, wrong-stream data and missing recordedAt, skips a foreign stream, keeps projecting; rebuild agrees', async () => {
    const maintenance = start();
    const [first, p1, p2, p3, p4, last] = Array.from({ length: 6 }, () => uuidv7()) as [string, string, string, string, string, string];
    await append(`interaction-${first}`, 'InteractionLogged', logged(first, 'first'));
    await append(`interaction-${p1}`, 'InteractionLogged', logged(p1, 'P1'));
    await append(`interaction-${p1}`, 'InteractionArchived', { schemaVersion: 1, interactionUuid: p1 });
    await append(`interaction-${p1}`, 'InteractionUpdated', updated(p1, { subject: 'behind' }));
    await append(`interaction-${p2}`, 'InteractionLogged', logged(p2, 'P2'));
    await append(`interaction-${p2}`, 'InteractionUpdated', updated(p2, { occurredAt: 'yesterday' }));
    await append(`interaction-${p3}`, 'InteractionLogged', logged(first, 'names first'));
    const { recordedAt: _, ...noTime } = metadata();
    await append(`interaction-${p4}`, 'InteractionLogged', logged(p4, 'P4'), noTime);
    await append('interaction-settings', 'SettingsChanged', { theme: 'dark' });
    await append(`interaction-${last}`, 'InteractionLogged', logged(last, 'last'));
    await caughtUp();

    expect(await subjectOf(first)).toBe('first');
    expect(await subjectOf(last)).toBe('last'); // the projection went on past every poison event
    expect(await subjectOf(p1)).toBe('P1');
    expect(await subjectOf(p2)).toBe('P2');
    expect(await subjectOf(p3)).toBeUndefined();
    expect(await subjectOf(p4)).toBeUndefined();
    const parked = await maintenance.parkedEvents();
    expect(parked.map((p) => [p.streamName, p.revision, p.type, p.error])).toEqual([
      [`interaction-${p1}`, 1, 'InteractionArchived', expect.stringMatching(/unknown event type/)],
      [`interaction-${p1}`, 2, 'InteractionUpdated', 'behind the parked event at revision 1'],
      [`interaction-${p2}`, 1, 'InteractionUpdated', expect.stringMatching(/occurredAt/)],
      [`interaction-${p3}`, 0, 'InteractionLogged', `data names interaction ${first}, not ${p3} of its stream`],
      [`interaction-${p4}`, 0, 'InteractionLogged', 'metadata has no usable recordedAt'],
    ]);
    // Nothing was retried: a poison event no longer fails the batch.
    expect(projector!.status()).toMatchObject({ connected: true, reconnects: 0, lastError: null });
    const health = await maintenance.health();
    expect(health).toMatchObject({
      status: 'degraded',
      database: { up: true },
      eventStore: { kind: 'eventstoredb', up: true },
      projection: { mode: 'subscription', caughtUp: true, parked: 5 },
    });

    const live = await readTables(db);
    await projector!.stop();
    await rebuild(db, store, { batchSize: 3 });
    expect(await readTables(db)).toEqual(live);
    expect((await maintenance.parkedEvents()).map(({ parkedAt: _at, ...rest }) => rest)).toEqual(
      parked.map(({ parkedAt: _at, ...rest }) => rest),
    );
  });

  it('parks parties the schemas refuse (two at one position, one linked to a contact and a staff person), keeps projecting; rebuild agrees', async () => {
    const maintenance = start();
    const [twice, both, last] = Array.from({ length: 3 }, () => uuidv7()) as [string, string, string];
    await append(`interaction-${twice}`, 'InteractionLogged', logged(twice, 'twice'));
    // The read tables key a party by its position: applied, the second row would be refused (23505), batch after batch.
    await append(`interaction-${twice}`, 'PartiesRebuilt', partiesRebuiltData(twice, [partyData(0), partyData(0)]));
    await append(`interaction-${both}`, 'InteractionLogged', logged(both, 'both'));
    await append(`interaction-${both}`, 'PartiesRebuilt', partiesRebuiltData(both, [partyData(0, { contactUuid: uuidv7(), staffPersonUuid: uuidv7() })]));
    await append(`interaction-${last}`, 'InteractionLogged', logged(last, 'last'));
    await caughtUp();

    expect(await subjectOf(last)).toBe('last');
    expect((await maintenance.parkedEvents()).map((p) => [p.streamName, p.revision, p.type, p.error])).toEqual([
      [`interaction-${twice}`, 1, 'PartiesRebuilt', expect.stringMatching(/positions must be unique/)],
      [`interaction-${both}`, 1, 'PartiesRebuilt', expect.stringMatching(/must not link both contactUuid and staffPersonUuid/)],
    ]);
    expect(projector!.status()).toMatchObject({ connected: true, reconnects: 0, lastError: null });

    const live = await readTables(db);
    await projector!.stop();
    await rebuild(db, store, { batchSize: 2 });
    expect(await readTables(db)).toEqual(live);
  });

  it('parks an event sealed under a key id PostgreSQL cannot take as a uuid (another writer’s), keeps projecting; rebuild agrees', async () => {
    const erasing = new ErasingEventStore(store, db);
    const maintenance = start(db, { open: (events) => erasing.open(events) });
    const [first, poisoned, last] = Array.from({ length: 3 }, () => uuidv7()) as [string, string, string];
    await append(`interaction-${first}`, 'InteractionLogged', logged(first, 'first'));
    const { subject: _, ...unsealed } = logged(poisoned, 'hidden');
    await append(`interaction-${poisoned}`, 'InteractionLogged', { ...unsealed, sealed: { key: 'not-a-uuid', box: 'AAAA', fields: ['subject'] } });
    await append(`interaction-${last}`, 'InteractionLogged', logged(last, 'last'));
    await caughtUp();

    expect(await subjectOf(last)).toBe('last');
    expect(await subjectOf(poisoned)).toBeUndefined();
    expect((await maintenance.parkedEvents()).map((p) => [p.streamName, p.revision, p.type, p.error])).toEqual([
      [`interaction-${poisoned}`, 0, 'InteractionLogged', expect.stringMatching(/sealed/)],
    ]);
    expect(projector!.status()).toMatchObject({ connected: true, reconnects: 0, lastError: null });

    const live = await readTables(db);
    await projector!.stop();
    await rebuild(db, erasing, { batchSize: 2 });
    expect(await readTables(db)).toEqual(live);
  });

  it('retry after a fix (an upcaster registered) applies the parked events and health returns to ok', async () => {
    const maintenance = start();
    const [g, h] = [uuidv7(), uuidv7()];
    await append(`interaction-${g}`, 'InteractionLogged', logged(g, 'G'));
    await append(`interaction-${g}`, 'InteractionUpdated', updated(g, { kind: 'meeting' }, 0));
    await append(`interaction-${g}`, 'InteractionUpdated', updated(g, { subject: 'after the v0 event' }));
    await append(`interaction-${h}`, 'InteractionLogged', logged(h, 'H'));
    await caughtUp();
    expect((await maintenance.parkedEvents()).map((p) => [p.revision, p.error])).toEqual([
      [1, expect.stringMatching(/no upcaster from schemaVersion 0/)],
      [2, 'behind the parked event at revision 1'],
    ]);
    expect(await maintenance.health()).toMatchObject({ status: 'degraded', projection: { parked: 2 } });
    expect(await subjectOf(g)).toBe('G');

    registerUpcaster(updatedV0);
    expect(await maintenance.retryParked()).toEqual({ applied: 2, stillParked: 0 });
    expect(await subjectOf(g)).toBe('after the v0 event');
    const { rows } = await db.query('SELECT interaction_type, version FROM interactions WHERE uuid = $1', [g]);
    expect(rows).toEqual([{ interaction_type: 'meeting', version: '2' }]);
    expect(await maintenance.health()).toMatchObject({ status: 'ok', projection: { parked: 0, caughtUp: true } });

    // Later events of the repaired stream apply directly again.
    await append(`interaction-${g}`, 'InteractionUpdated', updated(g, { subject: 'live again' }));
    await caughtUp();
    expect(await subjectOf(g)).toBe('live again');
    const live = await readTables(db);
    await projector!.stop();
    await rebuild(db, store);
    expect(await readTables(db)).toEqual(live);
  });

  it('a projection failure is not the event store being down', async () => {
    const broken = failingTransactions(db);
    const maintenance = start(broken.db, { retry: { initialMs: 50, maxMs: 50 } });
    await append(`interaction-${uuidv7()}`, 'InteractionLogged', logged(uuidv7(), 'x'));
    await eventually(async () => projector!.status().reconnects, (n) => n >= 1);
    const health = await maintenance.health();
    expect(health.eventStore).toEqual({ kind: 'eventstoredb', up: true });
    expect(health.status).toBe('degraded');
    expect(health.projection.lastError).toMatch(/the read tables are unavailable/);
  });

  it('backs off exponentially with jitter while batches fail, and starts again from the initial wait after a batch applied', async () => {
    const broken = failingTransactions(db);
    const retries: { attempt: number; delayMs: number }[] = [];
    start(broken.db, {
      retry: { initialMs: 10, maxMs: 160 },
      random: () => 0.5,
      onError: (_error, retry) => retries.push(retry),
    });
    const u = uuidv7();
    await append(`interaction-${u}`, 'InteractionLogged', logged(u, 'first'));
    // Every retry reconnects (and is confirmed by the server) and fails its batch again: the wait still grows.
    await eventually(async () => retries.length, (n) => n >= 7, 10_000);
    expect(retries.slice(0, 7)).toEqual([
      { attempt: 1, delayMs: 8 },
      { attempt: 2, delayMs: 15 },
      { attempt: 3, delayMs: 30 },
      { attempt: 4, delayMs: 60 },
      { attempt: 5, delayMs: 120 },
      { attempt: 6, delayMs: 120 },
      { attempt: 7, delayMs: 120 },
    ]);

    broken.failing = false;
    await caughtUp();
    expect(await subjectOf(u)).toBe('first');
    retries.length = 0;
    broken.failing = true;
    const v = uuidv7();
    await append(`interaction-${v}`, 'InteractionLogged', logged(v, 'second'));
    await eventually(async () => retries.length, (n) => n >= 2);
    expect(retries.slice(0, 2)).toEqual([
      { attempt: 1, delayMs: 8 },
      { attempt: 2, delayMs: 15 },
    ]);
  });

  it('backoffDelay doubles up to the cap and takes a random part of the upper half', () => {
    const retry = { initialMs: 100, maxMs: 5000 };
    const ceilings = [1, 2, 3, 4, 5, 6, 7, 40].map((attempt) => backoffDelay(attempt, retry, () => 0.999999));
    expect(ceilings).toEqual([100, 200, 400, 800, 1600, 3200, 5000, 5000]);
    expect([1, 2, 7].map((attempt) => backoffDelay(attempt, retry, () => 0))).toEqual([50, 100, 2500]);
    const spread = new Set(Array.from({ length: 50 }, () => backoffDelay(3, retry)));
    expect(spread.size).toBeGreaterThan(10);
    expect(Math.min(...spread)).toBeGreaterThanOrEqual(200);
    expect(Math.max(...spread)).toBeLessThanOrEqual(400);
  });
});

/** A Database whose transactions fail while `failing` (the read tables' server refusing writes); reads work. */
function failingTransactions(inner: Database): { db: Database; failing: boolean } {
  const control = { failing: true } as { db: Database; failing: boolean };
  control.db = {
    get schema() {
      return inner.schema;
    },
    query: (text: string, params?: unknown[]) => inner.query(text, params),
    transaction: <T>(fn: (tx: Queryable) => Promise<T>): Promise<T> =>
      control.failing ? Promise.reject(new Error('the read tables are unavailable')) : inner.transaction(fn),
    close: () => inner.close(),
  } as Database;
  return control;
}
