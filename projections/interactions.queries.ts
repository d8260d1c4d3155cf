import { Queryable } from '../src/ports/database';
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

/** Interactions where the contact is the subject or a party, newest first, each once. */
export async function findInvolving(
  q: Queryable,
  contactUuid: string,
  page: { limit: number | null; after: FeedCursor | null },
): Promise<Interaction[]> {
  // The page is cut on the involvement index alone; only the rows of the page are joined.
  const { rows } = await q.query<InteractionRow>(
    `WITH page AS (
       SELECT v.interaction_uuid FROM interaction_involvements v
       WHERE v.contact_uuid = $1
         AND ($2::timestamptz IS NULL
              OR (v.occurred_at, v.inserted_at, v.interaction_uuid) < ($2::timestamptz, $3::timestamptz, $4::uuid))
       ORDER BY v.occurred_at DESC, v.inserted_at DESC, v.interaction_uuid DESC
       LIMIT $5
     )
     ${SELECT_INTERACTION} JOIN page ON page.interaction_uuid = i.uuid
     ${NEWEST_FIRST}`,
    [contactUuid, page.after?.occurredAt ?? null, page.after?.insertedAt ?? null, page.after?.uuid ?? null, page.limit],
  );
  return rows.map(toInteraction);
}

/**
 * Interactions whose subject is one of the contacts, newest first. The page is cut on the subject index
 * alone: at most `limit` entries from each contact's range of it (a busy contact costs no more than a
 * quiet one), the newest `limit` of those; only the rows of the page are read.
 */
export async function findForContacts(q: Queryable, contactUuids: string[], limit: number | null): Promise<Interaction[]> {
  const { rows } = await q.query<InteractionRow>(
    `WITH page AS (
       SELECT s.uuid, s.occurred_at, s.inserted_at
       FROM (SELECT DISTINCT c.contact_uuid FROM unnest($1::uuid[]) AS c(contact_uuid)) AS c
       CROSS JOIN LATERAL (
         SELECT i.uuid, i.occurred_at, i.inserted_at FROM interactions i
         WHERE i.contact_uuid = c.contact_uuid
         ${NEWEST_FIRST}
         LIMIT $2
       ) AS s
       ORDER BY s.occurred_at DESC, s.inserted_at DESC, s.uuid DESC
       LIMIT $2
     )
     ${SELECT_INTERACTION} JOIN page ON page.uuid = i.uuid
     ${NEWEST_FIRST}`,
    [contactUuids, limit],
  );
  return rows.map(toInteraction);
}

/** Uuids of the interactions whose subject is the contact, newest first. */
export async function findSubjectUuids(q: Queryable, contactUuid: string): Promise<string[]> {
  const { rows } = await q.query<{ uuid: string }>(
    `SELECT i.uuid FROM interactions i WHERE i.contact_uuid = $1 ${NEWEST_FIRST}`,
    [contactUuid],
  );
  return rows.map((row) => row.uuid);
}
