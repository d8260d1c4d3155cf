import { EventBus } from '@nestjs/cqrs';
import { uuidv7 } from 'uuidv7';
import { InteractionUnavailableError } from '../../src';
import { PgDatabase } from '../../src/adapters/postgres/database';
import { PostgresEventStore } from '../../src/adapters/postgres/postgres-event-store';
import { InteractionWriter } from '../../src/nest/interaction-writer';
import { Database } from '../../src/ports/database';
import { EventStore, StreamSession } from '../../src/ports/event-store';
import { projectEvents } from '../../projections/interactions.projection';
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

  beforeEach(async () => ({ db, cleanup } = await migratedDatabase()));
  afterEach(() => cleanup());

  /** The PostgreSQL store, with `fault` standing between the writer and each stream session. */
  function writerWith(fault: (store: PostgresEventStore) => Partial<EventStore>): InteractionWriter {
    const store = new PostgresEventStore(db, projectEvents);
    const faulty = Object.assign(Object.create(store) as EventStore, fault(store));
    return new InteractionWriter(faulty, db, { contacts, staff: null }, eventBus);
  }

  /** Sessions whose append is lost before it reaches the server (nothing written, outcome unknown to the writer). */
  const appendsLost = (store: PostgresEventStore): EventStore['withStream'] => (name, work) =>
    store.withStream(name, (session) => work({ ...session, appendToStream: () => Promise.reject(lost()) } as StreamSession));

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

  it('succeeds when the append landed', async () => {
    published.length = 0;
    const writer = writerWith((store) => ({
      withStream: async (name, work) => {
        await store.withStream(name, work);
        throw lost(); // committed, but the acknowledgement never arrived
      },
    }));
    const state = await create(writer);
    expect(state.interaction?.subject).toBe('Unknown outcome');
    expect(await countEvents()).toBe(2);
    expect(published).toHaveLength(2);
  });

  it('reports committed: false when the append did not land', async () => {
    const writer = writerWith((store) => ({
      withStream: appendsLost(store),
    }));
    await expect(create(writer)).rejects.toMatchObject({ name: 'InteractionUnavailableError', committed: false });
    expect(await countEvents()).toBe(0);
  });

  it("stays 'unknown' while the stream cannot be read back", async () => {
    const writer = writerWith(() => ({
      withStream: async () => {
        throw lost();
      },
      readStream: async () => {
        throw new InteractionUnavailableError('still down', false);
      },
    }));
    // No append was attempted here, so the writer knows nothing was written.
    await expect(create(writer)).rejects.toMatchObject({ committed: false });
    const appending = writerWith((store) => ({
      withStream: appendsLost(store),
      readStream: async () => {
        throw new InteractionUnavailableError('still down', false);
      },
    }));
    await expect(create(appending)).rejects.toMatchObject({ committed: 'unknown' });
  });

  it("PgDatabase reports a connection lost before COMMIT's answer as 'unknown', and stays usable", async () => {
    const pg = new PgDatabase({ connectionString: TEST_DATABASE_URL, schema: db.schema, max: 2 });
    const admin = new Client({ connectionString: TEST_DATABASE_URL });
    await admin.connect();
    try {
      const error = await pg
        .transaction(async (tx) => {
          const { rows } = await tx.query<{ pid: number }>('SELECT pg_backend_pid() AS pid', []);
          await admin.query('SELECT pg_terminate_backend($1)', [rows[0]!.pid]);
          await new Promise((resolve) => setTimeout(resolve, 100));
        })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InteractionUnavailableError);
      expect((error as InteractionUnavailableError).committed).toBe('unknown');
      expect((await pg.query('SELECT 1 AS one', [])).rows).toEqual([{ one: 1 }]);
    } finally {
      await admin.end();
      await pg.close();
    }
  });
});
