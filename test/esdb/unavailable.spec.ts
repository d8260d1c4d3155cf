import { UnavailableError } from '@eventstore/db-client';
import { uuidv7 } from 'uuidv7';
import { InteractionUnavailableError } from '../../src';
import { LifecycleFanOut } from '../../src/lifecycle/fan-out';
import { pendingDecisions } from '../../src/lifecycle/decision-store';
import { ASYNC_PROJECTION, AsyncProjection } from '../../src/nest/read-your-writes';
import { EventStoreDbEventStore } from '../../src/adapters/eventstoredb/eventstoredb-event-store';
import { ModuleUnderTest, startModule } from '../support/module';
import { eventually, itWithTestServer, unhandledRejectionsDuring } from './support';

/** The module on EventStoreDB while the server is away: typed, retryable errors, then recovery by itself. */
describe('EventStoreDB unreachable', () => {
  let m: ModuleUnderTest;
  beforeEach(async () => (m = await startModule({ eventStore: 'eventstoredb' })));
  afterEach(() => m.close());

  itWithTestServer('answers InteractionUnavailableError while the server is away and recovers when it is back', async () => {
    const contactUuid = m.newContact();
    const before = await m.service.createInteraction({ contactUuid, subject: 'before' });
    await m.esdbServer!.kill();

    const create = await m.service.createInteraction({ contactUuid, subject: 'during' }).catch((e: unknown) => e);
    expect(create).toBeInstanceOf(InteractionUnavailableError);
    expect([false, 'unknown']).toContain((create as InteractionUnavailableError).committed);
    const update = await m.service.updateInteraction(before.uuid, { subject: 'during' }).catch((e: unknown) => e);
    expect(update).toBeInstanceOf(InteractionUnavailableError);
    expect((update as InteractionUnavailableError).committed).toBe(false); // it failed reading the stream
    await expect(m.service.history(before.uuid)).rejects.toBeInstanceOf(InteractionUnavailableError);
    // The read tables are in PostgreSQL: queries still answer.
    expect((await m.service.getInteraction(before.uuid))?.subject).toBe('before');

    await m.esdbServer!.restart();
    const after = await eventually(
      () => m.service.createInteraction({ contactUuid, subject: 'after' }).catch(() => null),
      (created) => created !== null,
      15_000,
    );
    expect(after?.subject).toBe('after');
    expect((await m.service.updateInteraction(before.uuid, { subject: 'after' })).subject).toBe('after');
    expect(await m.service.getInteraction(uuidv7())).toBeNull();
  }, 60_000);

  itWithTestServer('answers a lifecycle command, the log\'s head and a read of it typed while the server is away; the decision is recorded', async () => {
    const contactUuid = m.newContact();
    await m.service.createInteraction({ contactUuid, subject: 'before' });
    await m.esdbServer!.kill();
    await expect(m.log.headPosition()).rejects.toMatchObject({ name: 'InteractionUnavailableError', committed: false });
    const readAll = async () => {
      for await (const batch of m.log.readAll()) void batch;
    };
    await expect(readAll()).rejects.toMatchObject({ name: 'InteractionUnavailableError', committed: false });
    const deleted = await m.service.contactDeleted(contactUuid).catch((e: unknown) => e);
    expect(deleted).toBeInstanceOf(InteractionUnavailableError);
    expect((deleted as InteractionUnavailableError).committed).toBe(true);

    await m.esdbServer!.restart();
    // Recorded: `resume` (or the next start) finishes it.
    const fanOut = m.app.get(LifecycleFanOut);
    await eventually(() => fanOut.resumePending().catch(() => null), (resumed) => resumed?.failed === 0 && resumed.decisions === 1, 15_000);
    expect(await m.service.listInvolving(contactUuid)).toEqual([]);
  }, 60_000);

  itWithTestServer('a closing module ends a lifecycle command\'s wait for the read model at once: committed, finished on the next start', async () => {
    const contactUuid = m.newContact();
    await m.service.createInteraction({ contactUuid, subject: 'before' });
    // A wait that ended leaves nothing behind (every command waits; the fan-out lives as long as the app).
    await m.service.contactDeleted(m.newContact());
    expect((Reflect.get(m.app.get(LifecycleFanOut), 'waits') as Set<unknown>).size).toBe(0);
    // The read model never catches up (a stalled subscription): the command would wait 30 s for it.
    const projection = m.app.get<AsyncProjection>(ASYNC_PROJECTION);
    jest.spyOn(projection, 'reached').mockImplementation(() => new Promise(() => undefined));
    const deleting = m.service.contactDeleted(contactUuid).catch((e: unknown) => e);
    await new Promise((resolve) => setTimeout(resolve, 200)); // it waits now
    const started = Date.now();
    m.app.get(LifecycleFanOut).stop(); // what the module's close does first
    const error = await deleting;
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(error).toBeInstanceOf(InteractionUnavailableError);
    expect(error).toMatchObject({ committed: true });
    expect((await pendingDecisions(m.db)).map((d) => d.decision.kind)).toEqual(['contact_deleted']); // for the next start
    jest.restoreAllMocks();
  }, 30_000);
});

describe("EventStoreDB client's reconnection after a failed call", () => {
  it('leaves no unhandled rejection when the discovery under way fails too (one would end the host process)', async () => {
    // A cluster whose nodes are all gone: every discovery fails, quickly.
    const store = EventStoreDbEventStore.connect('esdb://127.0.0.1:1,127.0.0.1:2?tls=false&maxDiscoverAttempts=2&discoveryInterval=10');
    try {
      const client = store.client as unknown as { getChannel(): Promise<unknown>; handleError(grpc: unknown, error: unknown): unknown };
      const unhandled = await unhandledRejectionsDuring(async () => {
        const discovery = client.getChannel().catch((error: unknown) => error);
        // What the client does after a call failed on the old channel: starts its bookkeeping, attaching nothing.
        const gone = Object.assign(new Error('14 UNAVAILABLE: the leader is gone'), { code: 14, details: 'the leader is gone' });
        client.handleError({ getChannel: () => 'the failed channel' }, new UnavailableError(gone as never));
        expect(String(await discovery)).toMatch(/Failed to discover/);
      });
      expect(unhandled).toEqual([]);
    } finally {
      await store.close();
    }
  });
});
