import { AddressInfo, connect, createServer, Socket } from 'node:net';
import { Client } from 'pg';
import { EventStoreDbEventStore } from '../../src/adapters/eventstoredb/eventstoredb-event-store';
import { SubscriptionProjector } from '../../src/adapters/eventstoredb/subscription-projector';
import { AdvisoryLockLease, projectionLeaseKey } from '../../src/adapters/postgres/advisory-lock-lease';
import { LeaseTerm } from '../../src/ports/projection-lease';
import { PgDatabase } from '../../src/adapters/postgres/database';
import { Database, Queryable } from '../../src/ports/database';
import { RecordedEvent } from '../../src/ports/event-store';
import { CatchUpProjector, readCheckpoint } from '../../projections/catch-up';
import { admin, partitionableProxy } from '../support/faults';
import { TEST_DATABASE_URL, uniqueSchema } from '../support/postgres';
import { EsdbUnderTest, eventually, migratedPostgres, originOf, startEsdb, writerOver } from './support';

/** A connection string whose sessions show as `name` in pg_stat_activity, so a test can end just those. */
function tagged(name: string): string {
  const url = new URL(TEST_DATABASE_URL);
  url.searchParams.set('application_name', name);
  return url.toString();
}

/** Terminates the sessions tagged `name` (only the test's own); how many. */
async function terminate(name: string): Promise<number> {
  return admin(async (client) => {
    const { rowCount } = await client.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [name]);
    return rowCount ?? 0;
  });
}

/**
 * The projection lease in one process: the advisory lock itself (one holder per schema, released with its
 * session), and projectors that apply only while they hold it and otherwise wait on the stored checkpoint.
 * scale-out.spec.ts does the same with real processes.
 */
describe('the projection lease (a PostgreSQL advisory lock)', () => {
  const leases: AdvisoryLockLease[] = [];
  afterEach(async () => {
    await Promise.all(leases.splice(0).map((lease) => lease.close()));
  });

  function lease(schema: string, name = `lease_${schema}`): AdvisoryLockLease {
    const made = new AdvisoryLockLease({ connectionString: tagged(name), schema, heartbeatMs: 200, heartbeatTimeoutMs: 1000 });
    leases.push(made);
    return made;
  }

  it('has one holder per schema; closing it frees the lease for the next', async () => {
    const schema = uniqueSchema('lease');
    const [first, second] = [lease(schema), lease(schema)];
    const held = await first.tryAcquire();
    expect(held).not.toBeNull();
    expect(await second.tryAcquire()).toBeNull();
    expect(await second.tryAcquire()).toBeNull(); // asking again changes nothing
    expect(await lease(uniqueSchema('lease')).tryAcquire()).not.toBeNull(); // another schema: its own lease

    await first.close();
    expect(await held!.lost).toBeInstanceOf(Error); // the holder learns its term ended
    expect(await second.tryAcquire()).not.toBeNull();
    expect(await first.tryAcquire()).toBeNull(); // closed for good
  });

  it('is lost when its connection is dropped, and released on the server with it', async () => {
    const schema = uniqueSchema('lease');
    const name = `drop_${schema}`;
    const holder = lease(schema, name);
    const term: LeaseTerm | null = await holder.tryAcquire();
    expect(term).not.toBeNull();
    const other = lease(schema);
    expect(await other.tryAcquire()).toBeNull();

    expect(await terminate(name)).toBe(1);
    const reason = await Promise.race([term!.lost, new Promise((resolve) => setTimeout(() => resolve('still held'), 5000))]);
    expect(reason).toBeInstanceOf(Error);
    expect(await eventually(() => other.tryAcquire(), (t) => t !== null, 5000)).not.toBeNull();
    expect(await holder.tryAcquire()).toBeNull(); // a new connection, but the lease is the other's now
  });

  it('a follower whose connection went silent (a partition) gives up its attempt within the heartbeat timeout, and takes the lease over', async () => {
    const schema = uniqueSchema('lease');
    const holder = lease(schema);
    const proxy = await partitionableProxy();
    const follower = new AdvisoryLockLease({ connectionString: proxy.url(new URL(TEST_DATABASE_URL).pathname.slice(1)), schema, heartbeatMs: 200, heartbeatTimeoutMs: 1000 });
    leases.push(follower);
    try {
      expect(await holder.tryAcquire()).not.toBeNull();
      expect(await follower.tryAcquire()).toBeNull(); // its connection stays open for the next attempt
      proxy.freeze();
      await holder.close();
      const started = Date.now();
      await expect(follower.tryAcquire()).rejects.toThrow('the lease connection did not answer within 1000 ms');
      expect(Date.now() - started).toBeLessThan(2_500);
      expect(await follower.tryAcquire()).not.toBeNull(); // on a new connection
    } finally {
      await follower.close();
      await proxy.close();
    }
  });

  it('is released on the server soon after its holder vanished without closing its socket, so a follower takes it over', async () => {
    const schema = uniqueSchema('lease');
    const proxy = await partitionableProxy();
    const holder = new AdvisoryLockLease({ connectionString: proxy.url(new URL(TEST_DATABASE_URL).pathname.slice(1)), schema, heartbeatMs: 200, heartbeatTimeoutMs: 1000 });
    leases.push(holder);
    const follower = lease(schema);
    try {
      const term = await holder.tryAcquire();
      expect(term).not.toBeNull();
      proxy.freeze(); // the holder's host is gone: nothing reaches the server, nothing is closed
      expect(await term!.lost).toBeInstanceOf(Error);
      const started = Date.now();
      // The server ends the silent session once idle for max(3 heartbeats, 2 timeouts) = 2 s.
      expect(await eventually(() => follower.tryAcquire(), (t) => t !== null, 10_000)).not.toBeNull();
      expect(Date.now() - started).toBeLessThan(6_000);
    } finally {
      await holder.close();
      await proxy.close();
    }
  });

  it('the key is 64 bits of schema and projection name', () => {
    expect(projectionLeaseKey('a')).toBe(projectionLeaseKey('a', 'interactions'));
    expect(projectionLeaseKey('a')).not.toBe(projectionLeaseKey('b'));
    expect(projectionLeaseKey('a')).not.toBe(projectionLeaseKey('a', 'other'));
    expect(BigInt(projectionLeaseKey('a'))).toBeGreaterThanOrEqual(-(2n ** 63n));
    expect(BigInt(projectionLeaseKey('a'))).toBeLessThan(2n ** 63n);
  });

  describe('projectors with the lease', () => {
    let esdb: EsdbUnderTest;
    let store: EventStoreDbEventStore;
    let db: Database;
    let cleanupDb: () => Promise<void>;
    const projectors: SubscriptionProjector[] = [];
    let leaseEvents: [string, string][];

    beforeEach(async () => {
      esdb = await startEsdb();
      store = EventStoreDbEventStore.connect(esdb.connectionString);
      ({ db, cleanup: cleanupDb } = await migratedPostgres(4));
      leaseEvents = [];
      const origin = await originOf(esdb.connectionString);
      if (origin.commit > 0n) {
        await db.query(`INSERT INTO projection_checkpoints (name, commit_position, prepare_position) VALUES ('interactions', $1, $2)`, [
          origin.commit.toString(),
          origin.prepare.toString(),
        ]);
      }
    });
    afterEach(async () => {
      await Promise.all(projectors.splice(0).map((p) => p.stop()));
      await store.close();
      await esdb.close();
      await cleanupDb();
    });

    function start(name: string): SubscriptionProjector {
      const projector = new SubscriptionProjector(db, store, {
        leaseRetryMs: 100,
        retry: { initialMs: 20, maxMs: 200 },
        onLease: (event) => leaseEvents.push([name, event.kind]),
      });
      projector.useLease(lease(db.schema, name)).start();
      projectors.push(projector);
      return projector;
    }

    const roles = (...all: SubscriptionProjector[]) => all.map((p) => p.status().role);

    it('one applies; the other has no subscription and its waits end on the stored checkpoint; a lost lease moves', async () => {
      const [a, b] = [start(`pa_${db.schema}`), start(`pb_${db.schema}`)];
      await eventually(async () => roles(a, b).sort().join(), (r) => r === 'follower,leader', 5000);
      const [leader, follower] = a.status().role === 'leader' ? [a, b] : [b, a];
      const leaderName = leader === a ? `pa_${db.schema}` : `pb_${db.schema}`;

      const write = writerOver(store);
      await write.create('one', ['Ann']);
      const head = await store.headPosition();
      expect(await follower.waitFor(head, 5000)).toBe('reached');
      expect(await readCheckpoint(db)).toEqual(head); // the follower's wait ended on what the leader stored
      expect(follower.status()).toMatchObject({ role: 'follower', running: true, connected: false, caughtUp: false, lastError: null });
      expect(leader.status()).toMatchObject({ role: 'leader', connected: true });

      // The leader's lease connection drops: it stops applying at once, and one of the two (whichever asks
      // first once the server has ended the old session) holds the lease again within moments.
      expect(await terminate(leaderName)).toBe(1);
      await eventually(async () => leaseEvents, (events) => events.some(([n, kind]) => n === leaderName && kind === 'lost'), 5000);
      expect(leaseEvents).toContainEqual([leaderName, 'lost']);
      await eventually(async () => leaseEvents.filter(([, kind]) => kind === 'acquired').length, (n) => n === 2, 5000);
      await write.create('two', ['Bob']);
      const later = await store.headPosition();
      expect(await a.waitFor(later, 5000)).toBe('reached');
      expect(await b.waitFor(later, 5000)).toBe('reached');
      expect(roles(a, b).sort()).toEqual(['follower', 'leader']);
      const { rows } = await db.query<{ subject: string }>('SELECT subject FROM interactions ORDER BY subject', []);
      expect(rows.map((r) => r.subject)).toEqual(['one', 'two']);
    });

    it('while no instance applies, a wait times out as on the leader; it ends once one takes the lease', async () => {
      // Another "instance" holds the lease and does nothing.
      const squatter = new Client({ connectionString: TEST_DATABASE_URL });
      await squatter.connect();
      try {
        await squatter.query('SELECT pg_advisory_lock($1::bigint)', [projectionLeaseKey(db.schema)]);
        const projector = start(`pw_${db.schema}`);
        await writerOver(store).create('waiting', []);
        const head = await store.headPosition();
        expect(await projector.waitFor(head, 300)).toBe('timeout');
        expect(projector.status()).toMatchObject({ role: 'follower', connected: false });

        const waiting = projector.waitFor(head, 5000);
        await squatter.query('SELECT pg_advisory_unlock($1::bigint)', [projectionLeaseKey(db.schema)]);
        expect(await waiting).toBe('reached');
        expect(projector.status().role).toBe('leader');
      } finally {
        await squatter.end();
      }
    });

    it('a leader cut off mid-batch (a host gone without a reset) holds up no other: the server ends its transaction', async () => {
      await writerOver(store).create('held up', ['Ann']);
      const events: RecordedEvent[] = [];
      for await (const batch of store.readAll(await readCheckpoint(db))) events.push(...batch);
      const proxy = await partitionableProxy();
      const cutOff = new PgDatabase({ connectionString: proxy.url(new URL(TEST_DATABASE_URL).pathname.slice(1)), schema: db.schema, max: 1 });
      let holding!: () => void;
      const holds = new Promise<void>((resolve) => (holding = resolve));
      // The old leader's batch takes the checkpoint row's lock, then its host goes silent.
      const frozenMidBatch: Database = {
        schema: cutOff.schema,
        query: (text, params) => cutOff.query(text, params),
        transaction: (fn) =>
          cutOff.transaction((tx) => {
            const freezing: Queryable = {
              query: async (text, params) => {
                const result = await tx.query(text, params);
                if (/FOR UPDATE/.test(text)) {
                  proxy.freeze();
                  holding();
                }
                return result as never;
              },
            };
            return fn(freezing);
          }),
        close: () => cutOff.close(),
      };
      const stuck = new CatchUpProjector(frozenMidBatch, store).applyBatch(events).catch(() => 'failed');
      try {
        await holds;
        const started = Date.now();
        const applied = await Promise.race([
          new CatchUpProjector(db, store).applyBatch(events),
          new Promise((resolve) => setTimeout(() => resolve('still waiting for the frozen batch'), 20_000).unref()),
        ]);
        expect(applied).toBe(events.length);
        expect(Date.now() - started).toBeLessThan(15_000);
        const { rows } = await db.query<{ subject: string }>('SELECT subject FROM interactions', []);
        expect(rows).toEqual([{ subject: 'held up' }]);
      } finally {
        await proxy.close();
        await stuck;
        await cutOff.close();
      }
    }, 40_000);

    it('a leader cut off from EventStoreDB alone gives the lease up, and another instance applies', async () => {
      // The leader reaches EventStoreDB through a proxy that is then cut; PostgreSQL (its lease) stays reachable.
      const target = new URL(esdb.connectionString.replace(/^esdb/, 'http'));
      const sockets: Socket[] = [];
      let cut = false;
      const proxy = createServer((client) => {
        if (cut) return void client.destroy();
        const server = connect(Number(target.port), target.hostname);
        for (const socket of [client, server]) socket.on('error', () => undefined);
        client.pipe(server);
        server.pipe(client);
        sockets.push(client, server);
      });
      await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
      const cutOffStore = EventStoreDbEventStore.connect(`esdb://127.0.0.1:${(proxy.address() as AddressInfo).port}?tls=false`);
      const leaderName = `pc_${db.schema}`;
      const leader = new SubscriptionProjector(db, cutOffStore, {
        leaseRetryMs: 100,
        retry: { initialMs: 20, maxMs: 200 },
        resignAfterMs: 1000,
        onLease: (event) => leaseEvents.push([leaderName, event.kind]),
      });
      try {
        leader.useLease(lease(db.schema, leaderName)).start();
        await eventually(async () => leader.status(), (s) => s.role === 'leader' && s.connected, 5000);
        const follower = start(`pf_${db.schema}`);
        const write = writerOver(store);
        await write.create('before the cut', []);
        expect(await follower.waitFor(await store.headPosition(), 5000)).toBe('reached');

        cut = true;
        for (const socket of sockets) socket.destroy();
        await write.create('after the cut', []);
        expect(await follower.waitFor(await store.headPosition(), 10_000)).toBe('reached');
        expect(follower.status().role).toBe('leader');
        expect(leaseEvents).toContainEqual([leaderName, 'resigned']);
        const { rows } = await db.query<{ subject: string }>('SELECT subject FROM interactions ORDER BY subject', []);
        expect(rows.map((r) => r.subject)).toEqual(['after the cut', 'before the cut']);
      } finally {
        await leader.stop();
        await cutOffStore.close().catch(() => undefined);
        for (const socket of sockets) socket.destroy();
        await new Promise((resolve) => proxy.close(resolve));
      }
    }, 30_000);

    it('stops at once, also while taking the lease, and gives it up', async () => {
      for (let i = 0; i < 5; i++) {
        const projector = start(`ps_${db.schema}`);
        if (i % 2 === 1) await new Promise((resolve) => setTimeout(resolve, 5 * i));
        const started = Date.now();
        await projector.stop();
        expect(Date.now() - started).toBeLessThan(3000);
        expect(projector.status()).toMatchObject({ running: false });
      }
      const sessions = async () =>
        Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = $1', [`ps_${db.schema}`])).rows[0]!.n);
      expect(await eventually(sessions, (n) => n === 0, 3000)).toBe(0); // no lease connection left behind
      expect(await lease(db.schema).tryAcquire()).not.toBeNull(); // nobody holds it any more
    });
  });
});
