import { randomUUID } from 'node:crypto';
import { Database, Queryable } from '../../src/ports/database';
import { PostgresEventStore } from '../../src/adapters/postgres/postgres-event-store';
import {
  InteractionDeletedData,
  InteractionLoggedData,
  InteractionUpdatedData,
  InvalidEventError,
  parseEvent,
  PartiesRebuiltData,
} from '../../src/domain/events';
import { EventToAppend, ExpectedRevision, Position, RecordedEvent, START } from '../../src/ports/event-store';
import { CatchUpProjector, readCheckpoint, rebuild } from '../../projections/catch-up';
import { COUNT_TABLES, projectEvents, READ_TABLES } from '../../projections/interactions.projection';
import { BACKENDS, migratedDatabase } from '../support/backends';
import { plainAppendProjection } from '../support/inline-projection';
import { recording } from '../support/recording';
import { SETTLE_MS, sleep } from '../support/timing';
import { catchUpFully, horizonReportOf } from '../support/catch-up';
import { readAllSettled } from '../support/event-store-contract';

/**
 * The interactions projection and the catch-up machinery against the real PostgreSQL. Events go through
 * the real write path (PostgresEventStore.appendToStream) with data valid for the zod schemas.
 */


type Party = PartiesRebuiltData['parties'][number];

const at = (iso: string) => iso; // readability: whole-second UTC strings

function envelope(type: string, data: unknown, recordedAt: string): EventToAppend {
  if (type !== 'Broken') parseEvent(type, data); // the fixtures themselves must be valid
  return {
    id: randomUUID(),
    type,
    data,
    metadata: { actorUuid: null, correlationId: randomUUID(), causationId: null, recordedAt },
  };
}

function logged(
  interactionUuid: string,
  contactUuid: string,
  recordedAt: string,
  overrides: Partial<InteractionLoggedData> = {},
): EventToAppend {
  const data: InteractionLoggedData = {
    schemaVersion: 1,
    interactionUuid,
    contactUuid,
    interactionType: 'call',
    occurredAt: at('2026-03-01T09:00:00Z'),
    subject: 'First call',
    body: 'Talked about the renewal',
    ownerUserUuid: null,
    metadata: { source: 'test', nested: { a: [1, 2] } },
    fileUuids: [],
    ...overrides,
  };
  return envelope('InteractionLogged', data, recordedAt);
}

function updated(interactionUuid: string, changes: InteractionUpdatedData['changes'], recordedAt: string): EventToAppend {
  const data: InteractionUpdatedData = { schemaVersion: 1, interactionUuid, changes };
  return envelope('InteractionUpdated', data, recordedAt);
}

function partiesRebuilt(interactionUuid: string, parties: Omit<Party, 'position'>[], recordedAt: string): EventToAppend {
  const data: PartiesRebuiltData = {
    schemaVersion: 1,
    interactionUuid,
    parties: parties.map((p, position) => ({ ...p, position })),
  };
  return envelope('PartiesRebuilt', data, recordedAt);
}

function deleted(interactionUuid: string, recordedAt: string): EventToAppend {
  const data: InteractionDeletedData = { schemaVersion: 1, interactionUuid };
  return envelope('InteractionDeleted', data, recordedAt);
}

const CAPTURED = '2026-03-01T09:00:05Z';
function contactParty(contactUuid: string, name: string): Omit<Party, 'position'> {
  return { rawName: name, contactUuid, staffPersonUuid: null, snapshot: { source: 'crm_contact', name, company: 'Acme', capturedAt: CAPTURED } };
}
function staffParty(staffPersonUuid: string, name: string): Omit<Party, 'position'> {
  return { rawName: name, contactUuid: null, staffPersonUuid, snapshot: { source: 'staff', name, jobTitle: 'Engineer', capturedAt: CAPTURED } };
}
function freeParty(name: string): Omit<Party, 'position'> {
  return { rawName: name, contactUuid: null, staffPersonUuid: null, snapshot: { source: 'free_text', capturedAt: CAPTURED } };
}

interface Dump {
  interactions: Record<string, unknown>[];
  parties: Record<string, unknown>[];
  involvements: Record<string, unknown>[];
  counts: Record<string, unknown>[];
}

/** Every row of the three read tables and the counts, fully ordered. */
async function dump(q: Queryable): Promise<Dump> {
  const interactions = await q.query('SELECT * FROM interactions ORDER BY uuid');
  const parties = await q.query('SELECT * FROM interaction_parties ORDER BY interaction_uuid, position');
  const involvements = await q.query('SELECT * FROM interaction_involvements ORDER BY contact_uuid, interaction_uuid');
  // The counts per type as they read: the sum of each key's rows (a count back at zero may keep rows).
  const counts = await q.query(
    `SELECT contact_uuid::text AS key, interaction_type, sum(n)::bigint AS n FROM involvement_counts GROUP BY 1, 2 HAVING sum(n) <> 0
     UNION ALL SELECT 'all', interaction_type, sum(n)::bigint FROM interaction_counts GROUP BY interaction_type HAVING sum(n) <> 0`,
  );
  return { interactions: interactions.rows, parties: parties.rows, involvements: involvements.rows, counts: sortCounts(counts.rows) };
}

/** The counts per type that the rows of a dump make, as `dump` reads them from the count tables. */
function countsOfRows(d: Dump): Record<string, unknown>[] {
  const counts = new Map<string, number>();
  const add = (key: string, type: unknown) => counts.set(`${key}|${String(type)}`, (counts.get(`${key}|${String(type)}`) ?? 0) + 1);
  for (const v of d.involvements) add(String(v.contact_uuid), v.interaction_type);
  for (const i of d.interactions) add('all', i.interaction_type);
  return sortCounts([...counts].map(([key, n]) => ({ key: key.split('|')[0], interaction_type: key.split('|')[1], n: String(n) })));
}

function sortCounts(rows: Record<string, unknown>[]): Record<string, unknown>[] {
  const order = (r: Record<string, unknown>) => `${String(r.key)}|${String(r.interaction_type)}`;
  return [...rows].sort((a, b) => (order(a) < order(b) ? -1 : 1));
}

async function involvementsOf(q: Queryable, interactionUuid: string): Promise<{ contact_uuid: string; occurred_at: Date; inserted_at: Date }[]> {
  const { rows } = await q.query<{ contact_uuid: string; occurred_at: Date; inserted_at: Date }>(
    'SELECT contact_uuid, occurred_at, inserted_at FROM interaction_involvements WHERE interaction_uuid = $1 ORDER BY contact_uuid',
    [interactionUuid],
  );
  return rows;
}

async function rowsOf(q: Queryable, interactionUuid: string): Promise<{ interactions: number; parties: number; involvements: number }> {
  const { rows } = await q.query<{ i: string; p: string; v: string }>(
    `SELECT (SELECT count(*) FROM interactions WHERE uuid = $1) AS i,
            (SELECT count(*) FROM interaction_parties WHERE interaction_uuid = $1) AS p,
            (SELECT count(*) FROM interaction_involvements WHERE interaction_uuid = $1) AS v`,
    [interactionUuid],
  );
  const row = rows[0]!;
  return { interactions: Number(row.i), parties: Number(row.p), involvements: Number(row.v) };
}

async function truncateReadTables(db: Database): Promise<void> {
  // Table names are constants of the module, not input.
  await db.query(`TRUNCATE ${[...READ_TABLES, ...COUNT_TABLES].join(', ')}`);
}

async function apply(db: Database, events: readonly RecordedEvent[]): Promise<void> {
  await db.transaction((tx) => projectEvents(tx, events));
}

const sorted = (xs: string[]) => [...xs].sort();

/** Ids and fixtures of a small but varied history. */
interface History {
  events: RecordedEvent[];
  i1: string;
  i2: string;
  i3: string;
  c1: string;
  c2: string;
  c3: string;
  staff: string;
}

async function append(store: PostgresEventStore, stream: string, batch: EventToAppend[], expected: ExpectedRevision): Promise<RecordedEvent[]> {
  return (await store.appendToStream(stream, batch, expected)).events;
}

async function writeHistory(store: PostgresEventStore): Promise<History> {
  const [i1, i2, i3, c1, c2, c3, staff] = Array.from({ length: 7 }, () => randomUUID()) as [
    string, string, string, string, string, string, string,
  ];
  const s = (uuid: string) => `interaction-${uuid}`;
  const events: RecordedEvent[] = [];
  // I1: subject C1, parties C2 + staff + free text; then the subject moves to C3; then parties with C3 (= subject), C1 and C2 twice.
  events.push(
    ...(await append(store, s(i1), [
      logged(i1, c1, '2026-03-01T09:00:05.250Z', { fileUuids: [randomUUID(), randomUUID()], ownerUserUuid: randomUUID() }),
      partiesRebuilt(i1, [contactParty(c2, 'Bob'), staffParty(staff, 'Sam'), freeParty('Walk-in')], '2026-03-01T09:00:05.250Z'),
    ], 'no_stream')),
  );
  // I2: subject C2 who is also a party.
  events.push(
    ...(await append(store, s(i2), [
      logged(i2, c2, '2026-03-02T10:00:00.900Z', { interactionType: 'email', subject: null, body: null, occurredAt: '2026-03-02T08:30:00Z' }),
      partiesRebuilt(i2, [contactParty(c2, 'Bob'), freeParty('Someone')], '2026-03-02T10:00:00.900Z'),
    ], 'no_stream')),
  );
  events.push(...(await append(store, s(i1), [updated(i1, { contactUuid: c3, subject: 'Moved', metadata: { v: 2 } }, '2026-03-03T11:00:00.000Z')], 1)));
  // I3: logged, then deleted.
  events.push(
    ...(await append(store, s(i3), [logged(i3, c1, '2026-03-03T12:00:00Z'), partiesRebuilt(i3, [contactParty(c2, 'Bob')], '2026-03-03T12:00:00Z')], 'no_stream')),
  );
  events.push(
    ...(await append(store, s(i1), [
      partiesRebuilt(i1, [contactParty(c3, 'Cy'), contactParty(c1, 'Ann'), contactParty(c2, 'Bob'), contactParty(c2, 'Bob')], '2026-03-04T09:00:00Z'),
    ], 2)),
  );
  events.push(...(await append(store, s(i3), [deleted(i3, '2026-03-04T10:00:00Z')], 1)));
  events.push(
    ...(await append(store, s(i2), [
      updated(i2, { occurredAt: '2026-03-05T07:00:00Z', ownerUserUuid: randomUUID(), body: 'Follow-up', interactionType: 'meeting' }, '2026-03-05T08:00:00Z'),
    ], 1)),
  );
  return { events, i1, i2, i3, c1, c2, c3, staff };
}

/** Every committed event, read as a rebuild does (through a given connection, no in-flight wait). */
async function allEvents(store: PostgresEventStore, within: Queryable, from: Position = START): Promise<RecordedEvent[]> {
  const out: RecordedEvent[] = [];
  for await (const batch of store.readAll(from, { within })) out.push(...batch);
  return out;
}

describe.each(BACKENDS.map((backend) => [backend.name, backend] as const))('on %s', (_name, backend) => {
  describe('interactions projection', () => {
    let db: Database;
    let cleanup: () => Promise<void>;
    let store: PostgresEventStore;

    beforeEach(async () => {
      ({ db, cleanup } = await migratedDatabase(backend));
      store = new PostgresEventStore(db);
    });
    afterEach(async () => {
      await cleanup();
    });

    describe('projectEvents', () => {
      it('projects a history into the three read tables', async () => {
        const h = await writeHistory(store);
        await apply(db, h.events);

        const { interactions } = await dump(db);
        expect(interactions.map((r) => r.uuid)).toEqual(sorted([h.i1, h.i2]));
        const i1 = interactions.find((r) => r.uuid === h.i1)!;
        expect(i1).toMatchObject({
          contact_uuid: h.c3,
          interaction_type: 'call',
          subject: 'Moved',
          body: 'Talked about the renewal',
          metadata: { v: 2 },
          occurred_at: new Date('2026-03-01T09:00:00Z'),
          inserted_at: new Date('2026-03-01T09:00:05Z'), // event time, truncated to the second
          updated_at: new Date('2026-03-04T09:00:00Z'),
          version: '3',
        });
        const i2 = interactions.find((r) => r.uuid === h.i2)!;
        expect(i2).toMatchObject({
          contact_uuid: h.c2,
          interaction_type: 'meeting',
          subject: null,
          body: 'Follow-up',
          occurred_at: new Date('2026-03-05T07:00:00Z'),
          inserted_at: new Date('2026-03-02T10:00:00Z'),
          version: '2',
        });

        const { rows: parties } = await db.query<{ position: number; raw_name: string; contact_uuid: string | null; snapshot: unknown }>(
          'SELECT position, raw_name, contact_uuid, snapshot FROM interaction_parties WHERE interaction_uuid = $1 ORDER BY position',
          [h.i1],
        );
        expect(parties.map((p) => [p.position, p.raw_name, p.contact_uuid])).toEqual([
          [0, 'Cy', h.c3],
          [1, 'Ann', h.c1],
          [2, 'Bob', h.c2],
          [3, 'Bob', h.c2],
        ]);
        expect(parties[0]!.snapshot).toEqual({ source: 'crm_contact', name: 'Cy', company: 'Acme', capturedAt: CAPTURED });

        // Subject C3 is also a party; C2 is a party twice: one involvement row each.
        expect((await involvementsOf(db, h.i1)).map((r) => r.contact_uuid)).toEqual(sorted([h.c1, h.c2, h.c3]));
        expect(await involvementsOf(db, h.i2)).toEqual([
          { contact_uuid: h.c2, occurred_at: new Date('2026-03-05T07:00:00Z'), inserted_at: new Date('2026-03-02T10:00:00Z') },
        ]);
        expect(await rowsOf(db, h.i3)).toEqual({ interactions: 0, parties: 0, involvements: 0 });
      });

      it('is idempotent: each event twice in a row, the whole list twice, or any prefix then the whole list', async () => {
        const h = await writeHistory(store);
        await apply(db, h.events);
        const once = await dump(db);
        expect(once.interactions).toHaveLength(2);

        await truncateReadTables(db);
        await apply(db, h.events.flatMap((e) => [e, e]));
        expect(await dump(db)).toEqual(once);

        await truncateReadTables(db);
        await apply(db, [...h.events, ...h.events]);
        expect(await dump(db)).toEqual(once);

        // Each event in its own transaction, twice in a row.
        await truncateReadTables(db);
        for (const e of h.events) {
          await apply(db, [e]);
          await apply(db, [e]);
        }
        expect(await dump(db)).toEqual(once);

        for (let k = 1; k < h.events.length; k++) {
          await truncateReadTables(db);
          await apply(db, h.events.slice(0, k));
          await apply(db, h.events);
          expect({ k, tables: await dump(db) }).toEqual({ k, tables: once });
        }
      });

      it('re-delivering any suffix of a stream after the whole history changes nothing', async () => {
        const h = await writeHistory(store);
        await apply(db, h.events);
        const once = await dump(db);
        for (const uuid of [h.i1, h.i2, h.i3]) {
          const stream = h.events.filter((e) => e.streamName === `interaction-${uuid}`);
          for (let from = 0; from < stream.length; from++) {
            await apply(db, stream.slice(from));
            expect({ uuid, from, tables: await dump(db) }).toEqual({ uuid, from, tables: once });
          }
        }
      });

      it('keeps one involvement row when the subject contact is also a party (and for duplicate parties)', async () => {
        const [i, c1, c2] = [randomUUID(), randomUUID(), randomUUID()];
        const events = await append(store, `interaction-${i}`, [
          logged(i, c1, '2026-04-01T10:00:00Z'),
          partiesRebuilt(i, [contactParty(c1, 'Ann'), contactParty(c2, 'Bob'), contactParty(c1, 'Ann again'), freeParty('X')], '2026-04-01T10:00:00Z'),
        ], 'no_stream');
        await apply(db, events);
        expect((await involvementsOf(db, i)).map((r) => r.contact_uuid)).toEqual(sorted([c1, c2]));
        expect((await rowsOf(db, i)).parties).toBe(4);
      });

      it('moves the involvement when the subject changes, and follows occurredAt', async () => {
        const [i, c1, c2, c3] = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
        const stream = `interaction-${i}`;
        const first = await append(store, stream, [
          logged(i, c1, '2026-04-01T10:00:00Z'),
          partiesRebuilt(i, [contactParty(c2, 'Bob')], '2026-04-01T10:00:00Z'),
        ], 'no_stream');
        await apply(db, first);
        expect((await involvementsOf(db, i)).map((r) => r.contact_uuid)).toEqual(sorted([c1, c2]));

        const moved = await append(store, stream, [updated(i, { contactUuid: c3, occurredAt: '2026-04-02T08:00:00Z' }, '2026-04-02T09:00:00Z')], 1);
        await apply(db, moved);
        const involvements = await involvementsOf(db, i);
        expect(involvements.map((r) => r.contact_uuid)).toEqual(sorted([c2, c3]));
        for (const row of involvements) expect(row.occurred_at).toEqual(new Date('2026-04-02T08:00:00Z'));

        // Moving the subject onto a party contact leaves one row for it.
        const ontoParty = await append(store, stream, [updated(i, { contactUuid: c2 }, '2026-04-03T09:00:00Z')], 2);
        await apply(db, ontoParty);
        expect((await involvementsOf(db, i)).map((r) => r.contact_uuid)).toEqual([c2]);

        // Clearing the parties keeps only the subject.
        const cleared = await append(store, stream, [partiesRebuilt(i, [], '2026-04-04T09:00:00Z')], 3);
        await apply(db, cleared);
        expect((await involvementsOf(db, i)).map((r) => r.contact_uuid)).toEqual([c2]);
        expect((await rowsOf(db, i)).parties).toBe(0);

        // The time alone moves the involvement too; an edit of the text leaves it as it is.
        await apply(db, await append(store, stream, [updated(i, { occurredAt: '2026-04-05T08:00:00Z' }, '2026-04-05T09:00:00Z')], 4));
        expect((await involvementsOf(db, i)).map((r) => [r.contact_uuid, r.occurred_at])).toEqual([[c2, new Date('2026-04-05T08:00:00Z')]]);
        await apply(db, await append(store, stream, [updated(i, { subject: 'Renamed', body: 'Text' }, '2026-04-06T09:00:00Z')], 5));
        expect((await involvementsOf(db, i)).map((r) => [r.contact_uuid, r.occurred_at])).toEqual([[c2, new Date('2026-04-05T08:00:00Z')]]);
      });

      it('deletion removes every row of the interaction from all three tables and nothing else', async () => {
        const h = await writeHistory(store);
        const [i, c] = [randomUUID(), randomUUID()];
        const created = await append(store, `interaction-${i}`, [
          logged(i, c, '2026-05-01T10:00:00Z'),
          partiesRebuilt(i, [contactParty(c, 'Self'), contactParty(h.c1, 'Ann'), staffParty(h.staff, 'Sam')], '2026-05-01T10:00:00Z'),
        ], 'no_stream');
        await apply(db, [...h.events, ...created]);
        expect(await rowsOf(db, i)).toEqual({ interactions: 1, parties: 3, involvements: 2 });
        const others = await dump(db);

        const gone = await append(store, `interaction-${i}`, [deleted(i, '2026-05-02T10:00:00Z')], 1);
        await apply(db, gone);
        expect(await rowsOf(db, i)).toEqual({ interactions: 0, parties: 0, involvements: 0 });
        const after = await dump(db);
        const notI = (rows: Record<string, unknown>[]) => rows.filter((r) => r.uuid !== i && r.interaction_uuid !== i);
        expect(after).toEqual({
          interactions: notI(others.interactions),
          parties: notI(others.parties),
          involvements: notI(others.involvements),
          counts: countsOfRows(after),
        });
        expect(after.counts).not.toEqual(others.counts);
        // Deleting again is a no-op.
        await apply(db, gone);
        expect(await dump(db)).toEqual(after);
      });

      it('an inline append edits both texts or neither, or deletes, without reading its row first; the tables are the same', async () => {
        const [i, c1, c2] = [randomUUID(), randomUUID(), randomUUID()];
        const stream = `interaction-${i}`;
        const steps = [
          await append(store, stream, [
            logged(i, c1, '2026-06-01T10:00:00Z'),
            partiesRebuilt(i, [contactParty(c2, 'Bob')], '2026-06-01T10:00:00Z'),
          ], 'no_stream'),
          await append(store, stream, [updated(i, { subject: 'Renamed quarterly', body: 'Pricing agreed' }, '2026-06-02T10:00:00Z')], 1),
          await append(store, stream, [updated(i, { occurredAt: '2026-06-03T08:00:00Z', interactionType: 'meeting' }, '2026-06-03T10:00:00Z')], 2),
          await append(store, stream, [updated(i, { body: 'Only the body' }, '2026-06-04T10:00:00Z')], 3),
          await append(store, stream, [deleted(i, '2026-06-05T10:00:00Z')], 4),
        ];
        // As the PostgreSQL store's inline projection calls it: the stream's parked lookup found nothing.
        const inline = async (events: RecordedEvent[]): Promise<string[]> => {
          const texts: string[] = [];
          await db.transaction((tx) =>
            projectEvents({ query: (text, params) => (texts.push(text), tx.query(text, params)) }, events, null),
          );
          return texts;
        };
        const readsRow = (texts: string[]) => texts.some((text) => /FOR UPDATE/.test(text));

        // The reference: each prefix applied as one batch, which reads every row it changes.
        const expected: Dump[] = [];
        for (let k = 1; k <= steps.length; k++) {
          await truncateReadTables(db);
          await apply(db, steps.slice(0, k).flat());
          expected.push(await dump(db));
        }
        await truncateReadTables(db);
        const read: boolean[] = [];
        for (const [k, events] of steps.entries()) {
          read.push(readsRow(await inline(events)));
          expect({ k, tables: await dump(db) }).toEqual({ k, tables: expected[k] });
        }
        expect(read).toEqual([false, false, false, true, false]);

        // The row is newer than a re-delivered edit, or gone: the write without a read changes nothing.
        for (const k of [1, 2, 3, 4, 4, 1]) {
          await inline(steps[k]!);
          expect({ k, tables: await dump(db) }).toEqual({ k, tables: expected[4] });
        }
        await truncateReadTables(db);
        await apply(db, steps.slice(0, 4).flat());
        for (const k of [1, 2]) {
          await inline(steps[k]!);
          expect({ k, tables: await dump(db) }).toEqual({ k, tables: expected[3] });
        }
      });

      it("an append's own statement applies an edit of both texts or neither, or a deletion, when it moves no involvement", async () => {
        const [i, c1, c2] = [randomUUID(), randomUUID(), randomUUID()];
        const stream = `interaction-${i}`;
        const batches = [
          [logged(i, c1, '2026-06-01T10:00:00Z'), partiesRebuilt(i, [contactParty(c2, 'Bob')], '2026-06-01T10:00:00Z')],
          [updated(i, { subject: 'Renamed quarterly', body: 'Pricing agreed' }, '2026-06-02T10:00:00Z')],
          [updated(i, { metadata: { stage: 2 } }, '2026-06-02T11:00:00Z')],
          [updated(i, { occurredAt: '2026-06-03T08:00:00Z' }, '2026-06-03T10:00:00Z')],
          [updated(i, { body: 'Only the body' }, '2026-06-04T10:00:00Z')],
          [deleted(i, '2026-06-05T10:00:00Z')],
        ];
        // Each append's statements, through the module's wiring of the inline projection.
        const texts: string[] = [];
        const inline = new PostgresEventStore(recording(db, texts), projectEvents, undefined, plainAppendProjection);
        const appended: RecordedEvent[][] = [];
        const after: Dump[] = [];
        const byTheInsert: boolean[] = [];
        for (const [k, batch] of batches.entries()) {
          texts.length = 0;
          appended.push(await append(inline, stream, batch, k === 0 ? 'no_stream' : k));
          after.push(await dump(db));
          const insert = texts.findIndex((text) => text.includes('INSERT INTO events'));
          byTheInsert.push(insert === texts.length - 1 && /UPDATE interactions|DELETE FROM interactions/.test(texts[insert]!));
        }
        expect(byTheInsert).toEqual([false, true, true, false, false, true]);
        // The same tables as each prefix applied as one batch.
        for (let k = 0; k < batches.length; k++) {
          await truncateReadTables(db);
          await apply(db, appended.slice(0, k + 1).flat());
          expect({ k, tables: await dump(db) }).toEqual({ k, tables: after[k] });
        }
      });

      it("an append's own statement: several edits at once end as a rebuild ends; behind a parked event nothing of them is cast", async () => {
        const inline = new PostgresEventStore(db, projectEvents, undefined, plainAppendProjection);
        const i = randomUUID();
        const stream = `interaction-${i}`;
        const batches = [
          [updated(i, { subject: 'alpha subject' }, '2026-06-02T10:00:00Z'), updated(i, { body: 'beta body' }, '2026-06-02T10:00:00Z')],
          [updated(i, { metadata: { k: 1 } }, '2026-06-03T10:00:00Z'), updated(i, { subject: 'zeta', body: null }, '2026-06-04T10:00:00Z')],
          [updated(i, { subject: 'theta', body: 'iota' }, '2026-06-05T10:00:00Z'), deleted(i, '2026-06-05T10:00:00Z')],
        ];
        const created = await append(inline, stream, [logged(i, randomUUID(), '2026-06-01T10:00:00Z')], 'no_stream');
        const all = [...created];
        for (const batch of batches) {
          all.push(...(await append(inline, stream, batch, all.length - 1)));
          const live = await dump(db);
          await truncateReadTables(db);
          await apply(db, all);
          expect({ revision: all.length - 1, tables: live }).toEqual({ revision: all.length - 1, tables: await dump(db) });
        }

        // A time PostgreSQL refuses, in an edit the statement would apply itself: behind a parked event it is
        // parked too, as without the statement, rather than failing the append.
        const j = randomUUID();
        const parkedStream = `interaction-${j}`;
        await append(inline, parkedStream, [logged(j, randomUUID(), '2026-06-01T10:00:00Z')], 'no_stream');
        await append(inline, parkedStream, [envelope('Broken', {}, '2026-06-01T10:00:00Z')], 0);
        await append(inline, parkedStream, [updated(j, { subject: 'x', body: 'y' }, '2026-02-30T10:00:00.000Z')], 1);
        const { rows } = await db.query<{ stream_revision: string }>(
          'SELECT stream_revision FROM parked_events WHERE stream_name = $1 ORDER BY stream_revision',
          [parkedStream],
        );
        expect(rows.map((row) => Number(row.stream_revision))).toEqual([1, 2]);
      });

      // Until issue 8 a bad event failed the whole transaction; now it is parked (CONTRACT.md, 2026-12-01)
      // and nothing of it reaches the read tables, while the events before it in its stream apply.
      it('parks an event it cannot read, applying nothing of it and everything before it', async () => {
        const i = randomUUID();
        const good = await append(store, `interaction-${i}`, [logged(i, randomUUID(), '2026-05-01T10:00:00Z')], 'no_stream');
        const bad = await append(store, `interaction-${i}`, [envelope('Broken', {}, '2026-05-01T10:00:00Z')], 0);
        expect(() => parseEvent('Broken', {})).toThrow(InvalidEventError);
        await apply(db, [...good, ...bad]);
        expect(await rowsOf(db, i)).toEqual({ interactions: 1, parties: 0, involvements: 1 });
        const { rows } = await db.query<{ stream_name: string; stream_revision: string; event_type: string }>(
          'SELECT stream_name, stream_revision, event_type FROM parked_events',
        );
        expect(rows).toEqual([{ stream_name: `interaction-${i}`, stream_revision: '1', event_type: 'Broken' }]);
      });
    });

    describe('CatchUpProjector', () => {
      let projector: CatchUpProjector;
      beforeEach(() => {
        projector = new CatchUpProjector(db, store);
      });

      it('catchUp applies everything, in batches, and writes the checkpoint; then only what is new', async () => {
        const h = await writeHistory(store);
        expect(await readCheckpoint(db)).toEqual(START);

        const applied = await catchUpFully(projector, db, store, 3);
        expect(applied).toBe(h.events.length);
        expect(await readCheckpoint(db)).toEqual(h.events[h.events.length - 1]!.position);
        expect(await readCheckpoint(db)).toEqual(await store.headPosition());
        const live = await dump(db);

        // The same as projecting the whole log at once.
        await truncateReadTables(db);
        await apply(db, h.events);
        expect(await dump(db)).toEqual(live);

        expect(await projector.catchUp()).toBe(0);
        expect(await dump(db)).toEqual(live);

        const i = randomUUID();
        const more = await append(store, `interaction-${i}`, [logged(i, h.c1, '2026-06-01T10:00:00Z')], 'no_stream');
        expect(await catchUpFully(projector, db, store)).toBe(1);
        expect(await readCheckpoint(db)).toEqual(more[0]!.position);
        expect(await rowsOf(db, i)).toEqual({ interactions: 1, parties: 0, involvements: 1 });
      });

      it('applyBatch of an already-applied batch returns 0 and changes nothing; a straddling batch applies only the fresh part', async () => {
        const h = await writeHistory(store);
        const events = await allEvents(store, db);
        expect(events.map((e) => e.id)).toEqual(h.events.map((e) => e.id));

        expect(await projector.applyBatch(events.slice(0, 5))).toBe(5);
        expect(await readCheckpoint(db)).toEqual(events[4]!.position);
        expect(await projector.applyBatch(events)).toBe(events.length - 5);
        const checkpoint = await readCheckpoint(db);
        expect(checkpoint).toEqual(events[events.length - 1]!.position);
        const tables = await dump(db);
        const { rows: before } = await db.query('SELECT * FROM projection_checkpoints ORDER BY name');

        expect(await projector.applyBatch(events)).toBe(0);
        expect(await projector.applyBatch(events.slice(0, 5))).toBe(0);
        expect(await projector.applyBatch(events.slice(-1))).toBe(0);
        expect(await projector.applyBatch([])).toBe(0);
        expect(await dump(db)).toEqual(tables);
        expect(await readCheckpoint(db)).toEqual(checkpoint);
        const { rows: after } = await db.query('SELECT * FROM projection_checkpoints ORDER BY name');
        expect(after).toEqual(before); // not even updated_at moved
      });

      it('a batch that fails mid-way leaves the checkpoint, the tables and the parked events as they were (they commit together)', async () => {
        const h = await writeHistory(store);
        await catchUpFully(projector, db, store);
        const checkpoint = await readCheckpoint(db);
        expect(checkpoint).toEqual(h.events[h.events.length - 1]!.position);
        const tables = await dump(db);

        // The next batch: a valid new interaction, a valid change to I1, then an event parseEvent rejects.
        const [i4, i5] = [randomUUID(), randomUUID()];
        await append(store, `interaction-${i4}`, [
          logged(i4, h.c1, '2026-06-01T10:00:00Z'),
          partiesRebuilt(i4, [contactParty(h.c2, 'Bob')], '2026-06-01T10:00:00Z'),
        ], 'no_stream');
        await append(store, `interaction-${h.i1}`, [updated(h.i1, { subject: 'Changed in the failing batch' }, '2026-06-01T11:00:00Z')], 3);
        const invalid = { ...logged(i5, h.c1, '2026-06-01T12:00:00Z') };
        invalid.data = { ...(invalid.data as InteractionLoggedData), interactionType: 'fax' };
        await append(store, `interaction-${i5}`, [invalid], 'no_stream');

        const batch = await allEvents(store, db, checkpoint);
        expect(batch).toHaveLength(4);
        // The invalid event is parked now (issue 8), so the batch is made to fail at its last write: parking.
        await db.query('ALTER TABLE parked_events ADD CONSTRAINT parking_fails CHECK (false)');
        await expect(projector.applyBatch(batch)).rejects.toThrow(/parking_fails/);
        expect(await readCheckpoint(db)).toEqual(checkpoint);
        expect(await dump(db)).toEqual(tables);
        expect(await rowsOf(db, i4)).toEqual({ interactions: 0, parties: 0, involvements: 0 });

        // catchUp hits the same wall: still nothing moved. First the whole batch must be settled (readable past
        // every transaction open on the server), else catchUp would apply the valid part before it and move on.
        expect((await readAllSettled(store, checkpoint, 4, {}, horizonReportOf(db))).flat()).toHaveLength(4);
        const deadline = Date.now() + SETTLE_MS;
        let failure: unknown;
        while (!failure && Date.now() < deadline) {
          failure = await projector.catchUp().then(
            () => undefined,
            (error: unknown) => error,
          );
          if (!failure) await sleep(25);
        }
        expect(String(failure)).toMatch(/parking_fails/);
        expect(await readCheckpoint(db)).toEqual(checkpoint);
        expect(await dump(db)).toEqual(tables);
        const { rows: parked } = await db.query('SELECT * FROM parked_events');
        expect(parked).toEqual([]);

        // Once parking works, the batch applies around the invalid event, which is parked.
        await db.query('ALTER TABLE parked_events DROP CONSTRAINT parking_fails');
        expect(await projector.applyBatch(batch)).toBe(4);
        expect(await rowsOf(db, i4)).toEqual({ interactions: 1, parties: 1, involvements: 2 });
        expect(await rowsOf(db, i5)).toEqual({ interactions: 0, parties: 0, involvements: 0 });
        const { rows: now } = await db.query<{ stream_name: string }>('SELECT stream_name FROM parked_events');
        expect(now).toEqual([{ stream_name: `interaction-${i5}` }]);
      });

      it('two projectors of the same name catching up at once apply every event exactly once', async () => {
        const h = await writeHistory(store);
        const other = await backend.open(db.schema, 3);
        try {
          const second = new CatchUpProjector(other, new PostgresEventStore(other));
          const deadline = Date.now() + SETTLE_MS;
          let applied = 0;
          const head = await store.headPosition();
          do {
            const counts = await Promise.all([projector.catchUp(2), second.catchUp(3), projector.catchUp(1)]);
            applied += counts.reduce((a, b) => a + b, 0);
            const checkpoint = await readCheckpoint(db);
            if (checkpoint.commit === head.commit && checkpoint.prepare === head.prepare) break;
            await sleep(25);
          } while (Date.now() < deadline);
          expect(applied).toBe(h.events.length);
          const tables = await dump(db);
          await truncateReadTables(db);
          await apply(db, h.events);
          expect(await dump(db)).toEqual(tables);
        } finally {
          await other.close();
        }
      });

      it('a read table failing mid-batch rolls the batch back too', async () => {
        const h = await writeHistory(store);
        const events = await allEvents(store, db);
        expect(await projector.applyBatch(events.slice(0, 2))).toBe(2);
        const checkpoint = await readCheckpoint(db);
        const tables = await dump(db);
        // Sabotage a read table so that only a later event of the batch fails (I1's last rebuild has 4 parties).
        await db.query('ALTER TABLE interaction_parties ADD CONSTRAINT at_most_three CHECK (position < 3)');
        await expect(projector.applyBatch(events)).rejects.toThrow();
        expect(await readCheckpoint(db)).toEqual(checkpoint);
        expect(await dump(db)).toEqual(tables);
        expect(h.events.length).toBeGreaterThan(2);
      });
    });

    describe('rebuild', () => {
      it('gives tables identical to the live (inline-projected) ones and returns the event count', async () => {
        const live = new PostgresEventStore(db, projectEvents);
        const h = await writeHistory(live);
        const liveTables = await dump(db);
        expect(liveTables.interactions).toHaveLength(2);

        const progress: number[] = [];
        const summary = await rebuild(db, store, { batchSize: 4, onProgress: (n) => progress.push(n) });
        expect(summary).toEqual({ events: h.events.length, position: h.events[h.events.length - 1]!.position });
        expect(h.events).toHaveLength(10);
        expect(progress).toEqual([4, 8, 10]);
        expect(await dump(db)).toEqual(liveTables);
        expect(await readCheckpoint(db)).toEqual(summary.position);

        // It repairs damaged tables and is repeatable.
        await db.query('UPDATE interactions SET subject = $1 WHERE uuid = $2', ['tampered', h.i1]);
        await db.query('DELETE FROM interaction_parties WHERE interaction_uuid = $1', [h.i2]);
        await db.query(
          `INSERT INTO interaction_involvements (contact_uuid, interaction_uuid, occurred_at, inserted_at, interaction_type)
           SELECT $1, uuid, occurred_at, inserted_at, interaction_type FROM interactions WHERE uuid = $2`,
          [randomUUID(), h.i1],
        );
        await expect(rebuild(db, store)).resolves.toEqual(summary);
        expect(await dump(db)).toEqual(liveTables);

        // A catch-up projector continues from the rebuilt checkpoint without re-applying anything.
        expect(await new CatchUpProjector(db, store).catchUp()).toBe(0);
      });

      it('run during concurrent inline-projected appends, ends with tables equal to projecting the whole log', async () => {
        const writers = await backend.open(db.schema, 6);
        try {
          const plain = new PostgresEventStore(writers, projectEvents);
          // As the module wires it: the parked check in the append's insert, edits without a row read.
          const looking = new PostgresEventStore(writers, projectEvents, undefined, plainAppendProjection);
          await writeHistory(plain);
          let writing = true;
          const contacts = Array.from({ length: 4 }, () => randomUUID());
          const worker = async (w: number): Promise<number> => {
            const live = w % 2 === 0 ? looking : plain;
            let appended = 0;
            for (let n = 0; writing || n < 3; n++) {
              const i = randomUUID();
              const stream = `interaction-${i}`;
              const t = new Date(Date.UTC(2026, 6, 1, 0, w, n % 60)).toISOString();
              await live.appendToStream(stream, [
                logged(i, contacts[w % 4]!, t),
                partiesRebuilt(i, [contactParty(contacts[(w + 1) % 4]!, 'P'), freeParty('F')], t),
              ], 'no_stream');
              await live.appendToStream(stream, [updated(i, { contactUuid: contacts[(w + 2) % 4]!, subject: `n${n}` }, t)], 1);
              await live.appendToStream(stream, [updated(i, { subject: `s${n}`, body: `b${w}` }, t)], 2);
              appended += 4;
              if (n % 4 === 3) {
                await live.appendToStream(stream, [deleted(i, t)], 3);
                appended += 1;
              }
            }
            return appended;
          };
          const workers = [0, 1, 2, 3].map(worker);
          const summaries = [];
          for (let r = 0; r < 3; r++) {
            await sleep(30);
            summaries.push(await rebuild(db, store, { batchSize: 7 }));
          }
          writing = false;
          await Promise.all(workers);
          expect(summaries.every((s) => s.events >= 10)).toBe(true);

          const liveTables = await dump(db);
          const everything = await allEvents(store, db);
          await truncateReadTables(db);
          await apply(db, everything);
          expect(await dump(db)).toEqual(liveTables);
        } finally {
          await writers.close();
        }
      });

      it('of an empty log empties the tables and returns 0 at START', async () => {
        const i = randomUUID();
        await db.query(
          `INSERT INTO interactions (uuid, contact_uuid, interaction_type, occurred_at, subject, body, owner_user_uuid,
             metadata, file_uuids, inserted_at, updated_at, version)
           VALUES ($1, $2, 'note', now(), NULL, NULL, NULL, '{}', '{}', now(), now(), 0)`,
          [i, randomUUID()],
        );
        await expect(rebuild(db, store)).resolves.toEqual({ events: 0, position: START });
        expect(await dump(db)).toEqual({ interactions: [], parties: [], involvements: [], counts: [] });
        expect(await readCheckpoint(db)).toEqual(START);
      });
    });
  });
});
