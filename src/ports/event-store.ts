import { Queryable } from './database';

/**
 * The event store port: what the write side and the projections need from an event log. The PostgreSQL
 * adapter and the EventStoreDB adapter implement it with the same semantics.
 */

/**
 * A place in the global log. `commit` orders transactions and `prepare` orders events inside one
 * (EventStoreDB's commit/prepare positions; on PostgreSQL the transaction id and the row sequence).
 */
export interface Position {
  commit: bigint;
  prepare: bigint;
}

export const START: Position = Object.freeze({ commit: 0n, prepare: 0n });

/**
 * What a store gives for an event whose global position it cannot tell (EventStoreDB servers that report
 * none on stream reads: unsigned -1). Nothing reaches it: a wait for it never ends.
 */
export const UNKNOWN_POSITION: Position = Object.freeze({ commit: 2n ** 64n - 1n, prepare: 2n ** 64n - 1n });
export const isKnownPosition = (position: Position): boolean => position.commit < 2n ** 63n;

/**
 * An appended event's `position`, or where the store could not tell it the log's head now: at or after
 * the event, so a wait for it (read-your-writes) ends once it is applied. Unknown still when the head
 * cannot be read either.
 */
export async function knownPositionOr(store: Pick<EventStore, 'headPosition'>, position: Position): Promise<Position> {
  return isKnownPosition(position) ? position : store.headPosition().catch(() => position);
}

export function comparePositions(a: Position, b: Position): number {
  if (a.commit !== b.commit) return a.commit < b.commit ? -1 : 1;
  if (a.prepare !== b.prepare) return a.prepare < b.prepare ? -1 : 1;
  return 0;
}

/** `no_stream`: the stream must not exist; `any`: no check; a number: the stream's last revision. */
export type ExpectedRevision = 'no_stream' | 'any' | number;

export interface EventMetadata {
  actorUuid: string | null;
  correlationId: string;
  causationId: string | null;
  /** ISO-8601 UTC with milliseconds: when the write side produced the event. */
  recordedAt: string;
  /** The command's idempotency key, if it had one: a repeat finds its result in the stream. */
  idempotencyKey?: string;
}

export interface EventToAppend {
  id: string;
  type: string;
  data: unknown;
  metadata: EventMetadata;
}

export interface RecordedEvent {
  id: string;
  streamName: string;
  /** 0 for a stream's first event. */
  revision: number;
  position: Position;
  type: string;
  data: unknown;
  metadata: EventMetadata;
}

export interface AppendResult {
  /** The stream's revision after the append. */
  nextRevision: number;
  /** The global position of the last appended event. */
  position: Position;
  /** The events as appended (data and metadata as given), with the revisions and positions they got. */
  events: RecordedEvent[];
}

/** Thrown by `appendToStream` when the expected revision does not hold; nothing was appended. */
export class WrongExpectedVersionError extends Error {
  constructor(
    public readonly streamName: string,
    public readonly expected: ExpectedRevision,
    public readonly actual: number | null,
  ) {
    super(`Stream ${streamName}: expected revision ${String(expected)}, actual ${actual ?? 'no stream'}`);
    this.name = 'WrongExpectedVersionError';
  }
}

/**
 * The store rolled an append back because it met a concurrent writer of the same stream in a way it
 * could not queue (a deadlock between a one-statement create and a locked append; an erasure destroying
 * a key the append was about to use): nothing was written, and the same command tried again reads what
 * the other wrote.
 */
export class StoreContentionError extends Error {
  constructor(
    public readonly streamName: string,
    options?: { cause?: unknown },
  ) {
    super(`Stream ${streamName}: the append met a concurrent writer and was rolled back; nothing was written`, options);
    this.name = 'StoreContentionError';
  }
}

/**
 * Thrown inside a session run without the stream's lock (`withStream`'s `optimistic`) by an append that
 * takes more than the one statement such a session appends in (keys to make, a projection that cannot
 * be part of it, an event to park), finds the lock held, or finds a row the projection read rewritten
 * since: nothing was written, and the store runs the session again under the lock.
 */
export class StreamLockNeeded extends Error {
  constructor(public readonly streamName: string) {
    super(`Stream ${streamName}: the append needs the stream's lock`);
    this.name = 'StreamLockNeeded';
  }
}

export interface ReadAllOptions {
  /** Events per yielded batch. */
  batchSize?: number;
  /**
   * A rebuild's transaction, holding the read tables locked: any append still in flight will project
   * itself after it. A store in the same database reads through it (one connection is enough, as on
   * PGlite) and returns every committed event at once; other stores ignore it.
   */
  within?: Queryable;
}

/** One stream, read and appended to by one command (see `EventStore.withStream`). */
export interface StreamSession {
  readStream(): Promise<RecordedEvent[]>;
  /**
   * Where the store keeps its log in the module's database (PostgreSQL): the read and `also` in one
   * round trip. `also` is CTEs that run after the read (a CTE `read` of the stream's rows), the last
   * named `also`, whose rows come back as JSON objects. To see what was committed while the session
   * waited for the stream's lock, they read through a VOLATILE function given `(SELECT count(*) FROM
   * read)`: the statement's own snapshot is from before the wait.
   */
  readStreamWith?(also: StatementPart): Promise<{ events: RecordedEvent[]; also: unknown[] }>;
  appendToStream(events: EventToAppend[], expected: ExpectedRevision): Promise<AppendResult>;
  /**
   * The transaction the session's append commits in, when the store keeps its log in the module's
   * database (PostgreSQL): what else is written through it commits or rolls back with the events.
   */
  readonly tx: Queryable | null;
  /**
   * Set when the session holds no lock and appends in one autocommitted statement (`withStream`'s
   * `optimistic`): whatever else an append would write first throws StreamLockNeeded instead.
   */
  readonly optimistic?: boolean;
}

/**
 * Part of one SQL statement: data-modifying CTEs (`name AS (…)`, comma-separated) whose parameters are
 * numbered from $1 in `ctes`. Parts from several owners compose into one statement (see `createStream`).
 */
export interface StatementPart {
  ctes: string;
  params: unknown[];
}

/**
 * A StatementPart that writes rows: each parameter is one value per row of its own relation, sent as
 * one array. Parts of several new streams with the same `ctes` join into one by joining their lists
 * (see `createStream`).
 */
export interface RowsPart {
  ctes: string;
  params: RowsParam[];
}

/**
 * A column of rows: `text` values go as a quoted array literal, `plain` ones (uuids, numbers, timestamps,
 * nested literals of those: nothing to quote) as they are, `json` values as one JSON array.
 */
export type RowsParam =
  | { text: ReadonlyArray<string | number | null> }
  | { plain: ReadonlyArray<string | number | null> }
  | { json: readonly unknown[] };

/** How `EventStore.withStream` runs a session; stores that cannot do as asked ignore it. */
export interface StreamOptions {
  /** First without the stream's lock (PostgreSQL; see `withStream`). */
  optimistic?: boolean;
  /**
   * With `optimistic`: the read also reads what the inline projection would need to apply the append
   * in its statement (an edit of a text: the row, for the search words of both), at the cost of a
   * lookup in the read; without it the projection leaves such an append to the locked session.
   */
  projectionRead?: boolean;
}

export interface EventStore {
  /**
   * Runs a read–decide–append of one stream. The PostgreSQL store holds the stream's lock from the read
   * to the commit, so sessions of one stream run one after the other and an append that expects the
   * revision it read never clashes; other stores append optimistically (a clash is a
   * WrongExpectedVersionError, and the caller reads again). With `optimistic`, the PostgreSQL store first
   * reads and decides without the lock, then appends at the revision read in one autocommitted statement
   * that takes the lock without waiting (a clash is a WrongExpectedVersionError, as on other stores); an
   * append that needs more, or finds the lock held or a row it read rewritten, throws StreamLockNeeded,
   * and `work` runs again under the lock, so it must be a read–decide–append and nothing else. Other
   * stores ignore it.
   */
  withStream<T>(streamName: string, work: (session: StreamSession) => Promise<T>, options?: StreamOptions): Promise<T>;
  /**
   * Starts a stream with its first events, all or none: a WrongExpectedVersionError when the stream
   * exists. `also` is written with them, in the same transaction; a store in the module's database runs
   * it, the events and their inline projection as one statement, which may also carry other streams'
   * creates asked for at the same moment. Optional: without it, `withStream`.
   */
  createStream?(streamName: string, events: EventToAppend[], also?: RowsPart[]): Promise<AppendResult>;
  /** Appends all events or none. */
  appendToStream(streamName: string, events: EventToAppend[], expected: ExpectedRevision): Promise<AppendResult>;
  /** The whole stream in revision order; `[]` when it does not exist. */
  readStream(streamName: string): Promise<RecordedEvent[]>;
  /**
   * The module's events after `from` (exclusive) in global order, in batches, up to the head as of the
   * call. Never skips an event that becomes visible later at an earlier position.
   */
  readAll(from?: Position, options?: ReadAllOptions): AsyncIterable<RecordedEvent[]>;
  /** The position of the newest module event, START for an empty log. */
  headPosition(): Promise<Position>;
  close(): Promise<void>;
}
