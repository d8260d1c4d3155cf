import { Database } from '../../src/ports/database';
import {
  FeedCursor,
  FeedFilter,
  findInvolving,
  INVOLVING_SEARCH_INDEX_CAP,
  INVOLVING_SEARCH_WINDOW,
  NO_FILTER,
} from '../../projections/interactions.queries';
import { BACKENDS, migratedDatabase } from '../support/backends';

/**
 * A search of a contact's feed past its first step (findInvolving: the newest INVOLVING_SEARCH_WINDOW
 * entries walked, then the search index, or a walk when the index finds too many): every word
 * frequency and page size gives exactly the matching interactions once, newest first, as SQL that
 * filters the whole feed says. The feed service suite covers the filters' meaning on small feeds.
 */

const FEED = 3 * INVOLVING_SEARCH_WINDOW;
const FLOOD = INVOLVING_SEARCH_INDEX_CAP + 500;
const CONTACT = "md5('searched')::uuid";

/** The words of the contact's feed entry n (0 = newest), and of the FLOOD interactions of others. */
const WORDS_OF = `ARRAY['body']
  || CASE WHEN n % 3 = 0 THEN ARRAY['common'] ELSE '{}' END
  || CASE WHEN n % 60 = 7 THEN ARRAY['middling'] ELSE '{}' END
  || CASE WHEN n > ${INVOLVING_SEARCH_WINDOW} AND n % 400 = 11 THEN ARRAY['rare'] ELSE '{}' END
  || CASE WHEN n % 500 = 251 THEN ARRAY['flood'] ELSE '{}' END`;

async function fill(db: Database): Promise<void> {
  await db.query(
    `INSERT INTO interactions (uuid, contact_uuid, interaction_type, occurred_at, subject, body, owner_user_uuid,
       metadata, file_uuids, inserted_at, updated_at, version, parties, search)
     SELECT md5('feed-' || n)::uuid, ${CONTACT}, (ARRAY['call', 'email'])[1 + n % 2],
       -- Pairs at the same time: the order falls back to insertedAt.
       timestamptz '2026-06-01' - (n / 2) * interval '1 hour', 'Subject', 'Body', NULL::uuid, '{}'::jsonb, '{}'::uuid[],
       timestamptz '2026-06-01' - n * interval '1 second', now(), 1, '[]'::jsonb, array_to_tsvector(${WORDS_OF})
     FROM generate_series(0, ${FEED - 1}) AS n
     UNION ALL
     SELECT md5('other-' || n)::uuid, md5('other-' || (n % 97))::uuid, 'note', timestamptz '2026-01-01' + n * interval '1 minute',
       'Subject', 'Body', NULL, '{}', '{}', now(), now(), 1, '[]', array_to_tsvector(ARRAY['flood', 'common'])
     FROM generate_series(1, ${FLOOD}) AS n`,
    [],
  );
  await db.query(
    `INSERT INTO interaction_involvements (contact_uuid, interaction_uuid, occurred_at, inserted_at, interaction_type, owner_user_uuid)
     SELECT contact_uuid, uuid, occurred_at, inserted_at, interaction_type, owner_user_uuid FROM interactions`,
    [],
  );
  await db.query('ANALYZE interactions, interaction_involvements', []);
}

describe.each(BACKENDS.map((backend) => [backend.name, backend] as const))('a search of a long feed on %s', (_name, backend) => {
  let db: Database;
  let cleanup: () => Promise<void>;
  let contact: string;
  beforeAll(async () => {
    ({ db, cleanup } = await migratedDatabase(backend));
    await fill(db);
    contact = (await db.query<{ uuid: string }>(`SELECT ${CONTACT}::text AS uuid`, [])).rows[0]!.uuid;
  }, 60_000);
  afterAll(() => cleanup());

  /** What the whole feed, filtered, holds: the oracle. */
  async function expected(filter: FeedFilter): Promise<string[]> {
    const { rows } = await db.query<{ uuid: string }>(
      `SELECT v.interaction_uuid AS uuid FROM interaction_involvements v JOIN interactions i ON i.uuid = v.interaction_uuid
       WHERE v.contact_uuid = $1 AND i.search @@ $2::tsquery AND ($3::text[] IS NULL OR v.interaction_type = ANY($3::text[]))
       ORDER BY v.occurred_at DESC, v.inserted_at DESC, v.interaction_uuid DESC`,
      [contact, filter.search, filter.types],
    );
    return rows.map((row) => row.uuid);
  }

  async function walk(filter: FeedFilter, size: number | null): Promise<string[]> {
    const seen: string[] = [];
    let after: FeedCursor | null = null;
    for (let n = 0; n < 1_000; n++) {
      const items = await findInvolving(db, contact, { limit: size, after }, filter);
      seen.push(...items.map((i) => i.uuid));
      if (size === null || items.length < size) return seen;
      const last = items[items.length - 1]!;
      after = { occurredAt: last.occurredAt, insertedAt: last.insertedAt, uuid: last.uuid };
    }
    throw new Error('the walk did not end');
  }

  it.each([
    ['a word that fills the window', 'common'],
    ['a word too rare in the window to fill a page', 'middling'],
    ['a word only past the window', 'rare'],
    [`a word the search index finds more than ${INVOLVING_SEARCH_INDEX_CAP} times, rarely in this feed`, 'flood'],
    ['a word in no interaction', 'zebra'],
  ])('%s: each match once, newest first, at every page size and with a type filter', async (_case, word) => {
    for (const types of [null, ['email'] as const]) {
      const filter: FeedFilter = { ...NO_FILTER, search: `'${word}':*`, types };
      const all = await expected(filter);
      if (word !== 'zebra') expect(all.length).toBeGreaterThan(0);
      for (const size of [1, 7, 50, null]) {
        if (size === 1 && all.length > 100) continue; // one per page: long enough with the rarer words
        expect({ types, size, uuids: await walk(filter, size) }).toEqual({ types, size, uuids: all });
      }
    }
  }, 60_000);
});
