import { EventBus } from '@nestjs/cqrs';
import { uuidv7 } from 'uuidv7';
import { InteractionUnavailableError } from '../../src';
import { PgDatabase } from '../../src/adapters/postgres/database';
import { PostgresEventStore } from '../../src/adapters/postgres/postgres-event-store';
import { InteractionWriter } from '../../src/nest/interaction-writer';
import { UnknownOutcomes } from '../../src/nest/unknown-outcomes';
import { Database } from '../../src/ports/database';
import { AppendResult, EventStore, Position, StreamSession, UNKNOWN_POSITION } from '../../src/ports/event-store';
import { AsyncProjection } from '../../src/nest/read-your-writes';
import { newStreamProjection, projectEvents } from '../../projections/interactions.projection';
import { migratedDatabase } from '../support/backends';
import { InMemoryContactDirectory } from '../support/directories';
import { TEST_DATABASE_URL } from '../support/postgres';
import { Client } from 'pg';

/**
 * An append whose acknowledgement was lost (the connection dropped while it committed) is resolved by
 * reading the stream back by event id: landed means the command succeeded, absent means nothing was written.
 */
describe('appends of unknown outcome', () => {
  let db: Database;
  let cleanup: () => Promise<void>;
  const contacts = new InMemoryContactDirectory();
  const contactUuid = contacts.add({ uuid: uuidv7(), name: 'Ada' }).uuid;
  const lost = () => new InteractionUnavailableError('connection lost while committing', 'unknown');
  const published: unknown[] = [];
  const eventBus = { publishAll: (events: unknown[]) => published.push(...events) } as unknown as EventBus;

  let unknownOutcomes: UnknownOutcomes;
  beforeEach(async () => {
    unknownOutcomes = new UnknownOutcomes();
    ({ db, cleanup } = await migratedDatabase());
  });
  afterEach(async () => {
    await unknownOutcomes.stop();
    await cleanup();
  });

  /** The PostgreSQL store, with `fault` standing between the writer and its appends. */
  function writerWith(fault: (store: PostgresEventStore) => Partial<EventStore>, projection: AsyncProjection | null = null): InteractionWriter {
    const store = new PostgresEventStore(db, projectEvents, async (events) => newStreamProjection(events));
    const faulty = Object.assign(Object.create(store) as EventStore, fault(store));
    return new InteractionWriter(faulty, db, { contacts, staff: null }, eventBus, unknownOutcomes, projection);
  }

  /**
   * A create appends in one of two ways: in a stream session (its transaction), or as one statement
   * (createStream). Each way, the append lands and its answer is lost, or it is lost before landing.
   */
  const ways: Array<[string, { landed: (store: PostgresEventStore) => Partial<EventStore>; lostBefore: (store: PostgresEventStore) => Partial<EventStore> }]> = [
    [
      'in a stream session',
      {
        landed: (store) => ({
          createStream: undefined,
          withStream: async (name, work) => {
            await store.withStream(name, work);
            throw lost(); // committed, but the acknowledgement never arrived
          },
        }),
        lostBefore: (store) => ({
          createStream: undefined,
          withStream: (name, work) =>
            store.withStream(name, (session) => work({ ...session, appendToStream: () => Promise.reject(lost()) } as StreamSession)),
        }),
      },
    ],
    [
      'as one statement',
      {
        landed: (store) => ({
          createStream: async (name, events, also) => {
            await store.createStream(name, events, also);
            throw lost();
          },
        }),
        lostBefore: () => ({ createStream: () => Promise.reject(lost()) }),
      },
    ],
  ];

  const create = (writer: InteractionWriter) =>
    writer.execute(
      {
        kind: 'create',
        interactionUuid: uuidv7(),
        attrs: {
          contactUuid,
          interactionType: 'call',
          occurredAt: new Date('2026-11-30T10:00:00Z'),
          subject: 'Unknown outcome',
          body: null,
          ownerUserUuid: null,
          metadata: {},
        },
        parties: [],
        fileUuids: [],
      },
      {},
      new Date(),
    );

  const countEvents = async () => Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM events', [])).rows[0]!.n);

  describe.each(ways)('%s', (_way, { landed, lostBefore }) => {
    it('succeeds when the append landed', async () => {
      published.length = 0;
      const state = await create(writerWith(landed));
      expect(state.interaction?.subject).toBe('Unknown outcome');
      expect(await countEvents()).toBe(2);
      expect(published).toHaveLength(2);
    });

    it('reports committed: false when the append did not land', async () => {
      await expect(create(writerWith(lostBefore))).rejects.toMatchObject({ name: 'InteractionUnavailableError', committed: false });
      expect(await countEvents()).toBe(0);
    });

    it("stays 'unknown' while the stream cannot be read back", async () => {
      const down = { readStream: async () => Promise.reject(new InteractionUnavailableError('still down', false)) };
      const appending = writerWith((store) => ({ ...lostBefore(store), ...down }));
      await expect(create(appending)).rejects.toMatchObject({ committed: 'unknown' });
    });
  });

  it("waits for the log's head when the stream read back gives its events no position", async () => {
    // EventStoreDB servers that report no positions on stream reads: a wait for the unknown position
    // would never end, so read-your-writes waits for the head, which is at or after the events.
    const head: Position = { commit: 4_242n, prepare: 4_242n };
    const waitedFor: Position[] = [];
    const projection = {
      afterAppend: async (result: AppendResult) => void waitedFor.push(result.position),
    } as unknown as AsyncProjection;
    const writer = writerWith(
      (store) => ({
        ...ways[0]![1].landed(store),
        readStream: async (name) => (await store.readStream(name)).map((event) => ({ ...event, position: UNKNOWN_POSITION })),
        headPosition: async () => head,
      }),
      projection,
    );
    const state = await create(writer);
    expect(state.interaction?.subject).toBe('Unknown outcome');
    expect(waitedFor).toEqual([head]);
  });

  it('reports committed: false when no append was attempted', async () => {
    const writer = writerWith(() => ({
      createStream: undefined,
      withStream: async () => {
        throw lost();
      },
    }));
    // No append was attempted here, so the writer knows nothing was written.
    await expect(create(writer)).rejects.toMatchObject({ committed: false });
  });

  it("PgDatabase reports a statement in autocommit cut off by a lost connection as 'unknown', and stays usable", async () => {
    const pg = new PgDatabase({ connectionString: TEST_DATABASE_URL, schema: db.schema, max: 2 });
    try {
      const error = await pg.autocommit('SELECT pg_terminate_backend(pg_backend_pid())', []).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InteractionUnavailableError);
      expect((error as InteractionUnavailableError).committed).toBe('unknown');
      expect((await pg.query('SELECT 1 AS one', [])).rows).toEqual([{ one: 1 }]);
    } finally {
      await pg.close();
    }
  });

  it("PgDatabase reports a connection lost while COMMIT was under way as 'unknown', one lost before it as false, and stays usable", async () => {
    const pg = new PgDatabase({ connectionString: TEST_DATABASE_URL, schema: db.schema, max: 2 });
    const admin = new Client({ connectionString: TEST_DATABASE_URL });
    await admin.connect();
    const terminate = (pid: number) => admin.query('SELECT pg_terminate_backend($1)', [pid]);
    try {
      // COMMIT sent, its answer lost: the server runs a deferred trigger at COMMIT, and is ended meanwhile.
      const whileCommitting = await pg
        .transaction(async (tx) => {
          const { rows } = await tx.query<{ pid: number }>('SELECT pg_backend_pid() AS pid', []);
          await tx.query('CREATE TEMP TABLE slow_commit (x int)', []);
          await tx.query('CREATE FUNCTION pg_temp.sleep_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(5); RETURN NULL; END $$', []);
          await tx.query(
            'CREATE CONSTRAINT TRIGGER slow AFTER INSERT ON slow_commit DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION pg_temp.sleep_at_commit()',
            [],
          );
          await tx.query('INSERT INTO slow_commit VALUES (1)', []);
          setTimeout(() => void terminate(rows[0]!.pid), 500); // COMMIT is sent once this function returns
        })
        .catch((e: unknown) => e);
      expect(whileCommitting).toBeInstanceOf(InteractionUnavailableError);
      expect((whileCommitting as InteractionUnavailableError).committed).toBe('unknown');
      // The connection known lost before COMMIT: that COMMIT never left, and the server rolled back.
      const before = await pg
        .transaction(async (tx) => {
          const { rows } = await tx.query<{ pid: number }>('SELECT pg_backend_pid() AS pid', []);
          await terminate(rows[0]!.pid);
          await new Promise((resolve) => setTimeout(resolve, 100));
        })
        .catch((e: unknown) => e);
      expect(before).toBeInstanceOf(InteractionUnavailableError);
      expect((before as InteractionUnavailableError).committed).toBe(false);
      expect((await pg.query('SELECT 1 AS one', [])).rows).toEqual([{ one: 1 }]);
    } finally {
      await admin.end();
      await pg.close();
    }
  });
});
