import { PgDatabase } from '../../src/adapters/postgres/database';
import { ErasingEventStore } from '../../src/adapters/erasure/erasing-event-store';
import { PostgresEventStore } from '../../src/adapters/postgres/postgres-event-store';
import { rebuild } from '../../projections/catch-up';
import { HostProcess, spawnHost } from '../demo/host-process';
import { dropSchema, TEST_DATABASE_URL, uniqueSchema } from '../support/postgres';
import { prng } from '../support/random';
import { readTables } from '../support/read-tables';

/**
 * Scale-out (issue 10) on the PostgreSQL event store: two real processes of the demo host (as `npm start`
 * runs it), each on its own port on 127.0.0.1, on ONE database and ONE schema, as two instances behind a
 * load balancer would be. Both take commands for the same interactions at once.
 *
 * - Without `expectedVersion`: no command is refused and none is lost or doubled; every acknowledged update
 *   is in its interaction's stream exactly once, at the version the instance answered, and the read
 *   tables equal a rebuild from the log.
 * - With `expectedVersion`: of the racers that read the same version, on either instance, exactly one wins;
 *   the others get 409.
 * - Read-your-writes on both instances: the read tables are written in the append's own transaction, so
 *   once either instance has acknowledged a write, a read from EITHER instance shows it.
 *
 * The instances start at the same moment on an empty schema: the module's migration and the demo host's
 * own start-up (its contacts table, its sample data, added once) take turns.
 *
 * Random choices come from SCALE_OUT_SEED (printed), so a failing run replays.
 */

const SEED = Number(process.env.SCALE_OUT_SEED ?? 20_260_412);
const INTERACTIONS = 20;
const UPDATES = 400; // half to each instance
const WORKERS = 16; // requests in flight at once, over both instances
const KEYED_ROUNDS = 24; // of 8 racers each, 4 on each instance

interface Interaction {
  uuid: string;
  version: number;
  subject: string | null;
  body: string | null;
  contactUuid: string;
  parties: Array<{ rawName: string; contactUuid: string | null }>;
  [field: string]: unknown;
}

interface HistoryEvent {
  id: string;
  type: string;
  revision: number;
  data: Record<string, unknown> & { changes?: Record<string, unknown> };
  metadata: { correlationId?: string; idempotencyKey?: string; [key: string]: unknown } | null;
}

interface Answer<T = any> { // eslint-disable-line @typescript-eslint/no-explicit-any -- JSON from the wire
  status: number;
  body: T;
}

async function call<T = any>( // eslint-disable-line @typescript-eslint/no-explicit-any -- JSON from the wire
  host: HostProcess,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Answer<T>> {
  const response = await fetch(`${host.base}${path}`, {
    method,
    headers: { 'content-type': 'application/json', ...headers },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, body: (text ? JSON.parse(text) : null) as T };
}

/** JSON with sorted keys: the same interaction, whichever instance answered it, reads the same. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b))) : v,
  );
}

describe('two instances of the host on one PostgreSQL event store', () => {
  const schemas = { module: uniqueSchema('scale'), contacts: uniqueSchema('scale_demo') };
  const env = {
    DATABASE_URL: TEST_DATABASE_URL,
    CRM_INTERACTIONS_SCHEMA: schemas.module,
    DEMO_CONTACTS_SCHEMA: schemas.contacts,
    LOG_LEVEL: 'info', // the host announces its port at info
  };
  /** The two instances; `hosts[i]` is undefined once stopped. */
  const hosts: Array<HostProcess | undefined> = [];
  /** Every child this file started, by pid: the only processes it ever signals. */
  const started: HostProcess[] = [];
  /** What either instance logged at error level (pino level 50), first line of each: a 500's cause. */
  const serverErrors: string[] = [];
  let contacts: string[] = [];
  let interactions: string[] = [];

  const A = () => hosts[0]!;
  const B = () => hosts[1]!;
  const nameOf = (host: HostProcess) => (host === hosts[0] ? 'A' : 'B');

  beforeAll(async () => {
    const begun = Date.now();
    // Both at once, on an empty schema: the demo host's start-up (its table, its sample data) takes turns.
    const spawning = [spawnHost(env), spawnHost(env)];
    for (let i = 0; i < 2; i++) {
      const spawned = spawning[i]!;
      const name = i === 0 ? 'A' : 'B';
      for (const stream of [spawned.child.stdout!, spawned.child.stderr!]) {
        let pending = '';
        stream.on('data', (chunk: Buffer) => {
          const lines = (pending + chunk.toString()).split('\n');
          pending = lines.pop()!;
          for (const line of lines) {
            const msg = /"level":50,.*?"msg":"((?:[^"\\]|\\.)*)"/.exec(line)?.[1];
            if (msg !== undefined) serverErrors.push(`${name}: ${msg.split('\\n')[0]}`);
          }
        });
      }
      started.push({ child: spawned.child } as HostProcess); // killed in afterAll even if it never listens
      const host = await spawned.started;
      started[started.length - 1] = host;
      hosts.push(host);
    }
    expect(new Set(hosts.map((h) => h!.child.pid)).size).toBe(2);
    expect(new Set(hosts.map((h) => h!.base)).size).toBe(2);
    console.log(`scale-out: seed ${SEED}; two hosts (pids ${hosts.map((h) => h!.child.pid).join(', ')}) up in ${Date.now() - begun} ms`);

    // The sample contacts, added by one instance only; the other sees the same directory.
    const [fromA, fromB] = await Promise.all([call<{ uuid: string }[]>(A(), 'GET', '/contacts'), call<{ uuid: string }[]>(B(), 'GET', '/contacts')]);
    contacts = fromA.body.map((c) => c.uuid);
    expect(contacts).toHaveLength(3);
    expect(fromB.body.map((c) => c.uuid)).toEqual(contacts);

    // The interactions both instances will fight over, created half on each.
    for (let i = 0; i < INTERACTIONS; i++) {
      const host = i % 2 === 0 ? A() : B();
      const created = await call<Interaction>(host, 'POST', '/interactions', {
        contactUuid: contacts[i % 3],
        interactionType: 'call',
        subject: `shared #${i}`,
        parties: [{ rawName: 'Party', contactUuid: contacts[(i + 1) % 3] }],
      });
      expect(created.status).toBe(201);
      interactions.push(created.body.uuid);
    }
  }, 40_000);

  afterAll(async () => {
    for (const host of started) {
      if (host.child.exitCode === null && host.child.signalCode === null) {
        host.child.kill('SIGKILL'); // this child's pid only
        await new Promise((resolveExit) => host.child.once('exit', resolveExit));
      }
    }
    await dropSchema(schemas.module);
    await dropSchema(schemas.contacts);
  });

  it('take concurrent updates of the same interactions without expectedVersion: none refused, none lost or doubled, reads see them on both', async () => {
    const random = prng(SEED);
    const plan = Array.from({ length: UPDATES }, (_, k) => ({
      k,
      target: interactions[Math.floor(random() * INTERACTIONS)]!,
      host: k % 2, // exactly half to each instance
      // A quarter also replace the parties: two events for one command.
      parties: random() < 0.25 ? [{ rawName: `R${k}`, contactUuid: contacts[Math.floor(random() * 3)]! }] : undefined,
      requestId: `scale-${SEED}-${k}`,
    }));
    const acknowledged = new Map<number, Interaction>(); // k → the interaction as the instance answered
    const refusals: string[] = [];
    const staleReads: string[] = [];
    let otherSawExact = 0;
    let next = 0;

    async function worker(): Promise<void> {
      for (let i = next++; i < plan.length; i = next++) {
        const step = plan[i]!;
        const host = hosts[step.host]!;
        const other = hosts[1 - step.host]!;
        const answer = await call<Interaction>(
          host,
          'PATCH',
          `/interactions/${step.target}`,
          { body: `update ${step.k}`, ...(step.parties && { parties: step.parties }) },
          { 'x-request-id': step.requestId },
        );
        if (answer.status !== 200) {
          refusals.push(`#${step.k} on ${nameOf(host)}: ${answer.status} ${JSON.stringify(answer.body)}`);
          continue;
        }
        acknowledged.set(step.k, answer.body);
        expect(answer.body.body).toBe(`update ${step.k}`);
        // Read-your-writes under load, on the instance that answered and on the other one: at least that
        // version (another writer may have moved it on since), and exactly this write when no one has.
        const [same, across] = await Promise.all([
          call<Interaction>(host, 'GET', `/interactions/${step.target}`),
          call<Interaction>(other, 'GET', `/interactions/${step.target}`),
        ]);
        for (const [read, who] of [[same, 'same'], [across, 'other']] as const) {
          const ok =
            read.status === 200 &&
            read.body.version >= answer.body.version &&
            (read.body.version !== answer.body.version || canonical(read.body) === canonical(answer.body));
          if (!ok) staleReads.push(`#${step.k} acknowledged v${answer.body.version} by ${nameOf(host)}; ${who} instance read ${read.status} v${read.body?.version}`);
        }
        if (across.body.version === answer.body.version) otherSawExact++;
      }
    }

    const errorsBefore = serverErrors.length;
    const begun = Date.now();
    await Promise.all(Array.from({ length: WORKERS }, () => worker()));
    const loadMs = Date.now() - begun;
    console.log(
      `scale-out load: ${UPDATES} updates of ${INTERACTIONS} interactions over 2 instances, ${WORKERS} in flight, in ${loadMs} ms; ` +
        `${acknowledged.size} acknowledged, ${refusals.length} refused; the other instance read exactly the acknowledged version ${otherSawExact} times`,
    );
    expect(serverErrors.slice(errorsBefore)).toEqual([]);
    expect(refusals).toEqual([]); // no 409, no 503, no 500: writers of one stream queue on its lock
    expect(acknowledged.size).toBe(UPDATES);
    expect(staleReads).toEqual([]);
    expect(plan.filter((s) => s.host === 0)).toHaveLength(UPDATES / 2);

    // Every acknowledged update is in its stream exactly once, at the version its instance answered, and
    // the stream holds nothing else beyond the create.
    const problems: string[] = [];
    for (const [index, uuid] of interactions.entries()) {
      const reader = index % 2 === 0 ? A() : B();
      const history = await call<HistoryEvent[]>(reader, 'GET', `/interactions/${uuid}/history`);
      expect(history.status).toBe(200);
      const events = history.body;
      if (!events.every((event, i) => event.revision === i)) problems.push(`${uuid}: revisions ${events.map((e) => e.revision).join(',')}`);
      const created = events.filter((e) => e.type === 'InteractionLogged');
      if (created.length !== 1 || events[0]!.type !== 'InteractionLogged') problems.push(`${uuid}: ${created.length} InteractionLogged`);
      const mine = plan.filter((s) => s.target === uuid);
      const byRequest = new Map<string, HistoryEvent[]>();
      for (const event of events) {
        const id = event.metadata?.correlationId ?? '';
        if (!id.startsWith('scale-')) continue;
        byRequest.set(id, [...(byRequest.get(id) ?? []), event]);
      }
      const creationEvents = events.filter((e) => !(e.metadata?.correlationId ?? '').startsWith('scale-')).length;
      let updateEvents = 0;
      for (const step of mine) {
        const got = byRequest.get(step.requestId) ?? [];
        updateEvents += got.length;
        const answered = acknowledged.get(step.k)!;
        const updated = got.filter((e) => e.type === 'InteractionUpdated');
        if (updated.length !== 1 || updated[0]!.data.changes?.body !== `update ${step.k}`) {
          problems.push(`${uuid}: update #${step.k} is in the stream ${updated.length} times`);
          continue;
        }
        const revisions = got.map((e) => e.revision);
        const contiguous = revisions.every((r, i) => i === 0 || r === revisions[i - 1]! + 1);
        if (!contiguous || revisions[revisions.length - 1] !== answered.version) {
          problems.push(`${uuid}: update #${step.k} at revisions ${revisions.join(',')}, answered as version ${answered.version}`);
        }
        if (got.length !== (step.parties ? 2 : 1)) problems.push(`${uuid}: update #${step.k} wrote ${got.map((e) => e.type).join(', ')}`);
      }
      if (byRequest.size !== mine.length || creationEvents + updateEvents !== events.length) {
        problems.push(`${uuid}: ${events.length} events, ${mine.length} updates acknowledged, ${byRequest.size} requests in the stream`);
      }
      // Both instances read the interaction as the stream's last event left it.
      const [fromA, fromB] = await Promise.all([call<Interaction>(A(), 'GET', `/interactions/${uuid}`), call<Interaction>(B(), 'GET', `/interactions/${uuid}`)]);
      if (canonical(fromA.body) !== canonical(fromB.body)) problems.push(`${uuid}: A and B read it differently`);
      if (fromA.body.version !== events.length - 1) problems.push(`${uuid}: read version ${fromA.body.version}, stream at ${events.length - 1}`);
      const lastUpdate = [...events].reverse().find((e) => e.type === 'InteractionUpdated');
      if (lastUpdate && fromA.body.body !== lastUpdate.data.changes?.body) problems.push(`${uuid}: body ${fromA.body.body}, last update ${String(lastUpdate.data.changes?.body)}`);
    }
    expect(problems).toEqual([]);

    // The read tables the two instances maintained inline equal a rebuild from the log (both idle now).
    const db = new PgDatabase({ connectionString: TEST_DATABASE_URL, schema: schemas.module, max: 2 });
    try {
      const live = await readTables(db);
      await rebuild(db, new ErasingEventStore(new PostgresEventStore(db), db));
      expect(await readTables(db)).toEqual(live);
      expect(live.interactions!.length).toBe(3 + INTERACTIONS); // the samples and ours
    } finally {
      await db.close();
    }
  }, 45_000);

  it('with expectedVersion: of two (and of six) racers on the two instances that read the same version, exactly one wins, the others get 409', async () => {
    const errorsBefore = serverErrors.length;
    const wins = { A: 0, B: 0 };
    for (let round = 0; round < 10; round++) {
      const uuid = interactions[round]!;
      const racers = round < 6 ? [A(), B()] : [A(), B(), A(), B(), A(), B()];
      const before = await call<Interaction>(racers[round % 2]!, 'GET', `/interactions/${uuid}`);
      expect(before.status).toBe(200);
      const version = before.body.version;
      const answers = await Promise.all(
        racers.map((host, i) =>
          call<Interaction & { actualVersion?: number }>(
            host,
            'PATCH',
            `/interactions/${uuid}`,
            { subject: `race ${round} racer ${i}`, expectedVersion: version },
            { 'x-request-id': `race-${SEED}-${round}-${i}` },
          ),
        ),
      );
      const statuses = answers.map((a) => a.status);
      expect(statuses.filter((s) => s === 200)).toHaveLength(1);
      expect(statuses.filter((s) => s === 409)).toHaveLength(racers.length - 1);
      const winner = statuses.indexOf(200);
      wins[nameOf(racers[winner]!) as 'A' | 'B']++;
      expect(answers[winner]!.body).toMatchObject({ subject: `race ${round} racer ${winner}`, version: version + 1 });
      for (const loser of answers.filter((a) => a.status === 409)) {
        expect(loser.body).toMatchObject({ error: 'Conflict', actualVersion: version + 1 });
      }
      // Nothing of the losers was written; both instances read the winner's write.
      const history = await call<HistoryEvent[]>(A(), 'GET', `/interactions/${uuid}/history`);
      const raced = history.body.filter((e) => (e.metadata?.correlationId ?? '').startsWith(`race-${SEED}-${round}-`));
      expect(raced.map((e) => [e.revision, e.metadata!.correlationId])).toEqual([[version + 1, `race-${SEED}-${round}-${winner}`]]);
      expect(history.body).toHaveLength(version + 2);
      for (const host of [A(), B()]) {
        expect((await call<Interaction>(host, 'GET', `/interactions/${uuid}`)).body).toMatchObject({ version: version + 1, subject: `race ${round} racer ${winner}` });
      }
    }
    console.log(`scale-out expectedVersion races: won by A ${wins.A}, by B ${wins.B} of 10`);
    expect(serverErrors.slice(errorsBefore)).toEqual([]);
  }, 20_000);

  it('read-your-writes on both instances: what one acknowledges, the same and the other instance read at once (item, feed, history)', async () => {
    const errorsBefore = serverErrors.length;
    const subject = contacts[0]!;
    for (let i = 0; i < 10; i++) {
      const [writer, other] = i % 2 === 0 ? [A(), B()] : [B(), A()];
      // A create on one instance is there on both, in the item and in the subject's feed.
      const created = await call<Interaction>(writer, 'POST', '/interactions', { contactUuid: subject, subject: `ryw ${i}` });
      expect(created.status).toBe(201);
      const uuid = created.body.uuid;
      for (const reader of [writer, other]) {
        const got = await call<Interaction>(reader, 'GET', `/interactions/${uuid}`);
        expect([nameOf(reader), got.status, canonical(got.body)]).toEqual([nameOf(reader), 200, canonical(created.body)]);
      }
      // An update acknowledged by the OTHER instance, read back at once on both.
      const updated = await call<Interaction>(other, 'PATCH', `/interactions/${uuid}`, { subject: `ryw ${i} changed`, expectedVersion: created.body.version });
      expect(updated.status).toBe(200);
      for (const reader of [other, writer]) {
        const got = await call<Interaction>(reader, 'GET', `/interactions/${uuid}`);
        expect(canonical(got.body)).toBe(canonical(updated.body));
        const feed = await call<{ items: Interaction[] }>(reader, 'GET', `/contacts/${subject}/interactions?limit=100`);
        expect(feed.status).toBe(200);
        expect(feed.body.items.find((item) => item.uuid === uuid)).toMatchObject({ subject: `ryw ${i} changed`, version: updated.body.version });
        const history = await call<HistoryEvent[]>(reader, 'GET', `/interactions/${uuid}/history`);
        expect(history.body[history.body.length - 1]!.revision).toBe(updated.body.version);
      }
      // A delete acknowledged by the first instance: gone on both at once, from the item and the feed.
      const deleted = await call(writer, 'DELETE', `/interactions/${uuid}`);
      expect(deleted.status).toBe(200);
      for (const reader of [writer, other]) {
        expect((await call(reader, 'GET', `/interactions/${uuid}`)).status).toBe(404);
        const feed = await call<{ items: Interaction[] }>(reader, 'GET', `/contacts/${subject}/interactions?limit=100`);
        expect(feed.body.items.some((item) => item.uuid === uuid)).toBe(false);
        // And a late update on either instance finds it deleted.
        expect((await call(reader, 'PATCH', `/interactions/${uuid}`, { subject: 'too late' })).status).toBe(404);
      }
    }
    expect(serverErrors.slice(errorsBefore)).toEqual([]);
  }, 20_000);

  it('one Idempotency-Key sent to both instances at once: one interaction created, one update applied, every answer the same', async () => {
    const problems: string[] = [];
    const statuses: Record<string, number> = {};
    const errorsBefore = serverErrors.length;
    for (let round = 0; round < KEYED_ROUNDS; round++) {
      const key = `scale-create-${SEED}-${round}`;
      const body = { contactUuid: contacts[round % 3], interactionType: 'meeting', subject: `once ${round}`, parties: [{ rawName: 'Once' }] };
      const creates = await Promise.all([A(), B(), A(), B(), A(), B(), A(), B()].map((host) => call<Interaction>(host, 'POST', '/interactions', body, { 'Idempotency-Key': key })));
      for (const c of creates) statuses[`create ${c.status}`] = (statuses[`create ${c.status}`] ?? 0) + 1;
      const ok = creates.filter((c) => c.status === 201);
      if (ok.length !== creates.length) problems.push(`round ${round}: keyed creates answered ${creates.map((c) => c.status).join(', ')}`);
      if (new Set(ok.map((c) => canonical(c.body))).size !== 1) problems.push(`round ${round}: the creates answered ${new Set(ok.map((c) => c.body.uuid)).size} different interactions`);
      if (ok.length === 0) continue;
      const uuid = ok[0]!.body.uuid;
      const logged = await call<HistoryEvent[]>(B(), 'GET', `/interactions/${uuid}/history`);
      if (logged.body.filter((e) => e.type === 'InteractionLogged').length !== 1) problems.push(`round ${round}: ${uuid} logged more than once`);
      const created = logged.body.length;

      const updateKey = `scale-update-${SEED}-${round}`;
      const updates = await Promise.all(
        [B(), A(), B(), A(), B(), A(), B(), A()].map((host) => call<Interaction>(host, 'PATCH', `/interactions/${uuid}`, { body: `applied once ${round}` }, { 'Idempotency-Key': updateKey })),
      );
      for (const u of updates) statuses[`update ${u.status}`] = (statuses[`update ${u.status}`] ?? 0) + 1;
      if (!updates.every((u) => u.status === 200)) problems.push(`round ${round}: keyed updates answered ${updates.map((u) => u.status).join(', ')}`);
      if (new Set(updates.map((u) => canonical(u.body))).size !== 1) problems.push(`round ${round}: the keyed updates answered differently`);
      const history = await call<HistoryEvent[]>(A(), 'GET', `/interactions/${uuid}/history`);
      const after = history.body.slice(created).map((e) => `${e.type} ${e.metadata?.idempotencyKey}`);
      if (canonical(after) !== canonical([`InteractionUpdated ${updateKey}`])) problems.push(`round ${round}: after the create the stream holds ${after.join('; ')}`);
    }
    problems.push(...serverErrors.slice(errorsBefore).map((error) => `logged: ${error}`));
    console.log(`scale-out keyed requests, ${KEYED_ROUNDS} rounds of 8 racers: ${JSON.stringify(statuses)}`);
    expect(problems).toEqual([]);
  }, 30_000);

  it('both stop cleanly, and the read tables equal a rebuild of everything the two wrote', async () => {
    const errorsBefore = serverErrors.length;
    for (const [i, host] of hosts.entries()) {
      host!.child.kill('SIGTERM'); // this child's pid only
      // Nest closes the application, then ends the process with the signal it got.
      expect([{ code: 0, signal: null }, { code: null, signal: 'SIGTERM' }]).toContainEqual(await host!.exited);
      hosts[i] = undefined;
    }
    expect(serverErrors.slice(errorsBefore)).toEqual([]);
    const db = new PgDatabase({ connectionString: TEST_DATABASE_URL, schema: schemas.module, max: 2 });
    try {
      const live = await readTables(db);
      await rebuild(db, new ErasingEventStore(new PostgresEventStore(db), db));
      expect(await readTables(db)).toEqual(live);
    } finally {
      await db.close();
    }
  }, 20_000);
});
