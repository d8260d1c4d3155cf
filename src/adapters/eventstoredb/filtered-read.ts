import type { CallOptions, Client as GrpcClient, Metadata } from '@grpc/grpc-js';
import {
  AllStreamRecordedEvent,
  AllStreamResolvedEvent,
  BACKWARDS,
  BaseOptions,
  convertToCommandError,
  END,
  EventStoreDBClient,
  START as FROM_START,
  streamNameFilter,
  StreamingRead,
} from '@eventstore/db-client';
import { comparePositions, Position } from '../../ports/event-store';

/**
 * Reads of `$all` with a stream-name prefix filter applied by the server. The client 6.x has no public
 * filtered read (`readAll` always sends `no_filter`), so on a client version whose internals were checked
 * (VERIFIED_CLIENT_VERSIONS) the filtered ReadReq is sent through its protected `execute`/`callArguments`.
 * On any other version only the public API is used: forwards, a catch-up `subscribeToAll` with
 * `streamNameFilter`, stopped at the head of `$all` captured first; backwards, a scan of `$all` filtered
 * here. Both give the same events; the public forward read is slower (the client decodes each event's JSON
 * and the adapter decodes it again from the bytes): ~40% on a rebuild from the test server.
 */

export interface RawRecordedEvent {
  id: string;
  streamName: string;
  revision: bigint;
  position: Position;
  type: string;
  contentType: string;
  data: Uint8Array;
  metadata: Uint8Array;
}

/**
 * Client versions whose protected `execute`/`callArguments` and `generated/` messages were checked against
 * this file (test/esdb/filtered-read.spec.ts fails on any other installed version until it is added here).
 */
export const VERIFIED_CLIENT_VERSIONS: readonly string[] = ['6.2.1'];

// The package has no `exports` map: its package.json is readable by path.
// eslint-disable-next-line @typescript-eslint/no-require-imports
export const CLIENT_VERSION: string = (require('@eventstore/db-client/package.json') as { version: string }).version;

export function usesClientInternals(version: string = CLIENT_VERSION): boolean {
  return VERIFIED_CLIENT_VERSIONS.includes(version);
}

/**
 * Up to `count` events of streams starting with one of `prefixes`, in `$all` order: forwards from `from`,
 * or backwards from before it. A forward read may or may not include the event at `from` (the server's
 * read does, a subscription does not): callers drop what is not after it.
 */
export function readAllFiltered(
  client: EventStoreDBClient,
  from: Position | 'start' | 'end',
  count: number,
  prefixes: string[],
  direction: 'forwards' | 'backwards' = 'forwards',
  options: BaseOptions = {},
): Promise<RawRecordedEvent[]> {
  if (usesClientInternals()) return readThroughInternals(client, from, count, prefixes, direction, options);
  return direction === 'forwards'
    ? readForwardsSubscribing(client, from, count, prefixes, options)
    : readBackwardsScanning(client, from, count, prefixes, options);
}

/**
 * A catch-up subscription that stops at `count` events, at the captured head (an event or a filtered
 * checkpoint at or past it), or when the server says it caught up: whichever comes first. Nothing after
 * the captured head is returned, so a read racing appends still ends where it began.
 */
export async function readForwardsSubscribing(
  client: EventStoreDBClient,
  from: Position | 'start' | 'end',
  count: number,
  prefixes: string[],
  options: BaseOptions = {},
): Promise<RawRecordedEvent[]> {
  const head = await headOfAll(client, options);
  if (count <= 0 || from === 'end' || !head || (from !== 'start' && comparePositions(from, head) >= 0)) return [];
  const events: RawRecordedEvent[] = [];
  return new Promise<RawRecordedEvent[]>((resolve, reject) => {
    let settled = false;
    const finish = (error?: unknown): void => {
      if (settled) return;
      settled = true;
      // Its call may never have started (a failed discovery): then unsubscribing rejects, with nobody to hear it.
      void subscription.unsubscribe().catch(() => undefined);
      if (error) reject(error);
      else resolve(events);
    };
    const subscription = client.subscribeToAll({
      fromPosition: from === 'start' ? FROM_START : from,
      filter: streamNameFilter({
        prefixes,
        checkpointReached: (_subscription, position) => {
          if (comparePositions(position, head) >= 0) finish();
        },
      }),
      ...options,
    });
    subscription.on('data', ({ event }: { event?: AllStreamRecordedEvent }) => {
      if (settled || !event?.position) return;
      const past = comparePositions(event.position, head);
      if (past <= 0) events.push(rawFromClient(event));
      if (past >= 0 || events.length >= count) finish();
    });
    subscription.on('caughtUp', () => finish());
    subscription.on('error', (error: Error) => finish(error));
    subscription.on('end', () => finish(new Error('the subscription to $all ended before the head of $all')));
  });
}

/** The position of the last event in `$all` (any stream), or null when it is empty. */
async function headOfAll(client: EventStoreDBClient, options: BaseOptions): Promise<Position | null> {
  let head: Position | null = null;
  await consume(client.readAll({ direction: BACKWARDS, fromPosition: END, maxCount: 1, ...options }), ({ event }) => {
    head = event?.position ?? head;
    return head !== null;
  });
  return head;
}

/** The public fallback: `$all` backwards without a filter, keeping the prefixed streams' events. */
export async function readBackwardsScanning(
  client: EventStoreDBClient,
  from: Position | 'start' | 'end',
  count: number,
  prefixes: string[],
  options: BaseOptions = {},
): Promise<RawRecordedEvent[]> {
  const events: RawRecordedEvent[] = [];
  if (count <= 0 || from === 'start') return events;
  const read = client.readAll({ direction: BACKWARDS, fromPosition: from === 'end' ? END : from, ...options });
  await consume(read, ({ event }) => {
    if (event?.position && prefixes.some((prefix) => event.streamId.startsWith(prefix))) events.push(rawFromClient(event));
    return events.length >= count;
  });
  return events;
}

/**
 * Hands each event of a read to `enough` until it returns true, then cancels the read. The read is drained
 * to its end meanwhile rather than left (a `for await` left early leaves the call open when the server had
 * already finished it, and the client waits for it on dispose).
 */
function consume(read: StreamingRead<AllStreamResolvedEvent>, enough: (resolved: AllStreamResolvedEvent) => boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    let done = false;
    const settle = (error?: unknown): void => {
      if (done) return;
      done = true;
      if (error) reject(error);
      else resolve();
    };
    read.on('data', (resolved: AllStreamResolvedEvent) => {
      if (done || !enough(resolved)) return;
      void read.cancel().catch(() => undefined);
      settle();
    });
    read.on('error', settle);
    read.on('end', () => settle());
  });
}

/**
 * The event as the server sent it, from the client's decoding: JSON parsed (or, when it does not parse, the
 * text), other content as bytes. A JSON string whose text is not JSON itself comes back as that text.
 */
function rawFromClient(event: AllStreamRecordedEvent): RawRecordedEvent {
  const malformed = event.isJson && typeof event.data === 'string' && !parses(event.data);
  return {
    id: event.id,
    streamName: event.streamId,
    revision: event.revision,
    position: event.position!,
    type: event.type,
    contentType: event.isJson ? 'application/json' : 'application/octet-stream',
    data: malformed ? Buffer.from(event.data as string, 'utf8') : jsonBytes(event.data),
    metadata: jsonBytes(event.metadata),
  };
}

function jsonBytes(value: unknown): Uint8Array {
  if (value === undefined) return new Uint8Array();
  return value instanceof Uint8Array ? value : Buffer.from(JSON.stringify(value), 'utf8');
}

function parses(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

// ---- The filtered read through the client's internals (VERIFIED_CLIENT_VERSIONS only). ----

/** The client's protected plumbing, typed for the two members used here. */
interface ClientPlumbing {
  execute<C extends GrpcClient, T>(
    Client: new (...args: never[]) => C,
    debugName: string,
    action: (client: C) => Promise<T>,
  ): Promise<T>;
  callArguments(options: BaseOptions, callOptions?: CallOptions): [Metadata, CallOptions];
}

/**
 * Streams.Read with `all`, `count` and `filter`, which `readAll` of the client 6.x never sends. As the
 * server reads: forwards from a position includes the event there.
 */
export function readThroughInternals(
  client: EventStoreDBClient,
  from: Position | 'start' | 'end',
  count: number,
  prefixes: string[],
  direction: 'forwards' | 'backwards',
  options: BaseOptions = {},
): Promise<RawRecordedEvent[]> {
  return sendFilteredRead(client, from, count, prefixes, direction, options);
}

function sendFilteredRead(
  client: EventStoreDBClient,
  from: Position | 'start' | 'end',
  count: number,
  prefixes: string[],
  direction: 'forwards' | 'backwards',
  options: BaseOptions,
): Promise<RawRecordedEvent[]> {
  // Loaded only here, so another client version that moved them still loads this module.
  /* eslint-disable @typescript-eslint/no-require-imports */
  const { Empty, StreamIdentifier } = require('@eventstore/db-client/generated/shared_pb') as typeof import('@eventstore/db-client/generated/shared_pb');
  const { StreamsClient } = require('@eventstore/db-client/generated/streams_grpc_pb') as typeof import('@eventstore/db-client/generated/streams_grpc_pb');
  const { ReadReq } = require('@eventstore/db-client/generated/streams_pb') as typeof import('@eventstore/db-client/generated/streams_pb');
  /* eslint-enable @typescript-eslint/no-require-imports */
  type ReadEvent = import('@eventstore/db-client/generated/streams_pb').ReadResp.ReadEvent.RecordedEvent;
  type Structured = { getMostSignificantBits(): string; getLeastSignificantBits(): string } | undefined;

  const structuredUuid = (structured: Structured): string => {
    if (!structured) return '';
    const hex =
      BigInt.asUintN(64, BigInt(structured.getMostSignificantBits())).toString(16).padStart(16, '0') +
      BigInt.asUintN(64, BigInt(structured.getLeastSignificantBits())).toString(16).padStart(16, '0');
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  };
  const rawEvent = (event: ReadEvent): RawRecordedEvent => {
    const metadata = event.getMetadataMap();
    const id = event.getId();
    return {
      id: id?.hasString() ? id.getString() : structuredUuid(id?.getStructured()),
      streamName: Buffer.from((event.getStreamIdentifier() ?? new StreamIdentifier()).getStreamName_asU8()).toString('utf8'),
      revision: BigInt(event.getStreamRevision()),
      position: { commit: BigInt(event.getCommitPosition()), prepare: BigInt(event.getPreparePosition()) },
      type: metadata.get('type') ?? '',
      contentType: metadata.get('content-type') ?? 'application/octet-stream',
      data: event.getData_asU8(),
      metadata: event.getCustomMetadata_asU8(),
    };
  };

  const all = new ReadReq.Options.AllOptions();
  if (from === 'start') all.setStart(new Empty());
  else if (from === 'end') all.setEnd(new Empty());
  else {
    all.setPosition(
      new ReadReq.Options.Position().setCommitPosition(from.commit.toString()).setPreparePosition(from.prepare.toString()),
    );
  }
  const filter = new ReadReq.Options.FilterOptions()
    .setStreamIdentifier(new ReadReq.Options.FilterOptions.Expression().setPrefixList(prefixes))
    .setCount(new Empty())
    .setCheckpointintervalmultiplier(1);
  const request = new ReadReq().setOptions(
    new ReadReq.Options()
      .setAll(all)
      .setReadDirection(
        direction === 'forwards' ? ReadReq.Options.ReadDirection.FORWARDS : ReadReq.Options.ReadDirection.BACKWARDS,
      )
      .setResolveLinks(false)
      .setCount(String(count))
      .setFilter(filter)
      .setUuidOption(new ReadReq.Options.UUIDOption().setString(new Empty())),
  );
  const plumbing = client as unknown as ClientPlumbing;
  return plumbing.execute(
    StreamsClient,
    'readAllFiltered',
    (grpc) =>
      new Promise<RawRecordedEvent[]>((resolve, reject) => {
        const events: RawRecordedEvent[] = [];
        const call = grpc.read(request, ...plumbing.callArguments(options));
        call.on('data', (response: { getEvent(): { getEvent(): ReadEvent | undefined } | undefined }) => {
          const event = response.getEvent()?.getEvent();
          if (event) events.push(rawEvent(event));
        });
        call.on('error', (error: Error) => reject(convertToCommandError(error)));
        call.on('end', () => resolve(events));
      }),
  );
}
