import * as grpc from '@grpc/grpc-js';
import { Empty as GoogleEmpty } from 'google-protobuf/google/protobuf/empty_pb';
import * as shared from '@eventstore/db-client/generated/shared_pb';
import * as streams from '@eventstore/db-client/generated/streams_pb';
import { EventFilter, EventLog, Expected, LINK_EVENT_TYPE, ProposedEvent, StoredEvent } from './log';

/**
 * Conversions between the protocol messages (the classes generated in @eventstore/db-client's
 * `generated/` folder from the server's .proto files) and the test server's log.
 */

/** A gRPC error as the server raises it: status, message and the `exception` trailer clients map. */
export function rpcError(code: grpc.status, details: string, trailers: Record<string, string> = {}): grpc.ServiceError {
  const metadata = new grpc.Metadata();
  for (const [key, value] of Object.entries(trailers)) metadata.set(key, value);
  return Object.assign(new Error(details), { code, details, metadata });
}

export function streamNameOf(identifier: shared.StreamIdentifier | undefined): string {
  const name = identifier?.getStreamName_asU8();
  if (!name || name.length === 0) throw rpcError(grpc.status.INVALID_ARGUMENT, 'Required argument: stream identifier');
  return Buffer.from(name).toString('utf8');
}

export function streamIdentifier(name: string): shared.StreamIdentifier {
  return new shared.StreamIdentifier().setStreamName(Buffer.from(name, 'utf8'));
}

/** A UUID message as a lower-case string (clients send either form). */
export function uuidOf(message: shared.UUID | undefined): string {
  if (!message) throw rpcError(grpc.status.INVALID_ARGUMENT, 'Required argument: event id');
  if (message.hasString()) return message.getString().toLowerCase();
  const structured = message.getStructured();
  if (!structured) throw rpcError(grpc.status.INVALID_ARGUMENT, 'Malformed UUID');
  const hex =
    BigInt.asUintN(64, BigInt(structured.getMostSignificantBits())).toString(16).padStart(16, '0') +
    BigInt.asUintN(64, BigInt(structured.getLeastSignificantBits())).toString(16).padStart(16, '0');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** A UUID message in the form the read asked for (`uuid_option`: string or structured). */
export function uuidMessage(id: string, structured: boolean): shared.UUID {
  const message = new shared.UUID();
  if (!structured) return message.setString(id);
  const hex = id.replace(/-/g, '');
  return message.setStructured(
    new shared.UUID.Structured()
      .setMostSignificantBits(BigInt.asIntN(64, BigInt(`0x${hex.slice(0, 16)}`)).toString())
      .setLeastSignificantBits(BigInt.asIntN(64, BigInt(`0x${hex.slice(16)}`)).toString()),
  );
}

/** A proposed message of Append or BatchAppend; `type` and `content-type` are required metadata. */
export function proposedEvent(
  message: streams.AppendReq.ProposedMessage | streams.BatchAppendReq.ProposedMessage,
): ProposedEvent {
  const metadata = message.getMetadataMap();
  for (const key of ['type', 'content-type']) {
    if (!metadata.get(key)) {
      throw rpcError(grpc.status.INVALID_ARGUMENT, `Required Metadata Property '${key}' is missing`, {
        exception: 'missing-required-metadata-property',
        'required-metadata-properties': 'type,content-type',
      });
    }
  }
  return {
    id: uuidOf(message.getId()),
    type: metadata.get('type')!,
    contentType: metadata.get('content-type')!,
    data: message.getData_asU8(),
    metadata: message.getCustomMetadata_asU8(),
  };
}

export function expectedOfAppend(options: streams.AppendReq.Options): Expected {
  const Case = streams.AppendReq.Options.ExpectedStreamRevisionCase;
  switch (options.getExpectedStreamRevisionCase()) {
    case Case.ANY:
      return { kind: 'any' };
    case Case.NO_STREAM:
      return { kind: 'no_stream' };
    case Case.STREAM_EXISTS:
      return { kind: 'stream_exists' };
    case Case.REVISION:
      return { kind: 'revision', revision: BigInt(options.getRevision()) };
    default:
      throw rpcError(grpc.status.INVALID_ARGUMENT, 'Expected stream revision is not set');
  }
}

export function expectedOfBatch(options: streams.BatchAppendReq.Options): Expected {
  const Case = streams.BatchAppendReq.Options.ExpectedStreamPositionCase;
  switch (options.getExpectedStreamPositionCase()) {
    case Case.ANY:
      return { kind: 'any' };
    case Case.NO_STREAM:
      return { kind: 'no_stream' };
    case Case.STREAM_EXISTS:
      return { kind: 'stream_exists' };
    case Case.STREAM_POSITION:
      return { kind: 'revision', revision: BigInt(options.getStreamPosition()) };
    default:
      throw rpcError(grpc.status.INVALID_ARGUMENT, 'Expected stream position is not set');
  }
}

/** The shared WrongExpectedVersion details (as packed into BatchAppend's google.rpc.Status). */
export function wrongExpectedVersionDetails(expected: Expected, currentRevision: bigint): shared.WrongExpectedVersion {
  const details = new shared.WrongExpectedVersion();
  const empty = () => new GoogleEmpty();
  if (currentRevision < 0n) details.setCurrentNoStream(empty());
  else details.setCurrentStreamRevision(currentRevision.toString());
  switch (expected.kind) {
    case 'any':
      details.setExpectedAny(empty());
      break;
    case 'no_stream':
      details.setExpectedNoStream(empty());
      break;
    case 'stream_exists':
      details.setExpectedStreamExists(empty());
      break;
    case 'revision':
      details.setExpectedStreamPosition(expected.revision.toString());
      break;
  }
  return details;
}

/** Append's own reply for a failed expectation, with the pre-21.x ("2060") fields set alongside. */
export function appendWrongExpectedVersion(expected: Expected, currentRevision: bigint): streams.AppendResp {
  const wrong = new streams.AppendResp.WrongExpectedVersion();
  const empty = () => new shared.Empty();
  switch (expected.kind) {
    case 'any':
      wrong.setExpectedAny(empty()).setAny2060(empty());
      break;
    case 'stream_exists':
      wrong.setExpectedStreamExists(empty()).setStreamExists2060(empty());
      break;
    case 'no_stream':
      // The 20.6.0 field had no "no stream" case; servers send the maximum revision there.
      wrong.setExpectedNoStream(empty()).setExpectedRevision2060(Number.MAX_SAFE_INTEGER);
      break;
    case 'revision':
      wrong.setExpectedRevision(expected.revision.toString()).setExpectedRevision2060(Number(expected.revision));
      break;
  }
  if (currentRevision < 0n) wrong.setCurrentNoStream(empty()).setNoStream2060(empty());
  else wrong.setCurrentRevision(currentRevision.toString()).setCurrentRevision2060(Number(currentRevision));
  return new streams.AppendResp().setWrongExpectedVersion(wrong);
}

function recordedEvent(event: StoredEvent, structuredIds: boolean): streams.ReadResp.ReadEvent.RecordedEvent {
  const recorded = new streams.ReadResp.ReadEvent.RecordedEvent()
    .setId(uuidMessage(event.id, structuredIds))
    .setStreamIdentifier(streamIdentifier(event.streamName))
    .setStreamRevision(event.revision.toString())
    .setCommitPosition(event.position.toString())
    .setPreparePosition(event.position.toString())
    .setData(event.data)
    .setCustomMetadata(event.metadata);
  recorded
    .getMetadataMap()
    .set('type', event.type)
    .set('created', event.created.toString())
    .set('content-type', event.contentType);
  return recorded;
}

/**
 * One event of a read or subscription. With `resolveLinks`, a link event (`$>`) is sent as the event it
 * points to, with the link alongside; a link whose event is not there is sent as the link alone (no event),
 * as a node sends a link it failed to resolve.
 */
export function eventResponse(event: StoredEvent, plan: Pick<ReadPlan, 'structuredIds' | 'resolveLinks'>, log: EventLog): streams.ReadResp {
  const read = new streams.ReadResp.ReadEvent().setCommitPosition(event.position.toString());
  if (plan.resolveLinks && event.type === LINK_EVENT_TYPE) {
    const target = log.linkTarget(event);
    if (target) read.setEvent(recordedEvent(target, plan.structuredIds));
    read.setLink(recordedEvent(event, plan.structuredIds));
  } else {
    read.setEvent(recordedEvent(event, plan.structuredIds));
  }
  return new streams.ReadResp().setEvent(read);
}

export function checkpointResponse(position: bigint): streams.ReadResp {
  return new streams.ReadResp().setCheckpoint(
    new streams.ReadResp.Checkpoint().setCommitPosition(position.toString()).setPreparePosition(position.toString()),
  );
}

export function confirmationResponse(subscriptionId: string): streams.ReadResp {
  return new streams.ReadResp().setConfirmation(
    new streams.ReadResp.SubscriptionConfirmation().setSubscriptionId(subscriptionId),
  );
}

export function caughtUpResponse(): streams.ReadResp {
  return new streams.ReadResp().setCaughtUp(new streams.ReadResp.CaughtUp());
}

export function streamNotFoundResponse(streamName: string): streams.ReadResp {
  return new streams.ReadResp().setStreamNotFound(
    new streams.ReadResp.StreamNotFound().setStreamIdentifier(streamIdentifier(streamName)),
  );
}

/** Where a read or subscription starts; `position` is a byte position of `$all`, `revision` of a stream. */
export type Origin = { kind: 'start' } | { kind: 'end' } | { kind: 'position'; position: bigint } | { kind: 'revision'; revision: bigint };

export interface ReadPlan {
  target: { kind: 'all' } | { kind: 'stream'; name: string };
  origin: Origin;
  backwards: boolean;
  /** null: a subscription. */
  count: bigint | null;
  filter: EventFilter | null;
  /** Events considered (matching or not) between two checkpoints of a filtered `$all` subscription. */
  checkpointInterval: number;
  structuredIds: boolean;
  /** Link events are read as the events they point to (`resolveLinkTos`). */
  resolveLinks: boolean;
}

/** The server's default search window of a filtered read when the client asks for `count` (no max). */
export const DEFAULT_SEARCH_WINDOW = 32;

export function readPlan(request: streams.ReadReq): ReadPlan {
  const options = request.getOptions();
  if (!options) throw rpcError(grpc.status.INVALID_ARGUMENT, 'Required argument: options');
  const uuidOption = options.getUuidOption();
  if (!uuidOption) throw rpcError(grpc.status.INVALID_ARGUMENT, "'uuidOption' is a required argument");
  const Options = streams.ReadReq.Options;

  let target: ReadPlan['target'];
  let origin: Origin;
  if (options.getStreamOptionCase() === Options.StreamOptionCase.STREAM) {
    const stream = options.getStream()!;
    target = { kind: 'stream', name: streamNameOf(stream.getStreamIdentifier()) };
    const Case = Options.StreamOptions.RevisionOptionCase;
    origin =
      stream.getRevisionOptionCase() === Case.REVISION
        ? { kind: 'revision', revision: BigInt(stream.getRevision()) }
        : stream.getRevisionOptionCase() === Case.END
          ? { kind: 'end' }
          : { kind: 'start' };
  } else if (options.getStreamOptionCase() === Options.StreamOptionCase.ALL) {
    const all = options.getAll()!;
    target = { kind: 'all' };
    const Case = Options.AllOptions.AllOptionCase;
    if (all.getAllOptionCase() === Case.POSITION) {
      const position = all.getPosition()!;
      if (position.getCommitPosition() !== position.getPreparePosition()) {
        // Every record of this log is self-committed: a position names one record, commit === prepare.
        throw rpcError(grpc.status.INVALID_ARGUMENT, 'Trying to read from an invalid position.');
      }
      origin = { kind: 'position', position: BigInt(position.getCommitPosition()) };
    } else {
      origin = all.getAllOptionCase() === Case.END ? { kind: 'end' } : { kind: 'start' };
    }
  } else {
    throw rpcError(grpc.status.INVALID_ARGUMENT, 'Read options name neither a stream nor $all');
  }

  const subscription = options.getCountOptionCase() === Options.CountOptionCase.SUBSCRIPTION;
  let filter: EventFilter | null = null;
  let checkpointInterval = DEFAULT_SEARCH_WINDOW;
  if (options.getFilterOptionCase() === Options.FilterOptionCase.FILTER) {
    if (target.kind !== 'all') throw rpcError(grpc.status.INVALID_ARGUMENT, 'Filters apply to $all only');
    const filterOptions = options.getFilter()!;
    const FilterCase = Options.FilterOptions.FilterCase;
    const on = filterOptions.getFilterCase() === FilterCase.EVENT_TYPE ? 'type' : 'stream';
    const expression = on === 'type' ? filterOptions.getEventType() : filterOptions.getStreamIdentifier();
    if (!expression) throw rpcError(grpc.status.INVALID_ARGUMENT, 'Filter expression is not set');
    filter = {
      on,
      prefixes: expression.getPrefixList(),
      regex: expression.getRegex() ? new RegExp(expression.getRegex()) : null,
    };
    const window =
      filterOptions.getWindowCase() === Options.FilterOptions.WindowCase.MAX ? filterOptions.getMax() : DEFAULT_SEARCH_WINDOW;
    const multiplier = filterOptions.getCheckpointintervalmultiplier();
    if (subscription && multiplier <= 0) {
      throw rpcError(grpc.status.INVALID_ARGUMENT, 'Checkpoint interval multiplier must be greater than 0');
    }
    checkpointInterval = Math.max(1, multiplier) * window;
  }

  return {
    target,
    origin,
    backwards: options.getReadDirection() === Options.ReadDirection.BACKWARDS,
    count: subscription ? null : BigInt(options.getCount() || '0'),
    filter,
    checkpointInterval,
    structuredIds: uuidOption.getContentCase() === Options.UUIDOption.ContentCase.STRUCTURED,
    resolveLinks: options.getResolveLinks(),
  };
}
