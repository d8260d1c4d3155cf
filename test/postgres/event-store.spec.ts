import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { PgDatabase } from '../../src/adapters/postgres/database';
import { Database } from '../../src/ports/database';
import { PostgresEventStore } from '../../src/adapters/postgres/postgres-event-store';
import {
  comparePositions,
  EventMetadata,
  EventToAppend,
  Position,
  ReadAllOptions,
  RecordedEvent,
  START,
  WrongExpectedVersionError,
} from '../../src/ports/event-store';
import { reportHorizonHolders, TEST_DATABASE_URL } from '../support/postgres';
import { migratedDatabase } from '../support/backends';
import { SETTLE_MS, sleep } from '../support/timing';
import { collect, readAllSettled as readAllSettledOf } from '../support/event-store-contract';

/**
 * The PostgreSQL event store against the real server. `readAll` only returns transactions older than the
 * snapshot's xmin, which is cluster-wide: a transaction of another test (or another process) can hold it
 * back for a moment. Reads that must see "everything" therefore poll until it is there (bounded), while
 * reads that must NOT see something are asserted at once.
 */


function metadata(overrides: Partial<EventMetadata> = {}): EventMetadata {
  return {
    actorUuid: null,
    correlationId: randomUUID(),
    causationId: null,
    recordedAt: new Date().toISOString(),
    ...overrides,
  };
}

function event(data: unknown = { n: 0 }, type = 'TestEvent', meta: Partial<EventMetadata> = {}): EventToAppend {
  return { id: randomUUID(), type, data, metadata: metadata(meta) };
}

function events(count: number, tag = 'e'): EventToAppend[] {
  return Array.from({ length: count }, (_, n) => event({ tag, n }));
}

/** readAll until `count` events came; a PostgreSQL store trails transactions still open anywhere on the server. */
const readAllSettled = (store: PostgresEventStore, from: Position, count: number, options: ReadAllOptions = {}) =>
  readAllSettledOf(store, from, count, options, reportHorizonHolders);

function expectIncreasing(positions: Position[]): void {
  for (let i = 1; i < positions.length; i++) {
    expect(comparePositions(positions[i - 1]!, positions[i]!)).toBeLessThan(0);
  }
}

async function settle<T>(promises: Promise<T>[]): Promise<PromiseSettledResult<T>[]> {
  return Promise.all(promises.map((p) => p.then(
    (value) => ({ status: 'fulfilled', value }) as const,
    (reason: unknown) => ({ status: 'rejected', reason }) as const,
  )));
}

describe('PostgresEventStore (real PostgreSQL)', () => {
  let db: Database;
  let cleanup: () => Promise<void>;
  let store: PostgresEventStore;

  beforeEach(async () => {
    ({ db, cleanup } = await migratedDatabase());
    store = new PostgresEventStore(db);
  });
  afterEach(async () => {
    await cleanup();
  });

  describe('appendToStream', () => {
    it("appends to a new stream with 'no_stream': revisions 0..n-1, nextRevision, increasing positions", async () => {
      const input = events(3);
      const result = await store.appendToStream('s-new', input, 'no_stream');

      expect(result.nextRevision).toBe(2);
      expect(result.events.map((e) => e.revision)).toEqual([0, 1, 2]);
      expect(result.events.map((e) => e.id)).toEqual(input.map((e) => e.id));
      expect(result.events.every((e) => e.streamName === 's-new')).toBe(true);
      expectIncreasing(result.events.map((e) => e.position));
      expect(result.position).toEqual(result.events[2]!.position);
      expect(comparePositions(START, result.events[0]!.position)).toBeLessThan(0);
      // One transaction: one commit position, prepare positions in revision order.
      expect(new Set(result.events.map((e) => e.position.commit)).size).toBe(1);

      const stored = await store.readStream('s-new');
      expect(stored).toEqual(result.events);
    });

    it('appends with the exact current revision and keeps positions increasing across appends', async () => {
      const first = await store.appendToStream('s', events(2), 'no_stream');
      const second = await store.appendToStream('s', events(1), 1);
      const third = await store.appendToStream('s', events(2), 2);

      expect([first.nextRevision, second.nextRevision, third.nextRevision]).toEqual([1, 2, 4]);
      expect(third.events.map((e) => e.revision)).toEqual([3, 4]);
      const all = [...first.events, ...second.events, ...third.events];
      expectIncreasing(all.map((e) => e.position));
      // Appends in sequence: each later transaction has a larger commit position.
      expect(first.position.commit < second.position.commit).toBe(true);
      expect(second.position.commit < third.position.commit).toBe(true);
      expect((await store.readStream('s')).map((e) => e.revision)).toEqual([0, 1, 2, 3, 4]);
    });

    it('rejects a wrong revision with WrongExpectedVersionError carrying the actual revision; nothing appended', async () => {
      await store.appendToStream('s', events(2), 'no_stream');

      const stale = store.appendToStream('s', events(1), 0);
      await expect(stale).rejects.toBeInstanceOf(WrongExpectedVersionError);
      await expect(stale).rejects.toMatchObject({ streamName: 's', expected: 0, actual: 1 });

      await expect(store.appendToStream('s', events(1), 7)).rejects.toMatchObject({
        name: 'WrongExpectedVersionError',
        expected: 7,
        actual: 1,
      });
      expect(await store.readStream('s')).toHaveLength(2);
    });

    it('rejects an exact revision on a stream that does not exist (actual null)', async () => {
      const attempt = store.appendToStream('missing', events(1), 0);
      await expect(attempt).rejects.toBeInstanceOf(WrongExpectedVersionError);
      await expect(attempt).rejects.toMatchObject({ expected: 0, actual: null });
      expect(await store.readStream('missing')).toEqual([]);
    });

    it("rejects 'no_stream' on an existing stream", async () => {
      await store.appendToStream('s', events(3), 'no_stream');
      const attempt = store.appendToStream('s', events(1), 'no_stream');
      await expect(attempt).rejects.toBeInstanceOf(WrongExpectedVersionError);
      await expect(attempt).rejects.toMatchObject({ streamName: 's', expected: 'no_stream', actual: 2 });
      expect(await store.readStream('s')).toHaveLength(3);
    });

    it("'any' appends to a new and to an existing stream", async () => {
      const a = await store.appendToStream('s', events(2), 'any');
      const b = await store.appendToStream('s', events(1), 'any');
      expect(a.nextRevision).toBe(1);
      expect(b.nextRevision).toBe(2);
      expect(b.events[0]!.revision).toBe(2);
    });

    it('rejects an empty append', async () => {
      await expect(store.appendToStream('s', [], 'any')).rejects.toThrow();
      expect(await store.readStream('s')).toEqual([]);
    });

    it('is atomic: a batch with a duplicate event id appends nothing', async () => {
      const dup = event({ n: 1 });
      await expect(
        store.appendToStream('s', [event({ n: 0 }), dup, { ...dup, data: { n: 2 } }], 'no_stream'),
      ).rejects.toThrow();
      expect(await store.readStream('s')).toEqual([]);

      // Same when the clashing id is already stored in another stream.
      const stored = await store.appendToStream('other', [event()], 'no_stream');
      await expect(
        store.appendToStream('s', [event({ n: 0 }), { ...event(), id: stored.events[0]!.id }], 'no_stream'),
      ).rejects.toThrow();
      expect(await store.readStream('s')).toEqual([]);
      const { rows } = await db.query<{ n: string }>('SELECT count(*) AS n FROM events');
      expect(Number(rows[0]!.n)).toBe(1);
      // The stream is still appendable from scratch.
      await expect(store.appendToStream('s', events(2), 'no_stream')).resolves.toMatchObject({ nextRevision: 1 });
    });

    it('is atomic: an inline projection that throws rolls the whole append back', async () => {
      const boom = new Error('projection failed');
      const seen: RecordedEvent[][] = [];
      const failing = new PostgresEventStore(db, async (_tx, recorded) => {
        seen.push(recorded);
        throw boom;
      });
      await expect(failing.appendToStream('s', events(3), 'no_stream')).rejects.toBe(boom);
      expect(seen).toHaveLength(1);
      expect(seen[0]!.map((e) => e.revision)).toEqual([0, 1, 2]);
      expect(await store.readStream('s')).toEqual([]);
      expect(await collect(store.readAll(START, { within: db }))).toEqual([]);
    });

    it('runs the inline projection inside the append transaction, with the recorded events', async () => {
      const projecting = new PostgresEventStore(db, async (tx, recorded) => {
        // The events are visible to the projection's transaction only.
        const { rows } = await tx.query<{ n: string }>('SELECT count(*) AS n FROM events WHERE stream_name = $1', ['s']);
        expect(Number(rows[0]!.n)).toBe(recorded.length);
      });
      const result = await projecting.appendToStream('s', events(2), 'no_stream');
      expect(result.events).toHaveLength(2);
    });
  });

  describe('readStream', () => {
    it('returns the stream in revision order, only its own events, and [] for an unknown stream', async () => {
      const ids: string[] = [];
      for (let i = 0; i < 4; i++) {
        const e = event({ i });
        ids.push(e.id);
        await store.appendToStream('a', [e], i === 0 ? 'no_stream' : i - 1);
        await store.appendToStream(`b-${i}`, [event()], 'no_stream');
      }
      const stream = await store.readStream('a');
      expect(stream.map((e) => e.id)).toEqual(ids);
      expect(stream.map((e) => e.revision)).toEqual([0, 1, 2, 3]);
      expect(stream.map((e) => e.data)).toEqual([{ i: 0 }, { i: 1 }, { i: 2 }, { i: 3 }]);
      expectIncreasing(stream.map((e) => e.position));
      expect(await store.readStream('unknown')).toEqual([]);
      expect(await store.readStream('a-')).toEqual([]);
    });

    it('round-trips data and metadata', async () => {
      const data = {
        text: 'Grüße, 你好, "quotes" and \\ backslashes \n newline',
        emoji: '🙂',
        int: 42,
        negative: -7,
        float: 1.5,
        nothing: null,
        yes: true,
        list: [1, 'two', { three: 3 }, [], {}],
        nested: { deeper: { deepest: ['x'] } },
        empty: '',
      };
      const meta: EventMetadata = {
        actorUuid: randomUUID(),
        correlationId: randomUUID(),
        causationId: randomUUID(),
        recordedAt: '2026-08-22T10:00:00.123Z',
      };
      const input: EventToAppend = { id: randomUUID(), type: 'Something.Happened', data, metadata: meta };
      const arrayData = event([1, 2, 3]);
      const scalarData = event('just a string');
      await store.appendToStream('s', [input, arrayData, scalarData], 'no_stream');

      const [read, readArray, readScalar] = await store.readStream('s');
      expect(read).toMatchObject({ id: input.id, type: 'Something.Happened', streamName: 's', revision: 0 });
      expect(read!.data).toEqual(data);
      expect(read!.metadata).toEqual(meta);
      expect(readArray!.data).toEqual([1, 2, 3]);
      expect(readScalar!.data).toBe('just a string');

      const [fromAll] = (await readAllSettled(store, START, 3)).flat();
      expect(fromAll).toEqual(read);
    });
  });

  describe('readAll', () => {
    it('reads everything from START in global order, in batches of batchSize, without an empty batch', async () => {
      const appended: RecordedEvent[] = [];
      for (let i = 0; i < 5; i++) {
        appended.push(...(await store.appendToStream(`s-${i % 2}-${i}`, events(2, `x${i}`), 'no_stream')).events);
      }
      // 10 events, batches of 3: 3, 3, 3, 1.
      const batches = await readAllSettled(store, START, 10, { batchSize: 3 });
      expect(batches.map((b) => b.length)).toEqual([3, 3, 3, 1]);
      expect(batches.flat()).toEqual(appended);
      expectIncreasing(batches.flat().map((e) => e.position));

      // Exactly divisible: 10 events, batches of 5: no trailing empty batch.
      const byFive = await readAllSettled(store, START, 10, { batchSize: 5 });
      expect(byFive.map((b) => b.length)).toEqual([5, 5]);
      expect(byFive.flat()).toEqual(appended);

      // The default batch size returns everything in one batch.
      expect((await readAllSettled(store, START, 10)).map((b) => b.length)).toEqual([10]);
    });

    it('reads from a position exclusively', async () => {
      const appended: RecordedEvent[] = [];
      for (let i = 0; i < 4; i++) appended.push(...(await store.appendToStream(`s-${i}`, events(2), 'no_stream')).events);
      await readAllSettled(store, START, 8);

      // From the middle of a transaction (a multi-event append) and from a transaction boundary.
      const fromMid = (await collect(store.readAll(appended[4]!.position, { batchSize: 2 }))).flat();
      expect(fromMid).toEqual(appended.slice(5));
      const fromBoundary = (await collect(store.readAll(appended[3]!.position))).flat();
      expect(fromBoundary).toEqual(appended.slice(4));
      // From the last event: nothing.
      expect(await collect(store.readAll(appended[7]!.position))).toEqual([]);
      // reading within a rebuild's transaction gives the same here.
      expect((await collect(store.readAll(appended[4]!.position, { within: db }))).flat()).toEqual(appended.slice(5));
    });

    it('returns nothing on an empty log', async () => {
      expect(await collect(store.readAll())).toEqual([]);
      expect(await collect(store.readAll(START, { within: db }))).toEqual([]);
      expect(await store.headPosition()).toEqual(START);
    });

    it('does not jump past an open transaction: a later commit stays hidden until the earlier one commits', async () => {
      const early = await store.appendToStream('gap-c', [event({ which: 'C' })], 'no_stream');
      const seenEarly = (await readAllSettled(store, START, 1)).flat();
      expect(seenEarly.map((e) => e.id)).toEqual([early.events[0]!.id]);
      const checkpoint = seenEarly[0]!.position;

      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      let signalInserted!: () => void;
      const inserted = new Promise<void>((resolve) => (signalInserted = resolve));
      // A's transaction inserts its event (taking its transaction id) and then stays open.
      const holding = new PostgresEventStore(db, async () => {
        signalInserted();
        await gate;
      });
      const a = event({ which: 'A' });
      const b = event({ which: 'B' });
      const pendingA = holding.appendToStream('gap-a', [a], 'no_stream');
      try {
        await inserted;
        const committedB = await store.appendToStream('gap-b', [b], 'no_stream');

        // B is committed and visible to plain SQL, but readAll must not return it while A is open.
        const { rows } = await db.query<{ event_id: string }>('SELECT event_id FROM events WHERE event_id = $1', [b.id]);
        expect(rows).toHaveLength(1);
        const whileOpen = (await collect(store.readAll(checkpoint))).flat();
        expect(whileOpen.map((e) => e.id)).not.toContain(b.id);
        expect(whileOpen).toEqual([]);
        const fromStart = (await collect(store.readAll(START))).flat();
        expect(fromStart.map((e) => e.id)).not.toContain(b.id);

        release();
        const committedA = await pendingA;
        // A took its transaction id first, so it comes first in the global order even though it committed last.
        expect(comparePositions(committedA.position, committedB.position)).toBeLessThan(0);

        const after = (await readAllSettled(store, checkpoint, 2)).flat();
        expect(after.map((e) => e.id)).toEqual([a.id, b.id]);
        expectIncreasing(after.map((e) => e.position));
        expect(after[0]).toEqual(committedA.events[0]);
        expect(after[1]).toEqual(committedB.events[0]);
      } finally {
        release();
        await pendingA.catch(() => undefined);
      }
    });

    it('orders by transaction, not by row sequence: an older transaction inserting last still comes first', async () => {
      const raw = new Client({ connectionString: TEST_DATABASE_URL, options: `-c search_path=${db.schema}` });
      await raw.connect();
      try {
        await raw.query('BEGIN');
        // Take a transaction id now; insert only after B has committed.
        await raw.query('SELECT pg_current_xact_id()');
        const b = await store.appendToStream('late-b', [event({ which: 'B' })], 'no_stream');

        expect((await collect(store.readAll(START))).flat().map((e) => e.id)).not.toContain(b.events[0]!.id);

        const a = event({ which: 'A' });
        await raw.query(
          `INSERT INTO events (event_id, stream_name, stream_revision, event_type, data, metadata)
           VALUES ($1, $2, $3, $4, $5, $6)`,
          [a.id, 'early-a', 0, a.type, JSON.stringify(a.data), JSON.stringify(a.metadata)],
        );
        expect((await collect(store.readAll(START))).flat()).toEqual([]);
        await raw.query('COMMIT');

        const all = (await readAllSettled(store, START, 2)).flat();
        expect(all.map((e) => e.id)).toEqual([a.id, b.events[0]!.id]);
        // A's row sequence is larger, its transaction id smaller.
        expect(all[0]!.position.prepare > all[1]!.position.prepare).toBe(true);
        expect(all[0]!.position.commit < all[1]!.position.commit).toBe(true);
        expect(await store.headPosition()).toEqual(all[1]!.position);
      } finally {
        await raw.query('ROLLBACK').catch(() => undefined);
        await raw.end();
      }
    });
  });

  it('halves a moment’s shared statements only through a pool of more than one connection', async () => {
    const one = new PgDatabase({ connectionString: TEST_DATABASE_URL, schema: db.schema, max: 1 });
    const many = new PgDatabase({ connectionString: TEST_DATABASE_URL, schema: db.schema, max: 2 });
    try {
      expect([one.concurrentStatements, many.concurrentStatements]).toEqual([false, true]);
      const creates = (on: PgDatabase) => {
        const store = new PostgresEventStore(on);
        return Promise.all(Array.from({ length: 4 }, (_, i) => store.createStream(`halves-${on === one ? 'one' : 'many'}-${i}`, events(1))));
      };
      const transactions = async (on: PgDatabase) => new Set((await creates(on)).map((r) => r.position.commit)).size;
      expect([await transactions(one), await transactions(many)]).toEqual([1, 2]);
    } finally {
      await Promise.all([one.close(), many.close()]);
    }
  });

  describe('concurrency', () => {
    let wide: PgDatabase;
    let wideStore: PostgresEventStore;

    beforeEach(() => {
      wide = new PgDatabase({ connectionString: TEST_DATABASE_URL, schema: db.schema, max: 20 });
      wideStore = new PostgresEventStore(wide);
    });
    afterEach(async () => {
      await wide.close();
    });

    it('N concurrent appenders expecting the same revision: exactly one wins, the others get WrongExpectedVersionError', async () => {
      const N = 20;
      let expected: 'no_stream' | number = 'no_stream';
      const winners: string[][] = [];
      for (let round = 0; round < 4; round++) {
        const attempts = Array.from({ length: N }, (_, w) => events(2, `r${round}w${w}`));
        const results = await settle(attempts.map((batch) => wideStore.appendToStream('contended', batch, expected)));

        const won = results.flatMap((r, w) => (r.status === 'fulfilled' ? [w] : []));
        expect(won).toHaveLength(1);
        const winner = results[won[0]!]!;
        if (winner.status !== 'fulfilled') throw new Error('unreachable');
        const base = expected === 'no_stream' ? 0 : expected + 1;
        expect(winner.value.nextRevision).toBe(base + 1);
        for (const r of results) {
          if (r.status === 'rejected') {
            expect(r.reason).toBeInstanceOf(WrongExpectedVersionError);
            expect(r.reason).toMatchObject({ streamName: 'contended', expected, actual: base + 1 });
          }
        }
        winners.push(attempts[won[0]!]!.map((e) => e.id));
        expected = winner.value.nextRevision;
      }
      const stream = await store.readStream('contended');
      expect(stream.map((e) => e.revision)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
      expect(stream.map((e) => e.id)).toEqual(winners.flat());
    });

    it("concurrent 'any' appenders to one stream all succeed with distinct consecutive revisions", async () => {
      const N = 20;
      const batches = Array.from({ length: N }, (_, w) => [event({ w })]);
      const results = await settle(batches.map((batch) => wideStore.appendToStream('anyone', batch, 'any')));
      const failures = results.flatMap((r) => (r.status === 'rejected' ? [String(r.reason)] : []));
      expect(failures).toEqual([]);

      const revisions = results.map((r) => (r.status === 'fulfilled' ? r.value.nextRevision : -1));
      expect([...revisions].sort((x, y) => x - y)).toEqual(Array.from({ length: N }, (_, i) => i));
      const stream = await store.readStream('anyone');
      expect(stream.map((e) => e.revision)).toEqual(Array.from({ length: N }, (_, i) => i));
      expect(new Set(stream.map((e) => e.id))).toEqual(new Set(batches.flat().map((e) => e.id)));
    });

    it('sessions of one stream queue on its lock: each reads (lock and read in one round trip) what the one before committed', async () => {
      const N = 12;
      const sessions = Array.from({ length: N }, (_, w) =>
        wideStore.withStream('queued', async (session) => {
          const read = await session.readStream();
          await sleep(5); // the next sessions are waiting on the lock meanwhile
          return session.appendToStream([event({ w, after: read.length })], read.length === 0 ? 'no_stream' : read.length - 1);
        }),
      );
      const failures = (await settle(sessions)).flatMap((r) => (r.status === 'rejected' ? [String(r.reason)] : []));
      expect(failures).toEqual([]); // a read from before the wait would append at a taken revision
      const stream = await store.readStream('queued');
      expect(stream.map((e) => (e.data as { after: number }).after)).toEqual(Array.from({ length: N }, (_, i) => i));
    });

    it('a catch-up reader running during many concurrent appends sees every event exactly once, in order', async () => {
      const WORKERS = 8;
      const APPENDS = 50;
      const STREAMS_PER_WORKER = 5;
      // Random pauses inside the append transactions make commit order differ from transaction-id order.
      const jittery = new PostgresEventStore(wide, async () => {
        if (Math.random() < 0.5) await sleep(Math.floor(Math.random() * 4));
      });
      const readerDb = new PgDatabase({ connectionString: TEST_DATABASE_URL, schema: db.schema, max: 2 });
      const reader = new PostgresEventStore(readerDb);

      const seen: RecordedEvent[] = [];
      const problems: string[] = [];
      let checkpoint: Position = START;
      const consume = (batch: RecordedEvent[]): void => {
        for (const e of batch) {
          if (comparePositions(e.position, checkpoint) <= 0) {
            problems.push(`position went backwards at ${e.id}`);
          }
          checkpoint = e.position;
          seen.push(e);
        }
      };

      let writing = true;
      let readerPasses = 0;
      const readerLoop = (async () => {
        while (writing) {
          for await (const batch of reader.readAll(checkpoint, { batchSize: 17 })) consume(batch);
          readerPasses++;
          await sleep(1);
        }
      })();

      let total = 0;
      try {
        const workers = Array.from({ length: WORKERS }, async (_, w) => {
          const revisions = new Map<string, number>();
          for (let i = 0; i < APPENDS; i++) {
            const stream = `w${w}-s${i % STREAMS_PER_WORKER}`;
            const batch = events(i % 5 === 4 ? 2 : 1, `w${w}i${i}`);
            const current = revisions.get(stream);
            const result = await jittery.appendToStream(stream, batch, current === undefined ? 'no_stream' : current);
            revisions.set(stream, result.nextRevision);
            total += batch.length;
          }
        });
        await Promise.all(workers);
      } finally {
        writing = false;
        await readerLoop;
      }

      // One final catch-up (repeated only while another transaction of the cluster holds xmin back).
      const deadline = Date.now() + SETTLE_MS;
      do {
        for await (const batch of reader.readAll(checkpoint, { batchSize: 17 })) consume(batch);
        if (seen.length >= total) break;
        await sleep(25);
      } while (Date.now() < deadline);
      await readerDb.close();

      expect(readerPasses).toBeGreaterThan(1);
      expect(problems).toEqual([]);
      const seenIds = seen.map((e) => e.id);
      expect(new Set(seenIds).size).toBe(seenIds.length);
      const { rows } = await db.query<{ event_id: string }>('SELECT event_id FROM events ORDER BY event_id');
      expect(rows).toHaveLength(total);
      expect([...seenIds].sort()).toEqual(rows.map((r) => r.event_id).sort());

      // Every stream was seen in revision order, without holes.
      const byStream = new Map<string, number[]>();
      for (const e of seen) byStream.set(e.streamName, [...(byStream.get(e.streamName) ?? []), e.revision]);
      expect(byStream.size).toBe(WORKERS * STREAMS_PER_WORKER);
      for (const revisions of byStream.values()) {
        expect(revisions).toEqual(revisions.map((_, i) => i));
      }
    });
  });
});
