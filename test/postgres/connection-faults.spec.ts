import { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from 'pg';
import { uuidv7 } from 'uuidv7';
import {
  InteractionsMaintenance,
  InteractionsModule,
  InteractionsService,
  InteractionUnavailableError,
} from '../../src';
import { PgDatabase } from '../../src/adapters/postgres/database';
import { InMemoryContactDirectory } from '../support/directories';
import { ownDatabase, partitionableProxy, terminateBackendsWhile } from '../support/faults';
import { readTables } from '../support/read-tables';

/**
 * The module's connections dropped under load, as a server restart, a failover or a proxy would. The
 * test kills only what it started: the backends of a database it created for itself.
 */
const LOAD_MS = 4000;
/** On a loaded machine commands are slower than the kills: the load goes on until it has shown enough. */
const MAX_LOAD_MS = 30_000;
const WORKERS = 8;

describe('PostgreSQL connection faults', () => {
  const contacts = new InMemoryContactDirectory();
  let database: Awaited<ReturnType<typeof ownDatabase>>;
  let app: INestApplicationContext;

  beforeAll(async () => {
    database = await ownDatabase('crm_faults');
    app = await NestFactory.createApplicationContext(
      InteractionsModule.forRoot({
        // The connection string's own search_path must not move the module out of its schema.
        database: { connectionString: database.url('?options=-c%20search_path%3Dpublic'), maxConnections: 6 },
        schema: 'crm_faults',
        contactDirectory: contacts,
      }),
      { logger: false },
    );
  });

  afterAll(async () => {
    await app?.close();
    await database?.drop();
  });

  it('keeps the module in its schema whatever the connection string says', async () => {
    const db = new PgDatabase({ connectionString: database.url(), schema: 'public' });
    try {
      const { rows } = await db.query<{ schema: string }>(
        "SELECT table_schema AS schema FROM information_schema.tables WHERE table_name = 'events'",
        [],
      );
      expect(rows.map((r) => r.schema)).toEqual(['crm_faults']);
    } finally {
      await db.close();
    }
  });

  it('survives its connections being killed under load: typed errors, nothing acknowledged lost', async () => {
    const service = app.get(InteractionsService);
    const contactUuid = contacts.add({ uuid: uuidv7(), name: 'Fault' }).uuid;
    const acknowledged = new Map<string, number>();
    const failures: unknown[] = [];
    const started = Date.now();
    let kills = 0;
    // At least LOAD_MS; then until kills, failures and acknowledged commands were all seen (or MAX_LOAD_MS).
    const going = () =>
      Date.now() < started + MAX_LOAD_MS &&
      (Date.now() < started + LOAD_MS || kills <= 10 || acknowledged.size <= 10 || failures.length === 0);

    // Each round of kills waits for a command to get through since the last one (2 s at most): on a
    // loaded machine reconnecting can take longer than the rhythm, which would then let nothing through.
    let acks = 0;
    const killAgain = async (n: number) => {
      kills = n;
      const [since, acksBefore] = [Date.now(), acks];
      while (acks === acksBefore && Date.now() < since + 2000 && going()) await sleep(20);
      return going();
    };

    const worker = async (w: number) => {
      for (let i = 0; going(); i++) {
        try {
          const created = await service.createInteraction({ contactUuid, subject: `w${w} #${i}` });
          acknowledged.set(created.uuid, created.version);
          acks++;
          const updated = await service.updateInteraction(created.uuid, { body: `updated ${i}` });
          acknowledged.set(updated.uuid, updated.version);
          acks++;
        } catch (error) {
          failures.push(error);
        }
      }
    };
    await Promise.all([
      terminateBackendsWhile(database.name, killAgain, 120),
      ...Array.from({ length: WORKERS }, (_, w) => worker(w)),
    ]);

    expect(kills).toBeGreaterThan(10);
    expect(acknowledged.size).toBeGreaterThan(10);
    expect(failures.length).toBeGreaterThan(0);
    for (const failure of failures) expect(failure).toBeInstanceOf(InteractionUnavailableError);
    const committed = failures.map((f) => (f as InteractionUnavailableError).committed);
    expect(committed.every((c) => c === false || c === true || c === 'unknown')).toBe(true);

    // The module recovers by itself: new commands succeed, and every acknowledged one is there.
    const after = await service.createInteraction({ contactUuid, subject: 'after the faults' });
    expect(after.version).toBe(1);
    for (const [uuid, version] of acknowledged) {
      const read = await service.getInteraction(uuid);
      expect(read?.version).toBeGreaterThanOrEqual(version);
    }
    const maintenance = app.get(InteractionsMaintenance);
    const db = new PgDatabase({ connectionString: database.url(), schema: 'crm_faults' });
    try {
      const live = await readTables(db);
      await maintenance.rebuild();
      expect(await readTables(db)).toEqual(live);
    } finally {
      await db.close();
    }
    process.stdout.write(
      `connection faults: ${acknowledged.size} interactions acknowledged, ${failures.length} commands failed ` +
        `(committed: ${JSON.stringify(countBy(committed))}), ${kills} backends terminated, 0 lost\n`,
    );
  }, 60_000);

  it('gets away from a server that stops answering without a reset: each statement fails within query_timeout, new connections go on', async () => {
    const proxy = await partitionableProxy();
    const db = new PgDatabase({ connectionString: proxy.url(database.name), schema: 'public', max: 3, query_timeout: 1_000 });
    try {
      // Three connections open, then silent for good (TCP would take two hours to tell).
      await Promise.all([1, 2, 3].map(() => db.query('SELECT pg_sleep(0.05)', [])));
      proxy.freeze();
      const started = Date.now();
      const timed = (statement: Promise<unknown>) => statement.then(
        () => ['answered'],
        (e: unknown) => [e instanceof InteractionUnavailableError && e.committed, Date.now() - started],
      );
      const [query, transaction, autocommit] = await Promise.all([
        timed(db.query('SELECT 1', [])),
        timed(db.transaction((tx) => tx.query('SELECT 1', []))),
        timed(db.autocommit('SELECT 1', [])),
      ]);
      expect([query[0], transaction[0], autocommit[0]]).toEqual([false, false, 'unknown']);
      expect(query[1]).toBeLessThan(1_900);
      expect(transaction[1]).toBeLessThan(1_900); // no ROLLBACK waited for on the silent connection
      expect(autocommit[1]).toBeLessThan(1_000 + 3 * 2_000 + 900); // and its backend checks
      // The silent connections were dropped: the pool's new ones answer.
      await expect(Promise.all([1, 2, 3].map((n) => db.query<{ n: number }>('SELECT $1::int AS n', [n])))).resolves.toHaveLength(3);
    } finally {
      await db.close().catch(() => undefined);
      await proxy.close();
    }
  });

  describe('an autocommitted statement whose connection is lost', () => {
    let x: Client;
    beforeEach(async () => {
      x = new Client({ connectionString: database.url() });
      x.on('error', () => undefined);
      await x.connect();
      await x.query('CREATE TABLE IF NOT EXISTS public.landing (n int)');
      await x.query('TRUNCATE public.landing');
    });
    afterEach(() => x.end());

    /** Waits until a session of the database waits for a lock. */
    const someoneWaits = async () => {
      for (;;) {
        const { rowCount } = await x.query('SELECT 1 FROM pg_locks l JOIN pg_database d ON d.oid = l.database WHERE NOT l.granted AND d.datname = $1', [database.name]);
        if (rowCount) return;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    };

    it('cut off from the server while it waits for a lock: unknown, may still land, and lands', async () => {
      const proxy = await partitionableProxy();
      const db = new PgDatabase({ connectionString: proxy.url(database.name), schema: 'public', max: 1 });
      try {
        await x.query('BEGIN');
        await x.query('LOCK TABLE public.landing IN ACCESS EXCLUSIVE MODE');
        const inserting = db.autocommit('INSERT INTO landing VALUES (1)', []).catch((e: unknown) => e);
        await someoneWaits();
        proxy.partition();
        const error = await inserting;
        await x.query('COMMIT');
        expect(error).toBeInstanceOf(InteractionUnavailableError);
        expect(error).toMatchObject({ committed: 'unknown', mayStillLand: true });
        // The server ran it on once it had the lock: "not in the table yet" did not mean "never".
        for (let tries = 0; (await x.query('SELECT 1 FROM public.landing')).rowCount === 0; tries++) {
          if (tries > 100) throw new Error('the statement never landed');
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      } finally {
        await db.close().catch(() => undefined);
        await proxy.close();
      }
    });

    it('whose backend is gone (terminated): unknown, but settled — a read tells what became of it', async () => {
      const db = new PgDatabase({ connectionString: database.url(), schema: 'public', max: 1 });
      try {
        await x.query('BEGIN');
        await x.query('LOCK TABLE public.landing IN ACCESS EXCLUSIVE MODE');
        const inserting = db.autocommit('INSERT INTO landing VALUES (1)', []).catch((e: unknown) => e);
        await someoneWaits();
        await x.query(
          `SELECT pg_terminate_backend(l.pid) FROM pg_locks l JOIN pg_database d ON d.oid = l.database WHERE NOT l.granted AND d.datname = $1`,
          [database.name],
        );
        const error = await inserting;
        await x.query('COMMIT');
        expect(error).toBeInstanceOf(InteractionUnavailableError);
        expect(error).toMatchObject({ committed: 'unknown', mayStillLand: false });
        expect((await x.query('SELECT 1 FROM public.landing')).rowCount).toBe(0);
      } finally {
        await db.close().catch(() => undefined);
      }
    });
  });

  it('answers InteractionUnavailableError while the server cannot be reached', async () => {
    const unreachable = await NestFactory.createApplicationContext(
      InteractionsModule.forRoot({
        database: { connectionString: 'postgres://postgres@127.0.0.1:1/none' },
        migrate: false,
        contactDirectory: contacts,
      }),
      { logger: false },
    );
    try {
      const service = unreachable.get(InteractionsService);
      const contactUuid = contacts.add({ uuid: uuidv7() }).uuid;
      const error = await service.createInteraction({ contactUuid }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InteractionUnavailableError);
      expect(error).toMatchObject({ committed: false, retryable: true });
      await expect(service.getInteraction(uuidv7())).rejects.toBeInstanceOf(InteractionUnavailableError);
    } finally {
      await unreachable.close();
    }
  });
});

function countBy(values: unknown[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const value of values) counts[String(value)] = (counts[String(value)] ?? 0) + 1;
  return counts;
}
