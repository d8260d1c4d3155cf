import { Queryable } from '../src/ports/database';

/** Contacts whose new count rows one statement folds. */
const CONTACTS_PER_STATEMENT = 2_000;

/**
 * Folds the count rows written since the last time (migration 0008: writers only insert ±n rows) into
 * one row per key, so a count keeps reading a handful of rows. Each statement deletes the rows it folds
 * and inserts their sum, all or nothing; rows a concurrent writer adds meanwhile are not seen by it and
 * are folded next time, and two compactions at once fold disjoint rows (a row is deleted once). Returns
 * the number of rows folded.
 */
export async function compactCounts(q: Queryable): Promise<number> {
  let folded = 0;
  for (;;) {
    const { rows } = await q.query<{ contacts: string; folded: string }>(
      `WITH batch AS (
         SELECT DISTINCT contact_uuid FROM involvement_counts WHERE NOT compacted LIMIT $1
       ), gone AS (
         DELETE FROM involvement_counts c USING batch b WHERE c.contact_uuid = b.contact_uuid
         RETURNING c.contact_uuid, c.interaction_type, c.n
       ), summed AS (
         INSERT INTO involvement_counts (contact_uuid, interaction_type, n, compacted)
         SELECT contact_uuid, interaction_type, sum(n), true FROM gone GROUP BY 1, 2 HAVING sum(n) <> 0
       )
       SELECT (SELECT count(*) FROM batch) AS contacts, (SELECT count(*) FROM gone) AS folded`,
      [CONTACTS_PER_STATEMENT],
    );
    folded += Number(rows[0]!.folded);
    if (Number(rows[0]!.contacts) < CONTACTS_PER_STATEMENT) break;
  }
  const { rows } = await q.query<{ folded: string }>(
    `WITH gone AS (
       DELETE FROM interaction_counts WHERE EXISTS (SELECT 1 FROM interaction_counts WHERE NOT compacted)
       RETURNING interaction_type, n
     ), summed AS (
       INSERT INTO interaction_counts (interaction_type, n, compacted)
       SELECT interaction_type, sum(n), true FROM gone GROUP BY 1 HAVING sum(n) <> 0
     )
     SELECT count(*) AS folded FROM gone`,
    [],
  );
  return folded + Number(rows[0]!.folded);
}

/** The read tables whose rows the count triggers follow (migration 0008). */
export const COUNTED_TABLES = ['interactions', 'interaction_involvements'] as const;

/** The counts made again from the read tables as they are (a rebuild, whose writes are not counted). */
export async function countFromScratch(q: Queryable): Promise<void> {
  await q.query('DELETE FROM involvement_counts', []);
  await q.query('DELETE FROM interaction_counts', []);
  await q.query(
    `INSERT INTO involvement_counts (contact_uuid, interaction_type, n, compacted)
     SELECT contact_uuid, interaction_type, count(*), true FROM interaction_involvements GROUP BY 1, 2`,
    [],
  );
  await q.query(
    `INSERT INTO interaction_counts (interaction_type, n, compacted)
     SELECT interaction_type, count(*), true FROM interactions GROUP BY 1`,
    [],
  );
}
