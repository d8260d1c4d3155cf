/**
 * The in-memory transaction log of the protocol test server.
 *
 * It follows the semantics of an EventStoreDB/KurrentDB single node as far as the gRPC clients can see them:
 * - every event is a record at a byte position of the log; its `$all` position is (commit, prepare) with
 *   commit === prepare === that byte position (a "self-committed prepare", as modern servers write them);
 *   the positions of one append are consecutive records, so they increase inside an append as well;
 * - stream revisions count from 0; `-1` means "no stream";
 * - an append checks the expected revision (any / no_stream / stream_exists / exact) atomically with the write;
 *   repeating an append whose events (same ids) are already there at the expected place succeeds without
 *   writing anything (the server's idempotent write), for `no_stream` and exact expectations;
 * - a link event (type `$>`, data "revision@stream") points to another event; reads that ask for it resolve it;
 * - reads of `$all` apply the server's default `$all` filter (system streams are visible except
 *   `$epoch-information` and the persistent-subscription-to-`$all` checkpoint/parked streams).
 */

export interface ProposedEvent {
  id: string;
  type: string;
  contentType: string;
  data: Uint8Array;
  metadata: Uint8Array;
}

export interface StoredEvent extends ProposedEvent {
  streamName: string;
  revision: bigint;
  /** Log position of the record: commit and prepare position of the event in `$all`. */
  position: bigint;
  /** .NET ticks (100 ns) since the Unix epoch, as the server's `created` metadata. */
  created: bigint;
}

export type Expected =
  | { kind: 'any' }
  | { kind: 'no_stream' }
  | { kind: 'stream_exists' }
  | { kind: 'revision'; revision: bigint };

export type AppendOutcome =
  | { ok: true; events: StoredEvent[]; currentRevision: bigint; position: bigint | null }
  /** `currentRevision` -1n: the stream does not exist. */
  | { ok: false; currentRevision: bigint };

/** Events whose `$all` visibility a filter decides (stream name or event type; prefixes or a regex). */
export interface EventFilter {
  on: 'stream' | 'type';
  prefixes: string[];
  regex: RegExp | null;
}

/** The type of a link event (as projections such as `$by_category` write them). */
export const LINK_EVENT_TYPE = '$>';

/** A fresh log does not start at 0: the real one starts with the chunk header and system records. */
const FIRST_POSITION = 128n;
/** Fixed part of a record's size on disk (record header, ids, flags, timestamps). */
const RECORD_OVERHEAD = 96;
const TICKS_PER_MS = 10_000n;
const encoder = new TextEncoder();

export class EventLog {
  private readonly records: StoredEvent[] = [];
  private readonly streams = new Map<string, StoredEvent[]>();
  private nextPosition = FIRST_POSITION;
  private waiters: Array<() => void> = [];

  /** Position of the next record: every stored event is before it. */
  get head(): bigint {
    return this.nextPosition;
  }

  get size(): number {
    return this.records.length;
  }

  lastRevision(streamName: string): bigint {
    const stream = this.streams.get(streamName);
    return stream ? BigInt(stream.length - 1) : -1n;
  }

  append(streamName: string, proposed: readonly ProposedEvent[], expected: Expected): AppendOutcome {
    const stream = this.streams.get(streamName) ?? [];
    const current = BigInt(stream.length - 1);
    if (!expectationHolds(expected, current)) {
      const repeated = this.alreadyWritten(stream, proposed, expected);
      if (repeated) return repeated;
      return { ok: false, currentRevision: current };
    }
    if (proposed.length === 0) {
      // An empty write succeeds without writing; there is no position to report.
      return { ok: true, events: [], currentRevision: current, position: null };
    }
    const created = BigInt(Date.now()) * TICKS_PER_MS;
    const written = proposed.map((event, i): StoredEvent => {
      const record: StoredEvent = {
        ...event,
        id: event.id.toLowerCase(),
        streamName,
        revision: current + 1n + BigInt(i),
        position: this.nextPosition,
        created,
      };
      this.nextPosition += BigInt(recordSize(record));
      return record;
    });
    this.streams.set(streamName, [...stream, ...written]);
    this.records.push(...written);
    this.notify();
    const last = written[written.length - 1]!;
    return { ok: true, events: written, currentRevision: last.revision, position: last.position };
  }

  /** The events of a stream in revision order; undefined when the stream does not exist. */
  stream(streamName: string): readonly StoredEvent[] | undefined {
    return this.streams.get(streamName);
  }

  /** The event a link event points to (its data: "revision@stream"); undefined when it is not there. */
  linkTarget(link: StoredEvent): StoredEvent | undefined {
    const target = /^(\d+)@(.+)$/s.exec(Buffer.from(link.data).toString('utf8'));
    return target ? this.streams.get(target[2]!)?.[Number(target[1])] : undefined;
  }

  /** Index of the first record at or after `position` (records are sorted by position). */
  indexAtOrAfter(position: bigint): number {
    let low = 0;
    let high = this.records.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (this.records[mid]!.position < position) low = mid + 1;
      else high = mid;
    }
    return low;
  }

  recordAt(index: number): StoredEvent | undefined {
    return this.records[index];
  }

  /** Resolves at the next append (or at `abort`). */
  changed(signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal?.aborted) return resolve();
      const wake = () => {
        signal?.removeEventListener('abort', wake);
        this.waiters = this.waiters.filter((w) => w !== wake);
        resolve();
      };
      this.waiters.push(wake);
      signal?.addEventListener('abort', wake);
    });
  }

  private notify(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }

  /**
   * The idempotent write: the same events (by id) are already stored right after the expected revision.
   * Reported as a success with the revision and position of the last of them; nothing is written.
   */
  private alreadyWritten(
    stream: readonly StoredEvent[],
    proposed: readonly ProposedEvent[],
    expected: Expected,
  ): AppendOutcome | null {
    if (proposed.length === 0) return null;
    let first: number;
    if (expected.kind === 'no_stream') first = 0;
    else if (expected.kind === 'revision') first = Number(expected.revision) + 1;
    else return null;
    const stored = stream.slice(first, first + proposed.length);
    if (stored.length !== proposed.length) return null;
    if (!stored.every((event, i) => event.id === proposed[i]!.id.toLowerCase())) return null;
    const last = stored[stored.length - 1]!;
    return { ok: true, events: [], currentRevision: last.revision, position: last.position };
  }
}

function expectationHolds(expected: Expected, current: bigint): boolean {
  switch (expected.kind) {
    case 'any':
      return true;
    case 'no_stream':
      return current === -1n;
    case 'stream_exists':
      return current >= 0n;
    case 'revision':
      return current === expected.revision;
  }
}

function recordSize(event: StoredEvent): number {
  return (
    RECORD_OVERHEAD +
    encoder.encode(event.streamName).length +
    encoder.encode(event.type).length +
    event.data.length +
    event.metadata.length
  );
}

/** The server's default filter of `$all`: what any read or subscription of `$all` leaves out. */
export function visibleInAll(event: StoredEvent): boolean {
  const stream = event.streamName;
  if (!stream.startsWith('$')) return true;
  if (stream === '$epoch-information') return false;
  if (stream.startsWith('$persistentsubscription-$all::') && (stream.endsWith('-checkpoint') || stream.endsWith('-parked'))) {
    return false;
  }
  return true;
}

/** A filter of a `$all` read or subscription: the default filter, then prefixes (any) or the regex. */
export function allows(filter: EventFilter | null, event: StoredEvent): boolean {
  if (!visibleInAll(event)) return false;
  if (!filter) return true;
  const subject = filter.on === 'stream' ? event.streamName : event.type;
  if (filter.regex) return filter.regex.test(subject);
  return filter.prefixes.some((prefix) => subject.startsWith(prefix));
}
