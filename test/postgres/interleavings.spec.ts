import { INestApplicationContext } from '@nestjs/common';
import { CqrsModule } from '@nestjs/cqrs';
import { Test } from '@nestjs/testing';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from 'pg';
import { uuidv7 } from 'uuidv7';
import { InteractionConflictError, InteractionsMaintenance, InteractionsModule, InteractionsService } from '../../src';
import { PgDatabase } from '../../src/adapters/postgres/database';
import { PostgresEventStore } from '../../src/adapters/postgres/postgres-event-store';
import { projectEvents } from '../../projections/interactions.projection';
import { InMemoryContactDirectory } from '../support/directories';
import { plainAppendProjection } from '../support/inline-projection';
import { eventMetadata, updatedData } from '../support/poison';
import { dropSchema, TEST_DATABASE_URL, uniqueSchema } from '../support/postgres';

/**
 * Interleavings of two writers on the real PostgreSQL, made deterministic: a plain connection ("X") holds
 * a table's lock to stop a session at a chosen statement, and pg_stat_activity tells when a session of
 * this test (its application_name) waits on a lock.
 */

jest.setTimeout(60_000);

const contacts = new InMemoryContactDirectory();
const ada = contacts.add({ uuid: uuidv7(), name: 'Ada Lovelace', email: 'ada@example.com' }).uuid;
const bob = contacts.add({ uuid: uuidv7(), name: 'Bob Builder', email: 'bob@example.com' }).uuid;

let schema: string;
let url: string;
let app: INestApplicationContext;
let service: InteractionsService;
let maintenance: InteractionsMaintenance;
let db: PgDatabase;
let x: Client;

interface Wait {
  /** The table (unqualified: this test's schema is X's search_path), or null. */
  relation: string | null;
  mode: string;
  /** An advisory lock's key (a stream's lock is hashtextextended of its name), or null. */
  key: string | null;
}

/**
 * Waits until a session (or `sessions` of them) waits for a lock that `matches`: on a table of this
 * test's schema, or an advisory lock. By the lock, not by the statement's text, which pg_stat_activity
 * may show stale (a finished statement's).
 */
async function waitingFor(matches: (wait: Wait) => boolean, sessions = 1): Promise<void> {
  const until = Date.now() + 10_000;
  for (;;) {
    const { rows } = await x.query<Wait>(
      `SELECT l.relation::regclass::text AS relation, l.mode,
         CASE WHEN l.locktype = 'advisory' THEN ((l.classid::bigint << 32) | l.objid::bigint)::text END AS key
       FROM pg_locks l JOIN pg_database d ON d.oid = l.database
       WHERE NOT l.granted AND d.datname = current_database()`,
    );
    if (rows.filter(matches).length >= sessions) return;
    if (Date.now() > until) throw new Error(`no session waits as expected; waiting: ${JSON.stringify(rows)}`);
    await sleep(20);
  }
}
const onTable = (table: string) => (wait: Wait) => wait.relation === table;

/** Waits until a session waits for the lock of the interaction's stream. */
async function waitingForStream(interactionUuid: string): Promise<void> {
  const { rows } = await x.query<{ key: string }>('SELECT hashtextextended($1, 0)::text AS key', [`interaction-${interactionUuid}`]);
  await waitingFor((wait) => wait.key === rows[0]!.key);
}

/** The words an interaction's row is found by (its `search` column), in order. */
async function searchWords(interactionUuid: string): Promise<string[]> {
  const { rows } = await x.query<{ words: string[] }>('SELECT tsvector_to_array(search) AS words FROM interactions WHERE uuid = $1', [
    interactionUuid,
  ]);
  return rows[0]!.words.sort();
}

/** The interaction's erasure keys not destroyed (seen by X, whatever it holds). */
async function keysLeft(interactionUuid: string): Promise<number> {
  const { rows } = await x.query<{ n: string }>('SELECT count(*) AS n FROM erasure_keys WHERE interaction_uuid = $1', [interactionUuid]);
  return Number(rows[0]!.n);
}

const settled = <T>(p: Promise<T>) => p.then((value) => ({ value }), (error: unknown) => ({ error }));

/** The interaction is gone, and nothing of the edit's or the forgotten contact's text is readable anywhere. */
async function expectNothingReadable(interactionUuid: string): Promise<void> {
  expect(await service.getInteraction(interactionUuid)).toBeNull();
  const everything = JSON.stringify(
    [(await db.query('SELECT * FROM interactions')).rows, (await db.query('SELECT * FROM interaction_parties')).rows, await service.history(interactionUuid)],
    (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value),
  );
  expect(everything).not.toMatch(/NEWPLAINTEXT|secret|Ada Lovelace/);
}

beforeEach(async () => {
  schema = uniqueSchema('interleave');
  const target = new URL(TEST_DATABASE_URL);
  target.searchParams.set('application_name', schema);
  url = target.toString();
  const moduleRef = await Test.createTestingModule({
    imports: [
      CqrsModule.forRoot(),
      InteractionsModule.forRoot({ database: { connectionString: url, maxConnections: 8 }, schema, contactDirectory: contacts }),
    ],
  }).compile();
  app = await moduleRef.init();
  service = app.get(InteractionsService);
  maintenance = app.get(InteractionsMaintenance);
  db = new PgDatabase({ connectionString: url, schema, max: 3 });
  x = new Client({ connectionString: TEST_DATABASE_URL, options: `-c search_path=${schema}` });
  x.on('error', () => undefined);
  await x.connect();
});

afterEach(async () => {
  await x?.end().catch(() => undefined);
  await app?.close();
  await db?.close();
  await dropSchema(schema);
});

it('a rebuild and a forget of a contact in the same interaction both finish (no deadlock on the read tables)', async () => {
  const i = await service.createInteraction({ contactUuid: bob, subject: 'about Ada' }, [{ rawName: 'Ada', contactUuid: ada }]);
  // X holds the log: the forget's session of the stream stops after its keys are destroyed, at its read.
  await x.query('BEGIN');
  await x.query('LOCK TABLE events IN ACCESS EXCLUSIVE MODE');
  const forgetting = settled(service.forgetContact(ada));
  await waitingFor(onTable('events'));
  // The rebuild's TRUNCATE takes parked_events and the read tables in that order; the session goes on.
  const rebuilding = settled(maintenance.rebuild());
  await waitingFor((wait) => wait.mode === 'AccessExclusiveLock' && wait.relation !== null && !wait.relation.includes('.'));
  await x.query('COMMIT');
  const [forgot, rebuilt] = await Promise.all([forgetting, rebuilding]);
  expect(forgot).toEqual({ value: { interactions: 1 } });
  expect(rebuilt).toEqual({ value: expect.objectContaining({ events: expect.any(Number) }) });
  const after = await service.getInteraction(i.uuid);
  expect(after?.parties.map((p) => p.contactUuid)).toEqual([null]);
});

it("a forget's destruction of all her keys takes parked_events before the read tables, as a rebuild's TRUNCATE does", async () => {
  await service.createInteraction({ contactUuid: ada, subject: 'about Ada' });
  // X plays a rebuild that has taken its first table: the forget's destruction (it reads which streams
  // are parked) waits there, holding no read table, so the rebuild's next lock is granted at once.
  await x.query('BEGIN');
  await x.query('LOCK TABLE parked_events IN ACCESS EXCLUSIVE MODE');
  const forgetting = settled(service.forgetContact(ada));
  await waitingFor(onTable('parked_events'));
  await x.query("SET LOCAL lock_timeout = '2s'");
  await expect(x.query('LOCK TABLE interactions IN ACCESS EXCLUSIVE MODE')).resolves.toBeDefined();
  await x.query('COMMIT');
  expect(await forgetting).toEqual({ value: { interactions: 1 } });
});

it('an inline append waiting on a rebuild that re-parks its stream is parked behind it, not applied past it', async () => {
  const i = await service.createInteraction({ contactUuid: bob, subject: 'S' }); // revisions 0 and 1
  const stream = `interaction-${i.uuid}`;
  await db.query(
    `INSERT INTO events (event_id, stream_name, stream_revision, event_type, data, metadata)
     VALUES ($1, $2, 2, 'InteractionArchived', $3::jsonb, $4::jsonb)`,
    [randomUUID(), stream, JSON.stringify({ schemaVersion: 1, interactionUuid: i.uuid }), JSON.stringify(eventMetadata())],
  );
  await maintenance.rebuild();
  expect((await maintenance.parkedEvents()).map((p) => p.revision)).toEqual([2]);

  // X plays a rebuild that has emptied the tables and parked revision 2 again, not committed yet.
  await x.query('CREATE TABLE saved_parked AS SELECT * FROM parked_events');
  await x.query('BEGIN');
  await x.query('TRUNCATE parked_events, interactions, interaction_parties, interaction_involvements, involvement_counts, interaction_counts');
  await x.query('INSERT INTO parked_events SELECT * FROM saved_parked');
  const inline = new PostgresEventStore(db, projectEvents, undefined, plainAppendProjection);
  const appending = inline.appendToStream(
    stream,
    [{ id: randomUUID(), type: 'InteractionUpdated', data: updatedData(i.uuid, { subject: 'past the parked event?' }), metadata: eventMetadata() }],
    2,
  );
  await waitingFor(onTable('parked_events'));
  await x.query('COMMIT');
  await appending;
  expect((await maintenance.parkedEvents()).map((p) => [p.revision, p.error])).toEqual([
    [2, expect.stringMatching(/unknown/)],
    [3, 'behind the parked event at revision 2'],
  ]);
});

it('an update that read the content key before a forget of the subject leaves nothing of either readable', async () => {
  const i = await service.createInteraction({ contactUuid: ada, subject: 'secret subject', body: 'secret body' }, [
    { rawName: 'Ada Lovelace', contactUuid: ada },
  ]);
  // X stops the update at its insert into the log (reads of it go on), after its read found the subject's
  // content key. An edit that moves the involvements (the time) holds the stream's lock from its first try.
  await x.query('BEGIN');
  await x.query('LOCK TABLE events IN EXCLUSIVE MODE');
  const updating = settled(service.updateInteraction(i.uuid, { body: 'NEWPLAINTEXT body of the forgotten', occurredAt: new Date('2026-01-02T03:04:05Z') }));
  await waitingFor(onTable('events'));
  // The forget destroys her keys at once (no stream lock), then its session of the stream queues behind the update.
  const forgetting = service.forgetContact(ada);
  await waitingForStream(i.uuid);
  expect(await keysLeft(i.uuid)).toBe(0);
  await x.query('COMMIT');
  await updating;
  await forgetting;
  await expectNothingReadable(i.uuid);
});

describe('a first try without the stream lock (an edit without a move, a delete)', () => {
  /**
   * The statements of this test's module that wait for a lock (their text is current while they wait). By
   * application name: test files running beside this one wait for locks in their own schemas.
   */
  const waitingStatements = async () =>
    (
      await x.query<{ query: string }>(
        `SELECT a.query FROM pg_stat_activity a JOIN pg_locks l ON l.pid = a.pid AND NOT l.granted
         WHERE a.datname = current_database() AND a.application_name = $1`,
        [schema],
      )
    ).rows.map((row) => row.query);

  it('an edit of both texts and a delete read the stream without its lock first', async () => {
    const i = await service.createInteraction({ contactUuid: ada, subject: 'S', body: 'B' });
    const reads: string[] = [];
    for (const command of [() => service.updateInteraction(i.uuid, { subject: 'S2', body: 'B2' }), () => service.deleteInteraction(i.uuid)]) {
      // X stops any read of the log: the command's first statement waits, and shows which read it is.
      await x.query('BEGIN');
      await x.query('LOCK TABLE events IN ACCESS EXCLUSIVE MODE');
      const running = command();
      await waitingFor(onTable('events'));
      const waiting = await waitingStatements();
      await x.query('COMMIT');
      await running;
      expect(waiting).toEqual([expect.stringMatching(/^WITH read AS \(SELECT \* FROM events WHERE stream_name = \$1\)/)]);
      reads.push(waiting[0]!);
    }
    // An edit of a text reads the row with the stream (it may change one text alone); a delete does not.
    expect(reads.map((read) => read.includes('projection_read AS'))).toEqual([true, false]);
    expect((await service.history(i.uuid)).map((e) => e.type)).toEqual(['InteractionLogged', 'PartiesRebuilt', 'InteractionUpdated', 'InteractionDeleted']);
  });

  it('never commits inside a locked session that wrote before reading (a forget): it waits, and the stream stays in order', async () => {
    const i = await service.createInteraction({ contactUuid: ada, subject: 'old subject', body: 'old body' }); // revisions 0 and 1
    const stream = `interaction-${i.uuid}`;
    // X plays a locked session that writes before it reads, as a forget destroys keys: its transaction id
    // is taken before the edit's read.
    await x.query('BEGIN');
    await x.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [stream]);
    await x.query('SELECT txid_current()');
    const editing = service.updateInteraction(i.uuid, { subject: 'new subject', body: 'new body' });
    // The edit either lands now (not waiting for the lock) or queues on it.
    await Promise.race([editing, waitingForStream(i.uuid)]);
    await x.query(
      `INSERT INTO events (event_id, stream_name, stream_revision, event_type, data, metadata)
       SELECT $1, $2, max(stream_revision) + 1, 'InteractionUpdated', $3::jsonb, $4::jsonb FROM events WHERE stream_name = $2`,
      [randomUUID(), stream, JSON.stringify(updatedData(i.uuid, { metadata: { by: 'the locked session' } })), JSON.stringify(eventMetadata())],
    );
    await x.query('COMMIT');
    expect(await editing).toMatchObject({ version: 3, subject: 'new subject', metadata: { by: 'the locked session' } });
    const { rows } = await x.query<{ stream_revision: string }>(
      'SELECT stream_revision FROM events WHERE stream_name = $1 ORDER BY transaction_id, global_position',
      [stream],
    );
    expect(rows.map((row) => Number(row.stream_revision))).toEqual([0, 1, 2, 3]); // the global order is the stream's
    await maintenance.rebuild();
    expect(await service.getInteraction(i.uuid)).toMatchObject({ version: 3, subject: 'new subject', body: 'new body' });
  });

  it('an edit that never fits one statement (a move) is locked from its first try: no read without the lock first', async () => {
    const i = await service.createInteraction({ contactUuid: ada, subject: 'S', body: 'B' });
    // X stops any read of the log: the edit's first statement waits, and shows which read it is.
    await x.query('BEGIN');
    await x.query('LOCK TABLE events IN ACCESS EXCLUSIVE MODE');
    const editing = service.updateInteraction(i.uuid, { body: 'B2', occurredAt: new Date('2026-01-02T03:04:05Z') });
    await waitingFor(onTable('events'));
    const waiting = await waitingStatements();
    await x.query('COMMIT');
    expect(waiting).toEqual([expect.stringContaining('lock_and_read_stream')]);
    expect(await editing).toMatchObject({ version: 2, subject: 'S', body: 'B2' });
  });

  it('an edit of one text reads its stream and its row in one statement, without the lock: the search words are of both texts', async () => {
    const i = await service.createInteraction({ contactUuid: ada, subject: 'alpha', body: 'bravo' });
    const waits: string[][] = [];
    for (const table of ['events', 'interactions']) {
      // X stops any read of the table: the edit's statement that reads it waits, and shows which it is.
      await x.query('BEGIN');
      await x.query(`LOCK TABLE ${table} IN ACCESS EXCLUSIVE MODE`);
      const editing = service.updateInteraction(i.uuid, { body: `charlie ${table}` });
      await waitingFor(onTable(table));
      waits.push(await waitingStatements());
      await x.query('COMMIT');
      await editing;
    }
    const read = expect.stringMatching(/^WITH read AS \(SELECT \* FROM events WHERE stream_name = \$1\)[^]*projection_read AS \(SELECT version, subject, body, xmin/);
    expect(waits).toEqual([[read], [read]]);
    expect(await service.getInteraction(i.uuid)).toMatchObject({ version: 3, subject: 'alpha', body: 'charlie interactions' });
    expect(await searchWords(i.uuid)).toEqual(['alpha', 'charlie', 'interactions']);
  });

  it('an edit of one text whose row changed after it read it writes nothing, and runs again under the lock', async () => {
    const i = await service.createInteraction({ contactUuid: ada, subject: 'alpha', body: 'bravo' });
    // X stops the edit at its statement (the parked lookup), after it read the row with the stream.
    await x.query('BEGIN');
    await x.query('LOCK TABLE parked_events IN ACCESS EXCLUSIVE MODE');
    const editing = service.updateInteraction(i.uuid, { subject: 'delta' });
    await waitingFor(onTable('parked_events'));
    // Another writer of the row rewrites it meanwhile, without an event (as a rebuild re-inserts it).
    await db.query("UPDATE interactions SET body = 'echo' WHERE uuid = $1", [i.uuid]);
    await x.query('COMMIT');
    await editing;
    // The words are of the body the row holds when the edit is applied, not of the one it read first.
    expect(await searchWords(i.uuid)).toEqual(['delta', 'echo']);
    expect((await service.history(i.uuid)).map((e) => e.type)).toEqual(['InteractionLogged', 'PartiesRebuilt', 'InteractionUpdated']);
  });

  it('loses a race to a writer that appended after its read, and tries again under the lock: both land, or a conflict when pinned', async () => {
    for (const pinned of [false, true]) {
      const i = await service.createInteraction({ contactUuid: ada, subject: 'S', body: 'B' }); // revisions 0 and 1
      // X stops the edit at its statement (the parked lookup), after its read of revision 1.
      await x.query('BEGIN');
      await x.query('LOCK TABLE parked_events IN ACCESS EXCLUSIVE MODE');
      const editing = settled(service.updateInteraction(i.uuid, { subject: 'mine', body: 'mine' }, null, pinned ? { expectedVersion: 1 } : {}));
      await waitingFor(onTable('parked_events'));
      // Another writer appends revision 2 meanwhile (a store without a projection reads no parked_events).
      await new PostgresEventStore(db).appendToStream(
        `interaction-${i.uuid}`,
        [{ id: randomUUID(), type: 'InteractionUpdated', data: updatedData(i.uuid, { metadata: { other: 'writer' } }), metadata: eventMetadata() }],
        1,
      );
      await x.query('COMMIT');
      const outcome = await editing;
      const types = (await service.history(i.uuid)).map((e) => e.type);
      if (pinned) {
        expect(outcome).toEqual({ error: expect.any(InteractionConflictError) });
        expect(types).toEqual(['InteractionLogged', 'PartiesRebuilt', 'InteractionUpdated']);
      } else {
        expect(outcome).toEqual({ value: expect.objectContaining({ version: 3, subject: 'mine', metadata: { other: 'writer' } }) });
        expect(types).toEqual(['InteractionLogged', 'PartiesRebuilt', 'InteractionUpdated', 'InteractionUpdated']);
        expect(await service.getInteraction(i.uuid)).toMatchObject({ version: 3, subject: 'mine', body: 'mine' });
      }
    }
  });

  it.each([
    ['both texts', { subject: 'NEWPLAINTEXT subject', body: 'NEWPLAINTEXT body' }],
    ['one text', { body: 'NEWPLAINTEXT body' }],
  ])('an edit of %s racing a forget of the subject leaves nothing of either readable', async (_, edit) => {
    const i = await service.createInteraction({ contactUuid: ada, subject: 'secret subject', body: 'secret body' }, [
      { rawName: 'Ada Lovelace', contactUuid: ada },
    ]);
    // X stops the edit at its insert into the log (reads of it go on), after its read found the subject's
    // content key; the forget destroys her keys at once, then its session of the stream stops there too.
    await x.query('BEGIN');
    await x.query('LOCK TABLE events IN EXCLUSIVE MODE');
    const updating = settled(service.updateInteraction(i.uuid, edit));
    await waitingFor(onTable('events'));
    const forgetting = service.forgetContact(ada);
    await waitingFor(onTable('events'), 2);
    expect(await keysLeft(i.uuid)).toBe(0);
    await x.query('COMMIT');
    await updating;
    await forgetting;
    await expectNothingReadable(i.uuid);
  });
});
