import type { CallOptions, Client as GrpcClient, Metadata } from '@grpc/grpc-js';
import { BaseOptions, convertToCommandError, EventStoreDBClient } from '@eventstore/db-client';
import { Empty, StreamIdentifier } from '@eventstore/db-client/generated/shared_pb';
import { StreamsClient } from '@eventstore/db-client/generated/streams_grpc_pb';
import { ReadReq, ReadResp } from '@eventstore/db-client/generated/streams_pb';
import { Position } from '../../ports/event-store';

/**
 * A counted, forward read of `$all` with a server-side stream-name prefix filter.
 *
 * The server supports it (Streams.Read with `all`, `count` and `filter`), but `readAll` of
 * @eventstore/db-client 6.x always sends `no_filter`. So this sends that ReadReq itself, through the
 * client's own channel and call arguments (connection settings, credentials, reconnection on
 * UNAVAILABLE), using the messages generated in the client's `generated/` folder. It relies on the
 * client's protected `execute`/`callArguments`, which are stable across 6.x; the adapter tests run it.
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
 * Up to `count` events of streams starting with one of `prefixes`, in `$all` order from `from`: forwards
 * inclusive (the server's forward reads include the record at the position they start from), or
 * backwards from before it.
 */
export function readAllFiltered(
  client: EventStoreDBClient,
  from: Position | 'start' | 'end',
  count: number,
  prefixes: string[],
  direction: 'forwards' | 'backwards' = 'forwards',
): Promise<RawRecordedEvent[]> {
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
        const call = grpc.read(request, ...plumbing.callArguments({}));
        call.on('data', (response: ReadResp) => {
          const event = response.getEvent()?.getEvent();
          if (event) events.push(rawEvent(event));
        });
        call.on('error', (error: Error) => reject(convertToCommandError(error)));
        call.on('end', () => resolve(events));
      }),
  );
}

function rawEvent(event: ReadResp.ReadEvent.RecordedEvent): RawRecordedEvent {
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
}

function structuredUuid(structured: { getMostSignificantBits(): string; getLeastSignificantBits(): string } | undefined): string {
  if (!structured) return '';
  const hex =
    BigInt.asUintN(64, BigInt(structured.getMostSignificantBits())).toString(16).padStart(16, '0') +
    BigInt.asUintN(64, BigInt(structured.getLeastSignificantBits())).toString(16).padStart(16, '0');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
