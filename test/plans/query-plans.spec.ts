import { randomUUID } from 'node:crypto';
import { Database, Queryable } from '../../src/ports/database';
import { PostgresEventStore } from '../../src/adapters/postgres/postgres-event-store';
import { EventToAppend } from '../../src/ports/event-store';
import { rebuild } from '../../projections/catch-up';
import { projectEvents, rowReadWithStream } from '../../projections/interactions.projection';
import {
  countInteractions,
  countInvolving,
  FeedCursor,
  FeedFilter,
  findForContacts,
  findInteraction,
  findInvolving,
  findRecent,
  findSubjectUuids,
  NO_FILTER,
  INVOLVING_SEARCH_WINDOW,
  RECENT_SEARCH_WINDOW,
} from '../../projections/interactions.queries';
import { migratedDatabaseOfItsOwn } from '../support/backends';
import { plainAppendProjection } from '../support/inline-projection';
import { eventMetadata, loggedData, updatedData } from '../support/poison';

/**
 * The read queries' plans at a non-trivial size (30,000 interactions, 90,000 parties, 5,000 contacts,
 * one busy contact): each query must stay a range scan of the index shaped for it, reading no more of
 * it than the page needs, so that a later change (to a query, an index, or the tables) cannot silently
 * fall back to sequential scans or to sorting a contact's whole history. No timings: plan shapes and
 * row counts from EXPLAIN ANALYZE, which do not depend on the machine.
 *
 * Index-only scans are not required: whether pages are all-visible depends on VACUUM and on every other
 * transaction of the database, so the planner may fetch the rows from the table instead (same index range).
 * The suite runs in a database of its own: a transaction another test file holds open in the shared one
 * kept VACUUM from marking the pages, and the filtered feed and the period count then chose a bitmap scan.
 */

interface PlanNode {
  'Node Type': string;
  'Index Name'?: string;
  'Relation Name'?: string;
  'Index Cond'?: string;
  'Actual Rows': number;
  'Actual Loops': number;
  Plans?: PlanNode[];
}

/** Every node of a plan, depth first. */
function nodes(plan: PlanNode): PlanNode[] {
  return [plan, ...(plan.Plans ?? []).flatMap(nodes)];
}

/**
 * Runs `call` against a connection that EXPLAIN ANALYZEs each statement, then runs it for its rows (a
 * query of several statements decides its next one on what the last one returned).
 */
async function plansOf(db: Database | Queryable, call: (q: Database) => Promise<unknown>): Promise<PlanNode[]> {
  const plans: PlanNode[] = [];
  /** `within`: q is a transaction already, whose characteristics are set. */
  const explaining = (q: Queryable, within: boolean): Queryable => ({
    async query(text: string, params?: unknown[]) {
      // A transaction's settings are not planned.
      if (text.startsWith('SET TRANSACTION') && within) return { rows: [] } as never;
      if (text.startsWith('SET ')) return q.query(text, params) as never;
      const { rows } = await q.query<{ 'QUERY PLAN': [{ Plan: PlanNode }] }>(`EXPLAIN (ANALYZE, FORMAT JSON) ${text}`, params);
      plans.push(rows[0]!['QUERY PLAN'][0].Plan);
      return q.query(text, params) as never;
    },
  });
  const transaction: Database['transaction'] =
    'transaction' in db ? (fn) => db.transaction((tx) => fn(explaining(tx, false))) : (fn) => fn(explaining(db, true));
  await call({ ...explaining(db, !('transaction' in db)), schema: 'explained', close: async () => undefined, transaction });
  return plans;
}

/** The only plan of a one-statement query, flattened. */
async function planOf(db: Database | Queryable, call: (q: Database) => Promise<unknown>): Promise<PlanNode[]> {
  const plans = await plansOf(db, call);
  expect(plans).toHaveLength(1);
  return nodes(plans[0]!);
}

const scansOf = (plan: PlanNode[], index: string) => plan.filter((n) => n['Index Name'] === index);
const seqScans = (plan: PlanNode[]) => plan.filter((n) => n['Node Type'] === 'Seq Scan').map((n) => n['Relation Name']);
/** Rows a node produced over all its loops. */
const rowsOf = (node: PlanNode) => node['Actual Rows'] * node['Actual Loops'];

const INTERACTIONS = 30_000;
const CONTACTS = 5_000;
const BUSY = "md5('contact-busy')::uuid";
/** Contact `n` (0 ≤ n < CONTACTS) as SQL, from a text expression for n. */
const contact = (n: string) => `md5('contact-' || (${n}))::uuid`;

/**
 * Fills the read tables with SQL (no log needed for plans): every 40th interaction is about the busy
 * contact, which is also a party of every 25th; the other subjects and party contacts spread over
 * 5,000 contacts; involvements derived as the projection derives them.
 */
async function fill(db: Database, interactions = INTERACTIONS): Promise<void> {
  await db.query(
    `INSERT INTO interactions (uuid, contact_uuid, interaction_type, occurred_at, subject, body, owner_user_uuid,
       metadata, file_uuids, inserted_at, updated_at, version, parties, search)
     SELECT md5('interaction-' || g)::uuid,
       CASE WHEN g % 40 = 0 THEN ${BUSY} ELSE ${contact('g * 7919 % ' + CONTACTS)} END,
       (ARRAY['call', 'email', 'meeting', 'note', 'other'])[1 + g % 5],
       timestamptz '2026-01-01' + ((g::bigint * 104729) % 525600) * interval '1 minute', 'Subject ' || w.word, 'Body',
       CASE WHEN g % 3 = 0 THEN NULL ELSE md5('owner-' || (g % 7))::uuid END,
       '{}', '{}', timestamptz '2026-01-01' + g * interval '1 second', timestamptz '2026-01-01' + g * interval '1 second', 1,
       '[]', array_to_tsvector(ARRAY['subject', 'body', w.word])
     FROM generate_series(1, ${interactions}) AS g
     -- A word in a quarter of them each, and a rare one (1 in 1,000).
     CROSS JOIN LATERAL (SELECT CASE WHEN g % 1000 = 0 THEN 'zebra' ELSE (ARRAY['renewal', 'pricing', 'kickoff', 'invoice'])[1 + g % 4] END) AS w(word)`,
  );
  await db.query(
    `INSERT INTO interaction_parties (interaction_uuid, position, raw_name, contact_uuid, staff_person_uuid, snapshot)
     SELECT md5('interaction-' || g)::uuid, p, 'Party',
       CASE WHEN p = 0 AND g % 25 = 0 THEN ${BUSY}
            WHEN (g + p) % 3 = 0 THEN NULL
            ELSE ${contact('(g * 31 + p * 17) % ' + CONTACTS)} END,
       NULL, '{"source": "free_text", "capturedAt": "2026-01-01T00:00:00Z"}'
     FROM generate_series(1, ${interactions}) AS g, generate_series(0, 2) AS p`,
  );
  await db.query(
    `INSERT INTO interaction_involvements (contact_uuid, interaction_uuid, occurred_at, inserted_at, interaction_type, owner_user_uuid)
     SELECT involved.contact_uuid, i.uuid, i.occurred_at, i.inserted_at, i.interaction_type, i.owner_user_uuid
     FROM interactions i
     CROSS JOIN LATERAL (
       SELECT i.contact_uuid UNION
       SELECT p.contact_uuid FROM interaction_parties p WHERE p.interaction_uuid = i.uuid AND p.contact_uuid IS NOT NULL
     ) AS involved (contact_uuid)`,
  );
  await db.query('VACUUM ANALYZE interactions, interaction_parties, interaction_involvements, involvement_counts, interaction_counts');
}

/**
 * An edit of both texts and a delete without the stream lock, as the store sends them (named), alone
 * and shared by two interactions:
 * PostgreSQL plans them for their values five times, then keeps one generic plan unless it costs more
 * than those (a delete by `= ANY(array)` did: planning it again on every run cost more server time than
 * running it). The generic plan must read each table by an index.
 */
async function expectUnlockedWritesPlannedOnceByIndex(db: Database): Promise<void> {
  const sent: { text: string; params: unknown[] }[] = [];
  const capturing = new Proxy(db, {
    get: (target, property) =>
      property === 'autocommit'
        ? (text: string, params: unknown[]) => (sent.push({ text, params }), target.autocommit!(text, params))
        : Reflect.get(target, property),
  });
  const store = new PostgresEventStore(capturing, projectEvents, undefined, plainAppendProjection, rowReadWithStream);
  const event = (type: string, data: unknown): EventToAppend => ({ id: randomUUID(), type, data, metadata: eventMetadata() });
  const unlocked = (uuid: string, type: string, data: unknown) =>
    store.withStream(`interaction-${uuid}`, async (session) => session.appendToStream([event(type, data)], (await session.readStream()).length - 1), {
      optimistic: true,
      projectionRead: type === 'InteractionUpdated', // as the write side asks for an edit of a text
    });
  const steps = [
    (uuid: string) => unlocked(uuid, 'InteractionUpdated', updatedData(uuid, { subject: 'New subject', body: 'New body' })),
    (uuid: string) => unlocked(uuid, 'InteractionUpdated', updatedData(uuid, { body: 'Newer body' })), // after a read of its row
    (uuid: string) => unlocked(uuid, 'InteractionDeleted', { schemaVersion: 1, interactionUuid: uuid }),
  ];
  const statements: { text: string; params: unknown[]; tables: string[]; copies: number }[] = [];
  const copiesOf = (s: { text: string }) => (s.text.match(/UNION ALL/g)?.length ?? 0) + 1;
  // Alone, then four interactions at once: their statements shared by two, the moment's halves
  // (PostgresEventStore.shareStatement).
  for (const [count, copies] of [[1, 1], [4, 2]] as const) {
    const uuids = Array.from({ length: count }, () => randomUUID());
    for (const uuid of uuids) await store.appendToStream(`interaction-${uuid}`, [event('InteractionLogged', loggedData(uuid, 'Subject'))], 'no_stream');
    const appends: typeof sent = [];
    // The reads: the stream, and the row for an edit of one text (ProjectionRead), each by an index.
    const reads: typeof sent = [];
    for (const step of steps) {
      sent.length = 0;
      await Promise.all(uuids.map(step));
      // A half's appends go together while the other half's statement is in flight, else as halves
      // again: the step's largest append statement has `copies`.
      appends.push(sent.filter((s) => s.text.includes('INSERT INTO events')).reduce((a, b) => (copiesOf(b) > copiesOf(a) ? b : a)));
      reads.push(...sent.filter((s) => s.text.includes('projection_read')));
    }
    expect(appends[1]!.text).toContain('i.xmin = $');
    expect(reads).toHaveLength((2 * count) / copies);
    for (const s of [...appends, ...reads]) expect(copiesOf(s)).toBe(copies);
    statements.push(
      ...appends.map((s, i) => ({ ...s, copies, tables: i < 2 ? ['interactions'] : ['interaction_involvements', 'interaction_parties', 'interactions'] })),
      { ...reads[0]!, copies, tables: ['events', 'interactions'] },
    );
  }
  for (const [i, { text, params, tables, copies }] of statements.entries()) {
    const { generic, plan } = await db.transaction(async (tx) => {
      await tx.query(`PREPARE generic_${i} AS ${text}`, []);
      // EXECUTE takes its arguments as SQL: the values as literals (standard_conforming_strings is on).
      const args = params.map((value) => (value === null ? 'NULL' : `'${String(value).replace(/'/g, "''")}'`)).join(', ');
      let last: PlanNode | undefined;
      for (let run = 0; run < 6; run++) {
        const { rows } = await tx.query<{ 'QUERY PLAN': [{ Plan: PlanNode }] }>(`EXPLAIN (FORMAT JSON) EXECUTE generic_${i}(${args})`, []);
        last = rows[0]!['QUERY PLAN'][0].Plan;
      }
      const { rows } = await tx.query<{ generic_plans: string }>('SELECT generic_plans FROM pg_prepared_statements WHERE name = $1', [`generic_${i}`]);
      await tx.query(`DEALLOCATE generic_${i}`, []);
      return { generic: Number(rows[0]!.generic_plans), plan: nodes(last!) };
    });
    expect(generic).toBeGreaterThan(0); // the sixth run was not planned again for its values
    expect(seqScans(plan)).toEqual([]);
    const scans = plan.filter((n) => n['Relation Name'] !== undefined && n['Node Type'] !== 'ModifyTable');
    for (const table of tables) {
      expect(scans.filter((n) => n['Relation Name'] === table).map((n) => n['Node Type'])).toEqual(
        Array.from({ length: copies }, () => expect.stringMatching(/^(Index Scan|Index Only Scan|Bitmap Heap Scan)$/)),
      );
    }
  }
}

describe('query plans at 30,000 interactions (real PostgreSQL)', () => {
  let db: Database;
  let cleanup: () => Promise<void>;
  let busy: string;
  let typical: string;
  let someContacts: string[];

  beforeAll(async () => {
    ({ db, cleanup } = await migratedDatabaseOfItsOwn());
    await fill(db);
    const { rows } = await db.query<{ busy: string; typical: string }>(
      `SELECT ${BUSY} AS busy, ${contact('17')} AS typical`,
    );
    ({ busy, typical } = rows[0]!);
    const { rows: many } = await db.query<{ uuid: string }>(
      `SELECT ${contact('n * 13')} AS uuid FROM generate_series(0, 198) AS n UNION ALL SELECT ${BUSY}`,
    );
    someContacts = many.map((r) => r.uuid);
  }, 60_000);
  afterAll(async () => {
    await cleanup();
  });

  it('has the data the plans are checked against', async () => {
    const { rows } = await db.query<{ i: string; p: string; v: string; busy: string; typical: string }>(
      `SELECT (SELECT count(*) FROM interactions) AS i, (SELECT count(*) FROM interaction_parties) AS p,
         (SELECT count(*) FROM interaction_involvements) AS v,
         (SELECT count(*) FROM interaction_involvements WHERE contact_uuid = $1) AS busy,
         (SELECT count(*) FROM interaction_involvements WHERE contact_uuid = $2) AS typical`,
      [busy, typical],
    );
    const counts = rows[0]!;
    expect(Number(counts.i)).toBe(INTERACTIONS);
    expect(Number(counts.p)).toBe(3 * INTERACTIONS);
    expect(Number(counts.v)).toBeGreaterThan(60_000);
    expect(Number(counts.busy)).toBeGreaterThan(1_500);
    expect(Number(counts.typical)).toBeGreaterThan(3);
  });

  describe('listInvolving', () => {
    it('first page for a busy contact: one ordered range scan of the feed index that stops at the page, then a key lookup per row', async () => {
      const plan = await planOf(db, (q) => findInvolving(q, busy, { limit: 50, after: null }));
      expect(seqScans(plan)).toEqual([]);
      const [feed, ...more] = scansOf(plan, 'interaction_involvements_feed');
      expect(more).toEqual([]);
      expect(feed!['Node Type']).toMatch(/^Index (Only )?Scan$/);
      expect(feed!['Index Cond']).toContain('contact_uuid');
      // Thousands of entries for this contact, 50 read: no sort of the contact's whole history.
      expect(rowsOf(feed!)).toBe(50);
      expect(plan.filter((n) => n['Node Type'] === 'Sort').every((n) => rowsOf(n) <= 50)).toBe(true);
      const lookups = scansOf(plan, 'interactions_pkey');
      expect(lookups.length).toBeGreaterThan(0);
      expect(lookups.every((n) => n['Node Type'] === 'Index Scan' && rowsOf(n) <= 50)).toBe(true);
      // The parties come with the row: interaction_parties is not read at all.
      expect(plan.some((n) => n['Relation Name'] === 'interaction_parties')).toBe(false);
    });

    it('first page for a typical contact: the feed index by contact, a key lookup per row', async () => {
      const plan = await planOf(db, (q) => findInvolving(q, typical, { limit: 50, after: null }));
      expect(seqScans(plan)).toEqual([]);
      const [feed, ...more] = scansOf(plan, 'interaction_involvements_feed');
      expect(more).toEqual([]);
      expect(feed!['Index Cond']).toContain('contact_uuid');
      expect(rowsOf(feed!)).toBeLessThanOrEqual(50);
      expect(scansOf(plan, 'interactions_pkey').every((n) => n['Node Type'] === 'Index Scan')).toBe(true);
      expect(plan.some((n) => n['Relation Name'] === 'interaction_parties')).toBe(false);
    });

    it('a later page starts inside the index at the cursor (the cursor is an index condition, not a filter)', async () => {
      const first = (await findInvolving(db, busy, { limit: 50, after: null })).at(-1)!;
      const after: FeedCursor = { occurredAt: first.occurredAt, insertedAt: first.insertedAt, uuid: first.uuid };
      const plan = await planOf(db, (q) => findInvolving(q, busy, { limit: 50, after }));
      expect(seqScans(plan)).toEqual([]);
      const [feed] = scansOf(plan, 'interaction_involvements_feed');
      expect(feed!['Node Type']).toMatch(/^Index (Only )?Scan$/);
      expect(feed!['Index Cond']).toContain('occurred_at');
      expect(rowsOf(feed!)).toBe(50);
    });
  });

  describe('listForContacts', () => {
    it('200 contacts, limit 50: each contact\'s range of the subject index, at most 50 from each, rows only for the page', async () => {
      const plan = await planOf(db, (q) => findForContacts(q, someContacts, { limit: 50, after: null }));
      expect(seqScans(plan)).toEqual([]);
      const ranges = scansOf(plan, 'interactions_by_subject');
      expect(ranges).toHaveLength(1);
      const [range] = ranges;
      expect(range!['Index Cond']).toContain('contact_uuid');
      expect(range!['Actual Loops']).toBe(someContacts.length);
      const limits = plan.filter((n) => n['Node Type'] === 'Limit' && n['Actual Loops'] === someContacts.length);
      expect(limits).toHaveLength(1);
      expect(rowsOf(limits[0]!)).toBeLessThanOrEqual(50 * someContacts.length);
      // Only the page's rows are read from the table.
      const lookups = scansOf(plan, 'interactions_pkey');
      expect(lookups.length).toBeGreaterThan(0);
      expect(lookups.every((n) => n['Node Type'] === 'Index Scan' && rowsOf(n) <= 50)).toBe(true);
      expect(plan.some((n) => n['Relation Name'] === 'interaction_parties')).toBe(false);
    });
  });

  describe('filters, search and counts (issue 11)', () => {
    const page = { limit: 50, after: null };
    const filter = (f: Partial<FeedFilter>): FeedFilter => ({ ...NO_FILTER, ...f });
    /** No sort of more than a page, and no table read whole. */
    const pageSized = (plan: PlanNode[]) => {
      expect(seqScans(plan)).toEqual([]);
      expect(plan.filter((n) => n['Node Type'] === 'Sort').every((n) => rowsOf(n) <= 50)).toBe(true);
    };

    it.each([
      ['a type', filter({ types: ['call'] })],
      ['two types and an owner', filter({ types: ['email', 'note'], ownerUserUuid: '00000000-0000-4000-8000-000000000000' })],
      ['a period', filter({ occurredFrom: new Date('2026-03-01'), occurredTo: new Date('2026-09-01') })],
    ])('listInvolving with %s, busy contact: the same range scan of the feed index, filtered on its entries', async (_name, f) => {
      const plan = await planOf(db, (q) => findInvolving(q, busy, page, f));
      pageSized(plan);
      const [feed, ...more] = scansOf(plan, 'interaction_involvements_feed');
      expect(more).toEqual([]);
      expect(feed!['Index Cond']).toContain('contact_uuid');
      if (f.occurredFrom) expect(feed!['Index Cond']).toContain('occurred_at');
      expect(scansOf(plan, 'interactions_pkey').every((n) => rowsOf(n) <= 50)).toBe(true);
    });

    /** A search's first step walks no more of the feed, and looks up no more rows, than its window. */
    const windowSized = (plan: PlanNode[]) => {
      pageSized(plan);
      for (const index of ['interaction_involvements_feed', 'interactions_pkey']) {
        expect(scansOf(plan, index).every((n) => rowsOf(n) <= INVOLVING_SEARCH_WINDOW)).toBe(true);
      }
    };

    it('listInvolving searching a common word, busy contact: the newest entries of the feed fill the page', async () => {
      const plans = await plansOf(db, (q) => findInvolving(q, busy, page, filter({ search: "'renew':*" })));
      expect(plans).toHaveLength(2);
      const [window, rows] = plans.map(nodes);
      windowSized(window!);
      pageSized(rows!);
      expect(scansOf(rows!, 'interactions_search')).toEqual([]); // the page was full: no second step
    });

    it('listInvolving searching a rare word, busy contact: a bounded window of the feed, then the search index for the rest', async () => {
      const plans = await plansOf(db, (q) => findInvolving(q, busy, page, filter({ search: "'zebra':*" })));
      expect(plans).toHaveLength(2);
      const [window, rest] = plans.map(nodes);
      windowSized(window!);
      expect(seqScans(rest!)).toEqual([]);
      // The search index once; the walk past the window (for a word it finds too often) did not run.
      expect(scansOf(rest!, 'interactions_search').filter((n) => n['Actual Loops'] > 0)).toHaveLength(1);
      expect(scansOf(rest!, 'interactions_pkey').every((n) => rowsOf(n) <= 50)).toBe(true);
      const found = await findInvolving(db, busy, page, filter({ search: "'zebra':*" }));
      expect(found).toHaveLength(INTERACTIONS / 1000); // every such interaction is the busy contact's
    });

    it('no feed plan starts parallel workers, even where the planner would find them free', async () => {
      // One after the other: they share the transaction's one connection (pg 9 refuses queries sent to a busy one).
      const feeds = async (q: Database) => {
        await findInvolving(q, busy, page);
        await findInvolving(q, busy, page, filter({ search: "'zebra':*" }));
        await findForContacts(q, someContacts, page, filter({ search: "'renew':*" }));
        await findRecent(q, page, filter({ search: "'zebra':*" }));
        await countInvolving(q, busy, filter({ search: "'renew':*" }));
      };
      const parallel = async (tx: Queryable) => {
        for (const setting of ['parallel_setup_cost', 'parallel_tuple_cost', 'min_parallel_table_scan_size', 'min_parallel_index_scan_size']) {
          await tx.query(`SET LOCAL ${setting} = 0`, []);
        }
        return (await plansOf(tx, feeds)).flatMap(nodes).filter((n) => n['Node Type'].startsWith('Gather')).length;
      };
      expect(await db.transaction(parallel)).toBe(0);
      // Without migration 0009's storage parameters these settings do make the planner start workers.
      const without = await db
        .transaction(async (tx) => {
          await tx.query('ALTER TABLE interactions RESET (parallel_workers)', []);
          await tx.query('ALTER TABLE interaction_involvements RESET (parallel_workers)', []);
          throw Object.assign(new Error('roll back'), { gathers: await parallel(tx) });
        })
        .catch((error: { gathers?: number }) => error.gathers);
      expect(without).toBeGreaterThan(0);
    });

    it('listRecent: one range scan of the recent index that stops at the page', async () => {
      const plan = await planOf(db, (q) => findRecent(q, page));
      pageSized(plan);
      const [recent] = scansOf(plan, 'interactions_recent');
      expect(rowsOf(recent!)).toBe(50);
    });

    it('listRecent searching a common word: the newest rows of the recent index fill the page; no table read whole', async () => {
      const [window, rows] = await plansOf(db, (q) => findRecent(q, page, filter({ search: "'renew':*" })));
      for (const plan of [window!, rows!].map(nodes)) pageSized(plan);
      expect(scansOf(nodes(window!), 'interactions_recent').every((n) => rowsOf(n) <= RECENT_SEARCH_WINDOW)).toBe(true);
      expect(scansOf(nodes(rows!), 'interactions_search')).toEqual([]); // the page was full: no second step
    });

    it('listRecent searching a rare word: a bounded window of the recent index, then the search index for the rest', async () => {
      const plans = await plansOf(db, (q) => findRecent(q, page, filter({ search: "'zebra':*" })));
      expect(plans).toHaveLength(2);
      const [window, rest] = plans.map(nodes);
      pageSized(window!);
      expect(scansOf(window!, 'interactions_recent').every((n) => rowsOf(n) <= RECENT_SEARCH_WINDOW)).toBe(true);
      expect(seqScans(rest!)).toEqual([]);
      expect(scansOf(rest!, 'interactions_search')).toHaveLength(1);
      const found = await findRecent(db, page, filter({ search: "'zebra':*" }));
      expect(found).toHaveLength(INTERACTIONS / 1000);
    });

    it('countInvolving: the contact\'s count rows, never its feed', async () => {
      const plan = await planOf(db, (q) => countInvolving(q, busy));
      expect(seqScans(plan)).toEqual([]);
      expect(plan.some((n) => n['Relation Name'] === 'interaction_involvements')).toBe(false);
      expect(scansOf(plan, 'involvement_counts_by_contact').length + scansOf(plan, 'involvement_counts_to_compact').length).toBeGreaterThan(0);
    });

    it('countInvolving over a period: the range of the feed index, nothing else', async () => {
      const plan = await planOf(db, (q) => countInvolving(q, busy, filter({ occurredFrom: new Date('2026-03-01') })));
      expect(seqScans(plan)).toEqual([]);
      const [feed] = scansOf(plan, 'interaction_involvements_feed');
      expect(feed!['Index Cond']).toContain('occurred_at');
      expect(plan.some((n) => n['Relation Name'] === 'interactions')).toBe(false);
    });

    it('countInteractions: the count rows only, not the interactions', async () => {
      const plan = await planOf(db, (q) => countInteractions(q));
      expect(plan.some((n) => n['Relation Name'] === 'interactions')).toBe(false);
      expect(plan.filter((n) => n['Relation Name'] === 'interaction_counts')).toHaveLength(1);
    });
  });

  describe('interactionUuidsForContact', () => {
    it.each([
      ['a busy contact', () => busy],
      ['a typical contact', () => typical],
    ])('%s: one range scan of the subject index', async (_name, who) => {
      const plan = await planOf(db, (q) => findSubjectUuids(q, who()));
      expect(seqScans(plan)).toEqual([]);
      const [range, ...more] = scansOf(plan, 'interactions_by_subject');
      expect(more).toEqual([]);
      expect(range!['Index Cond']).toContain('contact_uuid');
      // Either an index-only scan in index order, or (while fresh rows are not yet all-visible) a bitmap
      // scan of the same range and a sort of just those rows.
      expect(plan.filter((n) => n['Node Type'].endsWith('Scan')).map((n) => n['Relation Name'] ?? n['Index Name'])).toEqual(
        range!['Node Type'] === 'Bitmap Index Scan' ? ['interactions', 'interactions_by_subject'] : ['interactions'],
      );
    });
  });

  it('edits (of both texts, of one) and a delete without the stream lock: planned once, not for each run\'s values; each table by an index', async () => {
    await expectUnlockedWritesPlannedOnceByIndex(db);
  });

  it('getInteraction: one primary-key lookup', async () => {
    const { rows } = await db.query<{ uuid: string }>('SELECT uuid FROM interactions LIMIT 1');
    const plan = await planOf(db, (q) => findInteraction(q, rows[0]!.uuid));
    expect(plan.map((n) => [n['Node Type'], n['Index Name']])).toEqual([['Index Scan', 'interactions_pkey']]);
  });
});

describe('query plans at 1,000 interactions (real PostgreSQL)', () => {
  // Where the planner would rather read a small table whole than take its index a hundred times (its
  // guess of an array's length): the writes of one interaction take the key all the same.
  it('edits (of both texts, of one) and a delete without the stream lock: each table by an index', async () => {
    const { db, cleanup } = await migratedDatabaseOfItsOwn();
    try {
      await fill(db, 1_000);
      await expectUnlockedWritesPlannedOnceByIndex(db);
    } finally {
      await cleanup();
    }
  });
});

describe('rebuild and the indexes (real PostgreSQL)', () => {
  /** Every index of the read tables with its definition, and the tables' constraints. */
  async function indexes(q: Queryable): Promise<unknown> {
    const { rows } = await q.query(
      `SELECT tablename, indexname, indexdef FROM pg_indexes
       WHERE schemaname = current_schema() AND tablename IN ('interactions', 'interaction_parties', 'interaction_involvements')
       ORDER BY indexname`,
    );
    const { rows: constraints } = await q.query(
      `SELECT conrelid::regclass::text AS on_table, conname, pg_get_constraintdef(oid) AS def FROM pg_constraint
       WHERE connamespace = current_schema()::regnamespace ORDER BY conname`,
    );
    return { indexes: rows, constraints };
  }

  it('ends with every index and constraint the migrations made', async () => {
    const { db, cleanup } = await migratedDatabaseOfItsOwn();
    try {
      const before = await indexes(db);
      const store = new PostgresEventStore(db, projectEvents);
      const subject = randomUUID();
      const envelope = (type: string, data: unknown): EventToAppend => ({
        id: randomUUID(),
        type,
        data,
        metadata: { actorUuid: null, correlationId: randomUUID(), causationId: null, recordedAt: '2026-03-01T09:00:00.000Z' },
      });
      for (let n = 0; n < 30; n++) {
        const uuid = randomUUID();
        await store.appendToStream(`interaction-${uuid}`, [
          envelope('InteractionLogged', {
            schemaVersion: 1, interactionUuid: uuid, contactUuid: subject, interactionType: 'note',
            occurredAt: '2026-03-01T09:00:00Z', subject: null, body: null, ownerUserUuid: null, metadata: {}, fileUuids: [],
          }),
          envelope('PartiesRebuilt', { schemaVersion: 1, interactionUuid: uuid, parties: [] }),
        ], 'no_stream');
      }
      // Small batches: several of them, statistics taken along the way, indexes dropped and rebuilt.
      await expect(rebuild(db, store, { batchSize: 7 })).resolves.toMatchObject({ events: 60 });
      expect(await indexes(db)).toEqual(before);
      expect(await findSubjectUuids(db, subject)).toHaveLength(30);
    } finally {
      await cleanup();
    }
  });
});
