import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { EventStoreDBClient, jsonEvent } from '@eventstore/db-client';
import {
  CLIENT_VERSION,
  RawRecordedEvent,
  readAllFiltered,
  readBackwardsScanning,
  readForwardsSubscribing,
  readThroughInternals,
  usesClientInternals,
  VERIFIED_CLIENT_VERSIONS,
} from '../../src/adapters/eventstoredb/filtered-read';
import { comparePositions, Position } from '../../src/ports/event-store';
import { EsdbUnderTest, eventually, startEsdb, unhandledRejectionsDuring } from './support';

// The filtered reads of `$all` under the adapter's readAll and headPosition, through the client internals
// (checked client versions) and through the public API (any other), which must agree. Streams get a
// prefix of the test's own, so the tests also hold on a shared KURRENTDB_URL.

it('the installed @eventstore/db-client is a version whose internals filtered-read.ts was checked against', () => {
  // Failing here means the client was upgraded: the filtered reads fall back to the public API (correct,
  // slower) until the internal read is checked against the new version (run this file) and it is listed.
  if (!VERIFIED_CLIENT_VERSIONS.includes(CLIENT_VERSION)) {
    throw new Error(
      `@eventstore/db-client ${CLIENT_VERSION} is not among VERIFIED_CLIENT_VERSIONS (${VERIFIED_CLIENT_VERSIONS.join(', ')}) ` +
        'of src/adapters/eventstoredb/filtered-read.ts: check its use of the client internals, then add the version',
    );
  }
  expect(usesClientInternals()).toBe(true);
});

it('uses the client internals on a checked version only', () => {
  expect(usesClientInternals('6.2.1')).toBe(true);
  expect(usesClientInternals('6.3.0')).toBe(false);
  expect(usesClientInternals('7.0.0')).toBe(false);
  expect(usesClientInternals('')).toBe(false);
});

type Read = (
  client: EventStoreDBClient,
  from: Position | 'start' | 'end',
  count: number,
  prefixes: string[],
  direction?: 'forwards' | 'backwards',
) => Promise<RawRecordedEvent[]>;

const READS: [string, Read][] = [
  ['client internals', (client, from, count, prefixes, direction = 'forwards') => readThroughInternals(client, from, count, prefixes, direction)],
  [
    'public API',
    (client, from, count, prefixes, direction = 'forwards') =>
      direction === 'forwards'
        ? readForwardsSubscribing(client, from, count, prefixes)
        : readBackwardsScanning(client, from, count, prefixes),
  ],
];

describe('filtered reads of $all', () => {
  let esdb: EsdbUnderTest;
  let client: EventStoreDBClient;

  beforeAll(async () => {
    esdb = await startEsdb();
    client = EventStoreDBClient.connectionString(esdb.connectionString);
  });
  afterAll(async () => {
    await client.dispose();
    await esdb.close();
  });

  /** Appends one event to each stream in turn and returns the ids in `$all` order. */
  async function append(streams: string[]): Promise<string[]> {
    const ids: string[] = [];
    for (const stream of streams) {
      const id = randomUUID();
      await client.appendToStream(stream, jsonEvent({ id, type: 'Tested', data: { stream, n: ids.length }, metadata: { by: 'test' } }));
      ids.push(id);
    }
    return ids;
  }

  const text = (bytes: Uint8Array) => Buffer.from(bytes).toString('utf8');
  const comparable = (events: RawRecordedEvent[]) => events.map((event) => ({ ...event, data: text(event.data), metadata: text(event.metadata) }));

  describe.each(READS)('through the %s', (name, read) => {
    const ours = `fr${randomUUID().slice(0, 8)}-`;
    const other = `other${randomUUID().slice(0, 8)}-`;

    it('reads forwards after a position, filtered by the server, and stops at the head even when the last events are foreign', async () => {
      const a = `${ours}a`;
      const b = `${ours}b`;
      const ids = await append([a, `${other}x`, b, a, `${other}y`, b, `${other}z`, `${other}z`]);
      const mine = [ids[0], ids[2], ids[3], ids[5]];

      const all = await read(client, 'start', 100, [ours]);
      expect(all.map((event) => event.id)).toEqual(mine);
      expect(all.map((event) => event.streamName)).toEqual([a, b, a, b]);
      expect(all.map((event) => event.revision)).toEqual([0n, 0n, 1n, 1n]);
      expect(all.every((event) => event.contentType === 'application/json' && event.type === 'Tested')).toBe(true);
      expect(JSON.parse(text(all[2]!.data))).toEqual({ stream: a, n: 3 });
      expect(JSON.parse(text(all[2]!.metadata))).toEqual({ by: 'test' });
      for (let i = 1; i < all.length; i++) expect(comparePositions(all[i - 1]!.position, all[i]!.position)).toBe(-1);

      // Counted; from a position, what follows it (the event there is included or not, as readAllFiltered says).
      const after = async (from: Position, count: number) =>
        (await read(client, from, count, [ours])).filter((event) => comparePositions(event.position, from) > 0).map((event) => event.id);
      expect((await read(client, 'start', 2, [ours])).map((event) => event.id)).toEqual(mine.slice(0, 2));
      expect(await after(all[1]!.position, 100)).toEqual(mine.slice(2));
      expect(await after(all[1]!.position, 2)).toEqual(mine.slice(2, 2 + (name === 'public API' ? 2 : 1)));
      expect(await after(all[3]!.position, 100)).toEqual([]);
      expect(await read(client, 'start', 100, [`none${randomUUID()}-`])).toEqual([]);
    });

    it('ends while appends go on', async () => {
      const stream = `${ours}busy`;
      await append([stream, stream, stream]);
      let appending = true;
      const writer = (async () => {
        while (appending) await append([stream]);
      })();
      try {
        const events = await read(client, 'start', 1_000_000, [stream]);
        expect(events.length).toBeGreaterThanOrEqual(3);
        expect(events.map((event) => event.revision)).toEqual(events.map((_, i) => BigInt(i)));
      } finally {
        appending = false;
        await writer;
      }
    });

    it('reads backwards from the end to the newest events of the prefix, past foreign ones', async () => {
      const ids = await append([`${ours}c`, `${ours}d`, `${other}w`, `${other}w`]);
      expect((await read(client, 'end', 1, [ours], 'backwards')).map((event) => event.id)).toEqual([ids[1]]);
      expect((await read(client, 'end', 2, [ours], 'backwards')).map((event) => event.id)).toEqual([ids[1], ids[0]]);
      expect(await read(client, 'end', 1, [`none${randomUUID()}-`], 'backwards')).toEqual([]);
    });

    it('leaves no call open on the server once a read returned, however it stopped', async () => {
      if (!esdb.server) return; // the count is the test server's
      await append([`${ours}open`, `${other}open`]);
      const before = esdb.server.openCalls;
      await read(client, 'start', 1, [ours]);
      await read(client, 'start', 1_000, [ours]);
      await read(client, 'end', 1, [ours], 'backwards');
      await eventually(async () => esdb.server!.openCalls, (open) => open <= before, 2_000);
      expect(esdb.server.openCalls).toBeLessThanOrEqual(before);
    });
  });

  it('gives the same events through the public API as through the client internals, both ways', async () => {
    const ours = `same${randomUUID().slice(0, 8)}-`;
    await append([`${ours}a`, `other-${ours}`, `${ours}b`, `${ours}a`]);
    const [internal, subscribed] = await Promise.all([
      readThroughInternals(client, 'start', 100, [ours], 'forwards'),
      readForwardsSubscribing(client, 'start', 100, [ours]),
    ]);
    expect(internal).toHaveLength(3);
    expect(comparable(subscribed)).toEqual(comparable(internal));
    const newest = await readThroughInternals(client, 'end', 2, [ours], 'backwards');
    expect(comparable(await readBackwardsScanning(client, 'end', 2, [ours]))).toEqual(comparable(newest));
    // What the adapter calls: the internal read on this (checked) client version.
    expect(comparable(await readAllFiltered(client, 'end', 2, [ours], 'backwards'))).toEqual(comparable(newest));
  });
});

describe('the adapter on a client version whose internals were not checked', () => {
  it('reads $all and finds its head through the public API alone', async () => {
    const esdb = await startEsdb();
    type Adapter = typeof import('../../src/adapters/eventstoredb/eventstoredb-event-store');
    let adapter!: Adapter;
    let filtered!: typeof import('../../src/adapters/eventstoredb/filtered-read');
    jest.isolateModules(() => {
      jest.doMock('@eventstore/db-client/package.json', () => ({ version: '99.0.0' }));
      /* eslint-disable @typescript-eslint/no-require-imports */
      adapter = require('../../src/adapters/eventstoredb/eventstoredb-event-store') as Adapter;
      filtered = require('../../src/adapters/eventstoredb/filtered-read') as typeof filtered;
      /* eslint-enable @typescript-eslint/no-require-imports */
    });
    const streamPrefix = `pub${randomUUID().slice(0, 8)}-`;
    const store = adapter.EventStoreDbEventStore.connect(esdb.connectionString, { streamPrefix });
    try {
      expect(filtered.usesClientInternals()).toBe(false);
      const event = (i: number) => ({ id: randomUUID(), type: 'Tested', data: { i }, metadata: { actorUuid: null } as never });
      const appended = [];
      for (let i = 0; i < 7; i++) appended.push(...(await store.appendToStream(`${streamPrefix}${i % 3}`, [event(i)], 'any')).events);
      await store.appendToStream(`foreign-${streamPrefix}`, [event(99)], 'any');
      const read: string[] = [];
      for await (const batch of store.readAll(undefined, { batchSize: 2 })) read.push(...batch.map((e) => e.id));
      expect(read).toEqual(appended.map((e) => e.id));
      expect(await store.headPosition()).toEqual(appended[6]!.position);
    } finally {
      await store.close();
      await esdb.close();
    }
  });
});

describe('the public forward read when its subscription cannot start', () => {
  it('rejects with the error and leaves no unhandled rejection (unsubscribing a call that never started rejects too)', async () => {
    const discovery = new Error('Failed to discover after 10 attempts.');
    const head = { position: { commit: 10n, prepare: 10n }, streamId: 'other', id: randomUUID(), revision: 0n, type: 't' };
    // The head of $all is found; then the cluster is gone before the subscription's call starts.
    const client = {
      readAll: () => {
        const read = new EventEmitter() as EventEmitter & { cancel(): Promise<void> };
        read.cancel = async () => undefined;
        setImmediate(() => (read.emit('data', { event: head }), read.emit('end')));
        return read;
      },
      subscribeToAll: () => {
        const subscription = new EventEmitter() as EventEmitter & { unsubscribe(): Promise<void> };
        subscription.unsubscribe = () => Promise.reject(discovery);
        setImmediate(() => subscription.emit('error', discovery));
        return subscription;
      },
    } as unknown as EventStoreDBClient;
    const unhandled = await unhandledRejectionsDuring(async () => {
      await expect(readForwardsSubscribing(client, 'start', 10, ['p-'])).rejects.toBe(discovery);
    });
    expect(unhandled).toEqual([]);
  });
});
