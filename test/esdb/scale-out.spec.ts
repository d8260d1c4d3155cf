import { ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { uuidv7 } from 'uuidv7';
import { EventStoreDbEventStore } from '../../src/adapters/eventstoredb/eventstoredb-event-store';
import { PgDatabase } from '../../src/adapters/postgres/database';
import { comparePositions } from '../../src/ports/event-store';
import { readCheckpoint } from '../../projections/catch-up';
import { migrate, READ_TABLE_MIGRATIONS } from '../../projections/migrate';
import { dropSchema, TEST_DATABASE_URL, uniqueSchema } from '../support/postgres';
import { EsdbUnderTest, eventually, originOf, startEsdb } from './support';
import { compiledPath } from '../support/compiled';

interface Reply {
  id: number;
  ok: boolean;
  error?: string;
  uuid?: string;
  ms?: number;
  subject?: string | null;
  status?: { role: 'leader' | 'follower'; running: boolean; connected: boolean; caughtUp: boolean; lastError: string | null; position: string };
}

/**
 * One instance of the host in a process of its own (scale-out-child.ts), on the test's schema and the
 * test's EventStoreDB, its PostgreSQL connections tagged `application_name = name`. Requests go over IPC.
 */
class Instance {
  readonly child: ChildProcess;
  readonly ready: Promise<number>;
  readonly exited: Promise<NodeJS.Signals | number | null>;
  readonly log: string[] = [];
  private nextId = 0;
  private readonly pending = new Map<number, (reply: Reply) => void>();

  constructor(
    readonly name: string,
    esdb: string,
    schema: string,
  ) {
    const url = new URL(TEST_DATABASE_URL);
    url.searchParams.set('application_name', name);
    this.child = spawn(
      process.execPath,
      [compiledPath(join(__dirname, 'scale-out-child.ts')), esdb, schema, url.toString(), name],
      { stdio: ['ignore', 'pipe', 'pipe', 'ipc'] },
    );
    for (const stream of [this.child.stdout!, this.child.stderr!]) {
      createInterface({ input: stream }).on('line', (line) => this.log.push(line));
    }
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve(signal ?? code)));
    this.ready = new Promise((resolve, reject) => {
      this.child.on('message', (message: Reply & { ready?: boolean; pid?: number }) => {
        if (message.ready) return resolve(message.pid!);
        this.pending.get(message.id)?.(message);
        this.pending.delete(message.id);
      });
      void this.exited.then((how) => reject(new Error(`${name} exited (${String(how)}) before it was ready:\n${this.log.join('\n')}`)));
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  request(message: Record<string, unknown>, timeoutMs = 20_000): Promise<Reply> {
    const id = ++this.nextId;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${this.name}: no answer to ${JSON.stringify(message)} within ${timeoutMs} ms:\n${this.log.join('\n')}`));
      }, timeoutMs);
      this.pending.set(id, (reply) => {
        clearTimeout(timer);
        if (reply.ok) resolve(reply);
        else reject(new Error(`${this.name}: ${reply.error}`));
      });
      this.child.send({ id, ...message });
    });
  }

  async create(contactUuid: string, subject: string): Promise<{ uuid: string; ms: number }> {
    const reply = await this.request({ op: 'create', contactUuid, subject });
    return { uuid: reply.uuid!, ms: reply.ms! };
  }

  async subjectOf(uuid: string): Promise<string | null> {
    return (await this.request({ op: 'get', uuid })).subject ?? null;
  }

  async status(): Promise<NonNullable<Reply['status']>> {
    return (await this.request({ op: 'status' })).status!;
  }

  /** Closes the application (the lease is released); SIGKILL when it does not exit within 10 s. */
  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    await this.request({ op: 'close' }, 5000).catch(() => undefined);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await this.exited;
    clearTimeout(timer);
  }
}

/**
 * Several instances of the host on one PostgreSQL schema and one EventStoreDB (issue 10, "Scale-out"):
 * exactly one applies the subscription projection (it holds the lease), read-your-writes holds on every
 * instance, and when the leader dies another takes over within seconds. Real processes, so that a lease
 * held by a session dies with its process as it would in production.
 */
describe('EventStoreDB with two instances of the host', () => {
  let esdb: EsdbUnderTest;
  let store: EventStoreDbEventStore;
  let db: PgDatabase;
  const schema = uniqueSchema('scale');
  const instances: Instance[] = [];
  const contact = uuidv7();

  /** Which instance wrote each checkpoint (a trigger of the test's own on projection_checkpoints). */
  async function appliers(afterId = 0): Promise<string[]> {
    const { rows } = await db.query<{ application_name: string }>(
      'SELECT DISTINCT application_name FROM applied_by WHERE id > $1 ORDER BY 1',
      [afterId],
    );
    return rows.map((row) => row.application_name);
  }

  async function lastApplierRow(): Promise<number> {
    const { rows } = await db.query<{ id: string | null }>('SELECT max(id) AS id FROM applied_by', []);
    return Number(rows[0]!.id ?? 0);
  }

  async function expectCaughtUp(): Promise<void> {
    const head = await store.headPosition();
    const checkpoint = await eventually(() => readCheckpoint(db), (c) => comparePositions(c, head) >= 0, 10_000);
    expect(comparePositions(checkpoint, head)).toBeGreaterThanOrEqual(0);
  }

  /** `count` creates through `instance`, each read back through the same instance at once. */
  async function writeAndReadBack(instance: Instance, count: number, tag: string): Promise<number[]> {
    const latencies: number[] = [];
    for (let i = 0; i < count; i++) {
      const subject = `${tag} ${i} via ${instance.name}`;
      const { uuid, ms } = await instance.create(contact, subject);
      latencies.push(ms);
      expect(await instance.subjectOf(uuid)).toBe(subject); // read-your-writes: no waiting, no retry
    }
    return latencies;
  }

  function spawnInstance(label: string): Instance {
    const instance = new Instance(`${label}_${schema}`, esdb.connectionString, schema);
    instances.push(instance);
    return instance;
  }

  async function roles(): Promise<Map<Instance, string>> {
    const live = instances.filter((i) => i.child.exitCode === null && i.child.signalCode === null);
    return new Map(await Promise.all(live.map(async (i) => [i, (await i.status()).role] as const)));
  }

  beforeAll(async () => {
    esdb = await startEsdb();
    store = EventStoreDbEventStore.connect(esdb.connectionString);
    db = new PgDatabase({ connectionString: TEST_DATABASE_URL, schema, max: 2 });
    await migrate(db, [READ_TABLE_MIGRATIONS]);
    const origin = await originOf(esdb.connectionString); // a shared server: start at its head
    if (origin.commit > 0n) {
      await db.query(`INSERT INTO projection_checkpoints (name, commit_position, prepare_position) VALUES ('interactions', $1, $2)`, [
        origin.commit.toString(),
        origin.prepare.toString(),
      ]);
    }
    await db.query(`
      CREATE TABLE applied_by (id bigserial PRIMARY KEY, application_name text NOT NULL);
      CREATE FUNCTION note_applier() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN INSERT INTO ${schema}.applied_by (application_name) VALUES (current_setting('application_name')); RETURN NULL; END $$;
      CREATE TRIGGER note_applier AFTER INSERT OR UPDATE ON projection_checkpoints FOR EACH ROW EXECUTE FUNCTION note_applier();
    `);
    const a = spawnInstance('a');
    await a.ready;
    const b = spawnInstance('b');
    await b.ready;
  }, 90_000);

  afterAll(async () => {
    await Promise.all(instances.map((instance) => instance.close()));
    await store?.close();
    await esdb?.close();
    await db?.close();
    await dropSchema(schema);
  }, 60_000);

  let leader: Instance;
  let follower: Instance;

  it('exactly one instance applies the projection; a write through either is visible through it at once', async () => {
    const [a, b] = instances as [Instance, Instance];
    const settled = await eventually(roles, (r) => [...r.values()].sort().join() === 'follower,leader', 10_000);
    expect([...settled.values()].sort()).toEqual(['follower', 'leader']);
    leader = [...settled].find(([, role]) => role === 'leader')![0];
    follower = leader === a ? b : a;

    const [viaLeader, viaFollower] = await Promise.all([
      writeAndReadBack(leader, 15, 'both write'),
      writeAndReadBack(follower, 15, 'both write'),
    ]);
    await expectCaughtUp();
    const { rows } = await db.query<{ n: string }>('SELECT count(*) AS n FROM interactions', []);
    expect(Number(rows[0]!.n)).toBe(30);
    expect(await appliers()).toEqual([leader.name]); // only the lease holder ever wrote a checkpoint

    expect(await leader.status()).toMatchObject({ role: 'leader', running: true, connected: true, lastError: null });
    // The follower has no subscription: it only reads the checkpoint while its commands wait.
    expect(await follower.status()).toMatchObject({ role: 'follower', running: true, connected: false, caughtUp: false });
    const median = (values: number[]) => [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)]!.toFixed(1);
    console.log(`create (read-your-writes) median: ${median(viaLeader)} ms on the leader, ${median(viaFollower)} ms on the follower`);
  }, 60_000);

  it('when the leader is killed, the other takes over within seconds; writes in between and later are projected', async () => {
    expect(leader).toBeDefined();
    const killedAt = Date.now();
    process.kill(leader.pid, 'SIGKILL');
    expect(await leader.exited).toBe('SIGKILL');

    // A command right away: it waits (read-your-writes) until the new leader has applied it.
    const during = follower.create(contact, 'during the takeover');
    await eventually(() => follower.status(), (s) => s.role === 'leader', 15_000);
    const takeoverMs = Date.now() - killedAt;
    expect((await follower.status()).role).toBe('leader');
    expect(takeoverMs).toBeLessThan(10_000); // the lease is tried every second: about one second
    const { uuid, ms } = await during;
    expect(await follower.subjectOf(uuid)).toBe('during the takeover');

    const sinceTakeover = await lastApplierRow();
    await writeAndReadBack(follower, 10, 'after the takeover');
    await expectCaughtUp();
    expect(await appliers(sinceTakeover)).toEqual([follower.name]);
    const { rows } = await db.query<{ n: string }>('SELECT count(*) AS n FROM interactions', []);
    expect(Number(rows[0]!.n)).toBe(41);

    // A new instance joins as a follower; read-your-writes holds on it, and its writes show everywhere.
    const late = spawnInstance('c');
    await late.ready;
    expect((await late.status()).role).toBe('follower');
    const joined = await late.create(contact, 'via the newcomer');
    expect(await late.subjectOf(joined.uuid)).toBe('via the newcomer');
    expect(await follower.subjectOf(joined.uuid)).toBe('via the newcomer');
    expect(await appliers(sinceTakeover)).toEqual([follower.name]);
    expect((await follower.status()).role).toBe('leader');
    console.log(`takeover ${takeoverMs} ms after the kill; the command issued at the kill took ${ms.toFixed(0)} ms`);
  }, 90_000);
});
