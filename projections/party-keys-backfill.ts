import { Queryable } from '../src/ports/database';
import { emailKeysIn, partyNameKey } from '../src/domain/party-keys';
import { pgArray } from './interactions.projection';

const CHUNK = 5_000;

interface PartyRow {
  interaction_uuid: string;
  position: number;
  raw_name: string;
}

/**
 * Fills the search keys of party rows written before migration 0005 (same transaction as the migration),
 * with the projection's own rule, chunk by chunk in key order: the upgrade needs no rebuild. `matching`:
 * only the rows whose raw name matches this regular expression (a later change of the rule); of those,
 * only the rows whose keys change are written.
 */
export async function backfillPartyKeys(tx: Queryable, matching: string | null = null): Promise<void> {
  let after: { uuid: string; position: number } | null = null;
  for (;;) {
    const { rows } = await tx.query<PartyRow>(
      `SELECT interaction_uuid, position, raw_name FROM interaction_parties
       WHERE ($1::uuid IS NULL OR (interaction_uuid, position) > ($1::uuid, $2::integer)) AND ($3::text IS NULL OR raw_name ~ $3)
       ORDER BY interaction_uuid, position LIMIT ${CHUNK}`,
      [after?.uuid ?? null, after?.position ?? null, matching],
    );
    if (rows.length === 0) return;
    await tx.query(
      `UPDATE interaction_parties p SET name_key = k.name_key, email_keys = k.email_keys
       FROM (SELECT interaction_uuid, position, name_key, string_to_array(nullif(emails, ''), ' ') AS email_keys
             FROM unnest($1::uuid[], $2::integer[], $3::text[], $4::text[]) AS u(interaction_uuid, position, name_key, emails)) AS k
       WHERE p.interaction_uuid = k.interaction_uuid AND p.position = k.position
         AND (p.name_key, p.email_keys) IS DISTINCT FROM (k.name_key, k.email_keys)`,
      [
        pgArray(rows.map((r) => r.interaction_uuid)),
        pgArray(rows.map((r) => Number(r.position))),
        pgArray(rows.map((r) => partyNameKey(r.raw_name))),
        pgArray(rows.map((r) => emailKeysIn(r.raw_name).join(' '))),
      ],
    );
    const last: PartyRow = rows[rows.length - 1]!;
    after = { uuid: last.interaction_uuid, position: Number(last.position) };
  }
}
