import { Database, Queryable } from '../../src/ports/database';
import { findUnresolvedParties } from '../../projections/unresolved-parties.queries';
import { migratedDatabaseOfItsOwn } from '../support/backends';

/**
 * findUnresolvedParties at 30,000 interactions and 90,000 parties (a third of them free text): a look-up
 * of the partial indexes over unresolved parties (name key, email keys), never a scan of every party.
 * Plan shapes and row counts from EXPLAIN ANALYZE, as in query-plans.spec.ts.
 */

interface PlanNode {
  'Node Type': string;
  'Index Name'?: string;
  'Relation Name'?: string;
  'Actual Rows': number;
  'Actual Loops': number;
  Plans?: PlanNode[];
}

const nodes = (plan: PlanNode): PlanNode[] => [plan, ...(plan.Plans ?? []).flatMap(nodes)];

async function planOf(db: Queryable, call: (q: Queryable) => Promise<unknown>): Promise<PlanNode[]> {
  const plans: PlanNode[] = [];
  await call({
    async query(text: string, params?: unknown[]) {
      const { rows } = await db.query<{ 'QUERY PLAN': [{ Plan: PlanNode }] }>(`EXPLAIN (ANALYZE, FORMAT JSON) ${text}`, params);
      plans.push(rows[0]!['QUERY PLAN'][0].Plan);
      return { rows: [] };
    },
  });
  expect(plans).toHaveLength(1);
  return nodes(plans[0]!);
}

const INTERACTIONS = 30_000;
const NAME_INDEX = 'interaction_parties_unresolved_name';
const EMAIL_INDEX = 'interaction_parties_unresolved_email';
const seqScans = (plan: PlanNode[]) => plan.filter((n) => n['Node Type'] === 'Seq Scan').map((n) => n['Relation Name']);
const scansOf = (plan: PlanNode[], index: string) => plan.filter((n) => n['Index Name'] === index);

/**
 * Party p of interaction g: a contact when (g + p) % 3 > 0, else free text named "Visitor <g % 1000>"
 * (so each name recurs ~10 times), every 7th with an address "visitor<g>@example.com" in it. Keys are
 * written as the projection's rule gives them for these ASCII names (lower case).
 */
async function fill(db: Database): Promise<void> {
  await db.query(
    `INSERT INTO interactions (uuid, contact_uuid, interaction_type, occurred_at, subject, body, owner_user_uuid,
       metadata, file_uuids, inserted_at, updated_at, version, parties)
     SELECT md5('interaction-' || g)::uuid, md5('contact-' || g % 5000)::uuid, 'call',
       timestamptz '2026-01-01' + g * interval '1 minute', NULL, NULL, NULL, '{}', '{}',
       timestamptz '2026-01-01' + g * interval '1 second', timestamptz '2026-01-01' + g * interval '1 second', 1, '[]'
     FROM generate_series(1, ${INTERACTIONS}) AS g`,
  );
  await db.query(
    `INSERT INTO interaction_parties (interaction_uuid, position, raw_name, contact_uuid, staff_person_uuid, snapshot, name_key, email_keys)
     SELECT md5('interaction-' || g)::uuid, p, f.raw_name,
       CASE WHEN (g + p) % 3 > 0 THEN md5('contact-' || (g * 31 + p) % 5000)::uuid END, NULL,
       '{"source": "free_text", "capturedAt": "2026-01-01T00:00:00Z"}', lower(f.raw_name),
       CASE WHEN g % 7 = 0 THEN ARRAY['visitor' || g || '@example.com'] END
     FROM generate_series(1, ${INTERACTIONS}) AS g, generate_series(0, 2) AS p,
       LATERAL (SELECT 'Visitor ' || g % 1000 || CASE WHEN g % 7 = 0 THEN ' <visitor' || g || '@example.com>' ELSE '' END) AS f(raw_name)`,
  );
  await db.query('VACUUM ANALYZE interactions, interaction_parties');
}

describe('findUnresolvedParties plans at 30,000 interactions (real PostgreSQL)', () => {
  let db: Database;
  let cleanup: () => Promise<void>;

  beforeAll(async () => {
    ({ db, cleanup } = await migratedDatabaseOfItsOwn());
    await fill(db);
  }, 60_000);
  afterAll(() => cleanup());

  it('a name: the partial name-key index, only the matches read', async () => {
    const expected = await findUnresolvedParties(db, { nameKey: 'visitor 123', emailKey: null }, 50);
    expect(expected.length).toBeGreaterThan(3);
    expect(expected.length).toBeLessThan(30);
    const plan = await planOf(db, (q) => findUnresolvedParties(q, { nameKey: 'visitor 123', emailKey: null }, 50));
    expect(seqScans(plan)).toEqual([]);
    const [byName] = scansOf(plan, NAME_INDEX);
    expect(byName).toBeDefined();
    // Every "Visitor 123" has the key, resolved ones too: the partial index holds only the free-text ones.
    expect(byName!['Actual Rows'] * byName!['Actual Loops']).toBe(expected.length);
  });

  it('an email: the GIN index of email keys', async () => {
    const found = await findUnresolvedParties(db, { nameKey: null, emailKey: 'visitor21@example.com' }, 50);
    expect(found.map((p) => p.rawName)).toEqual(['Visitor 21 <visitor21@example.com>']);
    const plan = await planOf(db, (q) => findUnresolvedParties(q, { nameKey: null, emailKey: 'visitor21@example.com' }, 50));
    expect(seqScans(plan)).toEqual([]);
    expect(scansOf(plan, EMAIL_INDEX)).toHaveLength(1);
  });

  it('a name or an email: both indexes, OR-ed as bitmaps', async () => {
    const plan = await planOf(db, (q) => findUnresolvedParties(q, { nameKey: 'visitor 5', emailKey: 'visitor21@example.com' }, 50));
    expect(seqScans(plan)).toEqual([]);
    expect(scansOf(plan, NAME_INDEX)).toHaveLength(1);
    expect(scansOf(plan, EMAIL_INDEX)).toHaveLength(1);
    expect(plan.some((n) => n['Node Type'] === 'BitmapOr')).toBe(true);
  });
});
