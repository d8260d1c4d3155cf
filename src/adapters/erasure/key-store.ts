import { Queryable } from '../../ports/database';
import { RowsPart, StatementPart, StoreContentionError } from '../../ports/event-store';

const FOREIGN_KEY_VIOLATION = '23503';
import { pgArray, rowBehindItsStream } from '../../../projections/interactions.projection';
import { CONTENT_TAG, ErasureKey, newKeyMaterial } from './sealing';
import { uuidv7 } from '../../domain/uuid';

/**
 * The keys of crypto-shredding and whose data each seals (tables of migration 0007). Keys travel as
 * base64 text, the same on every driver.
 */

interface KeyRow {
  key_id: string;
  tag: string;
  key: string;
}

const toKey = (row: KeyRow): ErasureKey => ({ keyId: row.key_id, key: Buffer.from(row.key, 'base64') });

/**
 * An append's claim on the owner rows it writes before it is made (on EventStoreDB: no transaction spans
 * the key store and the log; migration 0013), or null for rows written in the append's own transaction.
 * A claimed row is settled after the append: `confirmClaim` when it landed, `withdrawClaim` when it
 * certainly did not; a claim is the append's first event id, so one whose outcome never came back is
 * settled later from the log (`ErasingEventStore.settleClaims`).
 */
export type OwnerClaim = string | null;

/**
 * A write's new owner row is refused for a forgotten contact (migration 0019): the statement fails with
 * CIF01 (`refusedAsForgotten`), and nothing it would have written is. Every write naming a contact as subject or
 * linked party gives it a key, so this is where a write naming a forgotten contact is stopped, in the
 * write's own statement; a write naming none pays an index probe per owner.
 */
const NOT_FORGOTTEN = (contact: string) =>
  `NOT EXISTS (SELECT 1 FROM forgotten_contacts fc WHERE fc.uuid = ${contact} AND refuse_forgotten_contact(fc.uuid))`;

/** Of these contacts (lower case), those a forget took away (`forgotten_contacts`, migration 0019). */
export async function forgottenAmong(q: Queryable, contactUuids: readonly string[]): Promise<Set<string>> {
  const { rows } = await q.query<{ uuid: string }>('SELECT uuid::text AS uuid FROM forgotten_contacts WHERE uuid = ANY($1::uuid[])', [
    [...contactUuids],
  ]);
  return new Set(rows.map((row) => row.uuid));
}

/** A statement refused for making a forgotten contact an owner (NOT_FORGOTTEN): it wrote nothing. */
export function refusedAsForgotten(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === 'CIF01';
}

/**
 * How an owner row is added. In the append's transaction: kept as it is when there. Claimed: an existing
 * row is locked and gets the claim too, unless a landed append confirmed it already; so a withdrawal of
 * another claim at the same moment either sees this one, or deleted the row first and the insert writes
 * it anew.
 */
function ownerInsert(claim: OwnerClaim, claimParam: string, select: string): string {
  return claim === null
    ? `INSERT INTO erasure_key_owners (contact_uuid, key_id) ${select} ON CONFLICT DO NOTHING`
    : `INSERT INTO erasure_key_owners (contact_uuid, key_id, claims, claimed_at) SELECT owner.*, ARRAY[${claimParam}::uuid], now() FROM (${select}) AS owner
         ON CONFLICT (contact_uuid, key_id) DO UPDATE SET claims = erasure_key_owners.claims || EXCLUDED.claims, claimed_at = now()
         WHERE erasure_key_owners.claims IS NOT NULL`;
}

/** How long after its claim (on an owner row: after the row was last claimed) an append still unheard of is taken never to land. */
const CLAIM_LAPSES_AFTER = "interval '1 hour'";

/**
 * Owner rows no append claims, or last claimed over an hour ago (by the database's clock): the row a
 * landed change of owners (a subject moved on, `setContentOwner`) drops. An append whose outcome never
 * came back keeps its claim; well past any resend of it, the row is an owner left behind like any other.
 */
const UNCLAIMED = `(coalesce(cardinality(claims), 0) = 0 OR claimed_at < now() - ${CLAIM_LAPSES_AFTER})`;

/**
 * Ownership a landed append or a decision gives. Where rows may be claimed (owners written outside the
 * append's transaction), a row some append only claimed is confirmed, or that append's withdrawal would
 * take the ownership away with its claim; elsewhere no row is ever claimed, and none is locked for it.
 */
const onOwnerGiven = (claimsPossible: boolean) =>
  claimsPossible
    ? 'ON CONFLICT (contact_uuid, key_id) DO UPDATE SET claims = NULL, claimed_at = NULL WHERE erasure_key_owners.claims IS NOT NULL'
    : 'ON CONFLICT DO NOTHING';

/**
 * The keys of `tags` in the interaction, created where missing, and `owners` (tag, contact) added: one
 * statement. Two writers creating the same key at once (EventStoreDB has no stream lock) both end up
 * with the one that was committed first.
 */
export async function ensureKeys(
  q: Queryable,
  interactionUuid: string,
  tags: readonly string[],
  owners: ReadonlyArray<{ tag: string; contactUuid: string }>,
  claim: OwnerClaim,
  /**
   * The stream's last revision as read: a content key made now has its owner from every subject move up
   * to there (`setContentOwner` of one of those, written late, changes nothing on it).
   */
  readRevision: number | null,
): Promise<Map<string, ErasureKey>> {
  const wanted = [...new Set(tags)];
  if (wanted.length === 0) return new Map();
  for (let attempt = 0; ; attempt++) {
    const { rows } = await q
      .query<KeyRow>(
      `WITH wanted AS (
         SELECT * FROM unnest($2::text[], $3::uuid[], $4::text[]) AS w(tag, key_id, key)
       ), created AS (
         INSERT INTO erasure_keys (key_id, interaction_uuid, tag, key, subject_revision)
         SELECT key_id, $1, tag, decode(key, 'base64'), CASE WHEN tag = '${CONTENT_TAG}' THEN $7::bigint END FROM wanted
         ON CONFLICT (interaction_uuid, tag) DO NOTHING
         RETURNING key_id, tag, key
       ), found AS (
         SELECT key_id, tag, key FROM created
         UNION ALL
         SELECT k.key_id, k.tag, k.key FROM erasure_keys k JOIN wanted w USING (tag) WHERE k.interaction_uuid = $1
       ), owned AS (
         ${ownerInsert(claim, '$8', `SELECT DISTINCT o.contact_uuid, f.key_id FROM found f JOIN unnest($5::text[], $6::uuid[]) AS o(tag, contact_uuid) USING (tag) WHERE ${NOT_FORGOTTEN('o.contact_uuid')}`)}
       )
       SELECT key_id, tag, encode(key, 'base64') AS key FROM found`,
      [
        interactionUuid,
        pgArray(wanted),
        pgArray(wanted.map(() => uuidv7())),
        pgArray(wanted.map(() => newKeyMaterial().toString('base64'))),
        pgArray(owners.map((o) => o.tag)),
        pgArray(owners.map((o) => o.contactUuid)),
        readRevision,
        ...(claim === null ? [] : [claim]),
      ],
      )
      .catch((error: unknown) => {
        // A key this statement found was destroyed meanwhile (an erasure, which takes no stream lock for
        // its first sweep): the append is rolled back and tried again on the stream as it reads now.
        if ((error as { code?: unknown } | null)?.code === FOREIGN_KEY_VIOLATION) {
          throw new StoreContentionError(`interaction-${interactionUuid}`, { cause: error });
        }
        throw error;
      });
    const keys = new Map(rows.map((row) => [row.tag, toKey(row)]));
    // Missing: created by a writer that committed while this statement ran (its snapshot predates it).
    if (wanted.every((tag) => keys.has(tag)) || attempt === 2) return keys;
  }
}

/**
 * The keys of a new interaction, made here, and their owners, as part of the statement that starts its
 * stream (a key already there fails that statement, as its stream would).
 */
export function newKeys(
  interactionUuid: string,
  tags: readonly string[],
  owners: ReadonlyArray<{ tag: string; contactUuid: string }>,
): { keys: Map<string, ErasureKey>; part: RowsPart } {
  const keys = new Map([...new Set(tags)].map((tag): [string, ErasureKey] => [tag, { keyId: uuidv7(), key: newKeyMaterial() }]));
  const owned = [...new Set(owners.flatMap((o) => (keys.has(o.tag) ? [`${o.contactUuid.toLowerCase()} ${keys.get(o.tag)!.keyId}`] : [])))];
  const part: RowsPart = {
    ctes: `new_keys AS (
        INSERT INTO erasure_keys (key_id, interaction_uuid, tag, key)
        SELECT k.key_id, k.interaction_uuid, k.tag, decode(k.key, 'base64')
        FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[]) AS k(key_id, interaction_uuid, tag, key)
      ), new_key_owners AS (
        INSERT INTO erasure_key_owners (contact_uuid, key_id)
        SELECT o.contact_uuid, o.key_id FROM unnest($5::uuid[], $6::uuid[]) AS o(contact_uuid, key_id) WHERE ${NOT_FORGOTTEN('o.contact_uuid')}
      )`,
    params: [
      { text: [...keys.values()].map((k) => k.keyId) },
      { text: [...keys.values()].map(() => interactionUuid) },
      { text: [...keys.keys()] },
      { text: [...keys.values()].map((k) => k.key.toString('base64')) },
      { text: owned.map((o) => o.split(' ')[0]!) },
      { text: owned.map((o) => o.split(' ')[1]!) },
    ],
  };
  return { keys, part };
}

/** The keys of these ids that still exist (a destroyed one is simply absent). */
export async function fetchKeys(q: Queryable, keyIds: readonly string[]): Promise<Map<string, ErasureKey>> {
  const ids = [...new Set(keyIds)];
  if (ids.length === 0) return new Map();
  const { rows } = await q.query<KeyRow>(
    `SELECT key_id, tag, encode(key, 'base64') AS key FROM erasure_keys WHERE key_id = ANY($1::uuid[])`,
    [pgArray(ids)],
  );
  return new Map(rows.map((row) => [row.key_id, toKey(row)]));
}

/** A key as a stream session read it: with its tag and the contacts that own it (lower case). */
export interface OwnedKey extends ErasureKey {
  tag: string;
  owners: ReadonlySet<string>;
}

/**
 * `fetchKeys` with each key's tag and owners: what an append later in the same session can seal with,
 * when they are all it needs, without `ensureKeys`. Owners travel as one text, the same on every driver.
 * Confirmed owners only: an append relying on a row another append claimed claims it too (`ensureKeys`),
 * or a withdrawal of that claim could take it away. Not a forgotten owner: an append naming her goes
 * through `ensureKeys`, whose statement refuses her (also before her forget has destroyed her keys).
 */
export async function fetchOwnedKeys(q: Queryable, keyIds: readonly string[]): Promise<Map<string, OwnedKey>> {
  const ids = [...new Set(keyIds)];
  if (ids.length === 0) return new Map();
  const { rows } = await q.query<KeyRow & { owners: string }>(
    `SELECT k.key_id, k.tag, encode(k.key, 'base64') AS key,
       array_to_string(ARRAY(SELECT o.contact_uuid FROM erasure_key_owners o WHERE o.key_id = k.key_id AND o.claims IS NULL
         AND NOT EXISTS (SELECT 1 FROM forgotten_contacts f WHERE f.uuid = o.contact_uuid)), ' ') AS owners
     FROM erasure_keys k WHERE k.key_id = ANY($1::uuid[])`,
    [pgArray(ids)],
  );
  return ownedKeysOf(rows);
}

/**
 * `fetchOwnedKeys` of every key of the interaction, as the `also` of a stream session's read
 * (StreamSession.readStreamWith): through migration read_tables/0010's function (0023's since), which runs after the
 * read has taken the stream's lock and sees what was committed until then.
 */
export function keysAfterRead(interactionUuid: string): StatementPart {
  return { ctes: 'also AS (SELECT * FROM interaction_keys_after_read($1::uuid, (SELECT count(*) FROM read)))', params: [interactionUuid] };
}

/** The rows of `keysAfterRead`, by key id. */
export function ownedKeysOf(rows: readonly unknown[]): Map<string, OwnedKey> {
  return new Map(
    (rows as (KeyRow & { owners: string })[]).map((row) => [row.key_id, { ...toKey(row), tag: row.tag, owners: new Set(row.owners.split(' ').filter(Boolean)) }]),
  );
}

/**
 * Before an append that changes the subject or merges a contact: the new owner is added, the old one
 * kept, so an append that then fails (a lost race, a server gone) leaves no key without the owner of the
 * data it seals. After the append, `setContentOwner` / `moveOwnership` drop the old one.
 */
export async function addOwner(
  q: Queryable,
  interactionUuid: string,
  of: { tag: string } | { contactUuid: string },
  ownerUuid: string,
  claim: OwnerClaim,
): Promise<void> {
  const owned = 'tag' in of
    ? 'SELECT key_id FROM erasure_keys WHERE interaction_uuid = $1 AND tag = $3'
    : 'SELECT o.key_id FROM erasure_key_owners o JOIN erasure_keys k USING (key_id) WHERE k.interaction_uuid = $1 AND o.contact_uuid = $3::uuid';
  await q.query(ownerInsert(claim, '$4', `SELECT $2::uuid, key_id FROM (${owned}) AS owned WHERE ${NOT_FORGOTTEN('$2::uuid')}`), [
    interactionUuid,
    ownerUuid,
    'tag' in of ? of.tag : of.contactUuid,
    ...(claim === null ? [] : [claim]),
  ]);
}

/** The keys of interaction $1 (with `tagParam`, of that tag alone). */
const keysOfInteraction = (tagParam?: string) =>
  `key_id IN (SELECT key_id FROM erasure_keys WHERE interaction_uuid = $1${tagParam ? ` AND tag = ${tagParam}` : ''})`;

/**
 * Before the first owner row an append claims: the append is recorded as unsettled until its claim is
 * confirmed or withdrawn (migration 0014), whatever becomes of the rows' claims meanwhile.
 */
export async function recordClaim(q: Queryable, interactionUuid: string, claim: string): Promise<void> {
  await q.query('INSERT INTO erasure_unsettled_appends (claim, interaction_uuid) VALUES ($1, $2) ON CONFLICT DO NOTHING', [claim, interactionUuid]);
}

/** The append landed: the rows it claimed are owners for good, and it is settled. */
export async function confirmClaim(q: Queryable, interactionUuid: string, claim: string): Promise<void> {
  await q.query(
    `WITH settled AS (DELETE FROM erasure_unsettled_appends WHERE claim = $2)
     UPDATE erasure_key_owners SET claims = NULL, claimed_at = NULL WHERE ${keysOfInteraction()} AND $2::uuid = ANY(claims)`,
    [interactionUuid, claim],
  );
}

/**
 * The append certainly did not land (or, with `onlyTag`, its owners of that key were superseded): its
 * claim goes, and with it every row of the interaction's keys that no append claims any more and none
 * that landed confirmed. Two statements: the delete re-checks each row it takes, so a claim added
 * meanwhile keeps the row.
 */
export async function withdrawClaim(q: Queryable, interactionUuid: string, claim: string, onlyTag?: string): Promise<void> {
  const tag = onlyTag === undefined ? [] : [onlyTag];
  // Withdrawn whole, the append is settled; of one key only (it landed), its confirm settles it.
  await q.query(
    `WITH settled AS (DELETE FROM erasure_unsettled_appends WHERE claim = $2 AND $${tag.length + 3}::boolean)
     UPDATE erasure_key_owners SET claims = array_remove(claims, $2::uuid)
     WHERE ${keysOfInteraction(onlyTag === undefined ? undefined : '$3')} AND $2::uuid = ANY(claims)`,
    [interactionUuid, claim, ...tag, onlyTag === undefined],
  );
  await q.query(`DELETE FROM erasure_key_owners WHERE ${keysOfInteraction(onlyTag === undefined ? undefined : '$2')} AND claims = '{}'`, [
    interactionUuid,
    ...tag,
  ]);
}

/** An append recorded as unsettled a while ago (see `unsettledClaims`). */
export interface UnsettledClaim {
  interactionUuid: string;
  claim: string;
  /** Recorded over an hour ago: were its append not in the log, it never will be. */
  lapsed: boolean;
}

/**
 * Appends recorded as unsettled over `olderThanMs` ago (the database's clock), at most `limit`, in no
 * order (so an interaction that keeps failing starves none): an append settles its own claim within
 * its resend window, so what is left is one whose outcome never came back. `ofContact`: only those to
 * interactions the contact owns a key of.
 */
export async function unsettledClaims(q: Queryable, olderThanMs: number, limit: number, ofContact?: string): Promise<UnsettledClaim[]> {
  const { rows } = await q.query<{ interaction_uuid: string; claim: string; lapsed: boolean }>(
    `SELECT interaction_uuid, claim, claimed_at < now() - ${CLAIM_LAPSES_AFTER} AS lapsed FROM erasure_unsettled_appends
     WHERE claimed_at < now() - $1 * interval '1 millisecond'
       AND ($3::uuid IS NULL OR interaction_uuid IN (
         SELECT k.interaction_uuid FROM erasure_key_owners o JOIN erasure_keys k USING (key_id) WHERE o.contact_uuid = $3))
     ORDER BY random() LIMIT $2`,
    [olderThanMs, limit, ofContact ?? null],
  );
  return rows.map((row) => ({ interactionUuid: row.interaction_uuid, claim: row.claim, lapsed: row.lapsed }));
}

/**
 * Rows every claim of which was withdrawn, left because the withdrawal's second statement did not run
 * (`withdrawClaim`), last claimed over `olderThanMs` ago; the delete re-checks each, so a claim added
 * meanwhile keeps its row. Returns how many went.
 */
export async function dropWithdrawnRows(q: Queryable, olderThanMs: number): Promise<number> {
  const { rows } = await q.query(
    `DELETE FROM erasure_key_owners WHERE claims = '{}' AND claimed_at < now() - $1 * interval '1 millisecond' RETURNING 1`,
    [olderThanMs],
  );
  return rows.length;
}

/**
 * A merge, everywhere: what `from` owns, `into` owns now (also where no stream needed a ContactRepointed).
 * Not into a contact forgotten since the merge was checked: her forget is done, and would not reach what
 * `from` owns; `from` keeps it, as her streams, whose re-pointing was refused, keep her.
 */
export async function moveAllOwnership(q: Queryable, fromUuid: string, intoUuid: string): Promise<void> {
  await q.query(
    `WITH moved AS (
       DELETE FROM erasure_key_owners WHERE contact_uuid = $1 AND NOT EXISTS (SELECT 1 FROM forgotten_contacts WHERE uuid = $2)
       RETURNING key_id)
     INSERT INTO erasure_key_owners (contact_uuid, key_id) SELECT $2, key_id FROM moved ${onOwnerGiven(true)}`,
    [fromUuid, intoUuid],
  );
}

/**
 * The interaction's content now belongs to `contactUuid` alone: its subject changed at `revision`.
 * False when a later move set the owners already (this one's were written late): nothing is changed.
 * In a transaction (`tx`): the key's row is locked first, so the moves of one content key set its owners
 * one after the other, each reading the owners the one before left. `claimsPossible`: see `onOwnerGiven`.
 */
export async function setContentOwner(
  tx: Queryable,
  interactionUuid: string,
  contactUuid: string,
  revision: number,
  claimsPossible: boolean,
): Promise<boolean> {
  const { rows } = await tx.query<{ key_id: string }>(
    `UPDATE erasure_keys SET subject_revision = $3
     WHERE interaction_uuid = $1 AND tag = $2 AND coalesce(subject_revision, -1) < $3
     RETURNING key_id`,
    [interactionUuid, CONTENT_TAG, revision],
  );
  if (rows.length === 0) return false;
  await tx.query(
    `WITH gone AS (DELETE FROM erasure_key_owners WHERE key_id = $1 AND contact_uuid <> $2 AND ${UNCLAIMED})
     INSERT INTO erasure_key_owners (contact_uuid, key_id) SELECT $2, $1 WHERE ${NOT_FORGOTTEN('$2::uuid')} ${onOwnerGiven(claimsPossible)}`,
    [rows[0]!.key_id, contactUuid],
  );
  return true;
}

/**
 * A merge: what `from` owned in the interaction, `into` owns now; but the content key, where the merge
 * re-pointed the subject (`setContentOwner` moves that). `claimsPossible`: see `onOwnerGiven`.
 */
export async function moveOwnership(
  q: Queryable,
  interactionUuid: string,
  fromUuid: string,
  intoUuid: string,
  subjectRepointed: boolean,
  claimsPossible: boolean,
): Promise<void> {
  await q.query(
    `WITH moved AS (
       DELETE FROM erasure_key_owners o USING erasure_keys k
       WHERE o.key_id = k.key_id AND k.interaction_uuid = $1 AND o.contact_uuid = $2 AND NOT ($4 AND k.tag = $5)
       RETURNING o.key_id
     )
     INSERT INTO erasure_key_owners (contact_uuid, key_id) SELECT $3, key_id FROM moved ${onOwnerGiven(claimsPossible)}`,
    [interactionUuid, fromUuid, intoUuid, subjectRepointed, CONTENT_TAG],
  );
}

/** The interactions holding data of the contacts ($2, uuid[]) under their keys (some may be gone from the read tables). */
export const INTERACTIONS_OWNED_BY =
  'SELECT DISTINCT k.interaction_uuid FROM erasure_key_owners o JOIN erasure_keys k USING (key_id) WHERE o.contact_uuid = ANY($2::uuid[])';

/**
 * Forgets a person in one interaction ($1; with null, in all of them; $2 the person's contacts, $3
 * `CONTENT_TAG`, `destroyKeysParams`): destroys the keys they own, and every key of an interaction whose
 * content one of them owns or whose read row shows one of them as the subject (a row behind its parked stream
 * is not taken: the caller reads `parked_events` first, `takeParkedEventsFirst`). Returns each destroyed key's
 * interaction and tag, for the lifecycle fan-out to plan and decide on (src/lifecycle/decision-store.ts,
 * `destroyKeysPlanning`).
 */
export const DESTROY_KEYS = `DELETE FROM erasure_keys k
     WHERE ($1::uuid IS NULL OR k.interaction_uuid = $1) AND (
       k.key_id IN (SELECT key_id FROM erasure_key_owners WHERE contact_uuid = ANY($2::uuid[]))
       OR k.interaction_uuid IN (
         SELECT c.interaction_uuid FROM erasure_keys c JOIN erasure_key_owners o USING (key_id)
         WHERE c.tag = $3 AND o.contact_uuid = ANY($2::uuid[]) AND ($1::uuid IS NULL OR c.interaction_uuid = $1))
       -- The read row says it is the subject: whatever the owner rows say, the interaction is its. Not where
       -- the row stopped following its stream (events parked): a later move may have given it to another.
       OR k.interaction_uuid IN (SELECT uuid FROM interactions WHERE contact_uuid = ANY($2::uuid[]) AND ($1::uuid IS NULL OR uuid = $1)
         AND NOT ${rowBehindItsStream('interactions.uuid')}))
     RETURNING k.interaction_uuid, k.tag`;

export function destroyKeysParams(interactionUuid: string | null, contactUuids: readonly string[]): unknown[] {
  return [interactionUuid, contactUuids, CONTENT_TAG];
}
