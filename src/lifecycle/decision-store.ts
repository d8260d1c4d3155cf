import { Database, Queryable } from '../ports/database';
import { DESTROY_KEYS, destroyKeysParams, forgottenAmong, INTERACTIONS_OWNED_BY } from '../adapters/erasure/key-store';
import { ErrorCollector, InteractionValidationError } from '../domain/errors';
import { MESSAGES } from '../domain/validation';
import { rowBehindItsStream, takeParkedEventsFirst } from '../../projections/interactions.projection';
import { IDEMPOTENCY_KEY_REUSED, keyBound } from '../nest/idempotency';
import { Forgotten, LifecycleDecision, LifecycleKind } from './decider';

/**
 * The decisions and their plans, in the module's database (tables of migration 0006): a decision is
 * recorded before any stream is touched; its targets (the interactions found affected) are recorded
 * before they are worked on, and marked when their stream has been dealt with.
 */

/** A decision as recorded, with what its events' metadata carry. */
export interface RecordedDecision {
  decision: LifecycleDecision;
  actorUuid: string | null;
  correlationId: string;
  completed: boolean;
  interactions: number | null;
}

interface DecisionRow {
  decision_id: string;
  kind: LifecycleKind;
  payload: Record<string, string>;
  actor_uuid: string | null;
  correlation_id: string;
  fingerprint: string;
  completed_at: Date | string | null;
  interactions: number | null;
}

const fromRow = (row: DecisionRow): RecordedDecision => ({
  decision: { decisionId: row.decision_id, kind: row.kind, ...row.payload } as LifecycleDecision,
  actorUuid: row.actor_uuid,
  correlationId: row.correlation_id,
  completed: row.completed_at !== null,
  interactions: row.interactions,
});

const payloadOf = ({ decisionId: _id, kind: _kind, ...payload }: LifecycleDecision) => payload;

/**
 * Records a new decision; with an idempotency key already used, returns the first decision instead (the
 * same fingerprint) or refuses the key (another one).
 */
export async function recordDecision(
  db: Database,
  fresh: RecordedDecision,
  idempotency: { key: string; fingerprint: string } | { key: null; fingerprint: string },
): Promise<RecordedDecision> {
  const { decision } = fresh;
  const recordingLock = `crm_interactions.merges_and_forgets.${db.schema}`;
  // A forget's contacts (hers and those merged with her) go into `forgotten_contacts` in the decision's statement.
  // Decisions are recorded one at a time (the lock, held till commit), each stamped with the time it took
  // the lock, not its transaction's start (now()): `pendingDecisions`' order is then the order they became
  // visible, so of two decisions about one contact recorded at once the later one always sees the earlier
  // one pending and waits for it (`finishOlderAbout`), and the earlier one never sees the later as older.
  const insert = `WITH locked AS (SELECT pg_advisory_xact_lock(hashtext($9))),
     decided AS (
       INSERT INTO lifecycle_decisions (decision_id, kind, payload, actor_uuid, correlation_id, idempotency_key, fingerprint, created_at)
       SELECT $1, $2, $3, $4, $5, $6, $7, clock_timestamp() FROM locked
       WHERE $6::text IS NULL OR key_free_of_other_kind('lifecycle', $6) -- after the recording lock (migration 0024)
       ON CONFLICT (idempotency_key) DO NOTHING RETURNING decision_id),
     forgotten AS (
       INSERT INTO forgotten_contacts (uuid, decision_id) SELECT u, decision_id FROM decided, unnest($8::uuid[]) AS u
       ON CONFLICT (uuid) DO NOTHING)
     SELECT decision_id FROM decided`;
  const params = (forgotten: string[]) => [
    decision.decisionId,
    decision.kind,
    JSON.stringify(payloadOf(decision)),
    fresh.actorUuid,
    fresh.correlationId,
    idempotency.key,
    idempotency.fingerprint,
    forgotten,
    recordingLock,
  ];
  let inserted: boolean;
  if (decision.kind === 'contacts_merged' || decision.kind === 'contact_forgotten') {
    // Merges and forgets are recorded one at a time. A merge recorded before a forget of either contact is
    // taken by the forget (`personOf`); one after it is refused, as every command naming her is: else a
    // later run of the forget would take the other contact too, or her keys move to him after her forget
    // read whom to take.
    inserted = await db.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [recordingLock]);
      // A repeat of a merge recorded before her forget is answered as the first request (below), not refused.
      const repeat = idempotency.key !== null && (await keyRecorded(tx, idempotency.key));
      if (decision.kind === 'contacts_merged' && !repeat) {
        const forgotten = await forgottenAmong(tx, [decision.fromUuid, decision.intoUuid]);
        const errors = new ErrorCollector();
        if (forgotten.has(decision.fromUuid)) errors.add('fromUuid', MESSAGES.doesNotExist);
        if (forgotten.has(decision.intoUuid)) errors.add('intoUuid', MESSAGES.doesNotExist);
        errors.throwIfAny();
      }
      const forgotten = decision.kind === 'contact_forgotten' ? await personOf(tx, decision.contactUuid) : [];
      return (await tx.query(insert, params(forgotten))).rows.length > 0;
    });
  } else {
    // Autocommitted where it can be, so a connection lost once the insert was sent reports `committed:
    // 'unknown'`, not false (the caller reads it back: `decidedAs`); a transaction's lost COMMIT does too.
    inserted = (db.autocommit ? await db.autocommit(insert, params([])) : await db.query(insert, params([]))).rows.length > 0;
  }
  if (inserted) return fresh;
  const { rows: first } = await db.query<DecisionRow>('SELECT * FROM lifecycle_decisions WHERE idempotency_key = $1', [idempotency.key]);
  if (!first[0]) {
    // One key, one request, whatever the command: an interaction command's key is refused here.
    if (await keyBound(db, idempotency.key!)) throw new InteractionValidationError({ idempotencyKey: [IDEMPOTENCY_KEY_REUSED] });
    return recordDecision(db, fresh, idempotency); // gone between the two statements (never deleted today)
  }
  if (first[0].fingerprint !== idempotency.fingerprint) throw new InteractionValidationError({ idempotencyKey: [IDEMPOTENCY_KEY_REUSED] });
  return fromRow(first[0]);
}

/** Whether a decision is recorded under this idempotency key. */
export async function keyRecorded(q: Queryable, key: string): Promise<boolean> {
  return (await q.query('SELECT 1 FROM lifecycle_decisions WHERE idempotency_key = $1', [key])).rows.length > 0;
}

/**
 * Forgetting, once the decision is recorded: waits for every write under way that gives a key an owner
 * (it holds `erasure_key_owners` until it commits). Those that checked before the decision that she is
 * not forgotten (`refuse_forgotten_contact`) have then committed, and her keys they made are destroyed and
 * their interactions planned with the rest; every later one is refused. Held only while it waits.
 */
export async function keyWritersSettled(db: Database): Promise<void> {
  await db.transaction((tx) => tx.query('LOCK TABLE erasure_key_owners IN SHARE MODE', []));
}

/** The decision recorded with this id, or null. */
export async function decidedAs(db: Queryable, decisionId: string): Promise<RecordedDecision | null> {
  const { rows } = await db.query<DecisionRow>('SELECT * FROM lifecycle_decisions WHERE decision_id = $1', [decisionId]);
  return rows[0] ? fromRow(rows[0]) : null;
}

/** Decisions not completed, oldest first: what a start or `resume` finishes. */
export async function pendingDecisions(db: Queryable): Promise<RecordedDecision[]> {
  const { rows } = await db.query<DecisionRow>(
    'SELECT * FROM lifecycle_decisions WHERE completed_at IS NULL ORDER BY created_at, decision_id',
    [],
  );
  return rows.map(fromRow);
}

/**
 * Adds to the plan every interaction the read tables show affected (a contact's through its
 * involvements, subject or party; a staff person's through the parties); returns how many were new.
 */
export async function planTargets(db: Queryable, decision: LifecycleDecision): Promise<number> {
  const involving = 'SELECT interaction_uuid FROM interaction_involvements WHERE contact_uuid = ANY($2::uuid[])';
  const affected = {
    staff_person_deleted: 'SELECT DISTINCT interaction_uuid FROM interaction_parties WHERE staff_person_uuid = ANY($2::uuid[])',
    contact_deleted: involving,
    contacts_merged: involving,
    // Also what the read tables no longer show: interactions deleted or unlinked before, still in the log.
    contact_forgotten: `${involving} UNION ${INTERACTIONS_OWNED_BY}`,
  }[decision.kind];
  const about =
    decision.kind === 'contacts_merged'
      ? [decision.fromUuid]
      : decision.kind === 'staff_person_deleted'
        ? [decision.staffPersonUuid]
        : decision.kind === 'contact_forgotten'
          ? await personOf(db, decision.contactUuid)
          : [decision.contactUuid];
  const { rows } = await db.query(
    `INSERT INTO lifecycle_targets (decision_id, interaction_uuid)
     SELECT $1, a.interaction_uuid FROM (${affected}) AS a
     ON CONFLICT DO NOTHING RETURNING interaction_uuid`,
    [decision.decisionId, about],
  );
  return rows.length;
}

/**
 * Forgetting: destroys the keys of the contact and of those merged with it (`personOf`) in one interaction
 * or, with null, in all (`DESTROY_KEYS`), and in
 * the same statement adds to the plan every interaction it destroyed a key of, marking those whose content
 * key went, with the subject their read row showed then (`forgottenContent`): a key the contact came to own
 * after the plan was read (a merge handing over keys a racing create made for the merged contact) is not
 * destroyed without its interaction being planned. (A target an earlier run of the decision finished stays
 * finished.)
 */
export async function destroyKeysPlanning(
  db: Database,
  /** The stream session's transaction; null where there is none (EventStoreDB, or no session): one of its own. */
  tx: Queryable | null,
  decision: { decisionId: string; contactUuid: string },
  interactionUuid: string | null,
  /** The contacts merged with hers (`mergedWith`), where the caller has read them already. */
  merged?: readonly string[],
): Promise<void> {
  if (!tx) return db.transaction((own) => destroyKeysPlanning(db, own, decision, interactionUuid, merged));
  // It reads which streams are parked: parked_events is held first, in the order a rebuild takes it.
  await takeParkedEventsFirst(tx);
  await tx.query(
    `WITH destroyed AS (${DESTROY_KEYS}),
     erased AS (SELECT interaction_uuid, bool_or(tag = $3) AS content FROM destroyed GROUP BY interaction_uuid)
     INSERT INTO lifecycle_targets (decision_id, interaction_uuid, content_erased, erased_subject)
     SELECT $4, e.interaction_uuid, e.content, CASE WHEN e.content THEN i.contact_uuid END
     FROM erased e LEFT JOIN interactions i ON i.uuid = e.interaction_uuid AND NOT ${rowBehindItsStream('i.uuid')}
     ON CONFLICT (decision_id, interaction_uuid) DO UPDATE SET content_erased = lifecycle_targets.content_erased OR excluded.content_erased,
       erased_subject = COALESCE(lifecycle_targets.erased_subject, excluded.erased_subject)`,
    [...destroyKeysParams(interactionUuid, await personOf(tx, decision.contactUuid, merged)), decision.decisionId],
  );
}

/** What forgetting did to the interaction's content (`destroyKeysPlanning`). */
export async function forgottenContent(
  q: Queryable,
  decisionId: string,
  interactionUuid: string,
): Promise<Pick<Forgotten, 'contentErased' | 'erasedSubject'>> {
  const { rows } = await q.query<{ content_erased: boolean; erased_subject: string | null }>(
    'SELECT content_erased, erased_subject FROM lifecycle_targets WHERE decision_id = $1 AND interaction_uuid = $2',
    [decisionId, interactionUuid],
  );
  return { contentErased: rows[0]?.content_erased === true, erasedSubject: rows[0]?.erased_subject ?? null };
}

/**
 * The contacts recorded as one person with this one: merged into it or it into them (contactsMerged
 * decisions, through earlier and later merges alike), lower case.
 */
export async function mergedWith(q: Queryable, contactUuid: string): Promise<string[]> {
  const { rows } = await q.query<{ uuid: string }>(
    `WITH RECURSIVE merged(uuid) AS (
       SELECT lower($1::text)
       UNION
       SELECT CASE WHEN lower(d.payload->>'intoUuid') = m.uuid THEN lower(d.payload->>'fromUuid') ELSE lower(d.payload->>'intoUuid') END
       FROM lifecycle_decisions d JOIN merged m ON m.uuid IN (lower(d.payload->>'intoUuid'), lower(d.payload->>'fromUuid'))
       WHERE d.kind = 'contacts_merged')
     SELECT uuid FROM merged WHERE uuid <> lower($1::text)`,
    [contactUuid],
  );
  return rows.map((row) => row.uuid);
}

/**
 * Whom forgetting the contact forgets: the contact, and every contact a merge made one person with it
 * (`mergedWith`): forgetting one of them after a merge, or before, forgets all of them.
 */
async function personOf(q: Queryable, contactUuid: string, merged?: readonly string[]): Promise<string[]> {
  return [contactUuid.toLowerCase(), ...(merged ?? (await mergedWith(q, contactUuid)))];
}

/** The planned interactions whose streams have not been dealt with yet. */
export async function pendingTargets(db: Queryable, decisionId: string): Promise<string[]> {
  const { rows } = await db.query<{ interaction_uuid: string }>(
    'SELECT interaction_uuid FROM lifecycle_targets WHERE decision_id = $1 AND done_at IS NULL ORDER BY interaction_uuid',
    [decisionId],
  );
  return rows.map((row) => row.interaction_uuid);
}

export async function markTarget(db: Queryable, decisionId: string, interactionUuid: string, appended: boolean): Promise<void> {
  await db.query(
    'UPDATE lifecycle_targets SET done_at = now(), appended = $3 WHERE decision_id = $1 AND interaction_uuid = $2',
    [decisionId, interactionUuid, appended],
  );
}

/** Marks the decision completed with the number of streams it appended to; returns that number. */
export async function completeDecision(db: Queryable, decisionId: string): Promise<number> {
  const { rows } = await db.query<{ interactions: number }>(
    `UPDATE lifecycle_decisions SET
       completed_at = coalesce(completed_at, now()),
       interactions = (SELECT count(*) FROM lifecycle_targets WHERE decision_id = $1 AND appended)
     WHERE decision_id = $1 RETURNING interactions`,
    [decisionId],
  );
  return Number(rows[0]?.interactions ?? 0);
}
