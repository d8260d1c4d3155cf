import { Client } from 'pg';
import { uuidv7 } from 'uuidv7';
import { ErasingEventStore } from '../../src/adapters/erasure/erasing-event-store';
import { PostgresEventStore } from '../../src/adapters/postgres/postgres-event-store';
import { Queryable } from '../../src/ports/database';
import { AppendResult, EventStore, EventToAppend, RecordedEvent, StreamSession } from '../../src/ports/event-store';
import { ERASED } from '../../src/domain/interaction';
import { migratedDatabase } from '../support/backends';
import { eventMetadata, loggedData } from '../support/poison';
import { TEST_DATABASE_URL } from '../support/postgres';
import { recording } from '../support/recording';

/**
 * A log outside the module's database, as EventStoreDB is: no transaction, and a subscription in the same
 * process that opens what an append is still writing. `hold` keeps the next append from answering.
 */
class MemoryLog implements EventStore {
  readonly events: RecordedEvent[] = [];
  hold: Promise<void> | null = null;

  withStream<T>(streamName: string, work: (session: StreamSession) => Promise<T>): Promise<T> {
    return work({ tx: null, readStream: () => this.readStream(streamName), appendToStream: (events) => this.appendToStream(streamName, events) });
  }
  async appendToStream(streamName: string, events: EventToAppend[]): Promise<AppendResult> {
    const first = this.events.filter((e) => e.streamName === streamName).length;
    const recorded = events.map((e, i): RecordedEvent => {
      const position = BigInt(this.events.length + i);
      return { ...e, streamName, revision: first + i, position: { commit: position, prepare: position } } as RecordedEvent;
    });
    this.events.push(...recorded); // in the log, as a subscription sees it, before the append answers
    await this.hold;
    return { nextRevision: first + events.length - 1, position: recorded[recorded.length - 1]!.position, events: recorded };
  }
  async readStream(streamName: string): Promise<RecordedEvent[]> {
    return this.events.filter((e) => e.streamName === streamName);
  }
  async *readAll(): AsyncIterable<RecordedEvent[]> {
    yield this.events;
  }
  async headPosition(): Promise<RecordedEvent['position']> {
    return this.events[this.events.length - 1]!.position;
  }
  async close(): Promise<void> {}
}

const logged = (subject: string): [string, EventToAppend[]] => {
  const uuid = uuidv7();
  return [`interaction-${uuid}`, [{ id: uuidv7(), type: 'InteractionLogged', data: loggedData(uuid, subject), metadata: eventMetadata() }]];
};

describe('ErasingEventStore.open', () => {
  it('opens an event whose append ends while its batch is being opened (it never reads as erased)', async () => {
    const { db, cleanup } = await migratedDatabase();
    try {
      const log = new MemoryLog();
      const store = new ErasingEventStore(log, db);
      await store.appendToStream(...logged('Earlier call'), 'no_stream');

      // The subscription's batch: an earlier event (its key must be fetched) and one still being appended.
      let answer!: () => void;
      log.hold = new Promise((resolve) => (answer = resolve));
      const [stream, events] = logged('Call in flight');
      const appending = store.appendToStream(stream, events, 'no_stream');
      while (log.events.length < 2) await new Promise((resolve) => setImmediate(resolve));

      // The append answers while the batch's keys are being fetched.
      const racing: Queryable = {
        query: async (sql, params) => {
          answer();
          await appending;
          return db.query(sql, params);
        },
      } as Queryable;
      const opened = await store.open([...log.events], racing);
      expect(opened.map((e) => (e.data as { subject: string }).subject)).toEqual(['Earlier call', 'Call in flight']);
    } finally {
      await cleanup();
    }
  });
});

describe('ErasingEventStore: an update that the session read every key for', () => {
  it('seals with the keys read (no key statement), and still adds an owner the read did not find', async () => {
    const { db, cleanup } = await migratedDatabase();
    try {
      const statements: string[] = [];
      const store = new ErasingEventStore(new MemoryLog(), recording(db, statements));
      const [stream, events] = logged('First call');
      const uuid = stream.slice('interaction-'.length);
      await store.appendToStream(stream, events, 'no_stream');
      const update = (subject: string) =>
        store.withStream(stream, async (session) => {
          const read = await session.readStream();
          const changes = { subject };
          await session.appendToStream([{ id: uuidv7(), type: 'InteractionUpdated', data: { schemaVersion: 1, interactionUuid: uuid, changes }, metadata: eventMetadata() }], read.length - 1);
        });
      const ensured = () => statements.filter((text) => text.includes('INSERT INTO erasure_keys')).length;
      const contentOwners = () =>
        db.query<{ contact_uuid: string }>(
          `SELECT o.contact_uuid FROM erasure_key_owners o JOIN erasure_keys k USING (key_id) WHERE k.interaction_uuid = $1 AND k.tag = 'content'`,
          [uuid],
        );
      const subjects = async () => (await store.readStream(stream)).map((e) => (e.data as { changes?: { subject: string }; subject?: string }).changes?.subject ?? (e.data as { subject: string }).subject);

      expect(ensured()).toBe(1); // the create's
      await update('Second call');
      expect(ensured()).toBe(1); // the content key and its owner (the subject) were read with the stream
      expect(await subjects()).toEqual(['First call', 'Second call']);

      await db.query('DELETE FROM erasure_key_owners WHERE key_id IN (SELECT key_id FROM erasure_keys WHERE interaction_uuid = $1)', [uuid]);
      await update('Third call');
      expect(ensured()).toBe(2); // the read found the key without its owner: ensureKeys adds it back
      expect((await contentOwners()).rows.map((r) => r.contact_uuid)).toEqual(['0190d8a2-5a7e-7cc1-8f3e-aaaaaaaaaaaa']);

      await db.query('DELETE FROM erasure_keys WHERE interaction_uuid = $1', [uuid]);
      await update('Fourth call');
      expect(ensured()).toBe(3); // the key is gone (erased): a new one for what the update writes
      expect(await subjects()).toEqual([ERASED, ERASED, ERASED, 'Fourth call']);
    } finally {
      await cleanup();
    }
  });
});

/** An interaction logged through the erasure layer on the PostgreSQL store, whose statements are recorded. */
async function loggedOnPostgres() {
  const { db, cleanup } = await migratedDatabase();
  const statements: string[] = [];
  const store = new ErasingEventStore(new PostgresEventStore(recording(db, statements)), db);
  const [stream, events] = logged('First call');
  await store.appendToStream(stream, events, 'no_stream').catch(async (error: unknown) => {
    await cleanup();
    throw error;
  });
  return { db, cleanup, statements, store, stream, uuid: stream.slice('interaction-'.length) };
}

describe('ErasingEventStore on the PostgreSQL store: a session reads the keys with the stream, in one round trip', () => {
  it('without the stream lock: the read and the append in two autocommitted statements; an append that needs a key, or finds the lock held, runs again under it', async () => {
    const { db, cleanup, statements, store, stream, uuid } = await loggedOnPostgres();
    try {
      let tries = 0;
      const update = (subject: string) => {
        statements.length = 0;
        tries = 0;
        return store.withStream(
          stream,
          async (session) => {
            tries++;
            const read = await session.readStream();
            const data = { schemaVersion: 1, interactionUuid: uuid, changes: { subject } };
            await session.appendToStream([{ id: uuidv7(), type: 'InteractionUpdated', data, metadata: eventMetadata() }], read.length - 1);
          },
          { optimistic: true },
        );
      };

      await update('Second call');
      expect(tries).toBe(1);
      expect(statements).toEqual([expect.stringContaining('FROM events WHERE stream_name = $1'), expect.stringContaining('INSERT INTO events')]);

      // The read finds the content key without its owner: adding it takes a statement before the append.
      await db.query('DELETE FROM erasure_key_owners WHERE key_id IN (SELECT key_id FROM erasure_keys WHERE interaction_uuid = $1)', [uuid]);
      await update('Third call');
      expect(tries).toBe(2);
      expect(statements.filter((text) => text.includes('INSERT INTO events'))).toHaveLength(1);
      expect(statements.filter((text) => text.includes('lock_and_read_stream'))).toHaveLength(1);
      expect(statements.filter((text) => text.includes('INSERT INTO erasure_keys'))).toHaveLength(1);

      // A session holds the stream's lock: the statement takes it without waiting, so it writes nothing,
      // and the session runs again under the lock, after the holder.
      const holder = new Client({ connectionString: TEST_DATABASE_URL });
      await holder.connect();
      try {
        await holder.query('SELECT pg_advisory_lock(hashtextextended($1, 0))', [stream]);
        const fourth = update('Fourth call');
        for (const until = Date.now() + 10_000; ; ) {
          if (Date.now() > until) throw new Error('the session does not wait for the stream lock');
          const { rows } = await holder.query(
            `SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND ((classid::bigint << 32) | objid::bigint) = hashtextextended($1, 0)`,
            [stream],
          );
          if (rows.length > 0) break;
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
        await holder.query('SELECT pg_advisory_unlock(hashtextextended($1, 0))', [stream]);
        await fourth;
      } finally {
        await holder.end();
      }
      expect(tries).toBe(2);
      expect(statements.filter((text) => text.includes('INSERT INTO events'))).toHaveLength(2); // the first wrote nothing
      const subjects = (await store.readStream(stream)).map((e) => (e.data as { changes?: { subject: string }; subject?: string }).changes?.subject ?? (e.data as { subject: string }).subject);
      expect(subjects).toEqual(['First call', 'Second call', 'Third call', 'Fourth call']);
    } finally {
      await cleanup();
    }
  });

  it('a session queued on the stream lock opens what the holder appended under a key it made meanwhile', async () => {
    const { db, cleanup, statements, store, stream, uuid } = await loggedOnPostgres();
    try {
      const party = (rawName: string) => ({
        position: 0,
        rawName,
        contactUuid: null,
        staffPersonUuid: null,
        snapshot: { source: 'free_text', capturedAt: '2026-12-01T10:00:00Z' },
      });

      // A adds a party (a key of its own, made in its transaction) and holds the stream until released.
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      const holding = store.withStream(stream, async (session) => {
        await session.readStream();
        await session.appendToStream(
          [{ id: uuidv7(), type: 'PartiesRebuilt', data: { schemaVersion: 1, interactionUuid: uuid, parties: [party('Zed Newcomer')] }, metadata: eventMetadata() }],
          0,
        );
        await held;
      });
      // B reads the stream: it waits for A's lock.
      const reading = store.withStream(stream, (session) => session.readStream());
      // Watched from a connection of its own: A and B may hold every connection of the pool.
      const watcher = new Client({ connectionString: TEST_DATABASE_URL });
      await watcher.connect();
      try {
        for (;;) {
          const { rows } = await watcher.query(
            `SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
               AND ((classid::bigint << 32) | objid::bigint) = hashtextextended($1, 0)`,
            [stream],
          );
          if (rows.length > 0) break;
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
      } finally {
        await watcher.end();
      }
      release();
      await holding;
      const read = await reading;
      expect(read.map((e) => e.type)).toEqual(['InteractionLogged', 'PartiesRebuilt']);
      expect((read[1]!.data as { parties: { rawName: string }[] }).parties[0]!.rawName).toBe('Zed Newcomer');
      // Each read came with its keys in one statement; no key was read on its own.
      expect(statements.filter((text) => text.includes('interaction_keys_after_read'))).toHaveLength(2);
      expect(statements.filter((text) => /FROM erasure_keys k WHERE k\.key_id/.test(text))).toEqual([]);
    } finally {
      await cleanup();
    }
  });
});
