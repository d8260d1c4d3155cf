import { Client, QueryResultRow } from 'pg';
import { uuidv7 } from 'uuidv7';
import { ErasingEventStore } from '../../src/adapters/erasure/erasing-event-store';
import { PostgresEventStore } from '../../src/adapters/postgres/postgres-event-store';
import { Queryable } from '../../src/ports/database';
import { AppendResult, EventStore, EventToAppend, RecordedEvent, StreamSession, WrongExpectedVersionError } from '../../src/ports/event-store';
import { addOwner, confirmClaim, moveAllOwnership, moveOwnership, recordClaim, setContentOwner, withdrawClaim } from '../../src/adapters/erasure/key-store';
import { partyTag } from '../../src/adapters/erasure/sealing';
import { InteractionUnavailableError } from '../../src/domain/errors';
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
  /** Thrown by the next append instead of writing. */
  failNext: Error | null = null;
  /** Thrown by the next append after writing: it landed, its answer was lost. */
  failNextAfterWrite: Error | null = null;
  /** Reads fail while set (the log out of reach). */
  unreachable = false;

  withStream<T>(streamName: string, work: (session: StreamSession) => Promise<T>): Promise<T> {
    return work({ tx: null, readStream: () => this.readStream(streamName), appendToStream: (events) => this.appendToStream(streamName, events) });
  }
  async appendToStream(streamName: string, events: EventToAppend[]): Promise<AppendResult> {
    const failure = this.failNext;
    this.failNext = null;
    if (failure) throw failure;
    const first = this.events.filter((e) => e.streamName === streamName).length;
    const recorded = events.map((e, i): RecordedEvent => {
      const position = BigInt(this.events.length + i);
      return { ...e, streamName, revision: first + i, position: { commit: position, prepare: position } } as RecordedEvent;
    });
    this.events.push(...recorded); // in the log, as a subscription sees it, before the append answers
    await this.hold;
    const lost = this.failNextAfterWrite;
    this.failNextAfterWrite = null;
    if (lost) throw lost;
    return { nextRevision: first + events.length - 1, position: recorded[recorded.length - 1]!.position, events: recorded };
  }
  async readStream(streamName: string): Promise<RecordedEvent[]> {
    if (this.unreachable) throw new InteractionUnavailableError('the log is out of reach', false);
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
      const subjects = async () => (await store.readStream(stream)).map((e) => (e.data as { changes?: { subject: string }; subject?: string }).changes?.subject ?? (e.data as { subject: string }).subject);

      expect(ensured()).toBe(1); // the create's
      await update('Second call');
      expect(ensured()).toBe(1); // the content key and its owner (the subject) were read with the stream
      expect(await subjects()).toEqual(['First call', 'Second call']);

      await db.query('DELETE FROM erasure_key_owners WHERE key_id IN (SELECT key_id FROM erasure_keys WHERE interaction_uuid = $1)', [uuid]);
      await update('Third call');
      expect(ensured()).toBe(2); // the read found the key without its owner: ensureKeys adds it back
      expect((await ownersOfKey(db, uuid, 'content')).map((r) => r.contact_uuid)).toEqual(['0190d8a2-5a7e-7cc1-8f3e-aaaaaaaaaaaa']);

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

describe('ErasingEventStore on a log outside the database: owners written before the append are claimed (migration 0013)', () => {
  const EVE = '0190d8a2-5a7e-7cc1-8f3e-aaaaaaaaaaaa'; // loggedData's subject
  const CORA = '0190d8a2-5a7e-7cc1-8f3e-cccccccccccc';
  const DAN = '0190d8a2-5a7e-7cc1-8f3e-dddddddddddd';
  type Moves = Awaited<ReturnType<typeof movedToCora>>;

  async function movedToCora() {
    const { db, cleanup } = await migratedDatabase();
    const log = new MemoryLog();
    // The statements of the store that fail from now on (`failFrom`), and the next one held until released (`holdNext`).
    let failing: RegExp | null = null;
    let held: { statements: RegExp; reached: () => void; released: Promise<void> } | null = null;
    const query = <R extends QueryResultRow>(target: Queryable, text: string, params?: unknown[]): Promise<{ rows: R[] }> => {
      if (failing?.test(text)) return Promise.reject(new Error('connection lost'));
      if (held?.statements.test(text)) {
        const { reached, released } = held;
        held = null;
        reached();
        return released.then(() => target.query<R>(text, params));
      }
      return target.query<R>(text, params);
    };
    const seen = new Proxy(db, {
      get: (target, property) => {
        if (property === 'query') return <R extends QueryResultRow>(text: string, params?: unknown[]) => query<R>(target, text, params);
        if (property === 'transaction') {
          return <T>(fn: (tx: Queryable) => Promise<T>) =>
            target.transaction((tx) => fn({ query: <R extends QueryResultRow>(text: string, params?: unknown[]) => query<R>(tx, text, params) }));
        }
        return Reflect.get(target, property);
      },
    });
    const store = new ErasingEventStore(log, seen);
    const [stream, events] = logged('Eve’s call');
    const uuid = stream.slice('interaction-'.length);
    await store.appendToStream(stream, events, 'no_stream');
    const appendOne = (type: string, data: Record<string, unknown>) =>
      store.withStream(stream, async (session) => {
        const read = await session.readStream();
        await session.appendToStream([{ id: uuidv7(), type, data: { schemaVersion: 1, interactionUuid: uuid, ...data }, metadata: eventMetadata() }], read.length - 1);
      });
    const moveTo = (contactUuid: string, also: Record<string, unknown> = {}) => appendOne('InteractionUpdated', { changes: { contactUuid, ...also } });
    /** A merge of `from` (the subject) into `into`, as the lifecycle's fan-out appends it. */
    const repoint = (from: string, into: string) =>
      appendOne('ContactRepointed', { fromContactUuid: from, intoContactUuid: into, subject: true, positions: [], decisionId: uuidv7() });
    const moveToCora = (also?: Record<string, unknown>) => moveTo(CORA, also);
    const edit = (changes: Record<string, unknown>) => appendOne('InteractionUpdated', { changes });
    const contentOwners = () => ownersOfKey(db, uuid, 'content');
    const failFrom = (statements: RegExp) => (failing = statements);
    const holdNext = (statements: RegExp) => {
      let release!: () => void;
      const released = new Promise<void>((resolve) => (release = resolve));
      const reached = new Promise<void>((resolve) => (held = { statements, reached: resolve, released }));
      return { reached, release };
    };
    // The appends recorded as unsettled (migration 0014): an append's own record goes when its claim is settled.
    const unsettled = async () => (await db.query<{ claim: string }>('SELECT claim FROM erasure_unsettled_appends ORDER BY claim')).rows.map((row) => row.claim);
    return { db, cleanup, log, store, uuid, moveTo, moveToCora, edit, repoint, contentOwners, unsettled, failFrom, holdNext, events: () => log.readStream(stream) };
  }

  it.each([
    ['its owner steps and the confirm', /SET subject_revision|SET claims = NULL/],
    ['its owner steps alone', /SET subject_revision/],
  ])('an append that landed succeeds though %s fail after it: what they leave errs toward erasing more, until the pass takes them again', async (_what, failing) => {
    const { cleanup, db, store, moveToCora, contentOwners, unsettled, events, failFrom } = await movedToCora();
    try {
      failFrom(failing);
      await moveToCora();
      expect((await events()).map((e) => e.type)).toEqual(['InteractionLogged', 'InteractionUpdated']);
      // Eve not dropped and Cora's claim not confirmed: a forget of either destroys the content key.
      expect(await contentOwners()).toEqual([
        { contact_uuid: EVE, claims: null },
        { contact_uuid: CORA, claims: [expect.any(String)] },
      ]);
      expect(await unsettled()).toHaveLength(1);

      failFrom(/(?!)/);
      await db.query(`UPDATE erasure_unsettled_appends SET claimed_at = claimed_at - interval '2 minutes'`);
      expect(await store.settleClaims(60_000)).toEqual({ confirmed: 1, withdrawn: 0, failures: [] });
      expect(await contentOwners()).toEqual([{ contact_uuid: CORA, claims: null }]);
      expect(await unsettled()).toEqual([]);
    } finally {
      await cleanup();
    }
  });

  it('an append that certainly failed withdraws the owner it added; one that landed confirms it; one of unknown outcome keeps it', async () => {
    const { cleanup, log, moveToCora, contentOwners, unsettled } = await movedToCora();
    try {
      expect(await contentOwners()).toEqual([{ contact_uuid: EVE, claims: null }]);
      expect(await unsettled()).toEqual([]);

      log.failNext = new WrongExpectedVersionError('s', 0, 1);
      await expect(moveToCora()).rejects.toThrow(WrongExpectedVersionError);
      expect(await contentOwners()).toEqual([{ contact_uuid: EVE, claims: null }]);
      expect(await unsettled()).toEqual([]);

      log.failNext = new InteractionUnavailableError('gone before it was sent', false);
      await expect(moveToCora()).rejects.toThrow(InteractionUnavailableError);
      expect(await contentOwners()).toEqual([{ contact_uuid: EVE, claims: null }]);
      expect(await unsettled()).toEqual([]);

      // It may still land: Cora stays an owner, as claimed (a forget of hers erases too much, never too little).
      log.failNext = new InteractionUnavailableError('lost while committing', 'unknown');
      await expect(moveToCora()).rejects.toThrow(InteractionUnavailableError);
      const owners = await contentOwners();
      expect(owners).toEqual([
        { contact_uuid: EVE, claims: null },
        { contact_uuid: CORA, claims: [expect.any(String)] },
      ]);
      const left = owners[1]!;
      expect(await unsettled()).toEqual(left.claims);

      // The next append that needs her adds its claim to the row (it was not read as confirmed), lands and confirms it.
      await moveToCora();
      expect(await contentOwners()).toEqual([{ contact_uuid: CORA, claims: null }]);
      expect(await unsettled()).toEqual(left.claims); // its own, settled; the one of unknown outcome is the pass's
    } finally {
      await cleanup();
    }
  });

  it('an append that fails before it is sent withdraws the claims it made', async () => {
    const { cleanup, log, moveToCora, contentOwners, failFrom } = await movedToCora();
    try {
      // A new subject text: the content key, read without Cora as its owner, is ensured with her row claimed;
      // then adding her as the new subject fails.
      failFrom(/SELECT \$2::uuid, key_id FROM/);
      await expect(moveToCora({ subject: 'Cora’s call' })).rejects.toThrow('connection lost');
      expect(log.events.map((e) => e.type)).toEqual(['InteractionLogged']);
      expect(await contentOwners()).toEqual([{ contact_uuid: EVE, claims: null }]);
    } finally {
      await cleanup();
    }
  });

  it.each([
    ['everywhere (moveAllOwnership)', (db: Queryable, _uuid: string, from: string, into: string) => moveAllOwnership(db, from, into)],
    ['in the interaction (moveOwnership)', (db: Queryable, uuid: string, from: string, into: string) => moveOwnership(db, uuid, from, into, false, true)],
  ])('a merge handing a key over %s to a row another append only claims confirms it: that append’s withdrawal leaves it', async (_how, merge) => {
    const { cleanup, db, uuid, contentOwners } = await movedToCora();
    try {
      const other = uuidv7(); // an append making Cora the subject, under way
      await addOwner(db, uuid, { tag: 'content' }, CORA, other);
      await merge(db, uuid, EVE, CORA); // Eve merged into Cora
      await withdrawClaim(db, uuid, other); // the other append lost its race
      expect(await contentOwners()).toEqual([{ contact_uuid: CORA, claims: null }]);
    } finally {
      await cleanup();
    }
  });

  it.each([
    ['a move on to Dan', (m: Moves) => m.moveTo(DAN)],
    ['a merge of Cora into Dan, re-pointing the subject', (m: Moves) => m.repoint(CORA, DAN)],
  ])('a move to Cora whose owner steps run after %s landed and set its owners leaves Dan the content’s only owner', async (_later, later) => {
    const moves = await movedToCora();
    try {
      const late = moves.holdNext(/SET subject_revision = \$3/);
      const toCora = moves.moveToCora();
      await late.reached;
      await later(moves);
      late.release();
      await toCora;
      expect(await moves.contentOwners()).toEqual([{ contact_uuid: DAN, claims: null }]);
    } finally {
      await moves.cleanup();
    }
  });

  it('two moves setting a content key’s owners at once: the later, waiting for the earlier’s lock, reads the owners it left', async () => {
    const { cleanup, db, uuid, contentOwners } = await movedToCora();
    const other = new Client({ connectionString: TEST_DATABASE_URL, options: `-c search_path=${db.schema}` });
    await other.connect();
    try {
      const claim = uuidv7();
      await addOwner(db, uuid, { tag: 'content' }, CORA, claim); // the move to Cora (revision 1), under way
      // It landed and sets its owners; the move on to Dan (revision 2) waits for its lock on the key.
      await other.query('BEGIN');
      await setContentOwner(other, uuid, CORA, 1, true);
      await confirmClaim(other, uuid, claim);
      const toDan = db.transaction((tx) => setContentOwner(tx, uuid, DAN, 2, true));
      await waitUntilBlocked(other);
      await other.query('COMMIT');
      expect(await toDan).toBe(true);
      expect(await contentOwners()).toEqual([{ contact_uuid: DAN, claims: null }]);
    } finally {
      await other.end();
      await cleanup();
    }
  });

  it('a content key made again (its first destroyed) starts at the revision read: a move written late before it changes nothing', async () => {
    const { cleanup, db, uuid, moveToCora, edit, contentOwners } = await movedToCora();
    try {
      await moveToCora(); // revision 1
      await db.query('DELETE FROM erasure_keys WHERE interaction_uuid = $1', [uuid]); // a forget's sweep
      await edit({ subject: 'New words' }); // revision 2: a content key again, owned by Cora, the subject read
      expect(await db.transaction((tx) => setContentOwner(tx, uuid, EVE, 1, true))).toBe(false);
      expect(await contentOwners()).toEqual([{ contact_uuid: CORA, claims: null }]);
    } finally {
      await cleanup();
    }
  });

  it('a subject move that landed drops the old subject’s row and a claim an hour old, not a row another append under way claims', async () => {
    const { cleanup, db, uuid, moveToCora, contentOwners } = await movedToCora();
    const FAY = '0190d8a2-5a7e-7cc1-8f3e-ffffffffffff';
    try {
      await addOwner(db, uuid, { tag: 'content' }, DAN, uuidv7()); // an append moving it on to Dan, under way
      // Left by an append to Fay whose outcome never came back, two hours ago.
      await addOwner(db, uuid, { tag: 'content' }, FAY, uuidv7());
      await db.query(`UPDATE erasure_key_owners SET claimed_at = now() - interval '2 hours' WHERE contact_uuid = $1`, [FAY]);
      await moveToCora();
      expect(await contentOwners()).toEqual([
        { contact_uuid: CORA, claims: null },
        { contact_uuid: DAN, claims: [expect.any(String)] },
      ]);
    } finally {
      await cleanup();
    }
  });

  describe('settleClaims: the claims of appends whose outcome never came back, settled from the log', () => {
    const unknownOutcome = () => new InteractionUnavailableError('lost while committing', 'unknown', { mayStillLand: true });
    /** The claims made as if `minutes` ago (the database's clock). */
    const age = async (db: Queryable, minutes: number) => {
      await db.query(`UPDATE erasure_key_owners SET claimed_at = claimed_at - $1 * interval '1 minute' WHERE claims IS NOT NULL`, [minutes]);
      await db.query(`UPDATE erasure_unsettled_appends SET claimed_at = claimed_at - $1 * interval '1 minute'`, [minutes]);
    };
    const settle = (store: ErasingEventStore) => store.settleClaims(60_000);
    /** `append` lands in the log, and its answer is lost. */
    const landUnanswered = async (log: MemoryLog, append: () => Promise<unknown>) => {
      log.failNextAfterWrite = unknownOutcome();
      await expect(append()).rejects.toThrow('lost while committing');
    };

    it('one the log holds landed: the old subject is dropped and the claim confirmed, once it is a minute old', async () => {
      const { cleanup, db, log, store, moveToCora, contentOwners, unsettled } = await movedToCora();
      try {
        await landUnanswered(log, moveToCora);
        const left = [
          { contact_uuid: EVE, claims: null },
          { contact_uuid: CORA, claims: [expect.any(String)] },
        ];
        expect(await contentOwners()).toEqual(left);
        // Under way as far as the pass can tell: left to its append.
        expect(await settle(store)).toEqual({ confirmed: 0, withdrawn: 0, failures: [] });
        expect(await contentOwners()).toEqual(left);

        await age(db, 2);
        expect(await settle(store)).toEqual({ confirmed: 1, withdrawn: 0, failures: [] });
        expect(await contentOwners()).toEqual([{ contact_uuid: CORA, claims: null }]);
        expect(await unsettled()).toEqual([]);
        expect(await settle(store)).toEqual({ confirmed: 0, withdrawn: 0, failures: [] });
      } finally {
        await cleanup();
      }
    });

    it('of one contact (her forget): only appends to interactions she owns a key of, however recent', async () => {
      const { cleanup, log, store, moveToCora, contentOwners, unsettled } = await movedToCora();
      try {
        await landUnanswered(log, moveToCora);
        expect(await store.settleClaims(0, 1_000, DAN)).toEqual({ confirmed: 0, withdrawn: 0, failures: [] });
        expect(await unsettled()).toHaveLength(1);
        expect(await store.settleClaims(0, 1_000, EVE)).toEqual({ confirmed: 1, withdrawn: 0, failures: [] });
        expect(await contentOwners()).toEqual([{ contact_uuid: CORA, claims: null }]);
        expect(await unsettled()).toEqual([]);
      } finally {
        await cleanup();
      }
    });

    it('one the log does not hold is withdrawn an hour after it was claimed, not before (it may still land)', async () => {
      const { cleanup, db, log, store, moveToCora, contentOwners, unsettled } = await movedToCora();
      try {
        log.failNext = unknownOutcome();
        await expect(moveToCora()).rejects.toThrow('lost while committing');
        await age(db, 59);
        expect(await settle(store)).toEqual({ confirmed: 0, withdrawn: 0, failures: [] });
        expect(await contentOwners()).toEqual([
          { contact_uuid: EVE, claims: null },
          { contact_uuid: CORA, claims: [expect.any(String)] },
        ]);
        await age(db, 2);
        expect(await settle(store)).toEqual({ confirmed: 0, withdrawn: 1, failures: [] });
        expect(await contentOwners()).toEqual([{ contact_uuid: EVE, claims: null }]);
        expect(await unsettled()).toEqual([]);
      } finally {
        await cleanup();
      }
    });

    it('one that landed, whose claim a later append confirming the same row cleared: still settled', async () => {
      const { cleanup, db, log, store, moveToCora, edit, contentOwners } = await movedToCora();
      try {
        await landUnanswered(log, moveToCora);
        // An edit reads Cora as the subject, finds her row only claimed, claims it too, lands and confirms it.
        await edit({ body: 'Cora’s notes' });
        expect(await contentOwners()).toEqual([
          { contact_uuid: EVE, claims: null },
          { contact_uuid: CORA, claims: null },
        ]);
        await age(db, 2);
        expect(await settle(store)).toEqual({ confirmed: 1, withdrawn: 0, failures: [] });
        expect(await contentOwners()).toEqual([{ contact_uuid: CORA, claims: null }]);
      } finally {
        await cleanup();
      }
    });

    it('one that landed before a later move: the content stays the later subject’s', async () => {
      const { cleanup, db, log, store, moveTo, moveToCora, contentOwners } = await movedToCora();
      try {
        await landUnanswered(log, moveToCora);
        await moveTo(DAN);
        expect(await contentOwners()).toEqual([
          { contact_uuid: CORA, claims: [expect.any(String)] },
          { contact_uuid: DAN, claims: null },
        ]);
        await age(db, 2);
        expect(await settle(store)).toEqual({ confirmed: 1, withdrawn: 0, failures: [] });
        expect(await contentOwners()).toEqual([{ contact_uuid: DAN, claims: null }]);
      } finally {
        await cleanup();
      }
    });

    it('an append of several events gets the steps of each, the move not being its first', async () => {
      const { cleanup, db, log, store, uuid, contentOwners } = await movedToCora();
      try {
        const metadata = eventMetadata();
        const update = (changes: Record<string, unknown>) => ({
          id: uuidv7(),
          type: 'InteractionUpdated',
          data: { schemaVersion: 1, interactionUuid: uuid, changes },
          metadata,
        });
        await landUnanswered(log, () =>
          store.withStream(`interaction-${uuid}`, async (session) => {
            const read = await session.readStream();
            await session.appendToStream([update({ body: 'Cora’s notes' }), update({ contactUuid: CORA })], read.length - 1);
          }),
        );
        await age(db, 2);
        expect(await settle(store)).toEqual({ confirmed: 1, withdrawn: 0, failures: [] });
        expect(await contentOwners()).toEqual([{ contact_uuid: CORA, claims: null }]);
      } finally {
        await cleanup();
      }
    });

    it('a withdrawal of one key’s claim (a move superseded) leaves the append unsettled; a whole one settles it', async () => {
      const { cleanup, db, uuid, contentOwners, unsettled } = await movedToCora();
      try {
        const claim = uuidv7();
        await recordClaim(db, uuid, claim);
        await addOwner(db, uuid, { tag: 'content' }, CORA, claim);
        await withdrawClaim(db, uuid, claim, 'content');
        expect(await contentOwners()).toEqual([{ contact_uuid: EVE, claims: null }]);
        expect(await unsettled()).toEqual([claim]);
        await withdrawClaim(db, uuid, claim);
        expect(await unsettled()).toEqual([]);
      } finally {
        await cleanup();
      }
    });

    it('a row a withdrawal left without a claim goes once a minute old; one with a claim under way stays', async () => {
      const { cleanup, db, store, uuid, contentOwners } = await movedToCora();
      try {
        await addOwner(db, uuid, { tag: 'content' }, CORA, uuidv7());
        await addOwner(db, uuid, { tag: 'content' }, DAN, uuidv7());
        await db.query(`UPDATE erasure_key_owners SET claims = '{}' WHERE contact_uuid = $1`, [CORA]); // its delete never ran
        expect(await settle(store)).toEqual({ confirmed: 0, withdrawn: 0, failures: [] });
        await age(db, 2);
        expect(await settle(store)).toEqual({ confirmed: 0, withdrawn: 1, failures: [] });
        expect(await contentOwners()).toEqual([
          { contact_uuid: EVE, claims: null },
          { contact_uuid: DAN, claims: [expect.any(String)] },
        ]);
      } finally {
        await cleanup();
      }
    });

    it('an interaction whose stream cannot be read is left as it is for the next pass', async () => {
      const { cleanup, db, log, store, uuid, moveToCora, contentOwners, unsettled } = await movedToCora();
      try {
        await landUnanswered(log, moveToCora);
        // Another interaction's append, whose stream holds nothing (its process died before sending it).
        const other = uuidv7();
        await recordClaim(db, other, uuidv7());
        await age(db, 120);
        log.unreachable = true;
        // The pass stops at the first stream it cannot read: the others would wait on the same outage.
        const { failures, ...settled } = await settle(store);
        expect(settled).toEqual({ confirmed: 0, withdrawn: 0 });
        expect(failures).toEqual([{ interactionUuid: expect.stringMatching(`^(${uuid}|${other})$`), error: expect.any(InteractionUnavailableError) }]);
        expect(await contentOwners()).toEqual([
          { contact_uuid: EVE, claims: null },
          { contact_uuid: CORA, claims: [expect.any(String)] },
        ]);
        expect(await unsettled()).toHaveLength(2);
        log.unreachable = false;
        expect(await settle(store)).toEqual({ confirmed: 1, withdrawn: 1, failures: [] });
        expect(await contentOwners()).toEqual([{ contact_uuid: CORA, claims: null }]);
        expect(await unsettled()).toEqual([]);
      } finally {
        await cleanup();
      }
    });
  });

  it('an append needing an owner another append only claimed claims it too: the other’s withdrawal leaves it', async () => {
    const { db, cleanup } = await migratedDatabase();
    const store = new ErasingEventStore(new MemoryLog(), db);
    const [stream, events] = logged('A call');
    const uuid = stream.slice('interaction-'.length);
    const partiesRebuilt = (contactUuid: string | null): EventToAppend => ({
      id: uuidv7(),
      type: 'PartiesRebuilt',
      data: {
        schemaVersion: 1,
        interactionUuid: uuid,
        parties: [{ position: 0, rawName: 'Pat', contactUuid, staffPersonUuid: null, snapshot: { source: contactUuid ? 'crm_contact' : 'free_text', capturedAt: '2026-04-01T09:00:00Z' } }],
      },
      metadata: eventMetadata(),
    });
    const patOwners = () => ownersOfKey(db, uuid, partyTag(uuid, 'Pat'));
    try {
      await store.appendToStream(stream, [...events, partiesRebuilt(null)], 'no_stream');
      // Another append linking Pat to Cora is under way: its owner row is written, claimed.
      const other = uuidv7();
      await addOwner(db, uuid, { tag: partyTag(uuid, 'Pat') }, CORA, other);
      // This one links Pat to Cora too, and lands; then the other certainly fails and withdraws.
      await store.withStream(stream, async (session) => {
        const read = await session.readStream();
        await session.appendToStream([partiesRebuilt(CORA)], read.length - 1);
      });
      await withdrawClaim(db, uuid, other);
      expect(await patOwners()).toEqual([{ contact_uuid: CORA, claims: null }]);
    } finally {
      await cleanup();
    }
  });

  it('a withdrawal racing another append’s claim on the same row: the row stays, with the other claim', async () => {
    const { db, cleanup, uuid, contentOwners } = await movedToCora();
    const other = new Client({ connectionString: TEST_DATABASE_URL, options: `-c search_path=${db.schema}` });
    await other.connect();
    try {
      /** `held` in a transaction of `other`, committed once `waiting` waits for its locks. */
      const behind = async (held: (q: Client) => Promise<void>, waiting: () => Promise<void>) => {
        await other.query('BEGIN');
        await held(other);
        const waited = waiting();
        await waitUntilBlocked(other);
        await other.query('COMMIT');
        await waited;
      };
      const [first, second] = [uuidv7(), uuidv7()];
      await addOwner(db, uuid, { tag: 'content' }, CORA, first);
      // The second claim, written and not yet committed: the withdrawal of the first waits for its row lock.
      await behind(
        (q) => addOwner(q, uuid, { tag: 'content' }, CORA, second),
        () => withdrawClaim(db, uuid, first),
      );
      expect(await contentOwners()).toEqual([
        { contact_uuid: EVE, claims: null },
        { contact_uuid: CORA, claims: [second] },
      ]);

      // The other order: the withdrawal deleted the row and has not committed; the claim waits, then writes it anew.
      await behind(
        (q) => withdrawClaim(q, uuid, second),
        () => addOwner(db, uuid, { tag: 'content' }, CORA, first),
      );
      expect(await contentOwners()).toEqual([
        { contact_uuid: EVE, claims: null },
        { contact_uuid: CORA, claims: [first] },
      ]);

      // A row a withdrawal left unclaimed ('{}'), claimed again before the withdrawal's delete takes it: kept.
      await db.query(`UPDATE erasure_key_owners SET claims = '{}' WHERE contact_uuid = $1`, [CORA]);
      await behind(
        (q) => addOwner(q, uuid, { tag: 'content' }, CORA, second),
        () => withdrawClaim(db, uuid, uuidv7()),
      );
      expect(await contentOwners()).toEqual([
        { contact_uuid: EVE, claims: null },
        { contact_uuid: CORA, claims: [second] },
      ]);

      // A confirmed row takes no claim, so no withdrawal can ever take it away.
      await addOwner(db, uuid, { tag: 'content' }, EVE, second);
      await withdrawClaim(db, uuid, second);
      expect((await contentOwners())[0]).toEqual({ contact_uuid: EVE, claims: null });
    } finally {
      await other.end();
      await cleanup();
    }
  });
});

/** The owners of the interaction's key of `tag`, with their claims, by contact. */
async function ownersOfKey(db: Queryable, interactionUuid: string, tag: string) {
  const { rows } = await db.query<{ contact_uuid: string; claims: string[] | null }>(
    `SELECT o.contact_uuid, o.claims FROM erasure_key_owners o JOIN erasure_keys k USING (key_id)
     WHERE k.interaction_uuid = $1 AND k.tag = $2 ORDER BY o.contact_uuid`,
    [interactionUuid, tag],
  );
  return rows;
}

/** Until a statement of another session waits for a lock `holder`'s transaction holds. */
async function waitUntilBlocked(holder: Client): Promise<void> {
  const pid = (holder as unknown as { processID: number }).processID;
  const watcher = new Client({ connectionString: TEST_DATABASE_URL });
  await watcher.connect();
  try {
    for (;;) {
      const { rows } = await watcher.query('SELECT 1 FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))', [pid]);
      if (rows.length > 0) return;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  } finally {
    await watcher.end();
  }
}
