import { INestApplicationContext } from '@nestjs/common';
import { CqrsModule, EventBus, IEvent } from '@nestjs/cqrs';
import { Test } from '@nestjs/testing';
import { Client } from 'pg';
import { uuidv7 } from 'uuidv7';
import {
  InteractionLogged,
  InteractionProjectionTimeoutError,
  InteractionsModule,
  InteractionsModuleOptions,
  InteractionsService,
} from '../../src';
import { ASYNC_PROJECTION, AsyncProjection } from '../../src/nest/read-your-writes';
import { InMemoryContactDirectory } from '../support/directories';
import { dropSchema, TEST_DATABASE_URL, uniqueSchema } from '../support/postgres';
import { EsdbUnderTest, eventually, itWithTestServer, startEsdb } from './support';

/** InteractionsModule.forRoot with `eventStore: { kind: 'eventstoredb' }`: wiring, read-your-writes, shutdown. */
describe("InteractionsModule with eventStore 'eventstoredb'", () => {
  let esdb: EsdbUnderTest;
  let schema: string;
  let app: INestApplicationContext | null;
  const contacts = new InMemoryContactDirectory();
  const ada = contacts.add({ uuid: uuidv7(), name: 'Ada' }).uuid;
  const bob = contacts.add({ uuid: uuidv7(), name: 'Bob' }).uuid;

  beforeEach(async () => {
    esdb = await startEsdb();
    schema = uniqueSchema('esdb');
    app = null;
  });
  afterEach(async () => {
    await app?.close();
    await esdb.close();
    await dropSchema(schema);
  });

  async function boot(options: Partial<InteractionsModuleOptions> = {}): Promise<INestApplicationContext> {
    const moduleRef = await Test.createTestingModule({
      imports: [
        CqrsModule.forRoot(),
        InteractionsModule.forRoot({
          database: { connectionString: TEST_DATABASE_URL, maxConnections: 5 },
          schema,
          eventStore: { kind: 'eventstoredb', connectionString: esdb.connectionString },
          contactDirectory: contacts,
          ...options,
        }),
      ],
    }).compile();
    app = await moduleRef.init();
    return app;
  }

  it('reads its own writes: every command is visible to the next query', async () => {
    const service = (await boot()).get(InteractionsService);
    const created = await service.createInteraction({ contactUuid: ada, subject: 'Hello' }, [{ rawName: 'Bob', contactUuid: bob }]);
    expect(await service.getInteraction(created.uuid)).toEqual(created);
    expect((await service.listInvolving(bob)).map((i) => i.uuid)).toEqual([created.uuid]);

    const updated = await service.updateInteraction(created, { subject: 'Changed' }, [], { expectedVersion: created.version });
    expect(await service.getInteraction(created.uuid)).toEqual(updated);
    expect(await service.listInvolving(bob)).toEqual([]);

    await service.deleteInteraction(created.uuid);
    expect(await service.getInteraction(created.uuid)).toBeNull();
    expect(await service.interactionUuidsForContact(ada)).toEqual([]);

    const history = await service.history(created.uuid);
    expect(history.map((e) => [e.type, e.revision])).toEqual([
      ['InteractionLogged', 0],
      ['PartiesRebuilt', 1],
      ['InteractionUpdated', 2],
      ['PartiesRebuilt', 3],
      ['InteractionDeleted', 4],
    ]);
    expect(history[0]!.metadata).toEqual({
      actorUuid: null,
      correlationId: expect.any(String),
      causationId: null,
      recordedAt: expect.any(String),
    });
  });

  it('publishes the events once the read tables show them', async () => {
    const app = await boot();
    const service = app.get(InteractionsService);
    const seen: Array<unknown> = [];
    app.get(EventBus).subscribe((event: IEvent) => {
      if (event instanceof InteractionLogged) seen.push(service.getInteraction(event.interactionUuid));
    });
    const created = await service.createInteraction({ contactUuid: ada });
    expect(seen).toHaveLength(1);
    expect(await seen[0]).toEqual(created);
  });

  /** Another session holding the checkpoint row (till its ROLLBACK): the projection's next batch waits for it. */
  async function holdCheckpointRow(): Promise<Client> {
    const blocker = new Client({ connectionString: TEST_DATABASE_URL, options: `-c search_path=${schema}` });
    await blocker.connect();
    await blocker.query('BEGIN');
    await blocker.query("SELECT 1 FROM projection_checkpoints WHERE name = 'interactions' FOR UPDATE");
    return blocker;
  }

  it('fails a command with InteractionProjectionTimeoutError when the read model lags past the timeout; the change is saved', async () => {
    const app = await boot({ readYourWrites: { timeoutMs: 300 } });
    const service = app.get(InteractionsService);
    const published: IEvent[] = [];
    app.get(EventBus).subscribe((event: IEvent) => published.push(event));
    await service.createInteraction({ contactUuid: ada }); // the checkpoint row exists now

    const blocker = await holdCheckpointRow();
    try {
      const attempt = service.createInteraction({ contactUuid: bob, subject: 'Slow read model' });
      await expect(attempt).rejects.toBeInstanceOf(InteractionProjectionTimeoutError);
      const error = (await attempt.catch((e: unknown) => e)) as InteractionProjectionTimeoutError;
      expect(error.message).toMatch(/^interaction-[0-9a-f-]+ revision 1 was saved, but the read model did not include it within 300 ms/);
      const uuid = error.streamName.replace(/^interaction-/, '');
      expect((await service.history(uuid)).map((e) => e.type)).toEqual(['InteractionLogged', 'PartiesRebuilt']);
      expect(published.filter((e) => e instanceof InteractionLogged)).toHaveLength(2);
      await blocker.query('ROLLBACK');
      const shown = await eventually(() => service.getInteraction(uuid), (found) => found !== null);
      expect(shown).toMatchObject({ subject: 'Slow read model' });
    } finally {
      await blocker.end();
    }
  });

  it('answers a repeat of a command whose read-your-writes wait timed out (same idempotency key) only once queries show it', async () => {
    const service = (await boot({ readYourWrites: { timeoutMs: 300 } })).get(InteractionsService);
    await service.createInteraction({ contactUuid: ada }); // the checkpoint row exists now
    const blocker = await holdCheckpointRow();
    try {
      const request = () => service.createInteraction({ contactUuid: bob, subject: 'Retried' }, [], [], { idempotencyKey: 'retry after timeout' });
      await expect(request()).rejects.toBeInstanceOf(InteractionProjectionTimeoutError);
      // The caller retries, as the error's `retryable` invites: still not shown, so still not answered.
      const repeat = await request().then(
        async (answer) => ({ answered: answer.uuid, shown: await service.getInteraction(answer.uuid) }),
        (error: unknown) => error,
      );
      expect(repeat).toBeInstanceOf(InteractionProjectionTimeoutError);
      await blocker.query('ROLLBACK');
      const answered = await request();
      expect(await service.getInteraction(answered.uuid)).toEqual(answered);
    } finally {
      await blocker.end();
    }
  });

  it('returns right after the append with readYourWrites: false; the read tables follow', async () => {
    const service = (await boot({ readYourWrites: false })).get(InteractionsService);
    const created = await service.createInteraction({ contactUuid: ada, subject: 'Eventually' });
    // Until both events are applied: under load the subscription may deliver them in two batches.
    expect(await eventually(() => service.getInteraction(created.uuid), (found) => found?.version === created.version)).toEqual(created);
  });

  it('reports the projection for health checks', async () => {
    const app = await boot();
    await app.get(InteractionsService).createInteraction({ contactUuid: ada });
    const projection = app.get<AsyncProjection>(ASYNC_PROJECTION);
    expect(projection.status()).toMatchObject({ running: true, connected: true, lastError: null });
  });

  itWithTestServer('closes its subscription and client when the application closes', async () => {
    const closing = await boot();
    const service = closing.get(InteractionsService);
    await service.createInteraction({ contactUuid: ada });
    expect(esdb.server!.openCalls).toBeGreaterThan(0);
    const projection = closing.get<AsyncProjection>(ASYNC_PROJECTION);
    await closing.close();
    app = null;
    expect(projection.status().running).toBe(false);
    expect(await eventually(async () => esdb.server!.openCalls, (n) => n === 0)).toBe(0);
  });

  itWithTestServer("re-sends an append of unknown outcome for eventStore.resolveWithinMs, then fails it committed: 'unknown'", async () => {
    const eventStore = { kind: 'eventstoredb' as const, connectionString: esdb.connectionString, resolveWithinMs: 0 };
    const service = (await boot({ eventStore })).get(InteractionsService);
    await service.createInteraction({ contactUuid: ada });
    // The node takes no write and answers each Timeout after 2 s: with the default (5 s) the command would
    // re-send for 5 s more; with 0 it reads the stream back once and gives up.
    esdb.server!.delayAppends({ ms: 60_000, write: 'never', times: Infinity });
    const started = Date.now();
    const failed = await service.createInteraction({ contactUuid: bob }).catch((error: unknown) => error);
    expect(failed).toMatchObject({ name: 'InteractionUnavailableError', committed: 'unknown', mayStillLand: true });
    expect(Date.now() - started).toBeLessThan(4_500);
    esdb.server!.clearAppendDelays();
  });

  it.each([-1, 1.5, Number.NaN, 600_001])('fails to boot with a clear message when eventStore.resolveWithinMs is %p', async (resolveWithinMs) => {
    const boot = Test.createTestingModule({
      imports: [
        InteractionsModule.forRoot({
          database: { connectionString: TEST_DATABASE_URL },
          schema,
          eventStore: { kind: 'eventstoredb', connectionString: esdb.connectionString, resolveWithinMs },
          contactDirectory: contacts,
          migrate: false,
        }),
      ],
    }).compile();
    await expect(boot).rejects.toThrow(`InteractionsModule: eventStore.resolveWithinMs must be a whole number of milliseconds from 0 to 600000 (got ${resolveWithinMs})`);
  });

  it("fails to boot with a clear message without a connection string", async () => {
    const boot = Test.createTestingModule({
      imports: [
        InteractionsModule.forRoot({
          database: { connectionString: TEST_DATABASE_URL },
          schema,
          eventStore: { kind: 'eventstoredb', connectionString: '' },
          contactDirectory: contacts,
          migrate: false,
        }),
      ],
    }).compile();
    await expect(boot).rejects.toThrow(/eventStore.connectionString is required/);
  });
});
