import * as grpc from '@grpc/grpc-js';
import {
  AllStreamResolvedEvent,
  BACKWARDS,
  binaryEvent,
  END,
  EventStoreDBClient,
  eventTypeFilter,
  excludeSystemEvents,
  jsonEvent,
  Position,
  ResolvedEvent,
  START,
  StreamNotFoundError,
  streamNameFilter,
  UnavailableError,
  WrongExpectedVersionError,
} from '@eventstore/db-client';
import { Empty } from '@eventstore/db-client/generated/shared_pb';
import { ServerFeaturesClient } from '@eventstore/db-client/generated/serverfeatures_grpc_pb';
import { SupportedMethods } from '@eventstore/db-client/generated/serverfeatures_pb';
import { uuidv7 } from 'uuidv7';
import { readAllFiltered } from '../../src/adapters/eventstoredb/filtered-read';
import { all, CLASSIC_APPEND, EsdbUnderTest, eventually, itWithTestServer, KURRENTDB_URL, startEsdb } from './support';

/**
 * The gRPC protocol as @eventstore/db-client sees it, against the protocol test server, or against a real
 * EventStoreDB/KurrentDB with KURRENTDB_URL set (`npm run test:esdb`): the same expectations hold for both,
 * which is what keeps the test server honest. Every test uses streams of its own.
 */

function stream(prefix = 'proto'): string {
  return `${prefix}-${uuidv7()}`;
}

function event(n: number, type = 'Tested') {
  return jsonEvent({ type, data: { n }, metadata: { by: 'protocol.spec' } });
}

const compare = (a: Position, b: Position) => (a.commit === b.commit ? Number(a.prepare - b.prepare) : a.commit < b.commit ? -1 : 1);

describe(`EventStoreDB gRPC protocol (${KURRENTDB_URL ? 'KURRENTDB_URL' : 'protocol test server'})`, () => {
  let esdb: EsdbUnderTest;
  let client: EventStoreDBClient;
  beforeEach(async () => {
    esdb = await startEsdb();
    client = EventStoreDBClient.connectionString(esdb.connectionString);
  });
  afterEach(async () => {
    await client.dispose();
    await esdb.close();
  });

  it('announces its methods and version through ServerFeatures', async () => {
    const address = esdb.connectionString.replace(/^esdb:\/\//, '').replace(/\?.*$/, '');
    const features = new ServerFeaturesClient(address, grpc.credentials.createInsecure());
    try {
      const supported = await new Promise<SupportedMethods>((resolve, reject) =>
        features.getSupportedMethods(new Empty(), (error, reply) => (error ? reject(error) : resolve(reply))),
      );
      const methods = supported.getMethodsList().map((m) => `${m.getServiceName()}/${m.getMethodName()}`);
      expect(methods).toEqual(
        expect.arrayContaining([
          'event_store.client.streams.streams/read',
          'event_store.client.streams.streams/append',
          'event_store.client.streams.streams/batchappend',
        ]),
      );
      expect(supported.getEventStoreServerVersion()).toMatch(/^\d+\.\d+\.\d+/);
    } finally {
      features.close();
    }
  });

  describe.each([
    ['BatchAppend', {}],
    ['Append', CLASSIC_APPEND],
  ])('appending through %s', (_name, via) => {
    it('numbers a new stream from revision 0 and reports the last position', async () => {
      const name = stream();
      const first = await client.appendToStream(name, [event(0), event(1)], { expectedRevision: 'no_stream', ...via });
      expect(first).toMatchObject({ success: true, nextExpectedRevision: 1n });
      const second = await client.appendToStream(name, event(2), { expectedRevision: 1n, ...via });
      expect(second.nextExpectedRevision).toBe(2n);
      expect(compare(second.position!, first.position!)).toBeGreaterThan(0);

      const read = await all(client.readStream(name));
      expect(read.map((e) => e.event!.revision)).toEqual([0n, 1n, 2n]);
      expect(read[1]!.event!.position).toEqual(first.position);
      expect(read[2]!.event!.position).toEqual(second.position);
      expect(read.every((e) => e.event!.position!.commit === e.event!.position!.prepare)).toBe(true);
      expect(read.map((e) => e.event!.data)).toEqual([{ n: 0 }, { n: 1 }, { n: 2 }]);
      expect(read[0]!.event).toMatchObject({ type: 'Tested', isJson: true, metadata: { by: 'protocol.spec' } });
    });

    it('rejects a broken expectation with WrongExpectedVersion (expected and current revision)', async () => {
      const name = stream();
      await client.appendToStream(name, [event(0), event(1)], { expectedRevision: 'no_stream', ...via });
      const failures = [
        [{ expectedRevision: 'no_stream' as const }, { expectedVersion: 'no_stream', actualVersion: 1n }],
        [{ expectedRevision: 0n }, { expectedVersion: 0n, actualVersion: 1n }],
        [{ expectedRevision: 5n }, { expectedVersion: 5n, actualVersion: 1n }],
      ] as const;
      for (const [options, versions] of failures) {
        const attempt = client.appendToStream(name, event(9), { ...options, ...via });
        await expect(attempt).rejects.toBeInstanceOf(WrongExpectedVersionError);
        await expect(attempt).rejects.toMatchObject({ streamName: name, ...versions });
      }
      const missing = stream();
      await expect(client.appendToStream(missing, event(0), { expectedRevision: 0n, ...via })).rejects.toMatchObject({
        expectedVersion: 0n,
        actualVersion: 'no_stream',
      });
      await expect(client.appendToStream(missing, event(0), { expectedRevision: 'stream_exists', ...via })).rejects.toMatchObject({
        expectedVersion: 'stream_exists',
        actualVersion: 'no_stream',
      });
      expect(await all(client.readStream(name))).toHaveLength(2);
    });

    it("appends with 'any' and 'stream_exists'", async () => {
      const name = stream();
      expect((await client.appendToStream(name, event(0), { expectedRevision: 'any', ...via })).nextExpectedRevision).toBe(0n);
      expect((await client.appendToStream(name, event(1), { expectedRevision: 'stream_exists', ...via })).nextExpectedRevision).toBe(1n);
    });

    it('treats a repeated append of the same events at the same expected revision as done (idempotent write)', async () => {
      const name = stream();
      const events = [event(0), event(1)];
      const first = await client.appendToStream(name, events, { expectedRevision: 'no_stream', ...via });
      const again = await client.appendToStream(name, events, { expectedRevision: 'no_stream', ...via });
      expect(again.nextExpectedRevision).toBe(first.nextExpectedRevision);
      expect(await all(client.readStream(name))).toHaveLength(2);
    });
  });

  it('reads a stream forwards and backwards from a revision, counted, and reports a missing stream', async () => {
    const name = stream();
    await client.appendToStream(name, [0, 1, 2, 3, 4].map((n) => event(n)), { expectedRevision: 'no_stream' });
    const revisions = (events: ResolvedEvent[]) => events.map((e) => Number(e.event!.revision));
    expect(revisions(await all(client.readStream(name, { fromRevision: 2n, maxCount: 2 })))).toEqual([2, 3]);
    expect(revisions(await all(client.readStream(name, { direction: BACKWARDS, fromRevision: END, maxCount: 2 })))).toEqual([4, 3]);
    expect(revisions(await all(client.readStream(name, { direction: BACKWARDS, fromRevision: 1n })))).toEqual([1, 0]);
    await expect(all(client.readStream(stream()))).rejects.toBeInstanceOf(StreamNotFoundError);
  });

  it('resolves link events ($>) when asked: the event pointed to, the link alongside; a dangling link alone', async () => {
    const target = stream();
    const links = stream('links');
    await client.appendToStream(target, [event(0), event(1)], { expectedRevision: 'no_stream' });
    const link = (revision: number) => binaryEvent({ type: '$>', data: Buffer.from(`${revision}@${target}`) });
    await client.appendToStream(links, [link(1), link(7)], { expectedRevision: 'no_stream' });
    const shape = (events: ResolvedEvent[]) =>
      events.map(({ event, link }) => ({ event: event && `${event.streamId}@${event.revision}`, link: link && `${link.streamId}@${link.revision}` }));

    const resolved = [{ event: `${target}@1`, link: `${links}@0` }, { event: undefined, link: `${links}@1` }];
    expect(shape(await all(client.readStream(links, { resolveLinkTos: true })))).toEqual(resolved);
    const [first] = await all(client.readStream(links, { maxCount: 1 }));
    const fromPosition = first!.event!.position!; // one append: the two links are consecutive in $all
    expect(shape(await all(client.readAll({ resolveLinkTos: true, fromPosition, maxCount: 2 })))).toEqual(resolved);
    const subscription = client.subscribeToStream(links, { resolveLinkTos: true });
    const live: ResolvedEvent[] = [];
    subscription.on('data', (resolvedEvent: ResolvedEvent) => live.push(resolvedEvent));
    try {
      expect(shape(await eventually(async () => [...live], (got) => got.length >= 2))).toEqual(resolved);
    } finally {
      await subscription.unsubscribe();
    }
    // Not asked: the links as stored; with nothing to resolve, the same events either way.
    expect(shape(await all(client.readStream(links)))).toEqual([0, 1].map((n) => ({ event: `${links}@${n}`, link: undefined })));
    expect(shape(await all(client.readStream(target, { resolveLinkTos: true })))).toEqual(shape(await all(client.readStream(target))));
  });

  it('reads $all in commit order: forwards from a position inclusive, backwards from the end', async () => {
    const [before] = await all(client.readAll({ direction: BACKWARDS, fromPosition: END, maxCount: 1 }));
    const a = stream('a');
    const b = stream('b');
    await client.appendToStream(a, [event(0), event(1)], { expectedRevision: 'no_stream' });
    await client.appendToStream(b, event(2), { expectedRevision: 'no_stream' });
    await client.appendToStream(a, event(3), { expectedRevision: 1n });

    const from = before?.event?.position ?? START;
    const ours = (await all(client.readAll({ fromPosition: from })))
      .map((e) => e.event!)
      .filter((e) => e.streamId === a || e.streamId === b);
    expect(ours.map((e) => [e.streamId, Number(e.revision)])).toEqual([[a, 0], [a, 1], [b, 0], [a, 2]]);
    for (let i = 1; i < ours.length; i++) expect(compare(ours[i]!.position!, ours[i - 1]!.position!)).toBeGreaterThan(0);

    const [atSecond] = await all(client.readAll({ fromPosition: ours[1]!.position!, maxCount: 1 }));
    expect(atSecond!.event!.id).toBe(ours[1]!.id);
    const [last] = await all(client.readAll({ direction: BACKWARDS, fromPosition: END, maxCount: 1 }));
    expect(compare(last!.event!.position!, ours[3]!.position!)).toBeGreaterThanOrEqual(0);
    const beforeLast = await all(client.readAll({ direction: BACKWARDS, fromPosition: ours[3]!.position!, maxCount: 1 }));
    expect(compare(beforeLast[0]!.event!.position!, ours[3]!.position!)).toBeLessThan(0);
  });

  it('filters counted $all reads on the server by stream prefix', async () => {
    const prefix = `flt${uuidv7().replace(/-/g, '')}-`;
    await client.appendToStream(`${prefix}1`, [event(0), event(1)], { expectedRevision: 'no_stream' });
    await client.appendToStream(stream('other'), event(2), { expectedRevision: 'no_stream' });
    await client.appendToStream(`${prefix}2`, event(3), { expectedRevision: 'no_stream' });
    const found = await readAllFiltered(client, 'start', 10, [prefix]);
    expect(found.map((e) => [e.streamName, Number(e.revision)])).toEqual([[`${prefix}1`, 0], [`${prefix}1`, 1], [`${prefix}2`, 0]]);
    expect(await readAllFiltered(client, 'start', 2, [prefix])).toHaveLength(2);
    const [last] = await readAllFiltered(client, 'end', 1, [prefix], 'backwards');
    expect(last!.streamName).toBe(`${prefix}2`);
    // Forwards from a position includes the event there.
    expect((await readAllFiltered(client, found[1]!.position, 10, [prefix])).map((e) => e.id)).toEqual([found[1]!.id, found[2]!.id]);
  });

  it('subscribes to $all with a filter: confirmation, catch-up after the position, checkpoints, caught-up, then live', async () => {
    const prefix = `sub${uuidv7().replace(/-/g, '')}-`;
    const first = await client.appendToStream(`${prefix}a`, [event(0), event(1)], { expectedRevision: 'no_stream' });
    for (let i = 0; i < 40; i++) await client.appendToStream(stream('noise'), event(i), { expectedRevision: 'no_stream' });
    const [firstEvent] = await readAllFiltered(client, 'start', 1, [prefix]);

    const checkpoints: Position[] = [];
    const seen: AllStreamResolvedEvent[] = [];
    const marks: string[] = [];
    const subscription = client.subscribeToAll({
      fromPosition: firstEvent!.position, // exclusive: starts with the event after it
      filter: streamNameFilter({ prefixes: [prefix], checkpointReached: (_s, position) => void checkpoints.push(position) }),
    });
    subscription.on('confirmation', () => marks.push('confirmation'));
    subscription.on('caughtUp', () => marks.push('caughtUp'));
    subscription.on('data', (resolved: AllStreamResolvedEvent) => seen.push(resolved));
    try {
      await eventually(async () => seen.length, (n) => n >= 1);
      expect(seen.map((e) => Number(e.event!.revision))).toEqual([1]);
      expect(seen[0]!.event!.position).toEqual(first.position);
      await eventually(async () => checkpoints.length, (n) => n >= 1);
      // A checkpoint names a position up to which the filter has looked: at or after what it delivered.
      for (const checkpoint of checkpoints) expect(compare(checkpoint, first.position!)).toBeGreaterThanOrEqual(0);

      const live = await client.appendToStream(`${prefix}b`, event(9), { expectedRevision: 'no_stream' });
      await eventually(async () => seen.length, (n) => n >= 2);
      expect(seen[1]!.event).toMatchObject({ streamId: `${prefix}b`, position: live.position });
      expect(marks[0]).toBe('confirmation');
      if (!KURRENTDB_URL) expect(marks).toEqual(['confirmation', 'caughtUp']); // older servers send no CaughtUp
    } finally {
      await subscription.unsubscribe();
    }
  });

  it('filters subscriptions by event type and by stream regex, and leaves system events out when asked', async () => {
    const tag = uuidv7().replace(/-/g, '');
    await client.appendToStream(stream('typed'), [event(0, `Wanted${tag}`), event(1, 'Other')], { expectedRevision: 'no_stream' });
    const regexStream = `rx${tag}-x`;
    await client.appendToStream(regexStream, event(2), { expectedRevision: 'no_stream' });

    const firstOf = async (filter: Parameters<EventStoreDBClient['subscribeToAll']>[0]) => {
      const subscription = client.subscribeToAll(filter);
      try {
        for await (const resolved of subscription) return resolved.event!;
      } finally {
        await subscription.unsubscribe();
      }
      return undefined;
    };
    expect((await firstOf({ filter: eventTypeFilter({ prefixes: [`Wanted${tag}`] }) }))?.type).toBe(`Wanted${tag}`);
    expect((await firstOf({ filter: streamNameFilter({ regex: `^rx${tag}-` }) }))?.streamId).toBe(regexStream);
    const nonSystem = await firstOf({ fromPosition: START, filter: excludeSystemEvents() });
    expect(nonSystem?.type.startsWith('$')).toBe(false);
  });

  it('subscribes to one stream from a revision (exclusive) and goes live', async () => {
    const name = stream();
    await client.appendToStream(name, [event(0), event(1), event(2)], { expectedRevision: 'no_stream' });
    const subscription = client.subscribeToStream(name, { fromRevision: 0n });
    const revisions: bigint[] = [];
    subscription.on('data', (resolved: ResolvedEvent) => revisions.push(resolved.event!.revision));
    try {
      await eventually(async () => revisions.length, (n) => n >= 2);
      await client.appendToStream(name, event(3), { expectedRevision: 2n });
      await eventually(async () => revisions.length, (n) => n >= 3);
      expect(revisions).toEqual([1n, 2n, 3n]);
    } finally {
      await subscription.unsubscribe();
    }
  });

  itWithTestServer('fails calls while the server is away and recovers once it is back', async () => {
    const name = stream();
    await client.appendToStream(name, event(0), { expectedRevision: 'no_stream' });
    await esdb.server!.kill();
    // The open BatchAppend call is cut (cancelled); new calls find no server (UNAVAILABLE).
    await expect(client.appendToStream(name, event(1), { expectedRevision: 0n })).rejects.toMatchObject({
      type: expect.stringMatching(/^(cancelled|unavailable)$/),
    });
    await expect(client.appendToStream(name, event(1), { expectedRevision: 0n })).rejects.toMatchObject({
      code: grpc.status.UNAVAILABLE,
    });
    await expect(all(client.readStream(name))).rejects.toBeInstanceOf(UnavailableError);
    await esdb.server!.restart();
    const appended = await eventually(
      () => client.appendToStream(name, event(1), { expectedRevision: 0n }).catch((error: Error) => error),
      (result) => !(result instanceof Error),
    );
    expect(appended).toMatchObject({ nextExpectedRevision: 1n });
  });
});
