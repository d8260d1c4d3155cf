import {
  AppendResult,
  EventStore,
  EventToAppend,
  ExpectedRevision,
  Position,
  ReadAllOptions,
  RecordedEvent,
  RowsParam,
  RowsPart,
  START,
  StatementPart,
  StoreContentionError,
  StreamLockNeeded,
  StreamOptions,
  StreamSession,
  WrongExpectedVersionError,
} from '../../ports/event-store';
import { Database, Queryable, QueryResultRow } from '../../ports/database';
import { encodeRows } from '../../../projections/interactions.projection';

/**
 * Runs inside the append's transaction, after the events are inserted: the inline projection. With an
 * `AppendProjection`, `lookedUp` is what its lookup found (in the insert's own statement).
 */
export type InlineProjection = (tx: Queryable, events: RecordedEvent[], lookedUp?: string | null) => Promise<void>;

/**
 * The inline projection's parts of the insert's statement for an append to a stream (the events as they
 * will be recorded, positions not known yet), instead of round trips of their own: CTEs ending in
 * `looked_up (value text)`, what it reads before applying (one row at most), and, when `applies`, CTEs
 * that apply the events where `looked_up` is null. The inline projection is called after the insert
 * unless they did. `gate`: an SQL condition ($1 the stream's name) that `looked_up` evaluates once and
 * is not null without (an append without the stream's lock takes the lock in it); with it, `read` is
 * what `ProjectionRead` read with the session's read of the stream (null when nothing), by which the
 * parts guard their writes, and through `looked_up` the insert, where it may have changed since.
 */
export type AppendProjection = (
  tx: Queryable,
  streamName: string,
  drafts: RecordedEvent[],
  gate?: string,
  read?: unknown,
) => Promise<{ parts: StatementPart[]; applies: boolean }>;

/**
 * What the inline projection reads in an unlocked session's read of the stream (`withStream`'s
 * `optimistic`), in the same statement and snapshot: CTEs ending in `projection_read`, whose one row (as
 * JSON, null for none or an empty stream) its AppendProjection gets as `read`; null to read nothing.
 */
export type ProjectionRead = (streamName: string) => StatementPart | null;

/**
 * The inline projection of a new stream as part of its append's statement (positions not known yet), or
 * null when it takes more than that (`createStream` then appends the ordinary way).
 */
export type NewStreamProjection = (events: RecordedEvent[]) => Promise<RowsPart | null>;

/** Where an append put an event: what its statement returns (the rest the caller has already). */
interface AppendedRow {
  event_id: string;
  stream_revision: string;
  transaction_id: string;
  global_position: string;
}

interface EventRow extends AppendedRow {
  stream_name: string;
  event_type: string;
  data: unknown;
  metadata: RecordedEvent['metadata'];
}

const COLUMNS = 'event_id, stream_name, stream_revision, transaction_id, global_position, event_type, data, metadata';
const APPENDED_COLUMNS = 'event_id, stream_revision, transaction_id, global_position';

/** A create waiting for the statement it shares with the others asked for in the same turn of the event loop. */
interface PendingCreate {
  streamName: string;
  events: EventToAppend[];
  also: RowsPart[];
  /** The inline projection's part (EMPTY_ROWS without one). */
  projection: RowsPart;
  resolve: (result: AppendResult) => void;
  reject: (error: unknown) => void;
}

/** An unlocked session's statement waiting for the statement it shares with others (`shareStatement`). */
interface PendingStatement {
  streamName: string;
  parts: StatementPart[];
  select: string;
  resolve: (rows: QueryResultRow[]) => void;
  reject: (error: unknown) => void;
}

/**
 * At most this many unlocked sessions share a statement, in groups of a power of two: each size is a
 * statement text of its own, which every connection prepares and keeps planned (measured: ~20 MB of
 * backend memory once every kind has run at every size, against ~4 MB).
 */
const MAX_SHARED = 16;

/** At most this many creates share a statement (and more creates of a stream already in it). */
const MAX_CREATES_PER_STATEMENT = 32;

/**
 * A write is a pipeline of two stages, Node and the server. With one statement per turn the callers move
 * in step and the stages take turns, each idle while the other works. So when no other statement is in
 * flight, at most half of a turn's statements of a kind go in one (creates: halves, at most 32 each;
 * sessions: half rounded down to a power of two, so 12 go as 4 + 4 + 4): the server runs the first
 * while Node answers the other's callers and prepares their next commands, and from then on each part's
 * next statements form a turn of their own, sent whole while another part's are in flight (halving
 * every turn would split the parts again and again, each statement's fixed cost with them). Measured
 * at 16 callers after V8 warmed up: creates 974–983/s in one statement a turn, 1,306–1,384/s in two
 * halves of 8, 1,064/s in quarters; at 32, 8, 6 and 4 callers halves beat quarters and one statement too
 * (at 4: 750/s against 644/s), so even two statements of a turn go apart. Not on a database whose
 * statements run one after another in this process (PGlite: 10–14% fewer creates/s in halves).
 */
const HALVES = 2;

const UNIQUE_VIOLATION = '23505';
/** A statement past a limit of the server's (a jsonb array over 256 MB): halves of it fit. */
const PROGRAM_LIMIT_EXCEEDED = '54000';
const DEFAULT_BATCH_SIZE = 500;

/**
 * The event log in one PostgreSQL table. Optimistic concurrency is the unique (stream_name,
 * stream_revision) index. The global order is (transaction id, row sequence): a catch-up reader only
 * reads rows of transactions older than every transaction still running (the snapshot's xmin), so a
 * transaction that commits late can never slip in behind a position already read.
 */
export class PostgresEventStore implements EventStore {
  constructor(
    private readonly db: Database,
    private readonly inlineProjection?: InlineProjection,
    /** With an inline projection: its part of a new stream's statement (else creates take a transaction). */
    private readonly newStreamProjection?: NewStreamProjection,
    /** With an inline projection: its part of an append's insert statement. */
    private readonly appendProjection?: AppendProjection,
    /**
     * With an inline projection: what it reads with an unlocked session's read, for its AppendProjection
     * (without it, an append that needs a row, an edit of one text, always takes the locked session).
     */
    private readonly projectionRead?: ProjectionRead,
  ) {}

  /** Creates asked for in this turn of the event loop, sent at its end (`sendCreates`). */
  private creating: PendingCreate[] = [];

  /**
   * A new stream in one statement, sent in autocommit: its events, `also`, and the inline projection of
   * the new interaction, all or nothing. No stream lock is taken, and none is needed for the order
   * argument (see the class comment): the statement's first write takes the transaction id, every
   * revision of the new stream is in that one transaction, and a later append to the stream can only come
   * from a transaction that read it committed, so took its id later (a writer, locked or not, takes its
   * id at its first write, which comes after it read the stream; the one write allowed before the read, an
   * erasure destroying keys, only ever finds streams through rows a committed create wrote). Two creators
   * clash on the stream's unique (stream_name, stream_revision) index. When the projection needs more than
   * a part of the statement (an event it would park), or a read row is in the way, the append is made the
   * ordinary way.
   *
   * Creates asked for in the same turn of the event loop (callers whose previous answers arrived
   * together, when the callers keep the process busy) share a statement, or two (`HALVES`): the
   * argument above holds for each of their streams, all new, in the one transaction. When the server
   * refuses a shared statement, nothing of it was written, and each create is made again on its own,
   * for its own outcome; an error that may have come after the commit (a lost connection) is every
   * one's answer. What holds one up holds up all of its statement (a create waiting for another writer
   * of its stream: an idempotent repeat racing its first request in another statement), until it fails
   * the statement and the others go alone; the creates of one stream an instance is asked for at once
   * go in one statement.
   */
  async createStream(streamName: string, events: EventToAppend[], also: RowsPart[] = []): Promise<AppendResult> {
    if (events.length === 0) throw new Error('createStream needs at least one event');
    const projection = this.inlineProjection ? ((await this.newStreamProjection?.(drafts(streamName, events, 0))) ?? null) : EMPTY_ROWS;
    if (projection === null) return this.createLocked(streamName, events, also);
    return new Promise((resolve, reject) => {
      if (this.creating.push({ streamName, events, also, projection, resolve, reject }) === 1) setImmediate(() => this.sendCreates());
    });
  }

  private sendCreates(): void {
    const pending = this.creating.splice(0);
    const size = this.statementSize(pending.length, MAX_CREATES_PER_STATEMENT);
    // Creates of one stream (an idempotent repeat racing its request) in one statement, whatever `size`:
    // apart, the later one's insert would wait for the other's commit, or two such pairs deadlock.
    const statements: PendingCreate[][] = [];
    const statementOf = new Map<string, PendingCreate[]>();
    for (const create of pending) {
      const stream = create.streamName.toLowerCase();
      let statement = statementOf.get(stream);
      if (!statement) {
        statement = statements[statements.length - 1];
        if (!statement || statement.length >= size) statements.push((statement = []));
        statementOf.set(stream, statement);
      }
      statement.push(create);
    }
    for (const creates of statements) void this.inFlightWhile(this.createTogether(creates));
  }

  /** Statements of `sendCreates` and `sendShared` sent and not yet answered (those sent again alone too). */
  private inFlight = 0;

  private async inFlightWhile(sending: Promise<void>): Promise<void> {
    this.inFlight++;
    try {
      await sending;
    } finally {
      this.inFlight--;
    }
  }

  /** How many of a turn's `count` statements of a kind share one, at most `most` (`HALVES`). */
  private statementSize(count: number, most: number, idle = this.inFlight === 0): number {
    return Math.min(most, idle && this.db.concurrentStatements ? Math.ceil(count / HALVES) : count);
  }

  /** Creates in one statement, those whose parts are the first's (in the module, all of them); the others each alone. */
  private async createTogether(creates: PendingCreate[]): Promise<void> {
    const first = partsOf(creates[0]!);
    const sameAsFirst = (parts: RowsPart[]) => parts.length === first.length && parts.every((part, i) => part.ctes === first[i]!.ctes);
    const together = creates.filter((c) => sameAsFirst(partsOf(c)));
    const sending = creates.filter((c) => !together.includes(c) || together.length === 1).map((c) => settle(c, () => this.createAlone(c)));
    if (together.length > 1) {
      sending.push(
        sharedOrEachAlone<PendingCreate, AppendResult, AppendedRow[]>(
          together,
          (group) => this.sendCreate(group),
          (create) => this.createAlone(create),
          (create, _, rows) => appendResult(create.streamName, create.events, rows),
        ),
      );
    }
    await Promise.all(sending);
  }

  /** One create in a statement of its own: a clash there is its own. */
  private async createAlone(create: PendingCreate): Promise<AppendResult> {
    try {
      return appendResult(create.streamName, create.events, await this.sendCreate([create]));
    } catch (error) {
      const readRowThere = (error as { code?: string }).code === UNIQUE_VIOLATION && !isRevisionClash(error);
      if (readRowThere) return this.createLocked(create.streamName, create.events, create.also); // a read row (or key) of it was there already
      throw await this.appendError(error, create.streamName, 'no_stream');
    }
  }

  /** The creates' events and parts, each part's rows joined, in one autocommitted statement. */
  private async sendCreate(creates: PendingCreate[]): Promise<AppendedRow[]> {
    const each = creates.map(partsOf);
    const parts = [newStreamsEvents(creates), ...each[0]!.map((_, i) => joinRows(each.map((p) => p[i]!)))];
    const { text, params } = composeStatement(parts.map((part) => ({ ctes: part.ctes, params: encodeRows(part.params) })), SELECT_APPENDED);
    return (await (this.db.autocommit ? this.db.autocommit<AppendedRow>(text, params) : this.db.transaction((tx) => tx.query<AppendedRow>(text, params)))).rows;
  }

  /**
   * A new stream the ordinary way: under its lock, the events and their projection, then `also` (after
   * the events, so a stream that exists is a WrongExpectedVersionError before anything else clashes).
   */
  private createLocked(streamName: string, events: EventToAppend[], also: RowsPart[]): Promise<AppendResult> {
    return this.withStream(streamName, async (session) => {
      const result = await session.appendToStream(events, 'no_stream');
      const tx = session.tx ?? this.db; // always the session's transaction here
      for (const part of also) await tx.query(`WITH ${part.ctes} SELECT 1`, encodeRows(part.params));
      return result;
    });
  }

  async withStream<T>(streamName: string, work: (session: StreamSession) => Promise<T>, options: StreamOptions = {}): Promise<T> {
    // Not for an inline projection that cannot be part of the statement: it would always need the lock.
    if (options.optimistic && this.db.autocommit && (!this.inlineProjection || this.appendProjection)) {
      try {
        return await this.withStreamUnlocked(streamName, work, options.projectionRead === true);
      } catch (error) {
        if (!(error instanceof StreamLockNeeded)) throw error;
      }
    }
    return this.withStreamLocked(streamName, work);
  }

  /**
   * A session without the stream's lock while it reads and decides, in two round trips: the read (with
   * what the projection reads, `ProjectionRead`, when asked to), then the append in one autocommitted
   * statement, with its projection, at the revision read. The statement takes the stream's lock without
   * waiting (`STREAM_LOCK_FREE`, evaluated by the projection's lookup before any write of the stream's)
   * and writes nothing when a locked session holds it: so it never writes the stream inside a locked
   * session of it, which may write before it reads (a forget destroys keys first, taking its transaction
   * id then), and a locked session that comes later waits for it. The order argument then
   * holds as for a locked append (see `createStream`): the insert takes its transaction id after its read
   * saw the stream's last revision committed (in a shared statement another copy's write may take it
   * first, still after every copy's read), and before any later writer of the stream takes one. A
   * writer that appended in between clashes on the unique index (a WrongExpectedVersionError). Anything
   * the statement cannot carry throws StreamLockNeeded before a write: no read yet, a projection that
   * cannot be part of it, the lock held, a stream with a parked event (the insert is guarded by the
   * lookup, since parking the events would take a statement after it), a row the projection read that
   * was rewritten since. The read and the append each share a statement with other sessions' of the
   * same moment (`shareStatement`).
   */
  private withStreamUnlocked<T>(streamName: string, work: (session: StreamSession) => Promise<T>, projectionRead: boolean): Promise<T> {
    let known: number | null | undefined;
    let projectionRow: unknown = null;
    let appended = false;
    const projectionPart = this.inlineProjection && projectionRead ? (this.projectionRead?.(streamName) ?? null) : null;
    const read = async (also: StatementPart | null) => {
      const parts = [{ ctes: READ_UNLOCKED, params: [streamName] }, ...(also ? [also] : []), ...(projectionPart ? [projectionPart] : [])];
      const select = also ? (projectionPart ? SELECT_READ_ALSO_PROJECTION : SELECT_READ_ALSO) : projectionPart ? SELECT_READ_PROJECTION : SELECT_READ;
      const rows = await this.shareStatement<EventRow & { also?: unknown[] | null; projection_read?: unknown }>(streamName, parts, select);
      // A shared statement's rows come in its UNION ALL's order, which SQL does not promise.
      rows.sort((a, b) => Number(a.stream_revision) - Number(b.stream_revision));
      const events = rows.map(toRecordedEvent);
      known = events.length > 0 ? events[events.length - 1]!.revision : null;
      projectionRow = rows[0]?.projection_read ?? null;
      return { events, also: rows[0]?.also ?? [] };
    };
    return work({
      tx: null,
      optimistic: true,
      readStream: async () => (await read(null)).events,
      readStreamWith: read,
      appendToStream: async (events, expected) => {
        // One statement is all such a session writes: a second append would not commit with the first.
        if (appended) throw new Error(`a session of ${streamName} without the stream's lock appends once`);
        if (known === undefined) throw new StreamLockNeeded(streamName);
        if (events.length === 0) throw new Error('appendToStream needs at least one event');
        if (!revisionMatches(expected, known)) throw new WrongExpectedVersionError(streamName, expected, known);
        const first = (known ?? -1) + 1;
        let parts: StatementPart[] = [{ ctes: LOCK_FREE_LOOKUP, params: [streamName] }];
        if (this.inlineProjection) {
          const inline = await this.appendProjection?.(this.db, streamName, drafts(streamName, events, first), STREAM_LOCK_FREE, projectionRow);
          if (!inline?.applies) throw new StreamLockNeeded(streamName);
          parts = inline.parts;
        }
        // After the lookup, so the insert can be guarded by it.
        parts = [...parts, { ctes: APPENDED_UNLESS_LOOKED_UP, params: [streamName, first, ...eventColumns(events)] }];
        appended = true;
        let rows: AppendedRow[];
        try {
          rows = await this.shareStatement<AppendedRow>(streamName, parts, SELECT_APPENDED);
        } catch (error) {
          throw await this.appendError(error, streamName, expected);
        }
        if (rows.length === 0) throw new StreamLockNeeded(streamName); // locked or parked: nothing was written
        return appendResult(streamName, events, rows);
      },
    });
  }

  /**
   * An unlocked session's statement (its read, its append), shared with the others of the same kind asked
   * for in the same turn of the event loop (callers whose previous answers arrived together, as shared
   * statements answer them; in two statements or more, `HALVES`): each one's CTEs, renamed apart
   * (`composeShared`), side by side in one autocommitted statement, which returns each one's rows
   * apart. Each keeps its own gate and guards, so an append writes or not as it would alone (no rows:
   * locked, parked or its row changed), and the order argument of `withStreamUnlocked` holds for each
   * stream as for new streams sharing a create (`createStream`): a statement is sent after every one of
   * its sessions' reads. A stream is in a statement at most once (its row cannot be updated twice by one
   * statement). When the server refuses the statement, nothing of it was written, and each is sent
   * again alone, for its own outcome (a revision another writer took, a deadlock); an error that may
   * have come after the commit (a lost connection) is every one's answer.
   */
  private shareStatement<R extends QueryResultRow>(streamName: string, parts: StatementPart[], select: string): Promise<R[]> {
    return new Promise((resolve, reject) => {
      const statement: PendingStatement = { streamName, parts, select, resolve: resolve as PendingStatement['resolve'], reject };
      if (this.sharing.push(statement) === 1) setImmediate(() => this.sendShared());
    });
  }

  /** Unlocked sessions' statements asked for in this turn of the event loop, sent at its end (`shareStatement`). */
  private sharing: PendingStatement[] = [];

  private sendShared(): void {
    const byShape = new Map<string, PendingStatement[]>();
    for (const statement of this.sharing.splice(0)) {
      const key = [statement.select, ...statement.parts.map((part) => `${part.params.length}:${part.ctes}`)].join('\0');
      const ofShape = byShape.get(key);
      if (ofShape) ofShape.push(statement);
      else byShape.set(key, [statement]);
    }
    // As the turn began: by the time its second kind is sized, its first kind's statements are in flight.
    const idle = this.inFlight === 0;
    for (const ofShape of byShape.values()) {
      const most = powerOfTwoAtMost(this.statementSize(ofShape.length, MAX_SHARED, idle));
      const together: PendingStatement[][] = [];
      for (const statement of ofShape) {
        // Compared as the interaction's row is found: by its uuid, whatever its case.
        const stream = statement.streamName.toLowerCase();
        const room = together.find((s) => s.length < most && s.every((other) => other.streamName.toLowerCase() !== stream));
        if (room) room.push(statement);
        else together.push([statement]);
      }
      for (const statements of together) {
        for (let at = 0; at < statements.length; ) {
          void this.inFlightWhile(this.sendTogether(statements.slice(at, (at += powerOfTwoAtMost(statements.length - at)))));
        }
      }
    }
  }

  private async sendTogether(statements: PendingStatement[]): Promise<void> {
    if (statements.length === 1) return settle(statements[0]!, () => this.sendAlone(statements[0]!));
    await sharedOrEachAlone<PendingStatement, QueryResultRow[], (QueryResultRow & { copy: number | string })[]>(
      statements,
      async (group) => {
        const { text, params } = composeShared(group.map((statement) => statement.parts), group[0]!.select);
        return (await this.db.autocommit!<QueryResultRow & { copy: number | string }>(text, params)).rows;
      },
      (statement) => this.sendAlone(statement),
      // Number(): a host's type parsers may give int4 as text; a copy that found no rows would be taken
      // for one that wrote nothing, and run again under the lock.
      (_, i, rows) => rows.filter((row) => Number(row.copy) === i + 1),
    );
  }

  private async sendAlone(statement: PendingStatement): Promise<QueryResultRow[]> {
    const { text, params } = composeStatement(statement.parts, statement.select);
    return (await this.db.autocommit!(text, params)).rows;
  }

  private async withStreamLocked<T>(streamName: string, work: (session: StreamSession) => Promise<T>): Promise<T> {
    try {
      return await this.db.transaction(async (tx) => {
        // Sessions of one stream queue on its lock, so what the session reads stays current until it
        // commits and its append never clashes (only a create skips the lock; an unlocked session's
        // statement takes it too, without waiting). A lock takes no transaction id (see the insert in
        // `appendLocked`). It is taken before the session's first statement, whatever that is: with the
        // read in one round trip when the read comes first (`lock_and_read_stream`), else on its own.
        let locked: Promise<unknown> | null = null;
        const lock = () => (locked ??= tx.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [streamName]));
        const underLock: Queryable = {
          query: async (text, params) => {
            await lock();
            return tx.query(text, params);
          },
        };
        // What the session read under the lock is the stream's revision until it appends (a writer that
        // skips the lock, a create, still clashes on the unique index): no second look before appending.
        let known: number | null | undefined;
        return work({
          tx: underLock,
          readStream: async () => {
            let events: RecordedEvent[];
            if (locked) {
              await locked;
              events = await readStreamOn(tx, streamName);
            } else {
              const read = readStreamOn(tx, streamName, 'locking');
              locked = read;
              events = await read;
            }
            known = events.length > 0 ? events[events.length - 1]!.revision : null;
            return events;
          },
          readStreamWith: async (also) => {
            // lock_and_read_stream also when the lock is held already: taking it again is a no-op.
            const { text, params } = composeStatement([{ ctes: READ_LOCKED, params: [streamName] }, also], SELECT_READ_ALSO);
            const read = tx.query<EventRow & { also: unknown[] | null }>(text, params);
            locked ??= read;
            const { rows } = await read;
            const events = rows.map(toRecordedEvent);
            known = events.length > 0 ? events[events.length - 1]!.revision : null;
            return { events, also: rows[0]?.also ?? [] };
          },
          appendToStream: async (events, expected) => {
            await lock();
            const result = await this.appendLocked(tx, streamName, events, expected, known);
            known = result.nextRevision;
            return result;
          },
        });
      });
    } catch (error) {
      // A new stream that existed after all, or a writer that bypasses the stream lock.
      throw await this.appendError(error, streamName, (error as { expected?: ExpectedRevision }).expected ?? 'any');
    }
  }

  /**
   * A failed append's error as the store reports it: a clash on the stream's revision index is a
   * WrongExpectedVersionError with what the stream holds now, a deadlock or serialization failure a
   * StoreContentionError; anything else unchanged.
   */
  private async appendError(error: unknown, streamName: string, expected: ExpectedRevision): Promise<unknown> {
    if (isRevisionClash(error)) return new WrongExpectedVersionError(streamName, expected, await currentRevision(this.db, streamName));
    if (isContention(error)) return new StoreContentionError(streamName, { cause: error });
    return error;
  }

  appendToStream(streamName: string, events: EventToAppend[], expected: ExpectedRevision): Promise<AppendResult> {
    return this.withStream(streamName, (session) => session.appendToStream(events, expected));
  }

  private async appendLocked(
    tx: Queryable,
    streamName: string,
    events: EventToAppend[],
    expected: ExpectedRevision,
    known: number | null | undefined,
  ): Promise<AppendResult> {
    if (events.length === 0) throw new Error('appendToStream needs at least one event');
    // A new stream needs no read: it starts at revision 0, and if it exists after all the unique
    // (stream_name, stream_revision) index makes the insert clash (reported by `withStream`).
    const actual = expected === 'no_stream' ? null : known !== undefined ? known : await currentRevision(tx, streamName);
    if (!revisionMatches(expected, actual)) throw new WrongExpectedVersionError(streamName, expected, actual);
    const first = (actual ?? -1) + 1;
    // The insert is the transaction's first write, so its transaction id is taken only now: a later
    // revision of a stream can never get an older transaction id than an earlier one.
    const appended: StatementPart = { ctes: APPENDED_AT, params: [streamName, first, ...eventColumns(events)] };
    const inline = this.inlineProjection && this.appendProjection ? await this.appendProjection(tx, streamName, drafts(streamName, events, first)) : null;
    const { text, params } = inline
      ? composeStatement([appended, ...inline.parts], SELECT_APPENDED_LOOKED_UP)
      : composeStatement([appended], SELECT_APPENDED);
    const { rows } = await tx.query<AppendedRow & { looked_up?: string | null }>(text, params).catch((error: unknown) => {
      if (error instanceof Error) Object.assign(error, { expected });
      throw error;
    });
    const result = appendResult(streamName, events, rows);
    const lookedUp = inline ? (rows[0]?.looked_up ?? null) : undefined;
    if (!(inline?.applies && lookedUp === null)) await this.inlineProjection?.(tx, result.events, lookedUp);
    return result;
  }

  readStream(streamName: string): Promise<RecordedEvent[]> {
    return readStreamOn(this.db, streamName);
  }

  async *readAll(from: Position = START, options: ReadAllOptions = {}): AsyncIterable<RecordedEvent[]> {
    const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
    // Inside a rebuild every append still in flight projects itself afterwards, so unrelated long
    // transactions of the server must not hold the read back.
    const q = options.within ?? this.db;
    const settled = options.within ? '' : 'AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())::text::bigint';
    let after = from;
    for (;;) {
      const { rows } = await q.query<EventRow>(
        `SELECT ${COLUMNS} FROM events
         WHERE (transaction_id, global_position) > ($1::bigint, $2::bigint) ${settled}
         ORDER BY transaction_id, global_position
         LIMIT $3`,
        [after.commit.toString(), after.prepare.toString(), batchSize],
      );
      if (rows.length === 0) return;
      const batch = rows.map(toRecordedEvent);
      yield batch;
      if (rows.length < batchSize) return;
      after = batch[batch.length - 1]!.position;
    }
  }

  /** The position of the newest event (the head), or START for an empty log. */
  async headPosition(): Promise<Position> {
    const { rows } = await this.db.query<{ transaction_id: string; global_position: string }>(
      `SELECT transaction_id, global_position FROM events
       ORDER BY transaction_id DESC, global_position DESC LIMIT 1`,
      [],
    );
    const row = rows[0];
    return row ? { commit: BigInt(row.transaction_id), prepare: BigInt(row.global_position) } : START;
  }

  async counts(): Promise<{ streams: number; events: number }> {
    const { rows } = await this.db.query<{ streams: string; events: string }>(
      'SELECT count(DISTINCT stream_name) AS streams, count(*) AS events FROM events',
      [],
    );
    return { streams: Number(rows[0]?.streams ?? 0), events: Number(rows[0]?.events ?? 0) };
  }

  async close(): Promise<void> {
    // The Database is owned by whoever created it; nothing of the store's own to release.
  }
}

function powerOfTwoAtMost(n: number): number {
  return 2 ** Math.floor(Math.log2(n));
}

/** The events as they will be recorded from revision `first` on, their positions not known yet. */
function drafts(streamName: string, events: EventToAppend[], first: number): RecordedEvent[] {
  return events.map((e, i): RecordedEvent => ({ ...e, streamName, revision: first + i, position: START }));
}

/**
 * The events as four columns: ids and types as array literals, data and metadata as one JSON array
 * each (one JSON text apiece: nothing to escape per element, one parse on the server).
 */
function eventRows(events: EventToAppend[]): RowsParam[] {
  return [{ text: events.map((e) => e.id) }, { text: events.map((e) => e.type) }, { json: events.map((e) => e.data) }, { json: events.map((e) => e.metadata) }];
}

function eventColumns(events: EventToAppend[]): unknown[] {
  return encodeRows(eventRows(events));
}

/**
 * What an append returns: the events as they were given (data and metadata as passed in, as the
 * EventStoreDB adapter returns them too), with the revisions and positions the log gave them.
 */
function appendResult(streamName: string, events: EventToAppend[], rows: AppendedRow[]): AppendResult {
  const byId = new Map(rows.map((row) => [row.event_id.toLowerCase(), row]));
  const recorded = events.map((event): RecordedEvent => {
    const row = byId.get(event.id.toLowerCase());
    if (!row) throw new Error(`the append to ${streamName} did not return event ${event.id}`);
    return {
      id: row.event_id,
      streamName,
      revision: Number(row.stream_revision),
      position: { commit: BigInt(row.transaction_id), prepare: BigInt(row.global_position) },
      type: event.type,
      data: event.data,
      metadata: event.metadata,
    };
  });
  const last = recorded[recorded.length - 1]!;
  return { nextRevision: last.revision, position: last.position, events: recorded };
}

const EMPTY_ROWS: RowsPart = { ctes: '', params: [] };

/** A pending create's parts after its events. */
function partsOf(create: PendingCreate): RowsPart[] {
  return [...create.also, create.projection];
}

/** Settles a pending create or statement with what `work` gives or throws; resolves when it has. */
function settle<T>(pending: { resolve: (value: T) => void; reject: (error: unknown) => void }, work: () => Promise<T>): Promise<void> {
  return work().then(pending.resolve, pending.reject);
}

/**
 * A statement shared by `pending`, each answered from its result. An error the server reported for the
 * statement means it wrote nothing: each is then sent `alone`, for its own outcome; where the statement
 * was too large for the server (a jsonb array past its limit), each half is shared instead. Anything
 * else (a lost connection, a client-side timeout) may have come after the commit: every one's answer.
 */
async function sharedOrEachAlone<P extends { resolve: (value: T) => void; reject: (error: unknown) => void }, T, R>(
  pending: P[],
  shared: (group: P[]) => Promise<R>,
  alone: (one: P) => Promise<T>,
  answer: (one: P, index: number, result: R) => T,
): Promise<void> {
  let result: R;
  try {
    result = await shared(pending);
  } catch (error) {
    if (reportedByServer(error) && (error as { code: string }).code === PROGRAM_LIMIT_EXCEEDED && pending.length > 1) {
      const half = Math.ceil(pending.length / 2);
      const halves = [pending.slice(0, half), pending.slice(half)];
      await Promise.all(halves.map((group) => sharedOrEachAlone(group, shared, alone, answer)));
    } else if (reportedByServer(error)) await Promise.all(pending.map((one) => settle(one, () => alone(one))));
    else for (const one of pending) one.reject(error);
    return;
  }
  await Promise.all(pending.map((one, i) => settle(one, async () => answer(one, i, result))));
}

/** Parts of the same CTEs as one: each parameter's rows, one after the other. */
function joinRows(parts: RowsPart[]): RowsPart {
  if (parts.length === 1) return parts[0]!;
  return {
    ctes: parts[0]!.ctes,
    params: parts[0]!.params.map((param, i): RowsParam => {
      const kind = 'plain' in param ? 'plain' : 'text' in param ? 'text' : 'json';
      const rows = parts.flatMap((part) => {
        const column = part.params[i];
        // A column of another kind would shift the rows after it onto other creates' rows.
        if (!column || !(kind in column)) throw new Error(`parts of the same CTEs differ at parameter ${i + 1}`);
        return (column as Record<typeof kind, readonly unknown[]>)[kind];
      });
      return kind === 'plain' ? { plain: rows as (string | number | null)[] } : kind === 'text' ? { text: rows as (string | number | null)[] } : { json: rows };
    }),
  };
}

/** An error the server reported for a statement (a SQLSTATE with its severity): the statement wrote nothing. */
function reportedByServer(error: unknown): boolean {
  const { code, severity } = (error ?? {}) as { code?: unknown; severity?: unknown };
  return typeof code === 'string' && typeof severity === 'string';
}

/** The events of new streams, from revision 0 each, in the order given. */
function newStreamsEvents(creates: PendingCreate[]): RowsPart {
  return {
    ctes: APPENDED_NEW,
    params: [
      ...eventRows(creates.flatMap((c) => c.events)),
      { text: creates.flatMap((c) => c.events.map(() => c.streamName)) },
      { plain: creates.flatMap((c) => c.events.map((_, i) => i)) },
    ],
  };
}

/**
 * The events appended to stream $1 from revision $2 on (0 for a new stream), taken apart from the four
 * parameters of `eventColumns` ($3–$6).
 */
function appendedCte(where: string): string {
  return `appended AS (
  INSERT INTO events (event_id, stream_name, stream_revision, event_type, data, metadata)
  SELECT e.id, $1, $2::bigint + e.ord - 1, e.type, e.data, e.metadata
  FROM ROWS FROM (unnest($3::uuid[]), unnest($4::text[]), jsonb_array_elements($5::jsonb), jsonb_array_elements($6::jsonb))
    WITH ORDINALITY AS e(id, type, data, metadata, ord)${where}
  ORDER BY e.ord
  RETURNING ${APPENDED_COLUMNS})`;
}
const APPENDED_AT = appendedCte('');
/** The events of new streams (`newStreamsEvents`): `eventRows` ($1–$4), then per event its stream and revision. */
const APPENDED_NEW = `appended AS (
  INSERT INTO events (event_id, stream_name, stream_revision, event_type, data, metadata)
  SELECT e.id, e.stream_name, e.revision, e.type, e.data, e.metadata
  FROM ROWS FROM (unnest($1::uuid[]), unnest($2::text[]), jsonb_array_elements($3::jsonb), jsonb_array_elements($4::jsonb),
    unnest($5::text[]), unnest($6::bigint[]))
    WITH ORDINALITY AS e(id, type, data, metadata, stream_name, revision, ord)
  ORDER BY e.ord
  RETURNING ${APPENDED_COLUMNS})`;
/** An unlocked session's insert: nothing when the lookup found the stream locked or a parked event. */
const APPENDED_UNLESS_LOOKED_UP = appendedCte('\n  WHERE (SELECT value FROM looked_up) IS NULL');
/**
 * The stream's lock (the key `withStream` takes), taken without waiting, held till the statement's
 * transaction ends; false when a session holds it. $1 is the stream's name.
 */
const STREAM_LOCK_FREE = 'pg_try_advisory_xact_lock(hashtextextended($1, 0))';
/** The lookup of an unlocked append without an inline projection: the stream's lock only. */
const LOCK_FREE_LOOKUP = `looked_up AS (SELECT CASE WHEN ${STREAM_LOCK_FREE} THEN NULL ELSE 'locked' END AS value)`;
const SELECT_APPENDED = `SELECT ${APPENDED_COLUMNS} FROM appended`;
/** A session's read with its `also` (StreamSession.readStreamWith): `also` on the first row, not made for an empty stream. */
const READ_LOCKED = 'read AS (SELECT * FROM lock_and_read_stream($1))';
const READ_UNLOCKED = 'read AS (SELECT * FROM events WHERE stream_name = $1)';
const selectRead = (...columns: string[]) => `SELECT ${[COLUMNS, ...columns].join(', ')}\n  FROM read ORDER BY stream_revision`;
const ALSO_COLUMN = 'CASE WHEN stream_revision = 0 THEN (SELECT json_agg(also) FROM also) END AS also';
/** What `ProjectionRead` read, on the first row likewise. */
const PROJECTION_READ_COLUMN = 'CASE WHEN stream_revision = 0 THEN (SELECT row_to_json(p) FROM projection_read p) END AS projection_read';
const SELECT_READ = selectRead();
const SELECT_READ_ALSO = selectRead(ALSO_COLUMN);
const SELECT_READ_PROJECTION = selectRead(PROJECTION_READ_COLUMN);
const SELECT_READ_ALSO_PROJECTION = selectRead(ALSO_COLUMN, PROJECTION_READ_COLUMN);
const SELECT_APPENDED_LOOKED_UP = `SELECT ${APPENDED_COLUMNS}, (SELECT value FROM looked_up) AS looked_up FROM appended`;

/**
 * Composed texts by their parts, to renumber each combination only once: a tree keyed by each part's
 * CTE text and parameter count, then the final select. The texts are the module's constants, whose
 * hashes V8 keeps, so a look-up costs a few map reads instead of hashing a new multi-kilobyte key.
 */
interface ComposedNode {
  text?: string;
  next: Map<string, Map<number, ComposedNode>>;
}
const composed: ComposedNode = { next: new Map() };
let composedCount = 0;

/**
 * One statement from parts: their CTEs side by side, each part's parameters renumbered after the ones
 * before it (the parts' SQL is the module's own, with no `$` but in parameter numbers), then `select`.
 */
export function composeStatement(parts: StatementPart[], select: string): { text: string; params: unknown[] } {
  const used = parts.filter((part) => part.ctes);
  const params = used.flatMap((part) => part.params);
  const path = [...used.map((part): [string, number] => [part.ctes, part.params.length]), [select, 0] as [string, number]];
  let node: ComposedNode | undefined = composed;
  for (const [key, count] of path) node = node?.next.get(key)?.get(count);
  if (node?.text !== undefined) return { text: node.text, params };
  let offset = 0;
  const ctes = used.map((part) => {
    const shifted = offset;
    offset += part.params.length;
    return part.ctes.replace(/\$(\d+)/g, (_, n: string) => `$${Number(n) + shifted}`);
  });
  const text = `WITH ${ctes.join(',\n')}\n${select}`;
  if (composedCount < 100) {
    composedCount++;
    let at = composed;
    for (const [key, count] of path) {
      let byCount = at.next.get(key);
      if (!byCount) at.next.set(key, (byCount = new Map()));
      let child = byCount.get(count);
      if (!child) byCount.set(count, (child = { next: new Map() }));
      at = child;
    }
    at.text = text;
  }
  return { text, params };
}

/** The names a part's CTEs define (`name AS (` at the start of each). */
const CTE_NAME = /(?:^|,)\s*([a-z_][a-z0-9_]*) AS \(/g;

/**
 * Several statements' parts in one statement: each one's CTEs side by side, renamed apart (`_1`, `_2`…
 * after the names of its own parts' CTEs, wherever its SQL names them), parameters renumbered after the
 * ones before; then each one's `select` (renamed likewise) with its number as `copy`, in one UNION ALL.
 * Data-modifying CTEs must be at a statement's top level, hence renaming rather than subqueries.
 */
export function composeShared(statements: StatementPart[][], select: string): { text: string; params: unknown[] } {
  const first = statements[0]!.filter((part) => part.ctes);
  const key = `${statements.length}\0${select}\0${first.map((part) => `${part.params.length}:${part.ctes}`).join('\0')}`;
  let text = sharedTexts.get(key);
  if (text === undefined) {
    const names = [...new Set(first.flatMap((part) => [...part.ctes.matchAll(CTE_NAME)].map((m) => m[1]!)))];
    const rename = (sql: string, copy: number) => sql.replace(new RegExp(`(?<!AS )\\b(${names.join('|')})\\b`, 'g'), `$1_${copy}`);
    const single = composeStatement(first, select).text;
    const selectAt = single.lastIndexOf(`\n${select}`);
    const ctes = single.slice('WITH '.length, selectAt);
    let offset = 0;
    const count = first.reduce((n, part) => n + part.params.length, 0);
    const copies = statements.map((_, i) => {
      const shifted = offset;
      offset += count;
      return rename(ctes, i + 1).replace(/\$(\d+)/g, (_, n: string) => `$${Number(n) + shifted}`);
    });
    const selects = statements.map((_, i) => `(${rename(select, i + 1).replace(/^SELECT /, `SELECT ${i + 1} AS copy, `)})`);
    text = `WITH ${copies.join(',\n')}\n${selects.join('\nUNION ALL\n')}`;
    if (sharedTexts.size < 200) sharedTexts.set(key, text);
  }
  return { text, params: statements.flatMap((parts) => parts.filter((part) => part.ctes).flatMap((part) => part.params)) };
}
const sharedTexts = new Map<string, string>();

/** The stream's events; `locking`, after taking the stream's lock in the same round trip (migration 0002). */
async function readStreamOn(q: Queryable, streamName: string, locking?: 'locking'): Promise<RecordedEvent[]> {
  const { rows } = await q.query<EventRow>(
    locking
      ? `SELECT ${COLUMNS} FROM lock_and_read_stream($1) ORDER BY stream_revision`
      : `SELECT ${COLUMNS} FROM events WHERE stream_name = $1 ORDER BY stream_revision`,
    [streamName],
  );
  return rows.map(toRecordedEvent);
}

async function currentRevision(q: Queryable, streamName: string): Promise<number | null> {
  const { rows } = await q.query<{ revision: string | null }>(
    'SELECT max(stream_revision) AS revision FROM events WHERE stream_name = $1',
    [streamName],
  );
  const revision = rows[0]?.revision;
  return revision === null || revision === undefined ? null : Number(revision);
}

function revisionMatches(expected: ExpectedRevision, actual: number | null): boolean {
  if (expected === 'any') return true;
  if (expected === 'no_stream') return actual === null;
  return actual === expected;
}

/**
 * A deadlock (40P01) or serialization failure (40001): the server rolled the transaction back. A create in
 * one statement takes no stream lock, so it can deadlock with a locked append to the same new stream
 * that writes its rows in another order (an idempotent repeat of the create); in a statement shared with
 * other creates, they are then made again each alone.
 */
function isContention(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === '40P01' || code === '40001';
}

/** A unique violation of the stream's (stream_name, stream_revision) index: another writer's revision. */
function isRevisionClash(error: unknown): boolean {
  const { code, constraint } = (error ?? {}) as { code?: string; constraint?: string };
  return code === UNIQUE_VIOLATION && constraint === 'events_stream_revision_key';
}

function toRecordedEvent(row: EventRow): RecordedEvent {
  return {
    id: row.event_id,
    streamName: row.stream_name,
    revision: Number(row.stream_revision),
    position: { commit: BigInt(row.transaction_id), prepare: BigInt(row.global_position) },
    type: row.event_type,
    data: row.data,
    metadata: row.metadata,
  };
}
