import { Queryable } from '../src/ports/database';

/**
 * Free-text parties (no contact, no staff link) by name key or email key: a bitmap of the two partial
 * indexes of migration 0005 over unresolved parties only, then the matches' rows, newest first. A party
 * a forget erased ("[erased]", unlinked) is no one to resolve: never offered for linking.
 */
export async function findUnresolvedParties(
  q: Queryable,
  keys: { nameKey: string | null; emailKey: string | null },
  limit: number,
): Promise<Array<{ interactionUuid: string; position: number; rawName: string; occurredAt: Date }>> {
  const { rows } = await q.query<{ interaction_uuid: string; position: number; raw_name: string; occurred_at: Date }>(
    `SELECT p.interaction_uuid, p.position, p.raw_name, i.occurred_at
     FROM interaction_parties p
     JOIN interactions i ON i.uuid = p.interaction_uuid
     WHERE p.contact_uuid IS NULL AND p.staff_person_uuid IS NULL
       AND (p.name_key = $1::text OR p.email_keys @> ARRAY[$2::text])
       AND p.snapshot->>'source' IS DISTINCT FROM 'erased'
     ORDER BY i.occurred_at DESC, i.inserted_at DESC, i.uuid DESC, p.position
     LIMIT $3`,
    [keys.nameKey, keys.emailKey, limit],
  );
  return rows.map((row) => ({
    interactionUuid: row.interaction_uuid,
    position: Number(row.position),
    rawName: row.raw_name,
    occurredAt: row.occurred_at,
  }));
}
