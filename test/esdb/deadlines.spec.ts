import { EventStoreDBClient, jsonEvent } from '@eventstore/db-client';
import { uuidv7 } from 'uuidv7';
import { all, CLASSIC_APPEND, eventually, failure } from './support';
import { EsdbTestServer } from './test-server/server';

/**
 * The protocol test server's deadlines, timeouts and shutdown as @eventstore/db-client 6.2.1 sees them,
 * matching what a real node answers: a late BatchAppend gets `Status.Timeout` (DeadlineExceededError), a
 * late Append ABORTED (TimeoutError), a call past its gRPC deadline DEADLINE_EXCEEDED, and a node going away
 * ends an in-flight Append UNAVAILABLE and a BatchAppend call CANCELLED. Errors are duck-typed by the
 * client's `type` (they cross jest's module realms).
 */

function stream(): string {
  return `deadline-${uuidv7()}`;
}

function event(n: number) {
  return jsonEvent({ type: 'Tested', data: { n } });
}

describe('protocol test server: deadlines and shutdown', () => {
  let server: EsdbTestServer;
  let client: EventStoreDBClient;
  async function start(writeTimeoutMs: number): Promise<void> {
    server = await EsdbTestServer.start({ writeTimeoutMs });
    client = EventStoreDBClient.connectionString(server.connectionString);
    // Connected before the timing starts: the deadlines below are the calls', not the connection's.
    await all(client.readStream(stream())).catch(() => undefined);
  }
  beforeEach(() => start(400));
  afterEach(async () => {
    await client.dispose();
    await server.close();
  });

  const revisions = (name: string) => server.log.stream(name)?.map((e) => e.revision) ?? [];

  it("answers a BatchAppend held past the client's deadline with Timeout, and the write still lands", async () => {
    // The node's write timeout far from the client's deadline: which of the two ended the call shows in the
    // time it took also on a loaded machine (with 400 ms, a CI run once took 492 ms to fail the call).
    await client.dispose();
    await server.close();
    await start(2_000);
    const name = stream();
    server.delayAppends({ ms: 2_200 });
    const started = Date.now();
    const late = await failure(client.appendToStream(name, event(0), { expectedRevision: 'no_stream', deadline: 150 }));
    expect(late).toMatchObject({ type: 'deadline-exceeded' });
    expect(Date.now() - started).toBeLessThan(2_000); // the client's 150 ms, not the node's 2,000
    expect(revisions(name)).toEqual([]);
    // A queued write lands after its Timeout (its hold is 2,200 ms).
    expect(await eventually(async () => revisions(name), (landed) => landed.length > 0, 5_000)).toEqual([0n]);
  });

  it("caps a BatchAppend's deadline at the node's write timeout", async () => {
    server.delayAppends({ ms: 5_000, write: 'never' });
    const started = Date.now();
    const late = await failure(client.appendToStream(stream(), event(0), { deadline: 10_000 }));
    expect(late).toMatchObject({ type: 'deadline-exceeded' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(380);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('refuses a BatchAppend whose deadline has passed without writing it', async () => {
    const name = stream();
    const late = await failure(client.appendToStream(name, event(0), { deadline: 0.0001 }));
    expect(late).toMatchObject({ type: 'deadline-exceeded' });
    expect(server.log.stream(name)).toBeUndefined();
  });

  it('answers in time when the hold is shorter than the deadline; write: before lands at once', async () => {
    const name = stream();
    let holding!: () => void;
    const held = new Promise<void>((resolve) => (holding = resolve));
    server.delayAppends({ ms: 100, write: 'before', onHeld: () => holding() });
    let answered = false;
    const appended = client.appendToStream(name, event(0), { expectedRevision: 'no_stream' }).finally(() => (answered = true));
    // The hold has begun (however long the client took to connect): written already, not answered yet.
    await held;
    expect(revisions(name)).toEqual([0n]);
    expect(answered).toBe(false);
    await expect(appended).resolves.toMatchObject({ success: true, nextExpectedRevision: 0n });
    await expect(client.appendToStream(name, event(1), { expectedRevision: 0n })).resolves.toMatchObject({ nextExpectedRevision: 1n });
  });

  it('holds only the appends a delay names (stream, count)', async () => {
    const slow = stream();
    const fast = stream();
    server.delayAppends({ ms: 300, streamName: slow, times: 2 });
    const held: string[] = [];
    server.delayAppends({ ms: 0, streamName: 'nothing', onHeld: (name) => held.push(name) });
    const started = Date.now();
    await client.appendToStream(fast, event(0));
    expect(Date.now() - started).toBeLessThan(250);
    await client.appendToStream(slow, event(0));
    await client.appendToStream(slow, event(1));
    expect(Date.now() - started).toBeGreaterThanOrEqual(580);
    const third = Date.now();
    await client.appendToStream(slow, event(2));
    expect(Date.now() - third).toBeLessThan(250);
    expect(held).toEqual([]);
  });

  it('answers a classic Append held past the write timeout ABORTED (TimeoutError)', async () => {
    const name = stream();
    server.delayAppends({ ms: 600 });
    const late = await failure(client.appendToStream(name, event(0), { ...CLASSIC_APPEND, expectedRevision: 'no_stream' }));
    expect(late).toMatchObject({ type: 'timeout' });
    expect(await eventually(async () => revisions(name), (landed) => landed.length > 0, 5_000)).toEqual([0n]);
  });

  it('ends a classic Append past its gRPC deadline DEADLINE_EXCEEDED', async () => {
    server.delayAppends({ ms: 300, write: 'never' });
    const late = await failure(client.appendToStream(stream(), event(0), { ...CLASSIC_APPEND, deadline: 100 }));
    expect(late).toMatchObject({ type: 'deadline-exceeded' });
  });

  it('ends an in-flight BatchAppend CANCELLED and an in-flight Append UNAVAILABLE when the node goes away', async () => {
    const batched = stream();
    const classic = stream();
    server.delayAppends({ ms: 10_000, times: 2 });
    const inBatch = failure(client.appendToStream(batched, event(0), { deadline: 30_000 }));
    const inClassic = failure(client.appendToStream(classic, event(0), { ...CLASSIC_APPEND, deadline: 30_000 }));
    expect(await eventually(async () => server.heldAppends, (held) => held === 2, 5_000)).toBe(2);
    await server.kill();
    expect(await inBatch).toMatchObject({ type: 'cancelled' });
    expect(await inClassic).toMatchObject({ type: 'unavailable' });
    expect(server.heldAppends).toBe(0);
    await server.restart();
    expect(server.log.stream(batched)).toBeUndefined(); // held, not written: lost with the node
    expect(server.log.stream(classic)).toBeUndefined();
  });

  it('closes cleanly with appends in flight', async () => {
    server.delayAppends({ ms: 10_000 });
    const inBatch = failure(client.appendToStream(stream(), event(0), { deadline: 30_000 }));
    expect(await eventually(async () => server.heldAppends, (held) => held === 1, 5_000)).toBe(1);
    const started = Date.now();
    await server.close();
    expect(await inBatch).toMatchObject({ type: 'cancelled' });
    expect(Date.now() - started).toBeLessThan(900);
  });
});
