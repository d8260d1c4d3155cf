import { Queryable } from '../src/ports/database';
import { parseEvent, truncateToSecond } from '../src/domain/events';
import { RecordedEvent } from '../src/ports/event-store';

/**
 * Keeps the read tables in step with the log. Every handler is idempotent: rows carry the stream
 * revision they reflect and a handler only acts on a newer revision, so re-delivering any suffix of a
 * stream leaves the tables as they were. The projection never looks anything up outside its tables:
 * snapshots and times come from the events.
 */
export const READ_TABLES = ['interactions', 'interaction_parties', 'interaction_involvements'] as const;

export async function projectEvents(tx: Queryable, events: readonly RecordedEvent[]): Promise<void> {
  for (const event of events) await projectEvent(tx, event);
}

async function projectEvent(tx: Queryable, recorded: RecordedEvent): Promise<void> {
  const event = parseEvent(recorded.type, recorded.data);
  const { interactionUuid } = event.data;
  const at = truncateToSecond(new Date(recorded.metadata.recordedAt));
  const revision = recorded.revision;

  switch (event.type) {
    case 'InteractionLogged': {
      const d = event.data;
      await tx.query(
        `INSERT INTO interactions (uuid, contact_uuid, interaction_type, occurred_at, subject, body,
           owner_user_uuid, metadata, file_uuids, inserted_at, updated_at, version)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, $11)
         ON CONFLICT (uuid) DO NOTHING`,
        [
          interactionUuid,
          d.contactUuid,
          d.interactionType,
          d.occurredAt,
          d.subject,
          d.body,
          d.ownerUserUuid,
          d.metadata,
          d.fileUuids,
          at,
          revision,
        ],
      );
      break;
    }
    case 'InteractionUpdated': {
      // One static statement for any subset of changes: a key present in the JSON sets its column.
      await tx.query(
        `UPDATE interactions SET
           contact_uuid = CASE WHEN $2::jsonb ? 'contactUuid' THEN ($2::jsonb->>'contactUuid')::uuid ELSE contact_uuid END,
           interaction_type = CASE WHEN $2::jsonb ? 'interactionType' THEN $2::jsonb->>'interactionType' ELSE interaction_type END,
           occurred_at = CASE WHEN $2::jsonb ? 'occurredAt' THEN ($2::jsonb->>'occurredAt')::timestamptz ELSE occurred_at END,
           subject = CASE WHEN $2::jsonb ? 'subject' THEN $2::jsonb->>'subject' ELSE subject END,
           body = CASE WHEN $2::jsonb ? 'body' THEN $2::jsonb->>'body' ELSE body END,
           owner_user_uuid = CASE WHEN $2::jsonb ? 'ownerUserUuid' THEN ($2::jsonb->>'ownerUserUuid')::uuid ELSE owner_user_uuid END,
           metadata = CASE WHEN $2::jsonb ? 'metadata' THEN $2::jsonb->'metadata' ELSE metadata END,
           updated_at = $3,
           version = $4
         WHERE uuid = $1 AND version < $4`,
        [interactionUuid, JSON.stringify(event.data.changes), at, revision],
      );
      break;
    }
    case 'PartiesRebuilt': {
      const { rows } = await tx.query(
        'UPDATE interactions SET updated_at = $2, version = $3 WHERE uuid = $1 AND version < $3 RETURNING uuid',
        [interactionUuid, at, revision],
      );
      if (rows.length === 0) return; // already applied (or the interaction is gone)
      await tx.query('DELETE FROM interaction_parties WHERE interaction_uuid = $1', [interactionUuid]);
      await tx.query(
        `INSERT INTO interaction_parties (interaction_uuid, position, raw_name, contact_uuid, staff_person_uuid, snapshot)
         SELECT $1, p.position, p."rawName", p."contactUuid", p."staffPersonUuid", p.snapshot
         FROM jsonb_to_recordset($2::jsonb)
           AS p(position integer, "rawName" text, "contactUuid" uuid, "staffPersonUuid" uuid, snapshot jsonb)`,
        [interactionUuid, JSON.stringify(event.data.parties)],
      );
      break;
    }
    case 'InteractionDeleted':
      // Cascades to parties and involvements: the read tables keep nothing of a deleted interaction.
      await tx.query('DELETE FROM interactions WHERE uuid = $1', [interactionUuid]);
      return;
  }
  await refreshInvolvements(tx, interactionUuid);
}

/** Rewrites the (contact, interaction) rows from the interaction's subject and party contacts. */
async function refreshInvolvements(tx: Queryable, interactionUuid: string): Promise<void> {
  await tx.query('DELETE FROM interaction_involvements WHERE interaction_uuid = $1', [interactionUuid]);
  await tx.query(
    `INSERT INTO interaction_involvements (contact_uuid, interaction_uuid, occurred_at, inserted_at)
     SELECT involved.contact_uuid, i.uuid, i.occurred_at, i.inserted_at
     FROM interactions i
     CROSS JOIN LATERAL (
       SELECT i.contact_uuid
       UNION
       SELECT p.contact_uuid FROM interaction_parties p
       WHERE p.interaction_uuid = i.uuid AND p.contact_uuid IS NOT NULL
     ) AS involved (contact_uuid)
     WHERE i.uuid = $1`,
    [interactionUuid],
  );
}
