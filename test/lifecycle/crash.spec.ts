import { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { uuidv7 } from 'uuidv7';
import { InteractionsModule, InteractionsService } from '../../src';
import { EventStoreDbEventStore } from '../../src/adapters/eventstoredb/eventstoredb-event-store';
import { LifecycleFanOut } from '../../src/lifecycle';
import { Database } from '../../src/ports/database';
import { Position, START } from '../../src/ports/event-store';
import { EsdbUnderTest, originOf, seedCheckpoint, startEsdb } from '../esdb/support';
import { POSTGRES } from '../support/backends';
import { InMemoryContactDirectory } from '../support/directories';
import { TEST_DATABASE_URL, uniqueSchema } from '../support/postgres';
import { sleep } from '../support/timing';
import { compiledPath } from '../support/compiled';

/**
 * A process dies (SIGKILL) in the middle of a contact's deletion: on the next start the module finishes
 * the decision by itself, every interaction processed exactly once; `resume` (the CLI's) finds nothing left.
 * With either event store: the log in PostgreSQL, or on an EventStoreDB server (the protocol test server,
 * or KURRENTDB_URL) that outlives the killed process; the decisions and read tables are in PostgreSQL.
 */
const SUBJECT_OF = 150;
const PARTY_OF = 150;

describe.each(['postgres', 'eventstoredb'] as const)('a lifecycle fan-out killed half-way, %s event store', (eventStore) => {
  const schema = uniqueSchema();
  const contacts = new InMemoryContactDirectory();
  let db: Database;
  let esdb: EsdbUnderTest | null = null;
  /** Where this test's events start in the EventStoreDB log (a shared KURRENTDB_URL holds older runs'). */
  let origin: Position = START;
  let child: ChildProcess | null = null;
  let app: INestApplicationContext | null = null;

  const boot = (resumeLifecycleOnStart: boolean) =>
    NestFactory.createApplicationContext(
      InteractionsModule.forRoot({
        database: { connectionString: TEST_DATABASE_URL },
        schema,
        ...(esdb && { eventStore: { kind: 'eventstoredb' as const, connectionString: esdb.connectionString } }),
        contactDirectory: contacts,
        resumeLifecycleOnStart,
      }),
      { logger: false },
    );

  beforeAll(async () => {
    if (eventStore === 'eventstoredb') {
      esdb = await startEsdb();
      origin = await originOf(esdb.connectionString);
      await seedCheckpoint(schema, origin);
    }
    db = await POSTGRES.open(schema);
  });
  afterEach(async () => {
    child?.kill('SIGKILL');
    await app?.close();
  });
  afterAll(async () => {
    await db.close();
    await POSTGRES.dropSchema(schema);
    await esdb?.close();
  });

  const count = async (sql: string, params: unknown[] = []) => Number((await db.query<{ n: string }>(sql, params)).rows[0]!.n);

  /** The streams holding events of the decision, with how many each: the log as stored, read directly. */
  async function decisionEventsPerStream(decisionId: string): Promise<Array<{ stream_name: string; n: number }>> {
    if (!esdb) {
      const { rows } = await db.query<{ stream_name: string; n: string }>(
        `SELECT stream_name, count(*) AS n FROM events WHERE data->>'decisionId' = $1 GROUP BY stream_name`,
        [decisionId],
      );
      return rows.map((row) => ({ stream_name: row.stream_name, n: Number(row.n) }));
    }
    const perStream = new Map<string, number>();
    const log = EventStoreDbEventStore.connect(esdb.connectionString);
    try {
      for await (const batch of log.readAll(origin)) {
        for (const event of batch) {
          if ((event.data as { decisionId?: unknown }).decisionId === decisionId) perStream.set(event.streamName, (perStream.get(event.streamName) ?? 0) + 1);
        }
      }
    } finally {
      await log.close();
    }
    return [...perStream].map(([stream_name, n]) => ({ stream_name, n }));
  }

  it('is finished on the next start, no interaction done twice and none skipped', async () => {
    const gone = contacts.add({ uuid: uuidv7(), name: 'Gone' }).uuid;
    const other = contacts.add({ uuid: uuidv7(), name: 'Other' }).uuid;
    app = await boot(false);
    const service = app.get(InteractionsService);
    const own: string[] = [];
    const elsewhere: string[] = [];
    for (let i = 0; i < SUBJECT_OF; i++) own.push((await service.createInteraction({ contactUuid: gone, subject: `own ${i}` })).uuid);
    for (let i = 0; i < PARTY_OF; i++) {
      const parties = [{ rawName: 'Gone', contactUuid: gone }, { rawName: 'Free' }];
      elsewhere.push((await service.createInteraction({ contactUuid: other, subject: `party ${i}` }, parties)).uuid);
    }
    await app.close();
    app = null;

    child = spawn(
      process.execPath,
      [compiledPath(join(__dirname, 'crash-child.ts')), schema, gone, ...(esdb ? [esdb.connectionString] : [])],
      { env: { ...process.env, TEST_DATABASE_URL }, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child!.once('exit', (_code, signal) => resolve(signal)));
    // Killed once a third of the streams are done.
    const deadline = Date.now() + 60_000;
    while ((await count('SELECT count(*) AS n FROM lifecycle_targets WHERE done_at IS NOT NULL')) < (SUBJECT_OF + PARTY_OF) / 3) {
      if (Date.now() > deadline) throw new Error('the child did not get a third of the way in 60 s');
      await sleep(20);
    }
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    child = null;
    const doneBefore = await count('SELECT count(*) AS n FROM lifecycle_targets WHERE done_at IS NOT NULL');
    expect(doneBefore).toBeLessThan(SUBJECT_OF + PARTY_OF);
    expect(await count('SELECT count(*) AS n FROM lifecycle_decisions WHERE completed_at IS NULL')).toBe(1);

    // The next start finishes it in the background.
    app = await boot(true);
    while ((await count('SELECT count(*) AS n FROM lifecycle_decisions WHERE completed_at IS NULL')) > 0) {
      if (Date.now() > deadline + 60_000) throw new Error('the decision was not finished in time');
      await sleep(50);
    }
    const { rows } = await db.query<{ decision_id: string; interactions: number }>('SELECT decision_id, interactions FROM lifecycle_decisions');
    expect(rows).toEqual([{ decision_id: expect.any(String), interactions: SUBJECT_OF + PARTY_OF }]);
    const decisionId = rows[0]!.decision_id;

    // Exactly one event of the decision in every stream.
    const perStream = await decisionEventsPerStream(decisionId);
    expect(perStream).toHaveLength(SUBJECT_OF + PARTY_OF);
    expect(perStream.every((row) => row.n === 1)).toBe(true);
    const service2 = app.get(InteractionsService);
    expect(await service2.listInvolving(gone)).toEqual([]);
    for (const uuid of own) expect(await service2.getInteraction(uuid)).toBeNull();
    for (const uuid of elsewhere) expect((await service2.getInteraction(uuid))!.parties.map((p) => p.contactUuid)).toEqual([null, null]);

    // What `crm-interactions resume` runs: nothing is left.
    await expect(app.get(LifecycleFanOut).resumePending()).resolves.toEqual({ decisions: 0, interactions: 0, failed: 0 });
    await expect(service2.contactDeleted(gone)).resolves.toEqual({ interactions: 0 });
  }, 150_000);
});
