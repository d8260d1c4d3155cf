import { setTimeout as sleep } from 'node:timers/promises';
import { uuidv7 } from 'uuidv7';
import { InteractionsMaintenance } from '../../src';
import { Client } from 'pg';
import { Database, Queryable } from '../../src/ports/database';
import { DATABASE } from '../../src/nest/tokens';
import { ModuleUnderTest, startModule } from '../support/module';
import { TEST_DATABASE_URL } from '../support/postgres';

/**
 * A forget's key destruction reads which streams are parked, as a rebuild's TRUNCATE of parked_events
 * and the read tables does: it must hold parked_events before it reads a read table, in every session
 * it runs in (its global destruction, and each stream's, which on EventStoreDB has no transaction of its
 * own). Else a rebuild that takes parked_events between the two deadlocks with it. X plays that rebuild,
 * taking parked_events right after each of the forget's reads of it, then the interactions table.
 */
describe.each(['postgres', 'eventstoredb'] as const)("a forget's key destruction and a rebuild's locks on %s", (eventStore) => {
  let m: ModuleUnderTest;
  let x: Client;
  beforeEach(async () => {
    m = await startModule({ eventStore });
    x = new Client({ connectionString: TEST_DATABASE_URL, options: `-c search_path=${m.db.schema}` });
    x.on('error', () => undefined);
    await x.connect();
  });
  afterEach(async () => {
    jest.restoreAllMocks();
    await x.end().catch(() => undefined);
    await m.close();
  });

  it.each([
    ['its global destruction', 1, false],
    ["the stream's destruction", 2, false],
    // A stream with a parked event: its stale read row is written again erased (a read of parked_events
    // of its own), before the stream's destruction.
    ['its rewrite of a read row behind parked events', 2, true],
    ["the stream's destruction after that rewrite", 3, true],
  ])('never deadlocks in %s: the rebuild waits for it, or it for the rebuild', async (_, nth, parked) => {
    const dana = m.newContact({ name: 'Dana' });
    const created = await m.service.createInteraction({ contactUuid: m.newContact() }, [{ rawName: 'Dana', contactUuid: dana }]);
    if (parked) {
      // Another writer's event the projection refuses (a number for a time): parked by the rebuild.
      const metadata = { actorUuid: null, correlationId: uuidv7(), causationId: null, recordedAt: Date.now() as unknown as string };
      const data = { schemaVersion: 1, interactionUuid: created.uuid, changes: { interactionType: 'call' } };
      await m.log.appendToStream(`interaction-${created.uuid}`, [{ id: uuidv7(), type: 'InteractionUpdated', data, metadata }], 'any');
      await m.app.get(InteractionsMaintenance).rebuild();
      expect(await m.app.get(InteractionsMaintenance).parkedEvents()).toHaveLength(1);
    }
    const rebuilds: Promise<unknown>[] = [];
    let reads = 0;
    /**
     * X takes parked_events, then interactions, and commits: what a rebuild's TRUNCATE locks, in its
     * order. Before its second lock it gives the forget's next statement time to queue behind the first.
     */
    const rebuild = async () => {
      await x.query('BEGIN');
      await x.query("SET LOCAL lock_timeout = '5s'");
      await x.query('LOCK TABLE parked_events IN ACCESS EXCLUSIVE MODE');
      await sleep(300);
      await x.query('LOCK TABLE interactions IN ACCESS EXCLUSIVE MODE');
      await x.query('COMMIT');
    };
    const afterParkedRead = (q: Queryable): Queryable => ({
      async query(text: string, params?: unknown[]) {
        const result = await q.query(text, params);
        if (text.includes('FROM parked_events LIMIT 0') && ++reads === nth) {
          const running = rebuild().catch(async (error: unknown) => {
            await x.query('ROLLBACK').catch(() => undefined);
            throw error;
          });
          running.catch(() => undefined);
          rebuilds.push(running);
          await sleep(100); // X has taken parked_events, or waits for this session's hold of it
        }
        return result as never;
      },
    });
    const db = m.app.get<Database>(DATABASE);
    const transaction = db.transaction.bind(db);
    jest.spyOn(db, 'transaction').mockImplementation((fn) => transaction((tx) => fn(afterParkedRead(tx))));
    const query = db.query.bind(db);
    jest.spyOn(db, 'query').mockImplementation((text, params) => afterParkedRead({ query } as Queryable).query(text, params) as never);

    await expect(m.service.forgetContact(dana)).resolves.toEqual({ interactions: 1 });
    expect(rebuilds).toHaveLength(1);
    await expect(rebuilds[0]).resolves.toBeUndefined();
    if (parked) expect(JSON.stringify(await m.service.getInteraction(created.uuid))).not.toContain('Dana');
  });
});
