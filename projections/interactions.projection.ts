import type { QueryResultRow } from 'pg';
import { Queryable } from '../src/ports/database';
import { withLinksChanged } from '../src/domain/decider';
import { InteractionEvent, InteractionLoggedData, parseChecked, truncateToSecond } from '../src/domain/events';
import { Interaction, Party } from '../src/domain/interaction';
import { withPartyLinked } from '../src/domain/decider';
import { emailKeysIn, partyNameKey } from '../src/domain/party-keys';
import { searchWordsOf } from '../src/domain/search';
import { toStorableString } from '../src/domain/storable';
import { isUuidText } from '../src/domain/uuid';
import { RecordedEvent, RowsParam, RowsPart, StatementPart } from '../src/ports/event-store';

/**
 * Keeps the read tables in step with the log. Every handler is idempotent: rows carry the stream
 * revision they reflect and a handler only acts on a newer revision, so re-delivering any suffix of a
 * stream leaves the tables as they were. The projection never looks anything up outside its tables:
 * snapshots and times come from the events.
 *
 * A batch is applied set-based, in a fixed handful of statements whatever its size (no per-event round
 * trips): the events are folded per interaction in memory, starting from the row each interaction has
 * now, with exactly the rules of applying them one by one:
 * - `InteractionLogged` inserts the row unless it exists; the involvements are refreshed either way;
 * - `InteractionUpdated` sets the keys present in `changes` if the row is older than the event; the
 *   involvements are refreshed either way when it changes the subject or the time;
 * - `PartiesRebuilt` replaces the parties if the row is older than the event (and only then refreshes);
 * - `InteractionDeleted` deletes the row, its parties and involvements.
 * Then the net result is written: deletions, changes to existing rows, and new rows with their parties
 * and involvements. An interaction the batch creates is not read first: an inline create (logged +
 * parties) is one statement.
 *
 * Each event gets one outcome: applied; skipped (a stream that is not `interaction-<uuid>`, someone
 * else's); or parked in `parked_events` (see `classify`), with every later event of its stream, so that
 * a stream is never applied past a hole and `retryParked` can apply the rest in order.
 */
export const READ_TABLES = ['interactions', 'interaction_parties', 'interaction_involvements'] as const;

/** The counts per type, kept by triggers on the read tables (migration 0008): emptied with them. */
export const COUNT_TABLES = ['involvement_counts', 'interaction_counts'] as const;

/** The column by which every write of the projection finds a table's rows: an interaction's uuid. */
export const INTERACTION_KEY: Record<(typeof READ_TABLES)[number], string> = {
  interactions: 'uuid',
  interaction_parties: 'interaction_uuid',
  interaction_involvements: 'interaction_uuid',
};

/** A row this batch creates (or re-creates after deleting it): every column is known here. */
interface NewRow {
  uuid: string;
  contact_uuid: string;
  interaction_type: string;
  occurred_at: string;
  subject: string | null;
  body: string | null;
  owner_user_uuid: string | null;
  metadata: unknown;
  file_uuids: string[];
  inserted_at: string;
  updated_at: string;
  version: number;
}

/** Where one interaction ends up after the batch's events. */
interface Outcome {
  uuid: string;
  /** The row of an earlier batch, still there (not deleted by this batch). */
  existing: boolean;
  /** The row of an earlier batch was deleted by this batch (its parties and involvements go with it). */
  wiped: boolean;
  /** The row this batch created; null when there is none (never created, deleted again, or existing). */
  created: NewRow | null;
  /** The version of the row as it stands (existing or created); -1 when there is no row. */
  version: number;
  /** For an existing row: the changed attributes merged in order, and the new updated_at/version. */
  changes: Record<string, unknown> | null;
  touchedAt: string | null;
  /** The parties that replace the row's parties (a created row starts with none). */
  parties: Party[] | null;
  /** The involvement rows must be recomputed from the row and its parties. */
  refresh: boolean;
  /**
   * The existing row's parties as read, for events that change links of some parties in place (see
   * PATCHES_PARTIES); null when the batch has none of those for it.
   */
  current: Party[] | null;
  /** The existing row's subject and body as read, when the batch edits one of them (for its search words). */
  text: { subject: string | null; body: string | null } | null;
}

/** Events that change parties in place: their interactions' current parties are read with the row. */
const PATCHES_PARTIES: ReadonlySet<string> = new Set(['PartiesUnlinked', 'ContactRepointed', 'PartyLinked']);

/** Changes that move the involvement rows (they carry the subject, the time, the type and the owner). */
const MOVES_INVOLVEMENTS = ['contactUuid', 'occurredAt', 'interactionType', 'ownerUserUuid'] as const;

/** An update of subject or body: the row's search words are recomputed from both. */
const editsText = (event: InteractionEvent) =>
  event.type === 'InteractionUpdated' && ('subject' in event.data.changes || 'body' in event.data.changes);

const UPDATABLE: Record<string, keyof NewRow> = {
  contactUuid: 'contact_uuid',
  interactionType: 'interaction_type',
  occurredAt: 'occurred_at',
  subject: 'subject',
  body: 'body',
  ownerUserUuid: 'owner_user_uuid',
  metadata: 'metadata',
};

type Parsed = { event: InteractionEvent; revision: number; at: string };

/** An event the projection could not apply, and why. */
export interface ParkedRow {
  event: RecordedEvent;
  error: string;
}

/** Per module stream, its first parked revision: every later event of the stream waits behind it. */
export type ParkedStreams = Map<string, number>;

/** The module's streams are `interaction-<uuid>`; anything else under the prefix belongs to someone else. */
const STREAM_PREFIX = 'interaction-';

/** The interaction a stream belongs to (lower case), or null for a stream that is not the module's. */
export function interactionOfStream(streamName: string): string | null {
  // Called for every event of a rebuild: the cheap checks first.
  if (streamName.length !== STREAM_PREFIX.length + 36 || !streamName.startsWith(STREAM_PREFIX)) return null;
  const uuid = streamName.slice(STREAM_PREFIX.length);
  return isUuidText(uuid) ? uuid.toLowerCase() : null;
}

/** A batch parsed and folded as far as it can be without the database, ready to apply. */
export interface PreparedBatch {
  /** Events to write to `parked_events` instead of the read tables. */
  parked: ParkedRow[];
  byInteraction: Map<string, Parsed[]>;
  /** Interactions the batch creates (its events start with InteractionLogged and leave a row). */
  assumedNew: Outcome[];
  /** The other interactions: folded from their current rows. */
  toRead: string[];
  /** Interactions whose events need nothing of their rows (`foldRowless`): folded without them. */
  rowless: Outcome[];
  /** The columns of the insert of `assumedNew`, built here (folded and laid out; made into parameters when applied). */
  insertRows: RowsParam[];
}

/**
 * Applies `events`. `parked`: when the append of their one stream ran `parkedLookup` in its own
 * statement, what it found (the parked check is not made again).
 */
export async function projectEvents(tx: Queryable, events: readonly RecordedEvent[], parked?: string | null): Promise<void> {
  if (events.length === 0) return;
  if (parked === undefined) return applyPrepared(tx, prepareEvents(events, await parkedStreamsOf(tx, events)));
  await applyPrepared(tx, prepareEvents(events, parkedFound(events[0]!.streamName, parked), { parkedRead: true }));
}

/**
 * An error of the data rather than of the connection (SQLSTATE class 22, or a row too large for an
 * index): applying the same events again can only fail again, so the event is parked instead.
 */
export function isDataError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code.startsWith('22') || code === '54000');
}

/**
 * The slow path after a batch failed on its data: the events one by one, each under a savepoint; one the
 * database refuses is parked (with its stream's later events). Same tables as the batch would give.
 */
export async function projectOneByOne(tx: Queryable, events: readonly RecordedEvent[], parkedStreams: ParkedStreams): Promise<void> {
  for (const event of events) {
    await tx.query('SAVEPOINT project_event', []);
    try {
      await applyPrepared(tx, prepareEvents([event], parkedStreams));
      await tx.query('RELEASE SAVEPOINT project_event', []);
    } catch (error) {
      if (!isDataError(error)) throw error;
      await tx.query('ROLLBACK TO SAVEPOINT project_event', []);
      const refused: ParkedRow = { event, error: `refused by the database: ${error instanceof Error ? error.message : String(error)}` };
      await park(tx, [refused]);
      const first = parkedStreams.get(event.streamName);
      if (first === undefined || event.revision < first) parkedStreams.set(event.streamName, event.revision);
    }
  }
}

/**
 * The streams of `events` that have parked events already (one query, and none for a batch that starts
 * its streams: a stream's first delivery cannot be behind anything).
 */
export async function parkedStreamsOf(q: Queryable, events: readonly RecordedEvent[]): Promise<ParkedStreams> {
  const continued = new Set<string>();
  const started = new Set<string>();
  for (const { streamName, revision } of events) {
    if (revision === 0) started.add(streamName);
    else if (!started.has(streamName) && interactionOfStream(streamName) !== null) continued.add(streamName);
  }
  if (continued.size === 0) return new Map();
  const { rows } = await q.query<{ stream_name: string; first: string }>(
    `SELECT stream_name, min(stream_revision) AS first FROM parked_events
     WHERE stream_name = ANY($1::text[]) GROUP BY stream_name`,
    [pgArray([...continued])],
  );
  return new Map(rows.map((row) => [row.stream_name, Number(row.first)]));
}

/**
 * `parkedStreamsOf` for an append to one stream, as a part of the append's own statement
 * (`appendProjection`): the stream's first parked revision, as text, or null. With a `gate` (SQL, $1 the
 * stream's name), evaluated once here: when it fails, a value that is not null either, so nothing is written.
 */
function parkedLookup(streamName: string, gate?: string, name = 'looked_up'): StatementPart {
  const first = gate === undefined ? 'min(stream_revision)::text' : `CASE WHEN ${gate} THEN min(stream_revision)::text ELSE 'gate closed' END`;
  return { ctes: `${name} AS (SELECT ${first} AS value FROM parked_events WHERE stream_name = $1)`, params: [streamName] };
}

/**
 * For a transaction that reads a read table before it writes through the projection (a forget's key
 * destruction reads who is the subject): parked_events first, as every writer takes it, so that a
 * rebuild's TRUNCATE waits on its first table instead of deadlocking on the next. Blocks nothing else.
 */
export async function takeParkedEventsFirst(q: Queryable): Promise<void> {
  // A read of no rows locks the table as LOCK TABLE … ACCESS SHARE would, till the transaction ends (so
  // the caller runs in one: in autocommit the hold would end with this statement).
  await q.query('SELECT NULL FROM parked_events LIMIT 0', []);
}

/** SQL: the read row whose uuid is in `column` stopped following its stream (events of it are parked): it may be stale. */
export function rowBehindItsStream(column: string): string {
  return `EXISTS (SELECT 1 FROM parked_events p WHERE lower(p.stream_name) = 'interaction-' || ${column})`;
}

/** Whether the stream has parked events (its read row may be behind): parked_events alone, in any session. */
export async function hasParkedEvents(q: Queryable, interactionUuid: string): Promise<boolean> {
  const { rows } = await q.query<{ parked: boolean }>(`SELECT ${rowBehindItsStream('$1::text')} AS parked`, [interactionUuid.toLowerCase()]);
  return rows[0]!.parked;
}

/** The revision of the interaction's read row where it is behind its parked stream; null otherwise. The caller holds parked_events. */
export async function staleRowVersion(q: Queryable, interactionUuid: string): Promise<number | null> {
  const { rows } = await q.query<{ version: string }>(
    `SELECT version FROM interactions i WHERE i.uuid = $1 AND ${rowBehindItsStream('i.uuid')}`,
    [interactionUuid],
  );
  return rows.length === 0 ? null : Number(rows[0]!.version);
}

/**
 * A read row behind its parked stream shows its revision as the log read then, until the parked events
 * apply. Where the log reads that revision otherwise now (a forget destroyed keys: texts and parties read
 * erased), its texts, parties and their search keys are written again from `interaction`, the stream
 * folded up to the row's revision as read now; its revision, links and involvements stay. Only while the
 * row is still at that revision and behind. The caller holds parked_events (`takeParkedEventsFirst`).
 * Returns whether it wrote.
 */
export async function rewriteStaleRow(tx: Queryable, interaction: Interaction): Promise<boolean> {
  const parties = partiesColumn(interaction.parties);
  const { rows } = await tx.query<{ rewritten: boolean }>(
    `WITH row AS (
       UPDATE interactions i SET subject = $2, body = $3, metadata = $4::jsonb, parties = $5::jsonb,
         search = array_to_tsvector(string_to_array($6, ' '))
       WHERE i.uuid = $1 AND i.version = $7 AND ${rowBehindItsStream('i.uuid')}
       RETURNING i.uuid),
     ${PARTY_KEYS(8)},
     party_rows AS (
       UPDATE interaction_parties p SET raw_name = x->>'rawName', snapshot = x->'snapshot', name_key = k.name_key,
         email_keys = string_to_array(nullif(k.emails, ''), ' ')
       FROM row CROSS JOIN LATERAL jsonb_array_elements($5::jsonb) AS x
         LEFT JOIN party_keys k ON k.position = (x->>'position')::integer
       WHERE p.interaction_uuid = row.uuid AND p.position = (x->>'position')::integer)
     SELECT EXISTS (SELECT 1 FROM row) AS rewritten`,
    [
      interaction.uuid,
      interaction.subject,
      interaction.body,
      JSON.stringify(interaction.metadata),
      JSON.stringify(parties),
      searchWordsOf(interaction.subject, interaction.body),
      interaction.version,
      ...encodeRows(partyKeyRows([{ uuid: interaction.uuid, parties }])),
    ],
  );
  return rows[0]!.rewritten;
}

/** The condition on the writes an append's statement carries: the stream has no parked event. */
const NOT_PARKED = ' AND (SELECT value FROM looked_up) IS NULL';
const WIPE_NOT_PARKED = wipeCtes(NOT_PARKED, '= $1::uuid');
// One interaction: its key is also an index condition, so the plan (kept generic once cached) reads the
// row by the primary key whatever the table's size; joined only to the arrays, a table of a few thousand
// rows was read whole, the planner taking the arrays for a hundred rows.
const UPDATE_NOT_PARKED = updateCte(` AND i.uuid = ($1::uuid[])[1]${NOT_PARKED}`);
/**
 * An edit of one text, folded from its row as read with the stream (`appendProjection`): the update also
 * requires the row version it read (`xmin`, $7: any rewrite of the row changes it), and `looked_up`,
 * which guards the insert, comes after it and is not null unless it updated the row. So the events are
 * written only with the search words of the texts the row holds; else nothing is.
 */
const UPDATE_ROW_AS_READ = `${updateCte(' AND i.uuid = ($1::uuid[])[1] AND i.xmin = $7::xid AND (SELECT value FROM parked) IS NULL', 'RETURNING 1')},
   looked_up AS (SELECT CASE WHEN EXISTS (SELECT FROM updated) THEN NULL ELSE coalesce((SELECT value FROM parked), 'row changed') END AS value)`;

/**
 * ProjectionRead of the PostgreSQL event store: the interaction's row as an edit of one text needs it
 * (`appendAsRead`), read in the same statement as its stream.
 */
export function rowReadWithStream(streamName: string): StatementPart | null {
  const uuid = interactionOfStream(streamName);
  if (uuid === null) return null;
  return { ctes: 'projection_read AS (SELECT version, subject, body, xmin::text AS xmin FROM interactions WHERE uuid = $1)', params: [uuid] };
}

/**
 * Whether an edit that changes `changed` (attribute names) is applied by the append's own statement
 * (`appendProjection`): any edit that does not move the involvements (they are read back from the row,
 * where the statement's own update is not visible). What the write side asks of a command before it
 * tries without the stream's lock; the answer for the event the command becomes is `appendProjection`'s.
 */
export function editFitsAppend(changed: readonly string[]): boolean {
  return !MOVES_INVOLVEMENTS.some((key) => changed.includes(key));
}

/** The only events `foldRowless` may take: others need the row, or are not an edit. */
const ROWLESS_TYPES: ReadonlySet<string> = new Set(['InteractionUpdated', 'InteractionDeleted']);

/**
 * The inline projection's part of the statement that appends `events` to an existing stream (AppendProjection
 * of the PostgreSQL event store; positions not known yet): `parkedLookup`, then, when the events are an edit
 * or a deletion that needs no refresh of the involvements (those are read back from the row, where the
 * statement's own update is not visible to it), its writes, made only if the stream has no parked event
 * (`applies`). Otherwise, or when the lookup finds one, `projectEvents` does the rest after the insert. The
 * lookup comes first in the statement's text, so parked_events is locked before the read tables, as every
 * writer takes them. A `gate` (`parkedLookup`) that fails reads as a parked event: nothing is written.
 *
 * Most such edits need nothing of the row (`foldRowless`). An edit of one text needs the other (the search
 * words are of both): with `unlocked` (an append without the stream's lock, `gate` its condition, `row`
 * the row as `rowReadWithStream` read it with the stream) the statement writes only if the row is still
 * the one read (`UPDATE_ROW_AS_READ`): two round trips in all, where a locked session takes six. A locked
 * session reads no row first: its transaction would lock a read table before parked_events.
 */
export function appendProjection(
  streamName: string,
  events: readonly RecordedEvent[],
  unlocked?: { gate: string; row: unknown },
): { parts: StatementPart[]; applies: boolean } {
  const lookup = parkedLookup(streamName, unlocked?.gate);
  // Checked before parsing: an append of anything else is parsed once, by projectEvents.
  if (!events.every((event) => ROWLESS_TYPES.has(event.type))) return { parts: [lookup], applies: false };
  const batch = prepareEvents(events, new Map(), { parkedRead: true });
  if (batch.byInteraction.size !== 1 || batch.parked.length > 0) return { parts: [lookup], applies: false };
  const [outcome] = batch.rowless;
  if (outcome === undefined) {
    const [uuid, group] = [...batch.byInteraction][0]!;
    const parts = unlocked ? appendAsRead(streamName, uuid, group, unlocked) : null;
    return parts ? { parts, applies: true } : { parts: [lookup], applies: false };
  }
  if (outcome.refresh) return { parts: [lookup], applies: false };
  if (outcome.wiped) return { parts: [lookup, { ctes: WIPE_NOT_PARKED, params: [outcome.uuid] }], applies: true };
  // Not deleted, so edited: a rowless fold applies every edit.
  return { parts: [lookup, { ctes: UPDATE_NOT_PARKED, params: updateParams([outcome]) }], applies: true };
}

/**
 * `appendProjection`'s parts for edits of one interaction that need its text, folded from the row as read
 * with the stream; null when they do not apply (no row, or one the edits leave as it is: the locked
 * session decides).
 */
function appendAsRead(streamName: string, uuid: string, group: Parsed[], { gate, row }: { gate: string; row: unknown }): StatementPart[] | null {
  if (!group.every(({ event }) => event.type === 'InteractionUpdated') || !isRowAsRead(row)) return null;
  const start: Outcome = { ...absent(uuid), existing: true, version: Number(row.version), text: { subject: row.subject, body: row.body } };
  const outcome = foldAll(start, group);
  if (outcome.refresh || outcome.touchedAt === null) return null;
  return [parkedLookup(streamName, gate, 'parked'), { ctes: UPDATE_ROW_AS_READ, params: [...updateParams([outcome]), row.xmin] }];
}

/** The row `rowReadWithStream` read (JSON), if there was one. */
function isRowAsRead(row: unknown): row is { version: number; subject: string | null; body: string | null; xmin: string } {
  const r = row as Record<string, unknown> | null;
  return typeof r?.version === 'number' && typeof r.xmin === 'string' && r.subject !== undefined && r.body !== undefined;
}

/** What `parkedLookup` found, as `parkedStreamsOf` answers it. */
function parkedFound(streamName: string, first: string | null): ParkedStreams {
  return first === null ? new Map() : new Map([[streamName, Number(first)]]);
}

/**
 * Like Promise.all, but settles only when every statement has: the connection is never handed back (to a
 * ROLLBACK, say) while statements queued behind a failed one are still on it.
 */
async function allSettled<T extends readonly unknown[]>(promises: { [K in keyof T]: Promise<T[K]> }): Promise<T> {
  const settled = await Promise.allSettled(promises);
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) throw failed.reason;
  return settled.map((s) => (s as PromiseFulfilledResult<unknown>).value) as unknown as T;
}

/**
 * A connection that takes statements one after the other in the order they were given, so that callers
 * can have the next statement queued while they work (the driver wants one statement at a time).
 */
export function serialized(q: Queryable): Queryable {
  let tail: Promise<unknown> = Promise.resolve();
  return {
    query<R extends QueryResultRow = QueryResultRow>(text: string, params?: unknown[]): Promise<{ rows: R[] }> {
      const result = tail.then(() => q.query<R>(text, params));
      tail = result.catch(() => undefined);
      return result;
    },
  };
}

/**
 * Parses every event (a bad one fails the batch before anything is written), groups them by interaction
 * and folds the interactions the batch creates. No I/O: a rebuild prepares the next batch while the
 * server is still applying this one.
 *
 * An interaction whose events start with InteractionLogged and leave a row behind is taken to be new (a
 * live append, a rebuild): it is not read before it is written. Its insert does nothing if the row is
 * there after all (a re-delivery), and only then is it folded again, from the row. With `parkedRead`,
 * an interaction whose events need nothing of its row is not read either (`foldRowless`).
 */
export function prepareEvents(
  events: readonly RecordedEvent[],
  parkedStreams: ParkedStreams = new Map(),
  { parkedRead = false } = {},
): PreparedBatch {
  const byInteraction = new Map<string, Parsed[]>();
  const parked: ParkedRow[] = [];
  for (const recorded of events) {
    // Identity comes from the stream, never from the data.
    const uuid = interactionOfStream(recorded.streamName);
    if (uuid === null) continue;
    const parsed = classify(recorded, uuid, parkedStreams);
    if (typeof parsed === 'string') {
      parked.push({ event: recorded, error: parsed });
      const first = parkedStreams.get(recorded.streamName);
      if (first === undefined || recorded.revision < first) parkedStreams.set(recorded.streamName, recorded.revision);
      continue;
    }
    const group = byInteraction.get(uuid);
    if (group) group.push(parsed);
    else byInteraction.set(uuid, [parsed]);
  }
  const assumedNew: Outcome[] = [];
  const toRead: string[] = [];
  const rowless: Outcome[] = [];
  for (const [uuid, group] of byInteraction) {
    if (group[0]!.event.type === 'InteractionLogged') {
      const outcome = foldAll(absent(uuid), group);
      if (outcome.created) {
        assumedNew.push(outcome);
        continue;
      }
    }
    const folded = parkedRead ? foldRowless(uuid, group) : null;
    if (folded) rowless.push(folded);
    else toRead.push(uuid);
  }
  return { parked, byInteraction, assumedNew, toRead, rowless, insertRows: insertRows(assumedNew) };
}

/**
 * Edits and deletions need nothing of the row but its version, unless an edit sets one text and not the
 * other (the search words are of both): such an interaction is folded as if its row were one revision
 * behind its first event, and written with a guard on the row's version (`writeExisting`) instead of
 * being read and locked first, one round trip less. A row that is newer or absent ends as the read
 * would have left it: the guarded update matches nothing, a deletion deletes what is there. Only for a
 * caller whose transaction read parked_events already (`parkedRead`, the inline append's lookup):
 * without the row's lock taken first, that read is what keeps parked_events before the read tables.
 */
function foldRowless(uuid: string, group: Parsed[]): Outcome | null {
  const texts = new Set<string>();
  for (const { event } of group) {
    if (event.type === 'InteractionDeleted') continue;
    if (event.type !== 'InteractionUpdated') return null;
    for (const key of ['subject', 'body']) if (key in event.data.changes) texts.add(key);
  }
  if (texts.size === 1) return null;
  const start: Outcome = { ...absent(uuid), existing: true, version: group[0]!.revision - 1 };
  if (texts.size === 2) start.text = { subject: null, body: null };
  return foldAll(start, group);
}

/** The event parsed (upcast) and checked against its stream, or why it must be parked. */
function classify(recorded: RecordedEvent, uuid: string, parkedStreams: ParkedStreams): Parsed | string {
  const first = parkedStreams.get(recorded.streamName);
  if (first !== undefined && recorded.revision >= first) return `behind the parked event at revision ${first}`;
  let event: InteractionEvent;
  try {
    event = parseChecked(recorded.type, recorded.data);
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
  if (event.data.interactionUuid.toLowerCase() !== uuid) {
    return `data names interaction ${event.data.interactionUuid}, not ${uuid} of its stream`;
  }
  const at = wholeSecond((recorded.metadata as Partial<RecordedEvent['metadata']> | null)?.recordedAt);
  if (at === null) return 'metadata has no usable recordedAt';
  return { event, revision: recorded.revision, at };
}

/** Writes a prepared batch: the new interactions and the read of the others' rows go out at once. */
export async function applyPrepared(connection: Queryable, batch: PreparedBatch): Promise<void> {
  const tx = serialized(connection);
  // Every writer takes parked_events before the read tables (a rebuild truncates them in that order).
  const [, existed, known] = await allSettled([
    park(tx, batch.parked),
    insertCreated(tx, batch.assumedNew, encodeRows(batch.insertRows)),
    foldFromTable(tx, batch.toRead, batch.byInteraction),
  ] as const);
  await writeExisting(tx, [...known, ...batch.rowless]);
  const raced = await insertCreated(tx, known.filter((o) => o.created !== null));
  if (existed.length > 0) {
    const refolded = await foldFromTable(tx, existed, batch.byInteraction);
    await writeExisting(tx, refolded);
    raced.push(...(await insertCreated(tx, refolded.filter((o) => o.created !== null))));
  }
  if (raced.length > 0) throw new Error(`interactions ${raced.join(', ')} were inserted by a concurrent writer of the read tables`);
}

/** An event's time as the tables keep it: ISO-8601, truncated to the second; null when there is none. */
function wholeSecond(recordedAt: unknown): string | null {
  if (typeof recordedAt !== 'string') return null;
  // The write side's own format ("2026-03-01T09:00:05.250Z") is cut as text; anything else goes through
  // Date. (A well-formed impossible time, 2026-02-30, is refused by PostgreSQL and parked then.)
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/.test(recordedAt)) return `${recordedAt.slice(0, 19)}Z`;
  const date = new Date(recordedAt);
  const year = date.getUTCFullYear();
  // A time PostgreSQL's timestamptz could not hold would fail the whole batch.
  return Number.isNaN(year) || year < 1 || year > 9999 ? null : truncateToSecond(date).toISOString();
}


/** Records parked events; a re-delivered one stays as it was first parked. */
async function park(tx: Queryable, parked: ParkedRow[]): Promise<void> {
  if (parked.length === 0) return;
  await tx.query(
    `INSERT INTO parked_events (stream_name, stream_revision, commit_position, prepare_position, event_id, event_type, error)
     SELECT * FROM unnest($1::text[], $2::bigint[], $3::numeric[], $4::numeric[], $5::uuid[], $6::text[], $7::text[])
     ON CONFLICT (stream_name, stream_revision) DO NOTHING`,
    [
      pgArray(parked.map((p) => p.event.streamName)),
      plainArray(parked.map((p) => p.event.revision)),
      plainArray(parked.map((p) => p.event.position.commit.toString())),
      plainArray(parked.map((p) => p.event.position.prepare.toString())),
      plainArray(parked.map((p) => p.event.id)),
      pgArray(parked.map((p) => toStorableString(p.event.type))),
      pgArray(parked.map((p) => toStorableString(p.error))),
    ],
  );
}

function absent(uuid: string): Outcome {
  return {
    uuid, existing: false, wiped: false, created: null, version: -1, changes: null, touchedAt: null, parties: null, refresh: false, current: null,
    text: null,
  };
}

/** Folds each interaction's events, starting from its row as it is now (read once, and locked). */
async function foldFromTable(tx: Queryable, uuids: string[], byInteraction: Map<string, Parsed[]>): Promise<Outcome[]> {
  if (uuids.length === 0) return [];
  // The parties column travels only for the interactions whose events patch parties in place.
  const patched = uuids.filter((uuid) => byInteraction.get(uuid)!.some(({ event }) => PATCHES_PARTIES.has(event.type)));
  // Likewise subject and body, for the interactions whose text the batch edits.
  const edited = new Set(uuids.filter((uuid) => byInteraction.get(uuid)!.some(({ event }) => editsText(event))));
  const { rows } = await tx.query<{ uuid: string; version: string; parties: Party[] | null; subject: string | null; body: string | null }>(
    `SELECT uuid, version, CASE WHEN uuid = ANY($2::uuid[]) THEN parties END AS parties,
       CASE WHEN uuid = ANY($3::uuid[]) THEN subject END AS subject, CASE WHEN uuid = ANY($3::uuid[]) THEN body END AS body
     FROM interactions WHERE uuid = ANY($1::uuid[]) FOR UPDATE`,
    [plainArray(uuids), plainArray(patched), plainArray([...edited])],
  );
  const found = new Map(rows.map((row) => [row.uuid, row]));
  return uuids.map((uuid) => {
    const start = absent(uuid);
    const row = found.get(uuid);
    if (row !== undefined) {
      Object.assign(start, { existing: true, version: Number(row.version), current: row.parties });
      if (edited.has(uuid)) start.text = { subject: row.subject, body: row.body };
    }
    return foldAll(start, byInteraction.get(uuid)!);
  });
}

function foldAll(outcome: Outcome, group: Parsed[]): Outcome {
  for (const { event, revision, at } of group) fold(outcome, event, revision, at);
  return outcome;
}

function fold(o: Outcome, event: InteractionEvent, revision: number, at: string): void {
  const present = o.existing || o.created !== null;
  switch (event.type) {
    case 'InteractionLogged':
      if (!present) {
        o.created = newRow(o.uuid, event.data, at, revision);
        o.version = revision;
        o.parties = [];
      }
      o.refresh = true;
      return;
    case 'InteractionUpdated': {
      const { changes } = event.data;
      if (MOVES_INVOLVEMENTS.some((key) => key in changes)) o.refresh = true;
      if (!present || o.version >= revision) return;
      if (o.created) {
        for (const [key, value] of Object.entries(changes)) {
          const column = UPDATABLE[key];
          if (column) (o.created as unknown as Record<string, unknown>)[column] = value;
        }
        o.created.updated_at = at;
        o.created.version = revision;
      } else {
        o.changes = { ...o.changes, ...changes };
        o.touchedAt = at;
        if (o.text && ('subject' in changes || 'body' in changes)) o.text = { ...o.text, ...pickText(changes) };
      }
      o.version = revision;
      return;
    }
    case 'PartiesRebuilt':
      if (!present || o.version >= revision) return;
      if (o.created) {
        o.created.updated_at = at;
        o.created.version = revision;
      } else {
        o.touchedAt = at;
      }
      o.version = revision;
      o.parties = event.data.parties;
      o.refresh = true;
      return;
    case 'PartyLinked': {
      // Late linking: the party list as it stands (this batch's, else the row's) with the one party linked.
      const base = o.parties ?? o.current;
      if (!present || o.version >= revision) return;
      if (!base) throw new Error(`invariant: the parties of interaction ${o.uuid} were not read before PartyLinked`);
      if (o.created) {
        o.created.updated_at = at;
        o.created.version = revision;
      } else {
        o.touchedAt = at;
      }
      o.version = revision;
      o.parties = withPartyLinked(base, event.data);
      o.refresh = true;
      return;
    }
    case 'InteractionDeleted':
      if (!present) return;
      if (o.existing) o.wiped = true;
      Object.assign(o, { existing: false, created: null, version: -1, changes: null, touchedAt: null, parties: null, refresh: false });
      return;
    // Contacts' lifecycle: links change in place, snapshots never do.
    case 'PartiesUnlinked':
    case 'ContactRepointed':
      if (!present || o.version >= revision) return;
      patchLinks(o, event, at);
      o.version = revision;
      if (o.created) o.created.version = revision;
      return;
  }
}

/** A PartiesUnlinked or ContactRepointed on a row that is there (created by this batch or read). */
function patchLinks(o: Outcome, event: Extract<InteractionEvent, { type: 'PartiesUnlinked' | 'ContactRepointed' }>, at: string): void {
  const { positions } = event.data;
  if (positions.length > 0) {
    const base = o.parties ?? o.current;
    if (!base) throw new Error(`invariant: the parties of interaction ${o.uuid} were not read before ${event.type}`);
    o.parties = withLinksChanged(base, event);
  }
  if (event.type === 'ContactRepointed' && event.data.subject) {
    if (o.created) o.created.contact_uuid = event.data.intoContactUuid;
    else o.changes = { ...o.changes, contactUuid: event.data.intoContactUuid };
  }
  if (o.created) o.created.updated_at = at;
  else o.touchedAt = at;
  o.refresh = true;
}

function pickText(changes: { subject?: string | null; body?: string | null }): { subject?: string | null; body?: string | null } {
  return { ...('subject' in changes && { subject: changes.subject }), ...('body' in changes && { body: changes.body }) };
}

function newRow(uuid: string, d: InteractionLoggedData, at: string, revision: number): NewRow {
  return {
    uuid,
    contact_uuid: d.contactUuid,
    interaction_type: d.interactionType,
    occurred_at: d.occurredAt,
    subject: d.subject,
    body: d.body,
    owner_user_uuid: d.ownerUserUuid,
    metadata: d.metadata,
    file_uuids: d.fileUuids,
    inserted_at: at,
    updated_at: at,
    version: revision,
  };
}

/*
 * Rows travel as one parameter per column, unnested side by side: an array literal for plain columns,
 * one JSON array for each jsonb column (no JSON inside array quoting). The server takes that apart far
 * faster than a JSON document of rows, and this process builds it with few allocations.
 */

/*
 * The writes of rows that were there before, as CTEs, so that an append's own statement can carry them
 * (`appendProjection`) as well as a statement of their own; `guard` is an extra condition on each.
 */

/** The read tables keep nothing of a deleted interaction (no foreign keys: this is their only writer). */
function wipeCtes(guard: string, matches = '= ANY($1::uuid[])'): string {
  return `gone_involvements AS (DELETE FROM interaction_involvements WHERE interaction_uuid ${matches}${guard}),
   gone_parties AS (DELETE FROM interaction_parties WHERE interaction_uuid ${matches}${guard}),
   gone AS (DELETE FROM interactions WHERE uuid ${matches}${guard})`;
}

function wipeParams(wiped: string[]): unknown[] {
  return [plainArray(wiped)];
}

/**
 * The changes of rows, for any subset of changes: a key present in `changes` sets its column. The
 * version guard matters only to a row folded without being read (`foldRowless`).
 */
function updateCte(guard: string, returning = ''): string {
  // Parameters are bound as text and json, and every cast of a value is in SET, made only for a row the
  // WHERE lets through: a value PostgreSQL refuses (a time like 2026-02-30) fails nothing the guard skips.
  return `updated AS (
     UPDATE interactions i SET
       contact_uuid = CASE WHEN r.changes->'contactUuid' IS NULL THEN i.contact_uuid ELSE (r.changes->>'contactUuid')::uuid END,
       interaction_type = CASE WHEN r.changes->'interactionType' IS NULL THEN i.interaction_type ELSE r.changes->>'interactionType' END,
       occurred_at = CASE WHEN r.changes->'occurredAt' IS NULL THEN i.occurred_at ELSE (r.changes->>'occurredAt')::timestamptz END,
       subject = CASE WHEN r.changes->'subject' IS NULL THEN i.subject ELSE r.changes->>'subject' END,
       body = CASE WHEN r.changes->'body' IS NULL THEN i.body ELSE r.changes->>'body' END,
       owner_user_uuid = CASE WHEN r.changes->'ownerUserUuid' IS NULL THEN i.owner_user_uuid ELSE (r.changes->>'ownerUserUuid')::uuid END,
       metadata = CASE WHEN r.changes->'metadata' IS NULL THEN i.metadata ELSE (r.changes->'metadata')::jsonb END,
       parties = COALESCE(nullif(r.parties::jsonb, 'null'), i.parties),
       search = CASE WHEN r.words IS NULL THEN i.search ELSE array_to_tsvector(string_to_array(r.words, ' ')) END,
       updated_at = r.updated_at::timestamptz,
       version = r.version
     FROM ROWS FROM (unnest($1::uuid[]), json_array_elements($2::json), json_array_elements($3::json),
       unnest($4::text[]), unnest($5::bigint[]), unnest($6::text[])) AS r(uuid, changes, parties, updated_at, version, words)
     WHERE i.uuid = r.uuid AND i.version < r.version${guard}${returning && ` ${returning}`})`;
}

function updateParams(updated: Outcome[]): unknown[] {
  return [
    plainArray(updated.map((o) => o.uuid)),
    JSON.stringify(updated.map((o) => o.changes ?? {})),
    JSON.stringify(updated.map((o) => (o.parties ? partiesColumn(o.parties) : null))),
    plainArray(updated.map((o) => o.touchedAt)),
    plainArray(updated.map((o) => o.version)),
    // The text was read with the row exactly when the batch edits it.
    pgArray(updated.map((o) => (o.text ? searchWordsOf(o.text.subject, o.text.body) : null))),
  ];
}

const WIPE_STATEMENT = `WITH ${wipeCtes('')} SELECT 1`;
const UPDATE_STATEMENT = `WITH ${updateCte('')} SELECT 1`;

/** Deletions and changes of rows that were there before the batch. */
async function writeExisting(tx: Queryable, outcomes: Outcome[]): Promise<void> {
  const wiped = outcomes.filter((o) => o.wiped).map((o) => o.uuid);
  const updated = outcomes.filter((o) => o.existing && o.touchedAt !== null);
  const partiesReplaced = outcomes.filter((o) => o.existing && o.parties !== null);
  const refreshed = outcomes.filter((o) => o.existing && o.refresh).map((o) => o.uuid);

  // A deletion's three tables in one statement: their locks come after parked_events' (read before, with
  // the row FOR UPDATE or by the append's lookup), so the order every writer takes them in (see
  // catch-up.ts's rebuild) is kept.
  if (wiped.length > 0) await tx.query(WIPE_STATEMENT, wipeParams(wiped));
  if (updated.length > 0) await tx.query(UPDATE_STATEMENT, updateParams(updated));
  if (partiesReplaced.length > 0) {
    // The rows' `parties` column was just set: the party rows are taken from it.
    const list = plainArray(partiesReplaced.map((o) => o.uuid));
    await tx.query('DELETE FROM interaction_parties WHERE interaction_uuid = ANY($1::uuid[])', [list]);
    await tx.query(
      `WITH ${PARTY_KEYS(2)}
       INSERT INTO interaction_parties (interaction_uuid, position, raw_name, contact_uuid, staff_person_uuid, snapshot,
         name_key, email_keys)
       SELECT i.uuid, (p->>'position')::integer, p->>'rawName', (p->>'contactUuid')::uuid, (p->>'staffPersonUuid')::uuid,
         p->'snapshot', k.name_key, string_to_array(nullif(k.emails, ''), ' ')
       FROM interactions i CROSS JOIN LATERAL jsonb_array_elements(i.parties) AS p
       LEFT JOIN party_keys k ON k.interaction_uuid = i.uuid AND k.position = (p->>'position')::integer
       WHERE i.uuid = ANY($1::uuid[])`,
      [list, ...encodeRows(partyKeyRows(partiesReplaced))],
    );
  }
  if (refreshed.length > 0) {
    // An existing row's involvements are recomputed from its (now current) row and parties.
    const list = plainArray(refreshed);
    await tx.query('DELETE FROM interaction_involvements WHERE interaction_uuid = ANY($1::uuid[])', [list]);
    await tx.query(
      `INSERT INTO interaction_involvements (contact_uuid, interaction_uuid, occurred_at, inserted_at, interaction_type,
         owner_user_uuid)
       SELECT involved.contact_uuid, i.uuid, i.occurred_at, i.inserted_at, i.interaction_type, i.owner_user_uuid
       FROM interactions i
       CROSS JOIN LATERAL (
         SELECT i.contact_uuid
         UNION
         SELECT p.contact_uuid FROM interaction_parties p
         WHERE p.interaction_uuid = i.uuid AND p.contact_uuid IS NOT NULL
       ) AS involved (contact_uuid)
       WHERE i.uuid = ANY($1::uuid[])`,
      [list],
    );
  }
}

/**
 * The search keys of every party (late linking, migration 0005), computed here with the one pure rule of
 * src/domain/party-keys.ts, never in SQL, so stored keys and looked-up keys cannot differ. They travel
 * as four parallel arrays (interaction, position, name key, email keys joined by spaces) that the party
 * inserts join by (interaction, position): the `party_keys` relation, from parameter `first` on.
 */
const PARTY_KEYS = (first: number) =>
  `party_keys AS (
     SELECT * FROM unnest($${first}::uuid[], $${first + 1}::integer[], $${first + 2}::text[], $${first + 3}::text[])
       AS k(interaction_uuid, position, name_key, emails)
   )`;

/**
 * The insert of created rows. The parties travel once, as the rows' `parties` column; the party rows and
 * the involvements (the subject and each party contact, once) are taken from the rows inserted, so the
 * column and the table cannot disagree, and a row that was already there brings nothing.
 */
/** The CTEs of INSERT_CREATED; without `skipExisting` a row already there fails the statement. */
const createdCtes = (skipExisting: boolean) => `
   ${PARTY_KEYS(14)}, created AS (
     INSERT INTO interactions (uuid, contact_uuid, interaction_type, occurred_at, subject, body,
       owner_user_uuid, metadata, file_uuids, inserted_at, updated_at, version, parties, search)
     SELECT r.uuid, r.contact_uuid, r.interaction_type, r.occurred_at, r.subject, r.body,
       r.owner_user_uuid, r.metadata::jsonb, r.file_uuids::uuid[], r.inserted_at, r.updated_at, r.version, r.parties::jsonb,
       array_to_tsvector(string_to_array(r.words, ' '))
     FROM ROWS FROM (unnest($1::uuid[]), unnest($2::uuid[]), unnest($3::text[]), unnest($4::timestamptz[]),
       unnest($5::text[]), unnest($6::text[]), unnest($7::uuid[]), json_array_elements($8::json), unnest($9::text[]),
       unnest($10::timestamptz[]), unnest($11::timestamptz[]), unnest($12::bigint[]), json_array_elements($13::json),
       unnest($18::text[]))
       AS r(uuid, contact_uuid, interaction_type, occurred_at, subject, body, owner_user_uuid, metadata,
         file_uuids, inserted_at, updated_at, version, parties, words)
     ${skipExisting ? 'ON CONFLICT (uuid) DO NOTHING' : ''}
     RETURNING uuid, contact_uuid, occurred_at, inserted_at, parties, interaction_type, owner_user_uuid
   ), created_parties AS (
     INSERT INTO interaction_parties (interaction_uuid, position, raw_name, contact_uuid, staff_person_uuid, snapshot,
       name_key, email_keys)
     SELECT c.uuid, (p->>'position')::integer, p->>'rawName', (p->>'contactUuid')::uuid, (p->>'staffPersonUuid')::uuid,
       p->'snapshot', k.name_key, string_to_array(nullif(k.emails, ''), ' ')
     FROM created c CROSS JOIN LATERAL jsonb_array_elements(c.parties) AS p
     LEFT JOIN party_keys k ON k.interaction_uuid = c.uuid AND k.position = (p->>'position')::integer
   ), created_involvements AS (
     INSERT INTO interaction_involvements (contact_uuid, interaction_uuid, occurred_at, inserted_at, interaction_type,
       owner_user_uuid)
     SELECT involved.contact_uuid, c.uuid, c.occurred_at, c.inserted_at, c.interaction_type, c.owner_user_uuid
     FROM created c CROSS JOIN LATERAL (
       SELECT c.contact_uuid
       UNION
       SELECT (p->>'contactUuid')::uuid FROM jsonb_array_elements(c.parties) AS p WHERE p->>'contactUuid' IS NOT NULL
     ) AS involved (contact_uuid)
   )`;

const INSERT_CREATED = `WITH ${createdCtes(true)}
   SELECT uuid FROM created`;
const CREATED_CTES_STRICT = createdCtes(false);

/**
 * The inline projection of a new stream's events as part of the statement that appends them (see
 * `EventStore.createStream`): the new row, its parties and involvements, or null when the events are not
 * a plain create (an event to park, more than one interaction). The row must not be there: if it is, the
 * whole statement fails and the append is made the ordinary way.
 */
export function newStreamProjection(events: readonly RecordedEvent[]): RowsPart | null {
  const batch = prepareEvents(events);
  if (batch.parked.length > 0 || batch.toRead.length > 0 || batch.assumedNew.length !== 1) return null;
  return { ctes: CREATED_CTES_STRICT, params: batch.insertRows };
}

/**
 * Created rows, their parties and their involvements (the subject and each party contact, once), in one
 * statement. A row that is already there is skipped with its parties and involvements; returns those uuids.
 */
async function insertCreated(tx: Queryable, created: Outcome[], params = encodeRows(insertRows(created))): Promise<string[]> {
  if (created.length === 0) return [];
  const { rows: inserted } = await tx.query<{ uuid: string }>(INSERT_CREATED, params);
  if (inserted.length === created.length) return [];
  const written = new Set(inserted.map((row) => row.uuid));
  return created.map((o) => o.uuid).filter((uuid) => !written.has(uuid));
}

function insertRows(created: Outcome[]): RowsParam[] {
  const rows = created.map((o) => o.created!);
  return [
    { plain: rows.map((r) => r.uuid) },
    { plain: rows.map((r) => r.contact_uuid) },
    { text: rows.map((r) => r.interaction_type) },
    { plain: rows.map((r) => r.occurred_at) },
    { text: rows.map((r) => r.subject) },
    { text: rows.map((r) => r.body) },
    { plain: rows.map((r) => r.owner_user_uuid) },
    { json: rows.map((r) => r.metadata) },
    { text: rows.map((r) => plainArray(r.file_uuids)) },
    { plain: rows.map((r) => r.inserted_at) },
    { plain: rows.map((r) => r.updated_at) },
    { plain: rows.map((r) => r.version) },
    { json: created.map((o) => partiesColumn(o.parties ?? [])) },
    ...partyKeyRows(created),
    { text: rows.map((r) => searchWordsOf(r.subject, r.body)) },
  ];
}

function partyKeyRows(outcomes: ReadonlyArray<Pick<Outcome, 'uuid' | 'parties'>>): RowsParam[] {
  const uuids: string[] = [];
  const positions: number[] = [];
  const names: string[] = [];
  const emails: string[] = [];
  for (const o of outcomes) {
    for (const party of o.parties ?? []) {
      uuids.push(o.uuid);
      positions.push(party.position);
      names.push(partyNameKey(party.rawName));
      emails.push(emailKeysIn(party.rawName).join(' '));
    }
  }
  return [{ plain: uuids }, { plain: positions }, { text: names }, { text: emails }];
}

/**
 * The `parties` column: the list as the queries return it, ordered by position, uuids in the canonical
 * lower case a uuid column gives back (what interaction_parties would answer).
 */
function partiesColumn(parties: readonly Party[]): Party[] {
  const ordered = parties.every((p, i) => i === 0 || parties[i - 1]!.position <= p.position)
    ? parties
    : [...parties].sort((a, b) => a.position - b.position);
  return ordered.map((p) => ({
    rawName: p.rawName,
    contactUuid: p.contactUuid?.toLowerCase() ?? null,
    staffPersonUuid: p.staffPersonUuid?.toLowerCase() ?? null,
    position: p.position,
    snapshot: p.snapshot,
  }));
}

/**
 * An array literal of values that never need quoting (uuids, ISO timestamps, numbers, nested literals of
 * those): joined as they are, null as NULL.
 */
function plainArray(values: readonly (string | number | null)[]): string {
  for (let i = 0; i < values.length; i++) {
    if (values[i] === null || values[i] === undefined) return `{${values.map((v) => v ?? 'NULL').join(',')}}`;
  }
  return `{${values.join(',')}}`;
}

/** A RowsPart's parameters as sent: each column one array literal or one JSON array. */
export function encodeRows(params: readonly RowsParam[]): unknown[] {
  return params.map((param) => ('plain' in param ? plainArray(param.plain) : 'text' in param ? pgArray(param.text) : JSON.stringify(param.json)));
}

/**
 * A PostgreSQL array literal for one text parameter (the same on every driver): strings quoted (and
 * escaped where needed), null as NULL. It is parsed by the server's array input, never as SQL.
 */
export function pgArray(values: readonly (string | number | null)[]): string {
  const parts = new Array<string>(values.length);
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    if (value === null || value === undefined) parts[i] = 'NULL';
    else if (typeof value === 'number') parts[i] = String(value);
    else if (value.includes('"') || value.includes('\\')) parts[i] = `"${value.replace(/[\\"]/g, '\\$&')}"`;
    else parts[i] = `"${value}"`;
  }
  return `{${parts.join(',')}}`;
}
