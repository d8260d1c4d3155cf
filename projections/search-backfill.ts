import { Queryable } from '../src/ports/database';
import { searchWordsOf } from '../src/domain/search';
import { pgArray } from './interactions.projection';

const CHUNK = 2_000;

/**
 * Fills the search words of rows written before migration 0008 (same transaction as the migration), with
 * the projection's own rule, chunk by chunk in uuid order: the upgrade needs no rebuild. `matching`: only
 * the rows whose subject or body matches this regular expression (a later change of the rule); of those,
 * only the rows whose words change are written.
 */
export async function backfillSearchWords(tx: Queryable, matching: string | null = null): Promise<void> {
  let after: string | null = null;
  for (;;) {
    const { rows }: { rows: { uuid: string; subject: string | null; body: string | null }[] } = await tx.query(
      `SELECT uuid, subject, body FROM interactions
       WHERE ($1::uuid IS NULL OR uuid > $1::uuid) AND ($2::text IS NULL OR subject ~ $2 OR body ~ $2)
       ORDER BY uuid LIMIT ${CHUNK}`,
      [after, matching],
    );
    if (rows.length === 0) return;
    await tx.query(
      `UPDATE interactions i SET search = w.search
       FROM (SELECT uuid, array_to_tsvector(string_to_array(words, ' ')) AS search FROM unnest($1::uuid[], $2::text[]) AS u(uuid, words)) AS w
       WHERE i.uuid = w.uuid AND i.search IS DISTINCT FROM w.search`,
      [pgArray(rows.map((r) => r.uuid)), pgArray(rows.map((r) => searchWordsOf(r.subject, r.body)))],
    );
    after = rows[rows.length - 1]!.uuid;
  }
}
