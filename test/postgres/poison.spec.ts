import { INestApplicationContext } from '@nestjs/common';
import { CqrsModule } from '@nestjs/cqrs';
import { Test } from '@nestjs/testing';
import { randomUUID } from 'node:crypto';
import { uuidv7 } from 'uuidv7';
import {
  InteractionsHealth,
  InteractionsMaintenance,
  InteractionsModule,
  InteractionsModuleOptions,
  InteractionsService,
  ParkedEvent,
  registerUpcaster,
  unregisterUpcaster,
} from '../../src';
import { ErasingEventStore } from '../../src/adapters/erasure/erasing-event-store';
import { PostgresEventStore } from '../../src/adapters/postgres/postgres-event-store';
import { HealthController } from '../../src/demo/health.controller';
import { Database } from '../../src/ports/database';
import { CatchUpProjector, rebuild, retryParked } from '../../projections/catch-up';
import { projectEvents, rowReadWithStream } from '../../projections/interactions.projection';
import { plainAppendProjection } from '../support/inline-projection';
import { Backend, BACKENDS } from '../support/backends';
import { InMemoryContactDirectory } from '../support/directories';
import { uniqueSchema } from '../support/postgres';
import { catchUpFully } from '../support/catch-up';
import { eventMetadata, loggedData, partiesRebuiltData, partyData, updatedData, updatedV0 } from '../support/poison';
import { readTables } from '../support/read-tables';

/**
 * Poison events in the PostgreSQL log (CONTRACT.md "Poison events are parked"). The module never writes
 * one (it parses before it appends), so they are inserted into the `events` table directly, as another
 * deploy, a manual fix or a bug would; the catch-up projector and rebuild meet them, and the inline
 * projection meets their streams.
 */

const metadata = eventMetadata;

/** What two runs of the projection must agree on: everything but the time of parking. */
const withoutTime = (parked: ParkedEvent[]) => parked.map(({ parkedAt: _, ...rest }) => rest);

describe.each(BACKENDS.map((backend): [string, Backend] => [backend.name, backend]))('poison events on %s', (_name, backend) => {
  let app: INestApplicationContext;
  let service: InteractionsService;
  let maintenance: InteractionsMaintenance;
  let db: Database;
  let store: ErasingEventStore;
  const contacts = new InMemoryContactDirectory();
  const ada = contacts.add({ uuid: uuidv7(), name: 'Ada' }).uuid;

  async function boot(options: Partial<InteractionsModuleOptions> = {}): Promise<void> {
    const schema = uniqueSchema('poison');
    const moduleRef = await Test.createTestingModule({
      imports: [
        CqrsModule.forRoot(),
        InteractionsModule.forRoot({ database: await backend.databaseOption(), schema, contactDirectory: contacts, ...options }),
      ],
    }).compile();
    app = await moduleRef.init();
    service = app.get(InteractionsService);
    maintenance = app.get(InteractionsMaintenance);
    db = await backend.open(schema);
    // As the module reads its log: sealed personal fields opened.
    store = new ErasingEventStore(new PostgresEventStore(db), db);
  }

  afterEach(async () => {
    unregisterUpcaster(updatedV0);
    await app?.close();
    await db?.close();
    await backend.dropSchema(db.schema);
  });

  /** An event written past the module, as another deploy or a manual fix would. */
  async function insertRaw(streamName: string, revision: number, type: string, data: unknown, meta: unknown = metadata()): Promise<void> {
    await db.query(
      `INSERT INTO events (event_id, stream_name, stream_revision, event_type, data, metadata)
       VALUES ($1, $2, $3, $4, $5::jsonb, $6::jsonb)`,
      [randomUUID(), streamName, revision, type, JSON.stringify(data), JSON.stringify(meta)],
    );
  }

  /** The catch-up projector from an empty checkpoint to the head (waiting out other transactions of the server). */
  async function catchUp(): Promise<void> {
    await catchUpFully(new CatchUpProjector(db, store), db, store, 3);
  }

  async function emptyReadModel(): Promise<void> {
    await db.query('TRUNCATE parked_events, interactions, interaction_parties, interaction_involvements, projection_checkpoints');
  }

  async function row(uuid: string): Promise<Record<string, unknown> | undefined> {
    const { rows } = await db.query('SELECT interaction_type, subject, body, version FROM interactions WHERE uuid = $1', [uuid]);
    return rows[0];
  }

  it('parks unknown type, bad data, wrong-stream data and missing recordedAt, skips a foreign stream, applies what comes after; rebuild agrees', async () => {
    await boot();
    const a = await service.createInteraction({ contactUuid: ada, subject: 'A' }); // revisions 0 and 1, inline
    await insertRaw(`interaction-${a.uuid}`, 2, 'InteractionArchived', { schemaVersion: 1, interactionUuid: a.uuid });
    await insertRaw(`interaction-${a.uuid}`, 3, 'InteractionUpdated', updatedData(a.uuid, { subject: 'behind the unknown type' }));
    const b = uuidv7();
    await insertRaw(`interaction-${b}`, 0, 'InteractionLogged', loggedData(b, 'B', ada));
    await insertRaw(`interaction-${b}`, 1, 'InteractionUpdated', updatedData(b, { interactionType: 'fax' }));
    await insertRaw(`interaction-${b}`, 2, 'InteractionUpdated', updatedData(b, { subject: 'behind the bad data' }));
    const c = uuidv7();
    await insertRaw(`interaction-${c}`, 0, 'InteractionLogged', loggedData(a.uuid, 'names A', ada)); // C's stream, A's uuid
    const d = uuidv7();
    const { recordedAt: _, ...noTime } = metadata();
    await insertRaw(`interaction-${d}`, 0, 'InteractionLogged', loggedData(d, 'D', ada), noTime);
    await insertRaw('interaction-settings', 0, 'SettingsChanged', { theme: 'dark' }); // another module's stream
    await insertRaw(`interaction-${uuidv7()}-draft`, 0, 'InteractionLogged', { whatever: true }); // not ours either
    const e = await service.createInteraction({ contactUuid: ada, subject: 'E' }); // after the poison, inline

    await emptyReadModel();
    await catchUp();
    const parked = await maintenance.parkedEvents();
    expect(parked.map((p) => [p.streamName, p.revision, p.type])).toEqual([
      [`interaction-${a.uuid}`, 2, 'InteractionArchived'],
      [`interaction-${a.uuid}`, 3, 'InteractionUpdated'],
      [`interaction-${b}`, 1, 'InteractionUpdated'],
      [`interaction-${b}`, 2, 'InteractionUpdated'],
      [`interaction-${c}`, 0, 'InteractionLogged'],
      [`interaction-${d}`, 0, 'InteractionLogged'],
    ]);
    expect(parked.map((p) => p.error)).toEqual([
      expect.stringMatching(/unknown event type/),
      'behind the parked event at revision 2',
      expect.stringMatching(/interactionType/),
      'behind the parked event at revision 1',
      `data names interaction ${a.uuid}, not ${c} of its stream`,
      'metadata has no usable recordedAt',
    ]);
    for (const p of parked) {
      expect(p.parkedAt).toBeInstanceOf(Date);
      expect(typeof p.position.commit).toBe('bigint');
    }
    // The projection went on: what precedes each parked event, and E after them all, are applied.
    expect(await row(a.uuid)).toEqual({ interaction_type: 'note', subject: 'A', body: null, version: '1' });
    expect(await row(b)).toEqual({ interaction_type: 'call', subject: 'B', body: null, version: '0' });
    expect(await row(c)).toBeUndefined();
    expect(await row(d)).toBeUndefined();
    expect(await row(e.uuid)).toMatchObject({ subject: 'E' });
    expect(await service.getInteraction(e.uuid)).toEqual(e);

    const health = await maintenance.health();
    expect(health).toMatchObject({ status: 'degraded', database: { up: true }, eventStore: { up: true }, projection: { parked: 6 } });

    // Rebuild meets the same events: it succeeds, and parks exactly the same.
    const live = await readTables(db);
    const summary = await maintenance.rebuild({ batchSize: 2 });
    expect(summary.events).toBe(13);
    expect(await readTables(db)).toEqual(live);
    expect(withoutTime(await maintenance.parkedEvents())).toEqual(withoutTime(parked));

    // The inline projection next to the poison: a new interaction applies, an append to a parked stream waits behind.
    const f = await service.createInteraction({ contactUuid: ada, subject: 'F' });
    expect(await service.getInteraction(f.uuid)).toEqual(f);
    // Its parked check made by the append's own statement (as the module wires it), and made on its own;
    // and an edit of both texts, which that statement would apply itself were the stream not parked.
    const cases = [
      [2, plainAppendProjection, { subject: 'inline, behind' }],
      [3, undefined, { subject: 'inline, behind' }],
      [4, plainAppendProjection, { subject: 'inline, behind', body: 'in the statement' }],
    ] as const;
    for (const [expected, projection, changes] of cases) {
      const inline = new PostgresEventStore(db, projectEvents, undefined, projection);
      await inline.appendToStream(
        `interaction-${b}`,
        [{ id: randomUUID(), type: 'InteractionUpdated', data: updatedData(b, changes), metadata: metadata() }],
        expected,
      );
    }
    // That edit, and an edit of one text (its row read with the stream), tried without the stream's lock as
    // the write side's first try is: the statement inserts nothing behind the parked event, and the session
    // runs again under the lock, which parks it.
    const unlocked = new PostgresEventStore(db, projectEvents, undefined, plainAppendProjection, rowReadWithStream);
    for (const changes of [{ subject: 'unlocked, behind', body: 'b' }, { body: 'unlocked, behind' }]) {
      let tries = 0;
      await unlocked.withStream(
        `interaction-${b}`,
        async (session) => {
          tries++;
          const read = await session.readStream();
          const event = { id: randomUUID(), type: 'InteractionUpdated', data: updatedData(b, changes), metadata: metadata() };
          return session.appendToStream([event], read[read.length - 1]!.revision);
        },
        { optimistic: true, projectionRead: true },
      );
      expect(tries).toBe(2);
    }
    expect(await row(b)).toMatchObject({ subject: 'B', version: '0' });
    expect((await maintenance.parkedEvents()).filter((p) => p.streamName === `interaction-${b}`).map((p) => [p.revision, p.error])).toEqual([
      [1, expect.stringMatching(/interactionType/)],
      [2, 'behind the parked event at revision 1'],
      [3, 'behind the parked event at revision 1'],
      [4, 'behind the parked event at revision 1'],
      [5, 'behind the parked event at revision 1'],
      [6, 'behind the parked event at revision 1'],
      [7, 'behind the parked event at revision 1'],
    ]);
    expect((await maintenance.health()).projection.parked).toBe(11);

    // Nothing of this can be fixed by an upcaster: a retry applies nothing and keeps them all.
    expect(await maintenance.retryParked()).toEqual({ applied: 0, stillParked: 11 });
    const afterRetry = await readTables(db);
    await maintenance.rebuild();
    expect(await readTables(db)).toEqual(afterRetry);
    expect((await maintenance.parkedEvents()).length).toBe(11);
  });

  it('retry after a fix (an upcaster registered) applies the parked events in stream order, health returns to ok, and the tables equal a rebuild', async () => {
    await boot();
    const g = uuidv7();
    const h = uuidv7();
    await insertRaw(`interaction-${g}`, 0, 'InteractionLogged', loggedData(g, 'G', ada));
    await insertRaw(`interaction-${g}`, 1, 'InteractionUpdated', updatedData(g, { kind: 'meeting', subject: 'v0 subject' }, 0));
    await insertRaw(`interaction-${g}`, 2, 'InteractionUpdated', updatedData(g, { body: 'after the v0 event' }));
    await insertRaw(`interaction-${h}`, 0, 'InteractionLogged', loggedData(h, 'H', ada));
    await insertRaw(`interaction-${h}`, 1, 'InteractionUpdated', updatedData(h, { kind: 'email' }, 0));
    const after = await service.createInteraction({ contactUuid: ada, subject: 'after' });

    await catchUp();
    expect((await maintenance.parkedEvents()).map((p) => [p.streamName, p.revision, p.error])).toEqual([
      [`interaction-${g}`, 1, expect.stringMatching(/no upcaster from schemaVersion 0/)],
      [`interaction-${g}`, 2, 'behind the parked event at revision 1'],
      [`interaction-${h}`, 1, expect.stringMatching(/no upcaster from schemaVersion 0/)],
    ]);
    expect(await maintenance.health()).toMatchObject({ status: 'degraded', projection: { parked: 3 } });
    expect(await row(g)).toEqual({ interaction_type: 'call', subject: 'G', body: null, version: '0' });

    registerUpcaster(updatedV0);
    expect(await maintenance.retryParked()).toEqual({ applied: 3, stillParked: 0 });
    expect(await row(g)).toEqual({ interaction_type: 'meeting', subject: 'v0 subject', body: 'after the v0 event', version: '2' });
    expect(await row(h)).toEqual({ interaction_type: 'email', subject: 'H', body: null, version: '1' });
    expect(await maintenance.parkedEvents()).toEqual([]);
    expect(await maintenance.health()).toMatchObject({ status: 'ok', projection: { parked: 0 } });
    expect(await maintenance.retryParked()).toEqual({ applied: 0, stillParked: 0 });

    // The same as a rebuild with the fix in place, and the write side and history read the upcast event too.
    const live = await readTables(db);
    await maintenance.rebuild();
    expect(await readTables(db)).toEqual(live);
    expect((await service.history(g))[1]!.data).toEqual({
      schemaVersion: 1,
      interactionUuid: g,
      changes: { subject: 'v0 subject', interactionType: 'meeting' },
    });
    const updated = await service.updateInteraction(g, { subject: 'after the fix' });
    expect(updated).toMatchObject({ interactionType: 'meeting', subject: 'after the fix', body: 'after the v0 event', version: 3 });
    expect(await service.getInteraction(after.uuid)).toEqual(after);
  });

  it('a forget whose event is parked while a retry reads the stream is applied with the rest, never left behind what was read before it', async () => {
    await boot();
    const dana = contacts.add({ uuid: uuidv7(), name: 'Dana' }).uuid;
    const { uuid: g, version } = await service.createInteraction({ contactUuid: dana, subject: "Dana's secret" });
    const v0 = version + 1;
    await insertRaw(`interaction-${g}`, v0, 'InteractionUpdated', updatedData(g, { kind: 'meeting' }, 0));
    await catchUp();
    expect((await maintenance.parkedEvents()).map((p) => p.revision)).toEqual([v0]);
    registerUpcaster(updatedV0);

    // Her forget lands between the retry's read of the stream (her subject still readable) and its locks:
    // her deletion is parked behind the v0 event.
    let forgotten = false;
    const racing = new Proxy(store, {
      get: (target, key) =>
        key === 'readStream'
          ? async (stream: string) => {
              const events = await target.readStream(stream);
              if (!forgotten) {
                forgotten = true;
                await expect(service.forgetContact(dana)).resolves.toEqual({ interactions: 1 });
                expect((await maintenance.parkedEvents()).map((p) => p.revision)).toEqual([v0, v0 + 1]);
              }
              return events;
            }
          : Reflect.get(target, key),
    });
    expect(await retryParked(db, racing)).toEqual({ applied: 2, stillParked: 0 });
    expect(await row(g)).toBeUndefined();
    expect(await maintenance.parkedEvents()).toEqual([]);
    const live = await readTables(db);
    await maintenance.rebuild();
    expect(await readTables(db)).toEqual(live);
  });

  it('an upcaster passed as a module option is used by the write side, the projection and history', async () => {
    await boot({ upcasters: [updatedV0] });
    const created = await service.createInteraction({ contactUuid: ada, subject: 'Optioned' });
    await insertRaw(`interaction-${created.uuid}`, 2, 'InteractionUpdated', updatedData(created.uuid, { kind: 'email' }, 0));
    await maintenance.rebuild();
    expect(await maintenance.parkedEvents()).toEqual([]);
    expect(await service.getInteraction(created.uuid)).toMatchObject({ interactionType: 'email', version: 2 });
    expect((await service.history(created.uuid))[2]!.data).toMatchObject({ schemaVersion: 1, changes: { interactionType: 'email' } });
    expect(await service.updateInteraction(created.uuid, { subject: 'Later' })).toMatchObject({ interactionType: 'email', version: 3 });
  });

  it('the v0 InteractionLogged fixture in the log is read upcast by the projection, the write side and history', async () => {
    await boot();
    const v0 = uuidv7();
    await insertRaw(`interaction-${v0}`, 0, 'InteractionLogged', {
      schemaVersion: 0,
      interactionUuid: v0,
      contactUuid: ada,
      kind: 'meeting',
      occurredAt: '2025-11-03T09:30:00Z',
      subject: 'Pre-release',
      body: null,
      ownerUserUuid: null,
      metadata: {},
    });
    await maintenance.rebuild();
    expect(await maintenance.parkedEvents()).toEqual([]);
    expect(await service.getInteraction(v0)).toMatchObject({ interactionType: 'meeting', subject: 'Pre-release', fileUuids: [], version: 0 });
    expect((await service.history(v0))[0]!.data).toMatchObject({ schemaVersion: 1, interactionType: 'meeting', fileUuids: [] });
    expect(await service.updateInteraction(v0, { body: 'Upcast' })).toMatchObject({ interactionType: 'meeting', body: 'Upcast', version: 1 });
  });

  it('an event the schemas accept but PostgreSQL refuses is parked by catch-up and rebuild, never retried forever', async () => {
    await boot();
    const k = uuidv7();
    const party = { rawName: 'Far', contactUuid: null, staffPersonUuid: null, snapshot: { source: 'free_text', capturedAt: '2026-04-01T10:00:00Z' } };
    await insertRaw(`interaction-${k}`, 0, 'InteractionLogged', loggedData(k, 'K', ada));
    // A position past PostgreSQL's integer: the party rows cannot hold it.
    await insertRaw(`interaction-${k}`, 1, 'PartiesRebuilt', { schemaVersion: 1, interactionUuid: k, parties: [{ ...party, position: 3_000_000_000 }] });
    await insertRaw(`interaction-${k}`, 2, 'InteractionUpdated', updatedData(k, { subject: 'behind' }));
    // A well-formed but impossible time of the event: the read tables cannot hold it either.
    const m = uuidv7();
    await insertRaw(`interaction-${m}`, 0, 'InteractionLogged', loggedData(m, 'M', ada), metadata({ recordedAt: '2026-02-30T10:00:00.000Z' }));
    const later = await service.createInteraction({ contactUuid: ada, subject: 'later' });

    await emptyReadModel();
    await catchUp();
    const parked = await maintenance.parkedEvents();
    expect(parked.map((p) => [p.streamName, p.revision, p.error])).toEqual([
      [`interaction-${k}`, 1, expect.stringMatching(/^refused by the database: .*out of range/)],
      [`interaction-${k}`, 2, 'behind the parked event at revision 1'],
      [`interaction-${m}`, 0, expect.stringMatching(/^refused by the database: .*out of range/)],
    ]);
    expect(await row(m)).toBeUndefined();
    expect(await row(k)).toEqual({ interaction_type: 'call', subject: 'K', body: null, version: '0' });
    expect(await service.getInteraction(later.uuid)).toEqual(later);

    const live = await readTables(db);
    await maintenance.rebuild({ batchSize: 2 });
    expect(await readTables(db)).toEqual(live);
    expect(withoutTime(await maintenance.parkedEvents())).toEqual(withoutTime(parked));
    expect(await maintenance.retryParked()).toEqual({ applied: 0, stillParked: 3 });
    expect(await readTables(db)).toEqual(live);
  });

  it('parks parties the schemas refuse (two at one position, one linked to a contact and a staff person), never retried forever', async () => {
    await boot();
    const [twice, both] = [uuidv7(), uuidv7()];
    await insertRaw(`interaction-${twice}`, 0, 'InteractionLogged', loggedData(twice, 'Twice', ada));
    // The read tables key a party by its position: applied, the second row would be refused (23505).
    await insertRaw(`interaction-${twice}`, 1, 'PartiesRebuilt', partiesRebuiltData(twice, [partyData(0), partyData(0)]));
    await insertRaw(`interaction-${both}`, 0, 'InteractionLogged', loggedData(both, 'Both', ada));
    await insertRaw(`interaction-${both}`, 1, 'PartiesRebuilt', partiesRebuiltData(both, [partyData(0, { contactUuid: ada, staffPersonUuid: uuidv7() })]));
    const later = await service.createInteraction({ contactUuid: ada, subject: 'later' });

    await emptyReadModel();
    await catchUp();
    const parked = await maintenance.parkedEvents();
    expect(parked.map((p) => [p.streamName, p.revision, p.error])).toEqual([
      [`interaction-${twice}`, 1, expect.stringMatching(/positions must be unique/)],
      [`interaction-${both}`, 1, expect.stringMatching(/must not link both contactUuid and staffPersonUuid/)],
    ]);
    expect(await row(twice)).toEqual({ interaction_type: 'call', subject: 'Twice', body: null, version: '0' });
    expect(await service.getInteraction(later.uuid)).toEqual(later);

    const live = await readTables(db);
    await maintenance.rebuild({ batchSize: 2 });
    expect(await readTables(db)).toEqual(live);
    expect(withoutTime(await maintenance.parkedEvents())).toEqual(withoutTime(parked));
  });

  it('as-of folds the events from the start up to the first recorded after the time, in a stream whose times go back', async () => {
    await boot();
    const k = uuidv7();
    // Written before writers kept a stream's times in order: revision 2 was recorded before revision 1.
    await insertRaw(`interaction-${k}`, 0, 'InteractionLogged', loggedData(k, 'first', ada), metadata({ recordedAt: '2026-04-01T10:00:10.000Z' }));
    await insertRaw(`interaction-${k}`, 1, 'InteractionUpdated', updatedData(k, { subject: 'second' }), metadata({ recordedAt: '2026-04-01T10:00:20.000Z' }));
    await insertRaw(`interaction-${k}`, 2, 'InteractionUpdated', updatedData(k, { body: 'third' }), metadata({ recordedAt: '2026-04-01T10:00:15.000Z' }));
    const at = (time: string) => service.getInteractionAsOf(k, new Date(time));
    expect(await at('2026-04-01T10:00:17Z')).toMatchObject({ subject: 'first', body: null, version: 0 });
    expect(await at('2026-04-01T10:00:20Z')).toMatchObject({ subject: 'second', body: 'third', version: 2 });
  });

  it('rebuild refuses a batch size that is not a positive integer and leaves the tables as they were', async () => {
    await boot();
    await service.createInteraction({ contactUuid: ada, subject: 'Kept' });
    const before = await readTables(db);
    for (const batchSize of [0, -5, 2.5, Number.NaN]) {
      await expect(rebuild(db, store, { batchSize })).rejects.toThrow(/batchSize must be a positive integer/);
    }
    expect(await readTables(db)).toEqual(before);
  });

  it('health is down when the database cannot be reached, with the reason', async () => {
    await boot();
    const unreachable: Database = {
      schema: db.schema,
      query: async () => {
        throw new Error('connect ECONNREFUSED');
      },
      transaction: async () => {
        throw new Error('connect ECONNREFUSED');
      },
      close: async () => undefined,
    };
    const down = new InteractionsMaintenance(unreachable, store, null, { database: { connectionString: '' } });
    expect(await down.health()).toMatchObject({
      status: 'down',
      database: { up: false, error: 'connect ECONNREFUSED' },
      projection: { parked: null },
    });
    expect(await maintenance.health()).toMatchObject({ status: 'ok', projection: { mode: 'inline', parked: 0 } });
  });
});

describe('GET /health', () => {
  const base: InteractionsHealth = {
    status: 'ok',
    database: { up: true },
    eventStore: { kind: 'eventstoredb', up: true },
    projection: {
      mode: 'subscription',
      caughtUp: true,
      parked: 0,
      lag: { head: { commit: 9n, prepare: 9n }, checkpoint: { commit: 9n, prepare: 9n } },
      lastError: null,
    },
  };

  async function answer(health: InteractionsHealth): Promise<{ code: number; body: Record<string, unknown> }> {
    const controller = new HealthController({ health: async () => health } as unknown as InteractionsMaintenance);
    let code = 200;
    const body = await controller.check({ status: (status: number) => (code = status) });
    return { code, body: body as Record<string, unknown> };
  }

  it('answers 200 for ok and degraded, 503 for down, with the details', async () => {
    expect(await answer(base)).toEqual({
      code: 200,
      body: {
        status: 'ok',
        info: {
          database: { status: 'up' },
          eventStore: { status: 'up', kind: 'eventstoredb' },
          projection: { status: 'up', mode: 'subscription', parked: 0, caughtUp: true, lag: 'caught up' },
        },
        error: {},
        details: expect.any(Object),
      },
    });

    const degraded = await answer({
      ...base,
      status: 'degraded',
      projection: { ...base.projection, parked: 3, lag: { head: { commit: 9n, prepare: 9n }, checkpoint: { commit: 7n, prepare: 7n } } },
    });
    expect(degraded.code).toBe(200);
    expect(degraded.body).toMatchObject({
      status: 'degraded',
      info: { database: { status: 'up' }, eventStore: { status: 'up' } },
      error: { projection: { status: 'degraded', parked: 3, lag: 'checkpoint 7/7, head 9/9' } },
    });

    const down = await answer({ ...base, status: 'down', eventStore: { kind: 'eventstoredb', up: false, error: 'connection refused' } });
    expect(down.code).toBe(503);
    expect(down.body).toMatchObject({
      status: 'down',
      info: { database: { status: 'up' } },
      error: { eventStore: { status: 'down', error: 'connection refused' } },
    });
  });
});
