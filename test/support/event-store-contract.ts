import { randomUUID } from 'node:crypto';
import { uuidv7 } from 'uuidv7';
import { decide, fold } from '../../src/domain/decider';
import { streamNameOf } from '../../src/domain/events';
import { Database } from '../../src/ports/database';
import {
  comparePositions,
  EventMetadata,
  EventStore,
  EventToAppend,
  Position,
  ReadAllOptions,
  RecordedEvent,
  WrongExpectedVersionError,
} from '../../src/ports/event-store';
import { CatchUpProjector, readCheckpoint } from '../../projections/catch-up';
import { SETTLE_MS, sleep } from './timing';

/**
 * The one contract every event store adapter keeps (the port in src/ports/event-store.ts): append
 * semantics, concurrency, read order, catch-up from a checkpoint and idempotent re-delivery. Each adapter's
 * spec calls `describeEventStoreContract` with a factory; adapter-specific behaviour (PostgreSQL's
 * transaction-order gaps, EventStoreDB's subscriptions) is tested next to the adapter.
 *
 * Streams are `interaction-<uuid>` (the module's naming, which the EventStoreDB adapter filters `$all` on)
 * and fresh in every test, so the suite also runs against a shared server (KURRENTDB_URL): `origin` is
 * where the test's events start in the global order.
 */
export interface ContractSubject {
  store: EventStore;
  /** A migrated database of the read tables (for the catch-up tests); the store may live in it or not. */
  db: Database;
  /** START on a fresh log; the head of the module's events on a log shared with earlier runs. */
  origin: Position;
  cleanup(): Promise<void>;
}

function metadata(overrides: Partial<EventMetadata> = {}): EventMetadata {
  return { actorUuid: null, correlationId: randomUUID(), causationId: null, recordedAt: new Date().toISOString(), ...overrides };
}

function event(data: unknown = { n: 0 }, type = 'TestEvent'): EventToAppend {
  return { id: randomUUID(), type, data, metadata: metadata() };
}

function events(count: number, tag = 'e'): EventToAppend[] {
  return Array.from({ length: count }, (_, n) => event({ tag, n }));
}

const newStream = (): string => streamNameOf(uuidv7());

/** The events of a valid `createInteraction` (InteractionLogged, PartiesRebuilt), as the write side makes them. */
function createdInteraction(subject = 'Contract'): { stream: string; uuid: string; events: EventToAppend[] } {
  const uuid = uuidv7();
  const contactUuid = uuidv7();
  const now = new Date(Math.floor(Date.now() / 1000) * 1000);
  const decided = decide(
    {
      kind: 'create',
      interactionUuid: uuid,
      attrs: {
        contactUuid,
        interactionType: 'call',
        occurredAt: now,
        subject,
        body: null,
        ownerUserUuid: null,
        metadata: {},
      },
      parties: [{ rawName: 'Visitor', contactUuid: null, staffPersonUuid: null, inputIndex: 0 }],
      fileUuids: [],
    },
    fold([]),
    { now, contacts: new Map([[contactUuid, { uuid: contactUuid, name: 'Subject' }]]), staff: null },
  );
  const meta = metadata({ recordedAt: now.toISOString() });
  return {
    stream: streamNameOf(uuid),
    uuid,
    events: decided.map((e) => ({ id: uuidv7(), type: e.type, data: e.data, metadata: meta })),
  };
}

export async function collect(iterable: AsyncIterable<RecordedEvent[]>): Promise<RecordedEvent[][]> {
  const batches: RecordedEvent[][] = [];
  for await (const batch of iterable) batches.push(batch);
  return batches;
}

/**
 * readAll until it returns at least `count` events (PostgreSQL's readAll may trail other transactions);
 * `onTimeout` runs when they did not come in time (to say what held them back), before what came is returned.
 */
export async function readAllSettled(
  store: EventStore,
  from: Position,
  count: number,
  options: ReadAllOptions = {},
  onTimeout?: () => Promise<void>,
): Promise<RecordedEvent[][]> {
  const deadline = Date.now() + SETTLE_MS;
  for (;;) {
    const batches = await collect(store.readAll(from, options));
    if (batches.flat().length >= count) return batches;
    if (Date.now() > deadline) {
      await onTimeout?.();
      return batches;
    }
    await sleep(25);
  }
}

function expectIncreasing(positions: Position[]): void {
  for (let i = 1; i < positions.length; i++) expect(comparePositions(positions[i - 1]!, positions[i]!)).toBeLessThan(0);
}

async function settle<T>(promises: Promise<T>[]): Promise<PromiseSettledResult<T>[]> {
  return Promise.allSettled(promises);
}

async function countRows(db: Database, table: string, uuids: string[]): Promise<number> {
  const { rows } = await db.query<{ n: string }>(`SELECT count(*) AS n FROM ${table} WHERE uuid = ANY($1::uuid[])`, [uuids]);
  return Number(rows[0]!.n);
}

export function describeEventStoreContract(name: string, open: () => Promise<ContractSubject>): void {
  describe(`${name}: event store contract`, () => {
    let subject: ContractSubject;
    let store: EventStore;
    beforeEach(async () => {
      subject = await open();
      store = subject.store;
    });
    afterEach(async () => {
      await subject.cleanup();
    });

    describe('appendToStream', () => {
      it("appends to a new stream with 'no_stream': revisions from 0, nextRevision, increasing positions", async () => {
        const stream = newStream();
        const input = events(3);
        const result = await store.appendToStream(stream, input, 'no_stream');

        expect(result.nextRevision).toBe(2);
        expect(result.events.map((e) => e.revision)).toEqual([0, 1, 2]);
        expect(result.events.map((e) => e.id)).toEqual(input.map((e) => e.id));
        expect(result.events.map((e) => e.type)).toEqual(input.map((e) => e.type));
        expect(result.events.every((e) => e.streamName === stream)).toBe(true);
        expectIncreasing([subject.origin, ...result.events.map((e) => e.position)]);
        expect(result.position).toEqual(result.events[2]!.position);
        expect(await store.readStream(stream)).toEqual(result.events);
      });

      it('appends with the exact current revision; positions keep increasing across appends', async () => {
        const stream = newStream();
        const first = await store.appendToStream(stream, events(2), 'no_stream');
        const second = await store.appendToStream(stream, events(1), 1);
        const third = await store.appendToStream(stream, events(2), 2);

        expect([first.nextRevision, second.nextRevision, third.nextRevision]).toEqual([1, 2, 4]);
        expect(third.events.map((e) => e.revision)).toEqual([3, 4]);
        expectIncreasing([...first.events, ...second.events, ...third.events].map((e) => e.position));
        expect((await store.readStream(stream)).map((e) => e.revision)).toEqual([0, 1, 2, 3, 4]);
      });

      it('rejects a wrong revision with WrongExpectedVersionError carrying the actual revision; nothing appended', async () => {
        const stream = newStream();
        await store.appendToStream(stream, events(2), 'no_stream');

        const stale = store.appendToStream(stream, events(1), 0);
        await expect(stale).rejects.toBeInstanceOf(WrongExpectedVersionError);
        await expect(stale).rejects.toMatchObject({ streamName: stream, expected: 0, actual: 1 });
        await expect(store.appendToStream(stream, events(1), 7)).rejects.toMatchObject({
          name: 'WrongExpectedVersionError',
          expected: 7,
          actual: 1,
        });
        expect(await store.readStream(stream)).toHaveLength(2);
      });

      it('rejects an exact revision on a stream that does not exist (actual null)', async () => {
        const stream = newStream();
        const attempt = store.appendToStream(stream, events(1), 0);
        await expect(attempt).rejects.toBeInstanceOf(WrongExpectedVersionError);
        await expect(attempt).rejects.toMatchObject({ expected: 0, actual: null });
        expect(await store.readStream(stream)).toEqual([]);
      });

      it("rejects 'no_stream' on an existing stream", async () => {
        const stream = newStream();
        await store.appendToStream(stream, events(3), 'no_stream');
        const attempt = store.appendToStream(stream, events(1), 'no_stream');
        await expect(attempt).rejects.toBeInstanceOf(WrongExpectedVersionError);
        await expect(attempt).rejects.toMatchObject({ streamName: stream, expected: 'no_stream', actual: 2 });
        expect(await store.readStream(stream)).toHaveLength(3);
      });

      it("'any' appends to a new and to an existing stream", async () => {
        const stream = newStream();
        const a = await store.appendToStream(stream, events(2), 'any');
        const b = await store.appendToStream(stream, events(1), 'any');
        expect(a.nextRevision).toBe(1);
        expect(b.nextRevision).toBe(2);
        expect(b.events[0]!.revision).toBe(2);
      });

      it('rejects an empty append and writes nothing', async () => {
        const stream = newStream();
        await expect(store.appendToStream(stream, [], 'any')).rejects.toThrow();
        expect(await store.readStream(stream)).toEqual([]);
      });
    });

    describe('readStream', () => {
      it('returns the stream in revision order, only its own events, and [] for an unknown stream', async () => {
        const a = newStream();
        const ids: string[] = [];
        for (let i = 0; i < 4; i++) {
          const e = event({ i });
          ids.push(e.id);
          await store.appendToStream(a, [e], i === 0 ? 'no_stream' : i - 1);
          await store.appendToStream(`${a}-${i}`, [event()], 'no_stream');
        }
        const stream = await store.readStream(a);
        expect(stream.map((e) => e.id)).toEqual(ids);
        expect(stream.map((e) => e.revision)).toEqual([0, 1, 2, 3]);
        expect(stream.map((e) => e.data)).toEqual([{ i: 0 }, { i: 1 }, { i: 2 }, { i: 3 }]);
        expectIncreasing(stream.map((e) => e.position));
        expect(await store.readStream(newStream())).toEqual([]);
        expect(await store.readStream(a.slice(0, -1))).toEqual([]);
      });

      it('round-trips data and metadata as JSON', async () => {
        const stream = newStream();
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
          schemaVersion: 1,
        };
        const meta: EventMetadata = {
          actorUuid: randomUUID(),
          correlationId: randomUUID(),
          causationId: randomUUID(),
          recordedAt: '2026-08-22T10:00:00.123Z',
        };
        const input: EventToAppend = { id: randomUUID(), type: 'Something.Happened', data, metadata: meta };
        await store.appendToStream(stream, [input, event([1, 2, 3]), event('just a string')], 'no_stream');

        const [read, readArray, readScalar] = await store.readStream(stream);
        expect(read).toMatchObject({ id: input.id, type: 'Something.Happened', streamName: stream, revision: 0 });
        expect(read!.data).toEqual(data);
        expect(read!.metadata).toEqual(meta);
        expect(readArray!.data).toEqual([1, 2, 3]);
        expect(readScalar!.data).toBe('just a string');
        const [fromAll] = (await readAllSettled(store, subject.origin, 3)).flat();
        expect(fromAll).toEqual(read);
      });
    });

    describe('readAll', () => {
      it('reads everything after the origin in global order, in batches of batchSize, without an empty batch', async () => {
        const appended: RecordedEvent[] = [];
        for (let i = 0; i < 5; i++) appended.push(...(await store.appendToStream(newStream(), events(2, `x${i}`), 'no_stream')).events);

        const batches = await readAllSettled(store, subject.origin, 10, { batchSize: 3 });
        expect(batches.map((b) => b.length)).toEqual([3, 3, 3, 1]);
        expect(batches.flat()).toEqual(appended);
        const byFive = await readAllSettled(store, subject.origin, 10, { batchSize: 5 });
        expect(byFive.map((b) => b.length)).toEqual([5, 5]);
        expect((await readAllSettled(store, subject.origin, 10)).map((b) => b.length)).toEqual([10]);
      });

      it('reads from a position exclusively: inside an append, at its end, and at the last event', async () => {
        const appended: RecordedEvent[] = [];
        for (let i = 0; i < 4; i++) appended.push(...(await store.appendToStream(newStream(), events(2), 'no_stream')).events);
        await readAllSettled(store, subject.origin, 8);

        expect((await collect(store.readAll(appended[4]!.position, { batchSize: 2 }))).flat()).toEqual(appended.slice(5));
        expect((await collect(store.readAll(appended[3]!.position))).flat()).toEqual(appended.slice(4));
        expect(await collect(store.readAll(appended[7]!.position))).toEqual([]);
      });

      it('returns nothing when there is nothing after the origin', async () => {
        expect(await collect(store.readAll(subject.origin))).toEqual([]);
      });

      it('names the newest event as the head: the origin before any append, then the last append', async () => {
        expect(await store.headPosition()).toEqual(subject.origin);
        await store.appendToStream(newStream(), events(2), 'no_stream');
        const last = await store.appendToStream(newStream(), events(1), 'no_stream');
        expect(await store.headPosition()).toEqual(last.position);
      });
    });

    describe('concurrency', () => {
      it('lets exactly one of several appends with the same expected revision win', async () => {
        const stream = newStream();
        await store.appendToStream(stream, events(1), 'no_stream');
        const results = await settle(Array.from({ length: 8 }, (_, i) => store.appendToStream(stream, events(2, `w${i}`), 0)));

        const won = results.filter((r) => r.status === 'fulfilled');
        const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
        expect(won).toHaveLength(1);
        expect(lost).toHaveLength(7);
        for (const loss of lost) {
          expect(loss.reason).toBeInstanceOf(WrongExpectedVersionError);
          expect(loss.reason).toMatchObject({ expected: 0, actual: 2 });
        }
        expect((await store.readStream(stream)).map((e) => e.revision)).toEqual([0, 1, 2]);
      });

      it('lets exactly one of several creates of the same stream win', async () => {
        const stream = newStream();
        const results = await settle(Array.from({ length: 6 }, () => store.appendToStream(stream, events(1), 'no_stream')));
        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
        expect(await store.readStream(stream)).toHaveLength(1);
      });

      it("appends every one of several concurrent 'any' appends, with contiguous revisions", async () => {
        const stream = newStream();
        const results = await Promise.all(Array.from({ length: 10 }, (_, i) => store.appendToStream(stream, events(2, `a${i}`), 'any')));
        const revisions = results.flatMap((r) => r.events.map((e) => e.revision)).sort((a, b) => a - b);
        expect(revisions).toEqual(Array.from({ length: 20 }, (_, i) => i));
        for (const result of results) expect(result.events[1]!.revision).toBe(result.events[0]!.revision + 1);
        const stored = await store.readStream(stream);
        expect(stored.map((e) => e.revision)).toEqual(revisions);
        expectIncreasing(stored.map((e) => e.position));
      });
    });

    describe('catch-up from a checkpoint', () => {
      async function projector(): Promise<CatchUpProjector> {
        const catchUp = new CatchUpProjector(subject.db, store);
        // On a shared log the test's read model starts at the origin, as if attached to an existing log.
        await catchUp.advanceTo(subject.origin);
        return catchUp;
      }

      async function catchUpSettled(catchUp: CatchUpProjector, count: number): Promise<number> {
        const deadline = Date.now() + SETTLE_MS;
        let applied = 0;
        for (;;) {
          applied += await catchUp.catchUp(3);
          if (applied >= count || Date.now() > deadline) return applied;
          await sleep(25);
        }
      }

      it('applies what follows the checkpoint, then only what is new, advancing the checkpoint', async () => {
        const catchUp = await projector();
        const created = [createdInteraction('one'), createdInteraction('two'), createdInteraction('three')];
        const results = [];
        for (const c of created) results.push(await store.appendToStream(c.stream, c.events, 'no_stream'));

        expect(await catchUpSettled(catchUp, 6)).toBe(6);
        expect(await countRows(subject.db, 'interactions', created.map((c) => c.uuid))).toBe(3);
        expect(await readCheckpoint(subject.db)).toEqual(results[2]!.position);

        const later = createdInteraction('four');
        const last = await store.appendToStream(later.stream, later.events, 'no_stream');
        expect(await catchUpSettled(catchUp, 2)).toBe(2);
        expect(await readCheckpoint(subject.db)).toEqual(last.position);
        expect(await countRows(subject.db, 'interactions', [...created, later].map((c) => c.uuid))).toBe(4);
        expect(await catchUp.catchUp()).toBe(0);
      });

      it('skips re-delivered events: a batch at or before the checkpoint changes nothing', async () => {
        const catchUp = await projector();
        const first = createdInteraction('first');
        const second = createdInteraction('second');
        const a = await store.appendToStream(first.stream, first.events, 'no_stream');
        const b = await store.appendToStream(second.stream, second.events, 'no_stream');

        expect(await catchUp.applyBatch(a.events)).toBe(2);
        const snapshot = await subject.db.query('SELECT * FROM interactions WHERE uuid = $1', [first.uuid]);
        expect(await catchUp.applyBatch(a.events)).toBe(0);
        // Overlapping re-delivery: the old part is skipped, the new part applied once.
        expect(await catchUp.applyBatch([...a.events, ...b.events])).toBe(2);
        expect(await catchUp.applyBatch([...a.events, ...b.events])).toBe(0);
        expect((await subject.db.query('SELECT * FROM interactions WHERE uuid = $1', [first.uuid])).rows).toEqual(snapshot.rows);
        expect(await countRows(subject.db, 'interactions', [first.uuid, second.uuid])).toBe(2);
        expect(await readCheckpoint(subject.db)).toEqual(b.position);
      });
    });
  });
}
