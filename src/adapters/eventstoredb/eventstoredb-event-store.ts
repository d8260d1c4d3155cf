import { setTimeout as sleep } from 'node:timers/promises';
import {
  AllStreamResolvedEvent,
  AllStreamSubscription,
  ANY,
  CancelledError,
  DeadlineExceededError,
  MaxAppendSizeExceededError,
  NotLeaderError,
  TimeoutError,
  UnavailableError,
  AppendExpectedRevision,
  EventStoreDBClient,
  JSONType,
  jsonEvent,
  NO_STREAM,
  START as FROM_START,
  StreamNotFoundError,
  streamNameFilter,
  WrongExpectedVersionError as ClientWrongExpectedVersionError,
} from '@eventstore/db-client';
import {
  AppendResult,
  comparePositions,
  EventMetadata,
  EventStore,
  EventToAppend,
  ExpectedRevision,
  isKnownPosition,
  knownPositionOr,
  Position,
  ReadAllOptions,
  RecordedEvent,
  START,
  StreamSession,
  UNKNOWN_POSITION,
  WrongExpectedVersionError,
} from '../../ports/event-store';
import { errorText, InteractionUnavailableError, InteractionValidationError } from '../../domain/errors';
import { RawRecordedEvent, readAllFiltered } from './filtered-read';

/** Every stream of the module is `interaction-<uuid>` (streamNameOf). */
export const MODULE_STREAM_PREFIX = 'interaction-';
const DEFAULT_BATCH_SIZE = 500;
/** Long enough for a node restart or a leader election; short enough that a command does not hang. */
const DEFAULT_RESOLVE_WITHIN_MS = 5_000;
const RESEND_BACKOFF_MS = { first: 50, max: 500 };

export interface EventStoreDbOptions {
  /** Streams whose events `readAll` and `subscribe` deliver; default the module's `interaction-`. */
  streamPrefix?: string;
  /**
   * How long an append of unknown outcome (timed out, connection lost or cancelled) is re-sent before it
   * fails with `committed: 'unknown'`; default 5000 ms. See `resolveUnknown`.
   */
  resolveWithinMs?: number;
}

/** The server's answer to an append, as the port needs it. */
interface AppendReply {
  nextRevision: number;
  position: Position | undefined;
}

/** What a subscription delivers, in `$all` order. */
export type SubscriptionItem =
  | { kind: 'confirmed' }
  | { kind: 'event'; event: RecordedEvent }
  /** Every module event at or before `position` has been delivered (the server's filtered checkpoint). */
  | { kind: 'checkpoint'; position: Position }
  | { kind: 'caught-up' };

/**
 * The event log in EventStoreDB/KurrentDB, through @eventstore/db-client. Same port semantics as the
 * PostgreSQL store: revisions from 0, `no_stream`/exact/`any` expectations, `WrongExpectedVersionError`
 * with the actual revision, and `readAll` in `$all` order after a position (exclusive). Event data and
 * metadata are JSON, exactly as the write side produced them; the metadata also carries EventStoreDB's
 * `$correlationId`/`$causationId`, so the server's by-correlation projection can index them (they are
 * left out again on reading).
 */
/**
 * The client's errors that mean the server could not be reached or did not answer in time, or that the
 * node was not the leader (NotLeader: nothing was written; the client reconnects to the leader it names).
 */
const UNREACHABLE = [UnavailableError, DeadlineExceededError, CancelledError, NotLeaderError, TimeoutError];

/**
 * A failure of a cluster that the client 6.x reports untyped: no node to talk to (gossip found no leader or
 * follower, e.g. during an election: a plain Error). Nothing was written; it passes once a leader is
 * elected. (A node without a leader answers an append "Server Is Not Ready" as UNAVAILABLE, typed.)
 */
const DISCOVERY_FAILED = /^Failed to discover after \d+ attempts/;

/**
 * Everything the adapter asks of the server goes to the leader: appends, the stream reads that decide and
 * resolve them, and the projection's subscription (a follower may lag behind what was just acknowledged).
 * A follower answers NotLeader with the leader's address and the client reconnects there.
 */
const ON_LEADER = { requiresLeader: true } as const;

/**
 * gRPC status codes of the same meaning (UNAVAILABLE, DEADLINE_EXCEEDED, CANCELLED), for what the client
 * passes on unconverted: the server-features request it sends first on a new connection fails raw.
 */
const UNREACHABLE_GRPC_CODES = [14, 4, 1];

function unreachable(error: unknown): boolean {
  const grpc = error as { code?: unknown; details?: unknown } | null;
  const rawGrpc = typeof grpc?.details === 'string' && UNREACHABLE_GRPC_CODES.includes(grpc.code as number);
  const cluster = error instanceof Error && DISCOVERY_FAILED.test(error.message);
  return rawGrpc || cluster || UNREACHABLE.some((type) => error instanceof type);
}

function unavailable(error: unknown, committed: boolean | 'unknown'): unknown {
  if (!unreachable(error)) return error;
  return new InteractionUnavailableError(`EventStoreDB is unavailable: ${(error as Error).message}`, committed, {
    cause: error,
  });
}

/**
 * The client 6.2.1 starts its reconnection bookkeeping (`handleError`, async) after a failed call and never
 * handles that promise. When the call failed while a discovery was under way (a cluster electing a leader)
 * and the discovery fails too, the bookkeeping rejects with nobody to catch it: an unhandled rejection,
 * which ends a Node process by default (seen in test/esdb/cluster.spec.ts under load). The call's own
 * error still reaches its caller by the call's path; only the bookkeeping's copy is caught here. A client
 * without that method (another version) is left as it is.
 */
function withReconnectionGuarded(client: EventStoreDBClient): EventStoreDBClient {
  const internals = client as unknown as { handleError?: unknown };
  const handleError = internals.handleError;
  if (typeof handleError === 'function') {
    internals.handleError = (...args: unknown[]): Promise<void> =>
      Promise.resolve(handleError.apply(client, args)).catch(() => undefined);
  }
  return client;
}

const BATCH_APPEND_PATH = '/event_store.client.streams.streams/batchappend';

/**
 * The client 6.2.1 appends through BatchAppend when the server offers it, and keeps the callers of every
 * client's batch appends in one module-wide table: one client's broken BatchAppend call (a disposed client,
 * a lost node) rejects every client's pending appends with its error, including appends that still land,
 * and the answers that then arrive find no caller and throw inside gRPC's event handler, an uncaught
 * exception that ends the host (test/esdb/shared-clients.spec.ts). Told that the server lacks BatchAppend,
 * the client appends through the classic Streams.Append, one call per append with its own answer. The
 * server's features are still awaited first, so a failed discovery fails an append as before.
 */
function withUnaryAppends(client: EventStoreDBClient): EventStoreDBClient {
  const internals = client as unknown as { supports?: unknown };
  const supports = internals.supports;
  if (typeof supports === 'function') {
    internals.supports = async (method: { path: string }, ...rest: unknown[]): Promise<boolean> => {
      const supported: unknown = await supports.call(client, method, ...rest);
      return supported === true && method.path.toLowerCase() !== BATCH_APPEND_PATH;
    };
  }
  return client;
}

/** A client as the store uses it: see the two guards above. */
function guarded(client: EventStoreDBClient): EventStoreDBClient {
  return withUnaryAppends(withReconnectionGuarded(client));
}

export class EventStoreDbEventStore implements EventStore {
  readonly streamPrefix: string;
  private readonly resolveWithinMs: number;
  private current: EventStoreDBClient;
  /** How to make a fresh client, when this store made its own (`connect`). */
  private reconnect: (() => EventStoreDBClient) | null = null;

  constructor(client: EventStoreDBClient, options: EventStoreDbOptions = {}) {
    this.current = guarded(client);
    this.streamPrefix = options.streamPrefix ?? MODULE_STREAM_PREFIX;
    this.resolveWithinMs = options.resolveWithinMs ?? DEFAULT_RESOLVE_WITHIN_MS;
  }

  get client(): EventStoreDBClient {
    return this.current;
  }

  /**
   * A store with a client of its own (closed by `close`), from a connection string: `esdb://host:port` (one
   * node), `esdb://host1:port,host2:port,host3:port` or `esdb+discover://cluster-dns:port` (a cluster, whose
   * leader the client finds by gossip; `nodePreference=leader` is the client's default and what the adapter
   * needs, see ON_LEADER).
   */
  static connect(connectionString: string, options: EventStoreDbOptions = {}): EventStoreDbEventStore {
    const store = new EventStoreDbEventStore(EventStoreDBClient.connectionString(connectionString), options);
    store.reconnect = () => EventStoreDBClient.connectionString(connectionString);
    return store;
  }

  /** Optimistic: what the session read may be outdated by its append (a WrongExpectedVersionError). */
  withStream<T>(streamName: string, work: (session: StreamSession) => Promise<T>): Promise<T> {
    return work({
      tx: null,
      readStream: () => this.readStream(streamName),
      appendToStream: (events, expected) => this.appendToStream(streamName, events, expected),
    });
  }

  async appendToStream(streamName: string, events: EventToAppend[], expected: ExpectedRevision): Promise<AppendResult> {
    if (events.length === 0) throw new Error('appendToStream needs at least one event');
    let reply: AppendReply;
    try {
      reply = await this.send(streamName, events, expected);
    } catch (error) {
      if (!unreachable(error)) throw error;
      reply = await this.resolveUnknown(streamName, events, expected, error);
    }
    const { nextRevision, position } = reply;
    if (!position) throw new Error(`Append to ${streamName} succeeded without a position`);
    const first = nextRevision - events.length + 1;
    // The reply names the last event's position only; the others are read back (one small read). The
    // append is done whatever that read meets: if the node is lost meanwhile (a failover), the append's
    // position stands for all its events, as with servers that report no positions.
    const positions =
      events.length === 1
        ? [position]
        : await this.positionsOf(streamName, first, events, position).catch((error: unknown) => {
            if (unreachable(error)) return events.map(() => position);
            throw error;
          });
    const recorded = events.map(
      (event, i): RecordedEvent => ({
        id: event.id,
        streamName,
        revision: first + i,
        position: positions[i]!,
        type: event.type,
        data: event.data,
        metadata: event.metadata,
      }),
    );
    return { nextRevision, position, events: recorded };
  }

  /** One append request; the port's WrongExpectedVersionError when the expectation does not hold. */
  private async send(streamName: string, events: EventToAppend[], expected: ExpectedRevision): Promise<AppendReply> {
    const client = this.client;
    try {
      const result = await client.appendToStream(
        streamName,
        events.map((event) =>
          jsonEvent({ id: event.id, type: event.type, data: event.data as JSONType, metadata: storedMetadata(event.metadata) }),
        ),
        { expectedRevision: clientExpectation(expected), ...ON_LEADER },
      );
      return { nextRevision: Number(result.nextExpectedRevision), position: result.position };
    } catch (error) {
      if (error instanceof ClientWrongExpectedVersionError) {
        const actual = error.actualVersion === NO_STREAM ? null : Number(error.actualVersion);
        throw new WrongExpectedVersionError(streamName, expected, actual);
      }
      if (error instanceof Error && DISCOVERY_FAILED.test(error.message)) this.replaceClient(client);
      // The node refuses an append past its MaxAppendSize (1 MiB by default) and writes nothing: input the
      // store cannot hold, so a validation error, not a raw one (a body within the contract's 1,000,000
      // characters, sealed, can be larger).
      if (error instanceof MaxAppendSizeExceededError) {
        throw new InteractionValidationError({
          interaction: [`is too large for the event store: its events exceed EventStoreDB's MaxAppendSize of ${error.maxAppendSize} bytes`],
        });
      }
      throw error;
    }
  }

  /**
   * The client 6.2.1 remembers a failed discovery as its server features (an append during an election
   * that outlasts its ~1 s of discovery attempts), and from then on fails every append with it, though
   * reads recover: a store that made its own client replaces it (once per poisoned client). Its open
   * subscription ends with it; the projector resubscribes on the new one.
   */
  private replaceClient(poisoned: EventStoreDBClient): void {
    if (!this.reconnect || this.current !== poisoned) return;
    this.current = guarded(this.reconnect());
    void poisoned.dispose().catch(() => undefined);
  }

  /**
   * An append that timed out, lost its connection or was cancelled may have been written, or may still be
   * (a node answers Timeout while the write waits in its queue): never guessed. The same events (same ids)
   * are sent again with the same expectation until the server answers: EventStoreDB writes them once,
   * whichever request comes first, and acknowledges the other without writing (its idempotent write). A
   * WrongExpectedVersion means another writer moved the stream past the expected revision, so the first
   * request can never be written either: read back, ours are there (success) or nothing of ours ever will be.
   * With `any` there is no revision to pin, so only a read-back can say, and only when it finds them. Out of
   * time: `committed: 'unknown'`, marked as able to land later.
   */
  private async resolveUnknown(
    streamName: string,
    events: EventToAppend[],
    expected: ExpectedRevision,
    error: unknown,
  ): Promise<AppendReply> {
    const until = Date.now() + this.resolveWithinMs;
    let last = error;
    for (let attempt = 0; expected !== 'any' && Date.now() < until; attempt++) {
      try {
        const reply = await this.send(streamName, events, expected);
        // An idempotent repeat may be acknowledged without a position: the stream read back has it.
        return reply.position ? reply : ((await this.appended(streamName, events).catch(unlessUnavailable)) ?? reply);
      } catch (retryError) {
        if (retryError instanceof WrongExpectedVersionError) {
          const found = await this.appended(streamName, events).catch(unlessUnavailable);
          if (found) return found;
          throw retryError; // nothing of ours was written, and never will be
        }
        if (!unreachable(retryError)) {
          throw new InteractionUnavailableError(`EventStoreDB append failed: ${errorText(retryError)}`, 'unknown', {
            cause: retryError,
            mayStillLand: true,
          });
        }
        last = retryError;
      }
      await sleep(Math.min(RESEND_BACKOFF_MS.max, RESEND_BACKOFF_MS.first * 2 ** attempt, Math.max(0, until - Date.now())));
    }
    const found = await this.appended(streamName, events).catch(unlessUnavailable);
    if (found) return found;
    throw new InteractionUnavailableError(`EventStoreDB is unavailable: ${errorText(last)}`, 'unknown', {
      cause: last,
      mayStillLand: true,
    });
  }

  /** Where the stream holds these events (by id, consecutively), or null when it does not hold them. */
  private async appended(streamName: string, events: EventToAppend[]): Promise<AppendReply | null> {
    const stored = await this.readStream(streamName);
    const at = stored.findIndex((event) => event.id === events[0]!.id);
    if (at < 0) return null;
    const ours = stored.slice(at, at + events.length);
    if (ours.length !== events.length || !ours.every((event, i) => event.id === events[i]!.id)) {
      throw new Error(`${streamName} holds only part of an append (event ${events[0]!.id})`); // appends are atomic
    }
    const lastOfOurs = ours[ours.length - 1]!;
    // Servers that give no positions on stream reads: the head, at or after ours.
    return { nextRevision: lastOfOurs.revision, position: await knownPositionOr(this, lastOfOurs.position) };
  }

  async readStream(streamName: string): Promise<RecordedEvent[]> {
    const events: RecordedEvent[] = [];
    try {
      for await (const resolved of this.client.readStream(streamName, ON_LEADER)) {
        if (resolved.event) events.push(recordedFromClient(resolved.event));
      }
    } catch (error) {
      if (error instanceof StreamNotFoundError) return [];
      throw unavailable(error, false);
    }
    return events;
  }

  /** The module's events after `from`, read from `$all` with the prefix filter applied by the server. */
  async *readAll(from: Position = START, options: ReadAllOptions = {}): AsyncIterable<RecordedEvent[]> {
    const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
    let after = from;
    for (;;) {
      // Forward reads include the event at the start position: ask for one more and drop it.
      const origin = comparePositions(after, START) === 0 ? 'start' : after;
      const page = await readAllFiltered(this.client, origin, batchSize + 1, [this.streamPrefix]).catch((error: unknown) => {
        throw unavailable(error, false);
      });
      const fresh = page
        .filter((event) => comparePositions(event.position, after) > 0)
        .slice(0, batchSize)
        .map(recordedFromRaw);
      if (fresh.length === 0) return;
      yield fresh;
      if (page.length < batchSize + 1) return;
      after = fresh[fresh.length - 1]!.position;
    }
  }

  /** The position of the newest module event, or START when there is none. */
  async headPosition(): Promise<Position> {
    const [last] = await readAllFiltered(this.client, 'end', 1, [this.streamPrefix], 'backwards').catch((error: unknown) => {
      throw unavailable(error, false);
    });
    return last?.position ?? START;
  }

  /**
   * A catch-up subscription to `$all` after `from` (exclusive) with the server-side prefix filter: the
   * module's events, the server's checkpoints, then live events, until `close()` or an error.
   */
  subscribe(from: Position, options: { highWaterMark?: number } = {}): ModuleSubscription {
    let sink: ModuleSubscription | undefined;
    const source = this.client.subscribeToAll({
      fromPosition: comparePositions(from, START) === 0 ? FROM_START : from,
      filter: streamNameFilter({
        prefixes: [this.streamPrefix],
        checkpointReached: (_subscription, position) => sink?.checkpoint(position),
      }),
      ...ON_LEADER,
    });
    sink = new ModuleSubscription(source, options.highWaterMark ?? 2 * DEFAULT_BATCH_SIZE);
    return sink;
  }

  async close(): Promise<void> {
    await this.client.dispose();
  }

  private async positionsOf(
    streamName: string,
    first: number,
    events: EventToAppend[],
    last: Position,
  ): Promise<Position[]> {
    const stored: RecordedEvent[] = [];
    for await (const resolved of this.client.readStream(streamName, {
      fromRevision: BigInt(first),
      maxCount: events.length,
      ...ON_LEADER,
    })) {
      if (resolved.event) stored.push(recordedFromClient(resolved.event));
    }
    const sameEvents = stored.length === events.length && stored.every((event, i) => event.id === events[i]!.id);
    const knownPositions = stored.every((event) => isKnownPosition(event.position));
    // Servers that do not report positions on stream reads: the append's position stands for all its events.
    return sameEvents && knownPositions ? stored.map((event) => event.position) : events.map(() => last);
  }
}

/**
 * A running subscription as a queue the projector takes batches from. Pauses the client's stream when
 * the queue is long (back-pressure down to the server) and resumes it as the queue drains.
 */
export class ModuleSubscription {
  private readonly queue: SubscriptionItem[] = [];
  private failure: unknown = null;
  private ended = false;
  private wake: (() => void) | null = null;

  constructor(
    private readonly source: AllStreamSubscription,
    private readonly highWaterMark: number,
  ) {
    source.on('data', (resolved: AllStreamResolvedEvent) => {
      if (!resolved.event) return;
      this.push({ kind: 'event', event: recordedFromClient(resolved.event) });
      if (this.queue.length >= this.highWaterMark) source.pause();
    });
    source.on('confirmation', () => this.push({ kind: 'confirmed' }));
    source.on('caughtUp', () => this.push({ kind: 'caught-up' }));
    source.on('error', (error: unknown) => {
      this.failure ??= error;
      this.notify();
    });
    source.on('end', () => this.finish());
    source.on('close', () => this.finish());
  }

  /**
   * The server's checkpoint: queued only when every event the server sent before it has reached the queue
   * (nothing is left in the client's stream buffer), so it never overtakes one of them. Skipping one is
   * harmless: checkpoints only save re-reading after a restart.
   */
  checkpoint(position: Position): void {
    if (this.source.readableLength === 0) this.push({ kind: 'checkpoint', position });
  }

  /** Up to `max` items, waiting for the first; null once the subscription ended; throws its error. */
  async take(max: number): Promise<SubscriptionItem[] | null> {
    while (this.queue.length === 0) {
      if (this.failure) throw this.failure;
      if (this.ended) return null;
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
    const items = this.queue.splice(0, max);
    if (this.source.isPaused() && this.queue.length <= this.highWaterMark / 2) this.source.resume();
    return items;
  }

  /** Cancels the server call; a pending `take` returns null. */
  async close(): Promise<void> {
    this.finish();
    await Promise.race([this.source.unsubscribe().catch(() => undefined), new Promise((r) => setTimeout(r, 1000).unref())]);
  }

  private push(item: SubscriptionItem): void {
    this.queue.push(item);
    this.notify();
  }

  private finish(): void {
    this.ended = true;
    this.notify();
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }
}

function clientExpectation(expected: ExpectedRevision): AppendExpectedRevision {
  if (expected === 'any') return ANY;
  if (expected === 'no_stream') return NO_STREAM;
  return BigInt(expected);
}

/** The module's metadata plus EventStoreDB's own correlation keys. */
function storedMetadata(metadata: EventMetadata): JSONType {
  return {
    ...metadata,
    $correlationId: metadata.correlationId,
    ...(metadata.causationId !== null && { $causationId: metadata.causationId }),
  };
}

function moduleMetadata(stored: unknown): EventMetadata {
  if (!stored || typeof stored !== 'object' || stored instanceof Uint8Array) return stored as EventMetadata;
  return Object.fromEntries(Object.entries(stored).filter(([key]) => !key.startsWith('$'))) as unknown as EventMetadata;
}

interface ClientRecordedEvent {
  id: string;
  streamId: string;
  revision: bigint;
  type: string;
  data: unknown;
  metadata?: unknown;
  position?: Position;
}

function recordedFromClient(event: ClientRecordedEvent): RecordedEvent {
  return {
    id: event.id,
    streamName: event.streamId,
    revision: Number(event.revision),
    position: event.position ? { commit: event.position.commit, prepare: event.position.prepare } : UNKNOWN_POSITION,
    type: event.type,
    data: event.data,
    metadata: moduleMetadata(event.metadata),
  };
}

/** As the client decodes events: JSON when it parses, else the bytes. */
function recordedFromRaw(event: RawRecordedEvent): RecordedEvent {
  const json = (bytes: Uint8Array): unknown => {
    try {
      return JSON.parse(Buffer.from(bytes).toString('utf8'));
    } catch {
      return bytes;
    }
  };
  return {
    id: event.id,
    streamName: event.streamName,
    revision: Number(event.revision),
    position: event.position,
    type: event.type,
    data: event.contentType === 'application/json' ? json(event.data) : event.data,
    metadata: moduleMetadata(event.metadata.length > 0 ? json(event.metadata) : undefined),
  };
}

/** A read-back that could not reach the server tells nothing: null, as if it found nothing. */
function unlessUnavailable(error: unknown): null {
  if (error instanceof InteractionUnavailableError) return null;
  throw error;
}


