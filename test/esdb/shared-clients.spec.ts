import { EventStoreDBClient, jsonEvent } from '@eventstore/db-client';
import { uuidv7 } from 'uuidv7';
import { EventStoreDbEventStore } from '../../src/adapters/eventstoredb/eventstoredb-event-store';
import { EventToAppend } from '../../src/ports/event-store';
import { EsdbTestServer } from './test-server/server';

/**
 * Several EventStoreDB clients in one process (two modules, or the host's own client beside the module's
 * store): one client's broken call must neither fail nor crash another's appends. The client 6.2.1 keeps
 * every client's BatchAppend callers in one module-wide table, so the store appends through Streams.Append.
 */

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function events(): EventToAppend[] {
  const metadata = { actorUuid: null, correlationId: uuidv7(), causationId: null, recordedAt: new Date().toISOString() };
  return [{ id: uuidv7(), type: 'Tested', data: { n: 1 }, metadata }];
}

async function settled<T>(promise: Promise<T>): Promise<T | { rejected: string }> {
  return promise.catch((error: Error) => ({ rejected: error.message }));
}

describe('EventStoreDB clients sharing a process', () => {
  let server: EsdbTestServer;
  const crashes: unknown[] = [];
  const onCrash = (error: unknown) => crashes.push(error);

  beforeEach(async () => {
    server = await EsdbTestServer.start();
    crashes.length = 0;
    process.on('uncaughtException', onCrash);
  });
  afterEach(async () => {
    process.off('uncaughtException', onCrash);
    await server.close();
  });

  it("a store closed with an append in flight leaves another store's append to land and answer", async () => {
    const closing = EventStoreDbEventStore.connect(server.connectionString);
    const staying = EventStoreDbEventStore.connect(server.connectionString);
    await closing.appendToStream('warm-a', events(), 'no_stream');
    await staying.appendToStream('warm-b', events(), 'no_stream');
    server.delayAppends({ ms: 400, times: 2, write: 'before' });
    const abandoned = settled(closing.appendToStream('closing', events(), 'no_stream'));
    const kept = settled(staying.appendToStream('staying', events(), 'no_stream'));
    await pause(100);
    await closing.close();
    expect(await kept).toMatchObject({ nextRevision: 0 });
    await abandoned;
    await pause(600); // the held answers arrive
    expect(crashes).toEqual([]);
    expect(server.log.stream('staying')?.length).toBe(1);
    await staying.close();
  });

  it("the host's own client, disposed with a batch append in flight, leaves the store's append alone", async () => {
    const host = EventStoreDBClient.connectionString(server.connectionString);
    const store = EventStoreDbEventStore.connect(server.connectionString);
    await host.appendToStream('warm-host', jsonEvent({ type: 'Warm', data: {} }));
    await store.appendToStream('warm-store', events(), 'no_stream');
    server.delayAppends({ ms: 400, times: 2, write: 'before' });
    const hostAppend = settled(host.appendToStream('host', jsonEvent({ type: 'Host', data: {} })));
    const kept = settled(store.appendToStream('store', events(), 'no_stream'));
    await pause(100);
    await host.dispose();
    expect(await kept).toMatchObject({ nextRevision: 0 });
    expect(await hostAppend).toMatchObject({ rejected: expect.stringContaining('CANCELLED') });
    await pause(600);
    expect(crashes).toEqual([]);
    await store.close();
  });
});
