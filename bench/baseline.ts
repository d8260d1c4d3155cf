import { Queryable } from '../src/ports/database';

/**
 * The baselines' tables: what a plain CRUD module would keep, an interactions table and a parties table,
 * normalised, with the indexes such a module would have (by subject contact, by party contact). They
 * live in the benchmark's schema next to the module's tables and hold the same rows.
 */
export const CRUD_INTERACTIONS = 'bench_crud_interactions';
export const CRUD_PARTIES = 'bench_crud_parties';

export async function createCrudTables(q: Queryable): Promise<void> {
  await q.query(`CREATE TABLE ${CRUD_INTERACTIONS} (
    uuid uuid PRIMARY KEY,
    contact_uuid uuid NOT NULL,
    interaction_type text NOT NULL,
    occurred_at timestamptz NOT NULL,
    subject text,
    body text,
    owner_user_uuid uuid,
    metadata jsonb NOT NULL,
    file_uuids uuid[] NOT NULL,
    inserted_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
  )`);
  await q.query(`CREATE TABLE ${CRUD_PARTIES} (
    interaction_uuid uuid NOT NULL REFERENCES ${CRUD_INTERACTIONS} (uuid) ON DELETE CASCADE,
    position integer NOT NULL,
    raw_name text NOT NULL,
    contact_uuid uuid,
    staff_person_uuid uuid,
    snapshot jsonb NOT NULL,
    PRIMARY KEY (interaction_uuid, position)
  )`);
}

/** Fills the CRUD tables with the module's current rows, then indexes them. */
export async function fillCrudTables(q: Queryable): Promise<void> {
  await q.query(
    `INSERT INTO ${CRUD_INTERACTIONS}
     SELECT uuid, contact_uuid, interaction_type, occurred_at, subject, body, owner_user_uuid, metadata,
       file_uuids, inserted_at, updated_at
     FROM interactions`,
  );
  await q.query(
    `INSERT INTO ${CRUD_PARTIES}
     SELECT interaction_uuid, position, raw_name, contact_uuid, staff_person_uuid, snapshot FROM interaction_parties`,
  );
  await createCrudIndexes(q);
}

/** The secondary indexes of the CRUD tables (made after a bulk fill, or right away for empty tables). */
export async function createCrudIndexes(q: Queryable): Promise<void> {
  await q.query(`CREATE INDEX ${CRUD_INTERACTIONS}_contact ON ${CRUD_INTERACTIONS} (contact_uuid)`);
  await q.query(`CREATE INDEX ${CRUD_PARTIES}_contact ON ${CRUD_PARTIES} (contact_uuid)`);
}

const PARTIES_OF_I = `COALESCE((
    SELECT jsonb_agg(jsonb_build_object(
        'rawName', p.raw_name, 'contactUuid', p.contact_uuid, 'staffPersonUuid', p.staff_person_uuid,
        'position', p.position, 'snapshot', p.snapshot) ORDER BY p.position)
    FROM ${CRUD_PARTIES} p WHERE p.interaction_uuid = i.uuid
  ), '[]'::jsonb) AS parties`;

/** Optional filters from parameter `first`: types, from (inclusive), to (exclusive), a search word. */
function FILTERS(first: number): string {
  return `($${first}::text[] IS NULL OR i.interaction_type = ANY($${first}::text[]))
      AND ($${first + 1}::timestamptz IS NULL OR i.occurred_at >= $${first + 1}::timestamptz)
      AND ($${first + 2}::timestamptz IS NULL OR i.occurred_at < $${first + 2}::timestamptz)
      AND ($${first + 3}::text IS NULL OR i.subject ~* ('\\m' || $${first + 3}) OR i.body ~* ('\\m' || $${first + 3}))`;
}

/** The naive queries over the normalised tables, returning the same rows as the module's queries. */
export const NAIVE = {
  involving: `SELECT i.*, ${PARTIES_OF_I}
    FROM ${CRUD_INTERACTIONS} i
    WHERE i.contact_uuid = $1 OR i.uuid IN (SELECT interaction_uuid FROM ${CRUD_PARTIES} WHERE contact_uuid = $1)
    ORDER BY i.occurred_at DESC, i.inserted_at DESC, i.uuid DESC
    LIMIT $2`,
  forContacts: `SELECT i.*, ${PARTIES_OF_I}
    FROM ${CRUD_INTERACTIONS} i
    WHERE i.contact_uuid = ANY($1::uuid[])
    ORDER BY i.occurred_at DESC, i.inserted_at DESC, i.uuid DESC
    LIMIT $2`,
  subjectUuids: `SELECT i.uuid FROM ${CRUD_INTERACTIONS} i WHERE i.contact_uuid = $1
    ORDER BY i.occurred_at DESC, i.inserted_at DESC, i.uuid DESC`,
  /**
   * The involving feed filtered as a FeedPage filters it ($3 types, $4 from, $5 to, $6 a search word:
   * a word of subject or body starting with it, case-insensitive, by regular expression), paged by
   * OFFSET ($7) as a CRUD module pages.
   */
  involvingFiltered: `SELECT i.*, ${PARTIES_OF_I}
    FROM ${CRUD_INTERACTIONS} i
    WHERE (i.contact_uuid = $1 OR i.uuid IN (SELECT interaction_uuid FROM ${CRUD_PARTIES} WHERE contact_uuid = $1))
      AND ${FILTERS(3)}
    ORDER BY i.occurred_at DESC, i.inserted_at DESC, i.uuid DESC
    LIMIT $2 OFFSET $7`,
  /** The newest interactions of the whole CRM, filtered the same way ($2 types, $3 from, $4 to, $5 word). */
  recent: `SELECT i.*, ${PARTIES_OF_I}
    FROM ${CRUD_INTERACTIONS} i
    WHERE ${FILTERS(2)}
    ORDER BY i.occurred_at DESC, i.inserted_at DESC, i.uuid DESC
    LIMIT $1`,
  /** Interactions involving the contact, by type. */
  countInvolving: `SELECT i.interaction_type, count(*) AS n FROM ${CRUD_INTERACTIONS} i
    WHERE i.contact_uuid = $1 OR i.uuid IN (SELECT interaction_uuid FROM ${CRUD_PARTIES} WHERE contact_uuid = $1)
    GROUP BY 1`,
  countInteractions: `SELECT i.interaction_type, count(*) AS n FROM ${CRUD_INTERACTIONS} i GROUP BY 1`,
} as const;

/** The CRUD write of one interaction with its parties: one transaction, two inserts. */
export const CRUD_INSERT_INTERACTION = `INSERT INTO ${CRUD_INTERACTIONS}
  (uuid, contact_uuid, interaction_type, occurred_at, subject, body, owner_user_uuid, metadata, file_uuids, inserted_at, updated_at)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)`;
export const CRUD_INSERT_PARTIES = `INSERT INTO ${CRUD_PARTIES}
  (interaction_uuid, position, raw_name, contact_uuid, staff_person_uuid, snapshot)
  SELECT $1::uuid, p.position, p.raw_name, p.contact_uuid, p.staff_person_uuid, p.snapshot::jsonb
  FROM unnest($2::integer[], $3::text[], $4::uuid[], $5::uuid[], $6::text[])
    AS p(position, raw_name, contact_uuid, staff_person_uuid, snapshot)`;

/** The CRUD edit of an interaction's subject and body: one UPDATE of its row, autocommitted. */
export const CRUD_UPDATE_INTERACTION = `UPDATE ${CRUD_INTERACTIONS} SET subject = $2, body = $3, updated_at = $4 WHERE uuid = $1`;

/** The CRUD edit of an interaction's body alone: one UPDATE of its row, autocommitted. */
export const CRUD_UPDATE_BODY = `UPDATE ${CRUD_INTERACTIONS} SET body = $2, updated_at = $3 WHERE uuid = $1`;

/** The CRUD delete of an interaction: one DELETE of its row (its parties go by the cascade), autocommitted. */
export const CRUD_DELETE_INTERACTION = `DELETE FROM ${CRUD_INTERACTIONS} WHERE uuid = $1`;
