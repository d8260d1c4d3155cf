import { setTimeout as sleep } from 'node:timers/promises';
import { uuidv7 } from 'uuidv7';
import { composeStatement, PostgresEventStore } from '../../src/adapters/postgres/postgres-event-store';
import { InteractionLoggedData, PartiesRebuiltData } from '../../src/domain/events';
import { Database } from '../../src/ports/database';
import { AppendResult, EventToAppend, Position, RecordedEvent, RowsPart, START, WrongExpectedVersionError, comparePositions } from '../../src/ports/event-store';
import { InteractionUnavailableError } from '../../src/domain/errors';
import { newStreamProjection, projectEvents } from '../../projections/interactions.projection';
import { BACKENDS, migratedDatabase } from '../support/backends';
import { eventMetadata } from '../support/poison';
import { readTables } from '../support/read-tables';

/**
 * PostgresEventStore.createStream: a new stream, what goes with it and its inline projection in one
 * statement, all or nothing, in the log's gap-free order.
 */
describe.each(BACKENDS.map((backend) => [backend.name, backend] as const))('createStream on %s', (_name, backend) => {
  let db: Database;
  let cleanup: () => Promise<void>;
  let store: PostgresEventStore;
  beforeEach(async () => {
    ({ db, cleanup } = await migratedDatabase(backend));
    store = new PostgresEventStore(db, projectEvents, async (events) => newStreamProjection(events));
  });
  afterEach(() => cleanup());
  /** How many statements a moment's statements go in: two halves where they run at the same time. */
  const halves = backend.name === 'postgres' ? 2 : 1;

  function created(uuid = uuidv7()): { stream: string; events: EventToAppend[] } {
    const logged: InteractionLoggedData = {
      schemaVersion: 1,
      interactionUuid: uuid,
      contactUuid: uuidv7(),
      interactionType: 'call',
      occurredAt: '2026-11-30T10:00:00Z',
      subject: 'One statement',
      body: null,
      ownerUserUuid: null,
      metadata: {},
      fileUuids: [],
    };
    const parties: PartiesRebuiltData = {
      schemaVersion: 1,
      interactionUuid: uuid,
      parties: [{ rawName: 'Visitor', contactUuid: null, staffPersonUuid: null, position: 0, snapshot: { source: 'free_text', capturedAt: '2026-11-30T10:00:00Z' } }],
    };
    return {
      stream: `interaction-${uuid}`,
      events: [
        { id: uuidv7(), type: 'InteractionLogged', data: logged, metadata: eventMetadata() },
        { id: uuidv7(), type: 'PartiesRebuilt', data: parties, metadata: eventMetadata() },
      ],
    };
  }

  /** A part that records the stream in a table of the test's own, so its all-or-nothing shows. */
  const marker = (stream: string): RowsPart => ({
    ctes: 'marked AS (INSERT INTO create_stream_marks (stream_name) SELECT unnest($1::text[]))',
    params: [{ text: [stream] }],
  });

  /** The read tables a replay of the whole log into emptied ones makes are `live`. */
  async function expectRebuildToGive(live: Awaited<ReturnType<typeof readTables>>): Promise<void> {
    await db.transaction(async (tx) => {
      await tx.query('TRUNCATE interactions, interaction_parties, interaction_involvements', []);
      for await (const batch of store.readAll(START, { within: tx })) await projectEvents(tx, batch);
    });
    expect(await readTables(db)).toEqual(live);
  }

  it('writes the events, what goes with them and the read rows at once; the rows equal a rebuild', async () => {
    await db.query('CREATE TABLE create_stream_marks (stream_name text PRIMARY KEY)', []);
    const { stream, events } = created();
    const result = await store.createStream(stream, events, [marker(stream)]);
    expect(result.events.map((e) => [e.revision, e.type])).toEqual([
      [0, 'InteractionLogged'],
      [1, 'PartiesRebuilt'],
    ]);
    expect(comparePositions(result.events[0]!.position, result.events[1]!.position)).toBe(-1);
    expect(result.nextRevision).toBe(1);
    expect((await store.readStream(stream)).map((e) => e.id)).toEqual(events.map((e) => e.id));
    // The result is the events as a read returns them: ids, revisions, positions, data and metadata.
    expect(await store.readStream(stream)).toEqual(result.events);
    expect((await db.query('SELECT stream_name FROM create_stream_marks', [])).rows).toEqual([{ stream_name: stream }]);
    const live = await readTables(db);
    expect(live.interactions).toHaveLength(1);
    expect(live.parties).toHaveLength(1);
    await expectRebuildToGive(live);
  });

  it('refuses a stream that exists with WrongExpectedVersionError, and writes nothing of the rest', async () => {
    await db.query('CREATE TABLE create_stream_marks (stream_name text PRIMARY KEY)', []);
    const { stream, events } = created();
    await store.appendToStream(stream, events.slice(0, 1), 'no_stream');
    const again = created(stream.slice('interaction-'.length));
    const error = await store.createStream(stream, again.events, [marker(stream)]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WrongExpectedVersionError);
    expect(error).toMatchObject({ expected: 'no_stream', actual: 0 });
    expect(await store.readStream(stream)).toHaveLength(1);
    expect((await db.query('SELECT * FROM create_stream_marks', [])).rows).toEqual([]);
  });

  it('appends the ordinary way when a read row is in the way, which leaves the row as an ordinary append would', async () => {
    const { stream, events } = created();
    const uuid = stream.slice('interaction-'.length);
    await db.query(
      `INSERT INTO interactions (uuid, contact_uuid, interaction_type, occurred_at, inserted_at, updated_at, version, metadata, file_uuids, parties)
       VALUES ($1, $2, 'note', now(), now(), now(), 0, '{}', '{}', '[]')`,
      [uuid, uuidv7()],
    );
    const rowThen = (await readTables(db)).interactions;
    const result = await store.createStream(stream, events);
    expect(result.events.map((e) => e.revision)).toEqual([0, 1]);
    // The projection takes a row that is there for an earlier delivery of revision 0 (see prepareEvents).
    expect((await readTables(db)).interactions).toEqual(
      rowThen!.map((row) => ({ ...(row as object), parties: expect.any(Array), version: '1', updated_at: expect.any(Date) })),
    );
  });

  /** The transactions (ids) the results' events were written in. */
  const transactionsOf = (results: AppendResult[]) => new Set(results.flatMap((r) => r.events.map((e) => e.position.commit)));

  it('makes creates asked for at the same moment in one statement, or its two halves on a server, each create with its own result; the rows equal a rebuild', async () => {
    await db.query('CREATE TABLE create_stream_marks (stream_name text PRIMARY KEY)', []);
    const creates = Array.from({ length: 5 }, () => created());
    const results = await Promise.all(creates.map(({ stream, events }) => store.createStream(stream, events, [marker(stream)])));
    const transactions = results.map((r) => r.position.commit);
    expect(new Set(transactions).size).toBe(halves);
    expect(transactions.slice(1, 3)).toEqual([transactions[0], transactions[0]]);
    expect(transactions[4]).toBe(transactions[3]);
    for (const [i, { stream, events }] of creates.entries()) {
      expect(results[i]!.events.map((e) => [e.id, e.revision])).toEqual(events.map((e, revision) => [e.id, revision]));
      expect(await store.readStream(stream)).toEqual(results[i]!.events);
    }
    const marks = (await db.query<{ stream_name: string }>('SELECT stream_name FROM create_stream_marks', [])).rows;
    expect(marks.map((row) => row.stream_name).sort()).toEqual(creates.map((c) => c.stream).sort());
    const live = await readTables(db);
    expect(live.interactions).toHaveLength(5);
    await expectRebuildToGive(live);
  });

  it('sends the creates of a moment whole, in one statement, while another statement is in flight', async () => {
    let hold!: () => void;
    const held = new Promise<void>((resolve) => (hold = resolve));
    let holdNext = true;
    const holding: Database = Object.assign(Object.create(db) as Database, {
      autocommit: async (text: string, params: unknown[]) => {
        if (holdNext) {
          holdNext = false;
          await held;
        }
        return db.autocommit!(text, params);
      },
    });
    store = new PostgresEventStore(holding, projectEvents, async (events) => newStreamProjection(events));
    const one = created();
    const first = store.createStream(one.stream, one.events);
    await sleep(50); // its statement held in flight
    const creates = Array.from({ length: 4 }, () => created());
    const later = Promise.all(creates.map(({ stream, events }) => store.createStream(stream, events)));
    await sleep(50);
    hold();
    await first;
    expect(transactionsOf(await later).size).toBe(1);
    // Nothing in flight any more: the next moment's creates go as halves again (one statement on PGlite).
    const next = Array.from({ length: 4 }, () => created());
    expect(transactionsOf(await Promise.all(next.map(({ stream, events }) => store.createStream(stream, events)))).size).toBe(halves);
  });

  it('puts creates of one stream in one statement, whatever the halves: of a create and its racing repeat one lands, the other is refused; the others land', async () => {
    const sent: unknown[][] = [];
    const recording: Database = Object.assign(Object.create(db) as Database, {
      autocommit: (text: string, params: unknown[]) => {
        sent.push(params);
        return db.autocommit!(text, params);
      },
    });
    store = new PostgresEventStore(recording, projectEvents, async (events) => newStreamProjection(events));
    const [a, x, b] = [created(), created(), created()];
    const repeat = created(x.stream.slice('interaction-'.length));
    const outcomes = await Promise.allSettled([a, x, b, repeat].map(({ stream, events }) => store.createStream(stream, events)));
    expect([outcomes[0]!.status, outcomes[2]!.status]).toEqual(['fulfilled', 'fulfilled']);
    // Refused together, the two are made again each alone, at once: either may reach the server first.
    const [ofX, ofRepeat] = [outcomes[1]!, outcomes[3]!];
    expect([ofX.status, ofRepeat.status].sort()).toEqual(['fulfilled', 'rejected']);
    const refused = (ofX.status === 'rejected' ? ofX : ofRepeat) as PromiseRejectedResult;
    expect(refused.reason).toBeInstanceOf(WrongExpectedVersionError);
    const winner = ofX.status === 'fulfilled' ? x : repeat;
    // The first statement held both creates of the stream (its column of stream names, one per event).
    const naming = (params: unknown[]) => JSON.stringify(params).split(x.stream).length - 1;
    expect(naming(sent[0]!)).toBe(4);
    expect((await store.readStream(x.stream)).map((e) => e.id)).toEqual(winner.events.map((e) => e.id));
  });

  it('makes each create of a failed shared statement again on its own: a stream that exists is refused, the others land', async () => {
    await db.query('CREATE TABLE create_stream_marks (stream_name text PRIMARY KEY)', []);
    const existing = created();
    await store.appendToStream(existing.stream, existing.events.slice(0, 1), 'no_stream');
    const again = created(existing.stream.slice('interaction-'.length));
    const others = [created(), created(), created()];
    const outcomes = await Promise.allSettled([others[0]!, again, ...others.slice(1)].map(({ stream, events }) => store.createStream(stream, events, [marker(stream)])));
    expect(outcomes[1]).toMatchObject({ status: 'rejected', reason: expect.objectContaining({ expected: 'no_stream', actual: 0 }) });
    expect((outcomes[1] as PromiseRejectedResult).reason).toBeInstanceOf(WrongExpectedVersionError);
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(3);
    expect(await store.readStream(existing.stream)).toHaveLength(1);
    const marks = (await db.query<{ stream_name: string }>('SELECT stream_name FROM create_stream_marks', [])).rows;
    expect(marks.map((row) => row.stream_name).sort()).toEqual(others.map((c) => c.stream).sort());
    for (const { stream, events } of others) expect((await store.readStream(stream)).map((e) => e.id)).toEqual(events.map((e) => e.id));
  });

  it('makes a create of a shared statement whose read row is in the way the ordinary way, and the others each on its own', async () => {
    const inTheWay = created();
    await db.query(
      `INSERT INTO interactions (uuid, contact_uuid, interaction_type, occurred_at, inserted_at, updated_at, version, metadata, file_uuids, parties)
       VALUES ($1, $2, 'note', now(), now(), now(), 0, '{}', '{}', '[]')`,
      [inTheWay.stream.slice('interaction-'.length), uuidv7()],
    );
    const others = [created(), created()];
    const results = await Promise.all([inTheWay, ...others].map(({ stream, events }) => store.createStream(stream, events)));
    for (const [i, { stream }] of [inTheWay, ...others].entries()) expect(await store.readStream(stream)).toEqual(results[i]!.events);
    expect((await readTables(db)).interactions).toHaveLength(3);
    expect(transactionsOf(results).size).toBe(3); // the shared try wrote nothing; each then alone
  });

  it.each([
    ['a lost connection', new InteractionUnavailableError('connection lost', 'unknown')],
    ['a client-side timeout (pg query_timeout)', new Error('Query read timeout')],
  ])('answers every create of a shared statement with an error that may follow its commit, %s, and makes none again', async (_name, lost) => {
    let statements = 0;
    // The statement commits, then its answer is lost.
    const losing: Database = Object.assign(Object.create(db) as Database, {
      autocommit: async (text: string, params: unknown[]) => {
        statements++;
        await db.autocommit!(text, params);
        throw lost;
      },
    });
    const losingStore = new PostgresEventStore(losing, projectEvents, async (events) => newStreamProjection(events));
    const creates = Array.from({ length: 4 }, () => created());
    const outcomes = await Promise.allSettled(creates.map(({ stream, events }) => losingStore.createStream(stream, events)));
    expect(outcomes).toEqual(creates.map(() => ({ status: 'rejected', reason: lost })));
    expect(statements).toBe(halves); // each shared, none sent again
    for (const { stream } of creates) expect(await store.readStream(stream)).toHaveLength(2);
  });

  it('refuses to join parts of the same CTEs whose columns differ in kind, and writes nothing of their statement', async () => {
    await db.query('CREATE TABLE create_stream_marks (stream_name text PRIMARY KEY)', []);
    const [a, b, c, d] = [created(), created(), created(), created()];
    const asPlain: RowsPart = { ...marker(b.stream), params: [{ plain: [b.stream] }] };
    // a and b share a statement (on a server, the first half of the moment's creates; c and d the other).
    const outcomes = await Promise.allSettled([
      store.createStream(a.stream, a.events, [marker(a.stream)]),
      store.createStream(b.stream, b.events, [asPlain]),
      store.createStream(c.stream, c.events),
      store.createStream(d.stream, d.events),
    ]);
    for (const outcome of outcomes.slice(0, 2)) expect(outcome).toMatchObject({ status: 'rejected', reason: { message: 'parts of the same CTEs differ at parameter 1' } });
    expect(outcomes.slice(2).map((o) => o.status)).toEqual(['fulfilled', 'fulfilled']);
    expect(await store.readStream(a.stream)).toEqual([]);
    expect(await store.readStream(b.stream)).toEqual([]);
    expect((await db.query('SELECT * FROM create_stream_marks', [])).rows).toEqual([]);
  });

  it('sends the halves of a shared statement too large for the server as statements of their own, not each create alone', async () => {
    const sent: number[] = [];
    let refuseNext = true;
    const limited: Database = Object.assign(Object.create(db) as Database, {
      autocommit: async (text: string, params: unknown[]) => {
        const streams = (JSON.stringify(params).match(/interaction-[0-9a-f-]{36}/g) ?? []).length / 2;
        sent.push(streams);
        if (refuseNext && streams > 1) {
          refuseNext = false;
          // As PostgreSQL refuses a jsonb array past 256 MB.
          throw Object.assign(new Error('total size of jsonb array elements exceeds the maximum of 268435455 bytes'), { code: '54000', severity: 'ERROR' });
        }
        return db.autocommit!(text, params);
      },
    });
    store = new PostgresEventStore(limited, projectEvents, async (events) => newStreamProjection(events));
    const creates = Array.from({ length: 8 }, () => created());
    const results = await Promise.all(creates.map(({ stream, events }) => store.createStream(stream, events)));
    expect(results.map((r) => r.events.length)).toEqual(creates.map(() => 2));
    const refused = sent[0]!;
    expect(sent.filter((n) => n === 1)).toEqual([]); // no create went alone
    expect(sent).toContain(Math.ceil(refused / 2));
    expect((await readTables(db)).interactions).toHaveLength(8);
  });

  it('puts at most 32 creates in one statement', async () => {
    const creates = Array.from({ length: 80 }, () => created());
    const results = await Promise.all(creates.map(({ stream, events }) => store.createStream(stream, events)));
    expect(transactionsOf(results).size).toBe(3); // 32, 32 and 16
    expect((await readTables(db)).interactions).toHaveLength(80);
  });

  it('keeps the global order gap-free: a reader following creates and appends sees every event once, in order', async () => {
    const seen: RecordedEvent[] = [];
    const written: string[] = [];
    let writing = true;
    // Until it has seen all: a reader holds back behind any transaction still running on the server
    // (that is the guarantee), also other tests' ones, so it may need a few more passes.
    const reader = (async () => {
      let from: Position = START;
      const deadline = Date.now() + 30_000;
      while ((writing || seen.length < written.length) && Date.now() < deadline) {
        for await (const batch of store.readAll(from, { batchSize: 7 })) {
          seen.push(...batch);
          from = batch[batch.length - 1]!.position;
        }
        await sleep(5);
      }
    })();
    await Promise.all(
      Array.from({ length: 6 }, async () => {
        for (let i = 0; i < 15; i++) {
          const { stream, events } = created();
          await store.createStream(stream, events);
          const more = { ...events[1]!, id: uuidv7() };
          await store.appendToStream(stream, [more], 1);
          written.push(...events.map((e) => e.id), more.id);
        }
      }),
    );
    writing = false;
    await reader;
    expect(seen.map((e) => e.id).sort()).toEqual([...written].sort());
    for (let i = 1; i < seen.length; i++) expect(comparePositions(seen[i - 1]!.position, seen[i]!.position)).toBe(-1);
    const revisions = new Map<string, number>();
    for (const event of seen) {
      expect(event.revision).toBe((revisions.get(event.streamName) ?? -1) + 1);
      revisions.set(event.streamName, event.revision);
    }
  });
});

describe('composeStatement', () => {
  it('numbers each part’s parameters after the ones before it', () => {
    const { text, params } = composeStatement(
      [
        { ctes: 'a AS (SELECT $1::int, $2::int)', params: [1, 2] },
        { ctes: '', params: [] },
        { ctes: 'b AS (SELECT $1::int, $12::int)', params: [3, 4] },
      ],
      'SELECT 1',
    );
    expect(text).toBe('WITH a AS (SELECT $1::int, $2::int),\nb AS (SELECT $3::int, $14::int)\nSELECT 1');
    expect(params).toEqual([1, 2, 3, 4]);
  });

  it('reuses a composed text only for the same parts, parameter counts and select', () => {
    const a = (params: unknown[]) => ({ ctes: 'a AS (SELECT $1::int)', params });
    const b = { ctes: 'b AS (SELECT $1::int)', params: [9] };
    expect(composeStatement([a([1]), b], 'SELECT 1').text).toBe('WITH a AS (SELECT $1::int),\nb AS (SELECT $2::int)\nSELECT 1');
    // Same texts, another count before b: b's parameter moves.
    expect(composeStatement([a([1, 2]), b], 'SELECT 1').text).toBe('WITH a AS (SELECT $1::int),\nb AS (SELECT $3::int)\nSELECT 1');
    expect(composeStatement([a([1]), b], 'SELECT 2').text).toBe('WITH a AS (SELECT $1::int),\nb AS (SELECT $2::int)\nSELECT 2');
    expect(composeStatement([b, a([1])], 'SELECT 1').text).toBe('WITH b AS (SELECT $1::int),\na AS (SELECT $2::int)\nSELECT 1');
    expect(composeStatement([a([5]), b], 'SELECT 1')).toEqual({ text: 'WITH a AS (SELECT $1::int),\nb AS (SELECT $2::int)\nSELECT 1', params: [5, 9] });
  });
});
