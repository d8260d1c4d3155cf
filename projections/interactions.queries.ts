import { Database, Queryable } from '../src/ports/database';
import { Interaction, InteractionType, JsonObject, Party } from '../src/domain/interaction';

/** The read side's SQL: each query is one range scan of an index shaped for it. */

interface InteractionRow {
  uuid: string;
  contact_uuid: string;
  interaction_type: InteractionType;
  occurred_at: Date;
  subject: string | null;
  body: string | null;
  owner_user_uuid: string | null;
  metadata: JsonObject;
  file_uuids: string[];
  inserted_at: Date;
  updated_at: Date;
  version: string;
  parties: Party[];
}

/** Where a newest-first page stopped: the sort key of its last interaction. */
export interface FeedCursor {
  occurredAt: Date;
  insertedAt: Date;
  uuid: string;
}

// Each row carries its parties (the `parties` column, kept by the projection): a page is one range scan
// of an index plus one row lookup per interaction, no per-row aggregate.
const SELECT_INTERACTION = `
  SELECT i.uuid, i.contact_uuid, i.interaction_type, i.occurred_at, i.subject, i.body, i.owner_user_uuid,
    i.metadata, i.file_uuids, i.inserted_at, i.updated_at, i.version, i.parties
  FROM interactions i`;

const NEWEST_FIRST = 'ORDER BY i.occurred_at DESC, i.inserted_at DESC, i.uuid DESC';

function toInteraction(row: InteractionRow): Interaction {
  return {
    uuid: row.uuid,
    contactUuid: row.contact_uuid,
    interactionType: row.interaction_type,
    occurredAt: row.occurred_at,
    subject: row.subject,
    body: row.body,
    ownerUserUuid: row.owner_user_uuid,
    metadata: row.metadata,
    fileUuids: row.file_uuids,
    insertedAt: row.inserted_at,
    updatedAt: row.updated_at,
    version: Number(row.version),
    parties: row.parties,
  };
}

export async function findInteraction(q: Queryable, uuid: string): Promise<Interaction | null> {
  const { rows } = await q.query<InteractionRow>(`${SELECT_INTERACTION} WHERE i.uuid = $1`, [uuid]);
  return rows[0] ? toInteraction(rows[0]) : null;
}

/**
 * What a feed or a count is narrowed to; null is "any". `types` are matched as given (validated before),
 * `occurredFrom` inclusive, `occurredTo` exclusive, `search` a tsquery text of `searchQueryOf`.
 */
export interface FeedFilter {
  types: readonly InteractionType[] | null;
  occurredFrom: Date | null;
  occurredTo: Date | null;
  ownerUserUuid: string | null;
  search: string | null;
}

export const NO_FILTER: FeedFilter = { types: null, occurredFrom: null, occurredTo: null, ownerUserUuid: null, search: null };

export interface FeedPageQuery {
  limit: number | null;
  after: FeedCursor | null;
}

/*
 * Every optional condition is written as `($n IS NULL OR …)`: the feeds go out as unnamed statements, so
 * PostgreSQL plans each call with its values and drops the conditions that are not given; what is left
 * is a range of the feed's index (cursor and period) and filters checked on its entries (type, owner:
 * the involvement index INCLUDEs both). Parameters from `first`: cursor (3), types, from, to, owner.
 */
const inRange = (t: string, first: number) => `
  ($${first}::timestamptz IS NULL
    OR (${t}.occurred_at, ${t}.inserted_at, ${t}.${t === 'v' ? 'interaction_uuid' : 'uuid'}) < ($${first}::timestamptz, $${first + 1}::timestamptz, $${first + 2}::uuid))
  AND ($${first + 4}::timestamptz IS NULL OR ${t}.occurred_at >= $${first + 4}::timestamptz)
  AND ($${first + 5}::timestamptz IS NULL OR ${t}.occurred_at < $${first + 5}::timestamptz)`;
const ofTypeAndOwner = (t: string, first: number) => `
  ($${first + 3}::text[] IS NULL OR ${t}.interaction_type = ANY($${first + 3}::text[]))
  AND ($${first + 6}::uuid IS NULL OR ${t}.owner_user_uuid = $${first + 6}::uuid)`;
const narrowed = (t: string, first: number) => `${inRange(t, first)} AND ${ofTypeAndOwner(t, first)}`;

function narrowedParams(after: FeedCursor | null, filter: FeedFilter): unknown[] {
  return [
    after?.occurredAt ?? null, after?.insertedAt ?? null, after?.uuid ?? null,
    filter.types, filter.occurredFrom, filter.occurredTo, filter.ownerUserUuid,
  ];
}

/** A search's first step: the matches it found in its window, and the window's oldest entry (window_end). */
interface WindowKey {
  uuid: string;
  occurred_at: Date;
  inserted_at: Date;
  window_end: boolean;
}

/** What the window found, how many more the page wants, and where the rest starts (null: nothing to look for). */
function pastWindow(keys: WindowKey[], limit: number | null): { found: string[]; wanted: number | null; older: FeedCursor | null } {
  const found = keys.filter((key) => !key.window_end).map((key) => key.uuid);
  const end = keys.find((key) => key.window_end);
  const wanted = limit === null ? null : limit - found.length;
  const older = end && wanted !== 0 ? { occurredAt: end.occurred_at, insertedAt: end.inserted_at, uuid: end.uuid } : null;
  return { found, wanted, older };
}

/** Involvements whose interaction matches the search (a join only when there is one). */
const involvementsMatching = (search: boolean, param: number) =>
  search
    ? `interaction_involvements v JOIN interactions s ON s.uuid = v.interaction_uuid AND s.search @@ $${param}::tsquery`
    : 'interaction_involvements v';

const FEED_ORDER = 'ORDER BY v.occurred_at DESC, v.inserted_at DESC, v.interaction_uuid DESC';

/** The entries of a contact's feed a search checks in index order before it turns to the search index. */
export const INVOLVING_SEARCH_WINDOW = 500;
/** The most matches of the search index joined with a contact's feed; a word with more is looked for by walking it. */
export const INVOLVING_SEARCH_INDEX_CAP = 5_000;

/** Interactions where the contact is the subject or a party, newest first, each once. */
export async function findInvolving(db: Database, contactUuid: string, page: FeedPageQuery, filter: FeedFilter = NO_FILTER): Promise<Interaction[]> {
  const { search } = filter;
  if (search !== null) return oneSnapshot(db, (tx) => searchInvolving(tx, contactUuid, page, filter, search));
  // The page is cut on the involvement index alone; only the rows of the page are joined.
  const { rows } = await db.query<InteractionRow>(
    `WITH page AS (
       SELECT v.interaction_uuid FROM interaction_involvements v
       WHERE v.contact_uuid = $1 AND ${narrowed('v', 3)}
       ${FEED_ORDER}
       LIMIT $2
     )
     ${SELECT_INTERACTION} JOIN page ON page.interaction_uuid = i.uuid
     ${NEWEST_FIRST}`,
    [contactUuid, page.limit, ...narrowedParams(page.after, filter)],
  );
  return rows.map(toInteraction);
}

/**
 * Runs a page's statements on one snapshot (a read-only transaction): a write between them would
 * otherwise change or remove rows the first one chose, and the page, or the cursor of its last row,
 * would skip entries.
 */
function oneSnapshot<T>(db: Database, read: (tx: Queryable) => Promise<T>): Promise<T> {
  return db.transaction(async (tx) => {
    await tx.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY', []);
    return read(tx);
  });
}

/**
 * A search of a contact's feed. Checking an entry costs a lookup of its interaction's row, and how often a
 * word prefix matches is something the planner cannot estimate, so in two steps that each stay cheap: the
 * page's matches among the newest INVOLVING_SEARCH_WINDOW entries after the cursor (a walk of the feed
 * index that stops at the page: a word in a tenth of the feed fills it); only when that does not fill the
 * page, the interactions the search index finds (a rarer word), joined with the rest of the feed. A word
 * the index finds in more than INVOLVING_SEARCH_INDEX_CAP interactions, yet rarely in this feed, is looked
 * for by walking the rest of the feed instead.
 */
async function searchInvolving(q: Queryable, contactUuid: string, page: FeedPageQuery, filter: FeedFilter, search: string): Promise<Interaction[]> {
  const { rows: keys } = await q.query<WindowKey>(
    `WITH window_end AS (
       -- The window's oldest entry, or the beginning of time when the window holds the whole feed.
       (SELECT v.occurred_at, v.inserted_at, v.interaction_uuid FROM interaction_involvements v
        WHERE v.contact_uuid = $1 AND ${narrowed('v', 3)}
        ${FEED_ORDER} OFFSET ${INVOLVING_SEARCH_WINDOW - 1} LIMIT 1)
       UNION ALL SELECT '-infinity'::timestamptz, '-infinity'::timestamptz, '00000000-0000-0000-0000-000000000000'::uuid
       LIMIT 1
     )
     (SELECT v.interaction_uuid AS uuid, v.occurred_at, v.inserted_at, false AS window_end FROM ${involvementsMatching(true, 10)}
      WHERE v.contact_uuid = $1 AND ${narrowed('v', 3)}
        AND (v.occurred_at, v.inserted_at, v.interaction_uuid) >= (SELECT w.occurred_at, w.inserted_at, w.interaction_uuid FROM window_end w)
      ${FEED_ORDER}
      LIMIT $2)
     UNION ALL
     SELECT w.interaction_uuid, w.occurred_at, w.inserted_at, true FROM window_end w WHERE w.occurred_at <> '-infinity'`,
    [contactUuid, page.limit, ...narrowedParams(page.after, filter), search],
  );
  const { found, wanted, older } = pastWindow(keys, page.limit);
  // Past the window: the search index's matches when they are few (the one-time filters pick one branch).
  const { rows } = await q.query<InteractionRow>(
    `WITH matches AS MATERIALIZED (
       SELECT s.uuid FROM interactions s WHERE $11::boolean AND s.search @@ $10::tsquery LIMIT ${INVOLVING_SEARCH_INDEX_CAP + 1}
     ), page AS (
       (SELECT v.interaction_uuid FROM interaction_involvements v JOIN matches m ON m.uuid = v.interaction_uuid
        WHERE (SELECT count(*) FROM matches) <= ${INVOLVING_SEARCH_INDEX_CAP} AND v.contact_uuid = $1 AND ${narrowed('v', 3)}
        ${FEED_ORDER}
        LIMIT $2)
       UNION ALL
       (SELECT v.interaction_uuid FROM ${involvementsMatching(true, 10)}
        WHERE (SELECT count(*) FROM matches) > ${INVOLVING_SEARCH_INDEX_CAP} AND v.contact_uuid = $1 AND ${narrowed('v', 3)}
        ${FEED_ORDER}
        LIMIT $2)
       UNION ALL SELECT unnest($12::uuid[])
     )
     ${SELECT_INTERACTION} JOIN page ON page.interaction_uuid = i.uuid
     ${NEWEST_FIRST}`,
    [contactUuid, wanted, ...narrowedParams(older, filter), search, older !== null, found],
  );
  return rows.map(toInteraction);
}

/**
 * Interactions whose subject is one of the contacts, newest first. The page is cut on the subject index
 * alone: at most `limit` entries from each contact's range of it (a busy contact costs no more than a
 * quiet one), the newest `limit` of those; only the rows of the page are read.
 */
export async function findForContacts(q: Queryable, contactUuids: string[], page: FeedPageQuery, filter: FeedFilter = NO_FILTER): Promise<Interaction[]> {
  const { rows } = await q.query<InteractionRow>(
    `WITH page AS (
       SELECT s.uuid, s.occurred_at, s.inserted_at
       FROM (SELECT DISTINCT c.contact_uuid FROM unnest($1::uuid[]) AS c(contact_uuid)) AS c
       CROSS JOIN LATERAL (
         SELECT i.uuid, i.occurred_at, i.inserted_at FROM interactions i
         WHERE i.contact_uuid = c.contact_uuid AND ${narrowed('i', 3)} AND ($10::tsquery IS NULL OR i.search @@ $10::tsquery)
         ${NEWEST_FIRST}
         LIMIT $2
       ) AS s
       ORDER BY s.occurred_at DESC, s.inserted_at DESC, s.uuid DESC
       LIMIT $2
     )
     ${SELECT_INTERACTION} JOIN page ON page.uuid = i.uuid
     ${NEWEST_FIRST}`,
    [contactUuids, page.limit, ...narrowedParams(page.after, filter), filter.search],
  );
  return rows.map(toInteraction);
}

/** The newest rows a search of listRecent checks in index order before it turns to the search index. */
export const RECENT_SEARCH_WINDOW = 5_000;

/**
 * The whole CRM's interactions, newest first: one range scan of the recent index. With a search, whose
 * frequency the planner cannot know well (a word prefix), in two steps that each stay cheap: the page's
 * matches among the newest RECENT_SEARCH_WINDOW rows after the cursor (a bounded range of the recent
 * index, enough for any word in 1% of them); only when that does not fill the page, the search index for
 * the matches older than the window (a rarer word, so few matches to sort).
 */
export async function findRecent(db: Database, page: FeedPageQuery, filter: FeedFilter = NO_FILTER): Promise<Interaction[]> {
  if (filter.search === null) {
    const { rows } = await db.query<InteractionRow>(
      `WITH page AS (
         SELECT i.uuid FROM interactions i WHERE ${narrowed('i', 2)}
         ${NEWEST_FIRST}
         LIMIT $1
       )
       ${SELECT_INTERACTION} JOIN page ON page.uuid = i.uuid
       ${NEWEST_FIRST}`,
      [page.limit, ...narrowedParams(page.after, filter)],
    );
    return rows.map(toInteraction);
  }
  return oneSnapshot(db, (tx) => searchRecent(tx, page, filter, filter.search!));
}

async function searchRecent(q: Queryable, page: FeedPageQuery, filter: FeedFilter, search: string): Promise<Interaction[]> {
  const { rows: keys } = await q.query<WindowKey>(
    `WITH window_end AS (
       -- The window's oldest row (index entries only), or the beginning of time when the window holds all.
       (SELECT i.occurred_at, i.inserted_at, i.uuid FROM interactions i WHERE ${inRange('i', 2)}
        ${NEWEST_FIRST} OFFSET ${RECENT_SEARCH_WINDOW - 1} LIMIT 1)
       UNION ALL SELECT '-infinity'::timestamptz, '-infinity'::timestamptz, '00000000-0000-0000-0000-000000000000'::uuid
       LIMIT 1
     )
     (SELECT i.uuid, i.occurred_at, i.inserted_at, false AS window_end FROM interactions i
      WHERE ${inRange('i', 2)} AND ${ofTypeAndOwner('i', 2)} AND i.search @@ $9::tsquery
        AND (i.occurred_at, i.inserted_at, i.uuid) >= (SELECT w.occurred_at, w.inserted_at, w.uuid FROM window_end w)
      ${NEWEST_FIRST}
      LIMIT $1)
     UNION ALL
     SELECT w.uuid, w.occurred_at, w.inserted_at, true FROM window_end w WHERE w.occurred_at <> '-infinity'`,
    [page.limit, ...narrowedParams(page.after, filter), search],
  );
  const { found, wanted, older } = pastWindow(keys, page.limit);
  const { rows } = await q.query<InteractionRow>(
    `WITH matches AS MATERIALIZED (
       SELECT i.uuid, i.occurred_at, i.inserted_at FROM interactions i
       WHERE $9::boolean AND i.search @@ $10::tsquery AND ${narrowed('i', 2)}
     ), page AS (
       (SELECT i.uuid FROM matches i ${NEWEST_FIRST} LIMIT $1)
       UNION ALL SELECT unnest($11::uuid[])
     )
     ${SELECT_INTERACTION} JOIN page ON page.uuid = i.uuid
     ${NEWEST_FIRST}`,
    [wanted, ...narrowedParams(older, filter), older !== null, search, found],
  );
  return rows.map(toInteraction);
}

/** How many interactions of each type (absent: none). */
export type CountsByType = Partial<Record<InteractionType, number>>;

/**
 * The interactions involving the contact, by type. Without a period, owner or search it reads the
 * contact's rows of involvement_counts (a handful, whatever the feed's size); with one it counts the
 * involvement index's range.
 */
export async function countInvolving(q: Queryable, contactUuid: string, filter: FeedFilter = NO_FILTER): Promise<CountsByType> {
  if (onlyTypes(filter)) {
    return countsOf(await q.query('SELECT interaction_type, sum(n) AS n FROM involvement_counts WHERE contact_uuid = $1 GROUP BY 1', [contactUuid]), filter);
  }
  return countsOf(
    await q.query(
      `SELECT v.interaction_type, count(*) AS n FROM ${involvementsMatching(filter.search !== null, 9)}
       WHERE v.contact_uuid = $1 AND ${narrowed('v', 2)}
       GROUP BY 1`,
      [contactUuid, ...narrowedParams(null, filter), ...(filter.search !== null ? [filter.search] : [])],
    ),
    filter,
  );
}

/** Every interaction of the CRM, by type: interaction_counts without a period, owner or search. */
export async function countInteractions(q: Queryable, filter: FeedFilter = NO_FILTER): Promise<CountsByType> {
  if (onlyTypes(filter)) return countsOf(await q.query('SELECT interaction_type, sum(n) AS n FROM interaction_counts GROUP BY 1', []), filter);
  return countsOf(
    await q.query(
      `SELECT i.interaction_type, count(*) AS n FROM interactions i
       WHERE ${narrowed('i', 1)} AND ($8::tsquery IS NULL OR i.search @@ $8::tsquery)
       GROUP BY 1`,
      [...narrowedParams(null, filter), filter.search],
    ),
    filter,
  );
}

const onlyTypes = (f: FeedFilter) => f.occurredFrom === null && f.occurredTo === null && f.ownerUserUuid === null && f.search === null;

function countsOf({ rows }: { rows: Record<string, unknown>[] }, filter: FeedFilter): CountsByType {
  const counts: CountsByType = {};
  for (const row of rows) {
    const type = row.interaction_type as InteractionType;
    const n = Number(row.n);
    if (n !== 0 && (filter.types === null || filter.types.includes(type))) counts[type] = n;
  }
  return counts;
}

/** Uuids of the interactions whose subject is the contact, newest first. */
export async function findSubjectUuids(q: Queryable, contactUuid: string): Promise<string[]> {
  const { rows } = await q.query<{ uuid: string }>(
    `SELECT i.uuid FROM interactions i WHERE i.contact_uuid = $1 ${NEWEST_FIRST}`,
    [contactUuid],
  );
  return rows.map((row) => row.uuid);
}
