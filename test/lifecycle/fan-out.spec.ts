import { loadavg } from 'node:os';
import { uuidv7 } from 'uuidv7';
import { Interaction } from '../../src';
import { Backend, BACKENDS, POSTGRES } from '../support/backends';
import { EventStoreUnderTest, ModuleUnderTest, startModule } from '../support/module';
import { sleep } from '../support/timing';

/**
 * A busy contact: 2,000 interactions (half as the subject, half as a party) merged, then (PostgreSQL
 * and EventStoreDB event stores) deleted, in one command each, while ordinary updates of some of them
 * race the fan-out and are all kept. Prints the time of each fan-out (README "Contacts' lifecycle").
 */
const COUNT = 2000;
/** The racing updates touch interactions i with i % RACED_EVERY < 2: a subject's and a party's, spread out. */
const RACED_EVERY = 40;
/** Between two racing updates: a steady trickle beside the fan-out, not a load test of its own. */
const UPDATE_PAUSE_MS = 10;

/** Runs `work` over 0..n-1 with `parallel` callers. */
async function inParallel(n: number, parallel: number, work: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: parallel }, async () => {
    while (next < n) await work(next++);
  }));
}

interface Scenario {
  backend: Backend;
  eventStore: EventStoreUnderTest;
  /** Also delete the contact (else the merge alone: PGlite, where the delete costs the same, README). */
  deletes: boolean;
}

/** PostgreSQL, PGlite (TEST_BACKENDS), and the EventStoreDB event store with its read tables on PostgreSQL. */
const SCENARIOS: Array<[string, Scenario]> = BACKENDS.flatMap((backend): Array<[string, Scenario]> =>
  backend === POSTGRES
    ? [
        ['postgres', { backend, eventStore: 'postgres', deletes: true }],
        ['eventstoredb', { backend, eventStore: 'eventstoredb', deletes: true }],
      ]
    : [[backend.name, { backend, eventStore: 'postgres', deletes: false }]],
);

describe.each(SCENARIOS)('on %s', (name, { backend, eventStore, deletes }) => {
  let m: ModuleUnderTest;
  beforeEach(async () => (m = await startModule({ backend, eventStore })));
  afterEach(() => m.close());

  /**
   * Runs `fanOut` while one caller updates the bodies of `raced` in turn (pausing between two), for as
   * long as the fan-out runs and at least once each. Resolves once both are done, with the fan-out's
   * result, its own duration, and the bodies written to each raced interaction in order.
   */
  async function racing<T>(fanOut: () => Promise<T>, raced: string[], tag: string) {
    const written = new Map<string, string[]>(raced.map((uuid) => [uuid, []]));
    let running = true;
    const started = Date.now();
    const timed = fanOut().finally(() => (running = false)).then((result) => ({ result, ms: Date.now() - started }));
    const updates = (async () => {
      for (let n = 0; running || n < raced.length; n++) {
        const uuid = raced[n % raced.length]!;
        await m.service.updateInteraction(uuid, { body: `${tag} ${n}` });
        written.get(uuid)!.push(`${tag} ${n}`);
        await sleep(UPDATE_PAUSE_MS);
      }
    })();
    const [{ result, ms }] = await Promise.all([timed, updates]);
    return { result, ms, written, updates: [...written.values()].reduce((sum, bodies) => sum + bodies.length, 0) };
  }

  /**
   * Nothing a racing update wrote is lost: each raced interaction holds every update, in order, the
   * decision's one event, and the last body; its version counts them all. Returns the versions now.
   */
  async function expectNothingLost(versions: Map<string, number>, written: Map<string, string[]>, decisionId: string) {
    const now = new Map<string, number>();
    for (const [uuid, bodies] of written) {
      const events = await m.service.history(uuid);
      const updated = events.filter((e) => e.type === 'InteractionUpdated').map((e) => (e.data as { changes: { body?: string } }).changes.body);
      expect(updated.slice(updated.length - bodies.length)).toEqual(bodies);
      expect(events.filter((e) => (e.data as { decisionId?: string }).decisionId === decisionId)).toHaveLength(1);
      const interaction = await m.service.getInteraction(uuid);
      expect(interaction).toMatchObject({ body: bodies[bodies.length - 1], version: versions.get(uuid)! + bodies.length + 1 });
      now.set(uuid, interaction!.version);
    }
    return now;
  }

  const decisionIds = async () =>
    (await m.db.query<{ decision_id: string }>('SELECT decision_id FROM lifecycle_decisions ORDER BY created_at')).rows.map((r) => r.decision_id);
  const load = () => loadavg().map((n) => n.toFixed(2)).join(' ');

  it(`merges and then deletes a contact of ${COUNT} interactions, each stream once, racing updates kept`, async () => {
    const busy = m.newContact({ name: 'Busy' });
    const into = m.newContact({ name: 'Kept' });
    const other = m.newContact({ name: 'Other' });
    const created: Interaction[] = [];
    await inParallel(COUNT, 8, async (i) => {
      created[i] = await (i % 2 === 0
        ? m.service.createInteraction({ contactUuid: busy, subject: `own ${i}` }, [{ rawName: 'Free' }])
        : m.service.createInteraction({ contactUuid: other, subject: `party ${i}` }, [{ rawName: 'Busy', contactUuid: busy }]));
    });
    const raced = created.filter((_, i) => i % RACED_EVERY < 2); // own and party ones alike
    let versions = new Map(raced.map((interaction) => [interaction.uuid, interaction.version]));
    const eventsBefore = await m.countEvents();

    const merge = await racing(() => m.service.contactsMerged(busy, into), [...versions.keys()], 'merge');
    expect(merge.result).toEqual({ interactions: COUNT });
    expect(await m.service.listInvolving(busy, { limit: 10 })).toEqual([]);
    expect(await m.service.interactionUuidsForContact(into)).toHaveLength(COUNT / 2);
    expect(await m.countEvents()).toBe(eventsBefore + COUNT + merge.updates);
    versions = await expectNothingLost(versions, merge.written, (await decisionIds())[0]!);

    // eslint-disable-next-line no-console
    console.log(`fan-out of ${COUNT} interactions on ${name}: merge ${merge.ms} ms (${merge.updates} updates racing it; load ${load()})`);
    if (!deletes) return;

    // The subject's interactions go with the contact, so the updates race on the party ones.
    const partyOnes = raced.filter((interaction) => interaction.contactUuid === other).map((interaction) => interaction.uuid);
    const deletion = await racing(() => m.service.contactDeleted(into, { actorUuid: uuidv7() }), partyOnes, 'delete');
    expect(deletion.result).toEqual({ interactions: COUNT });
    expect(await m.service.listInvolving(into, { limit: 10 })).toEqual([]);
    expect(await m.service.listInvolving(other)).toHaveLength(COUNT / 2);
    expect(await m.countEvents()).toBe(eventsBefore + 2 * COUNT + merge.updates + deletion.updates);
    await expectNothingLost(versions, deletion.written, (await decisionIds())[1]!);
    for (const uuid of partyOnes) expect((await m.service.getInteraction(uuid))!.parties.map((p) => p.contactUuid)).toEqual([null]);

    const { rows } = await m.db.query<{ kind: string; interactions: number; completed: boolean }>(
      'SELECT kind, interactions, completed_at IS NOT NULL AS completed FROM lifecycle_decisions ORDER BY created_at',
    );
    expect(rows).toEqual([
      { kind: 'contacts_merged', interactions: COUNT, completed: true },
      { kind: 'contact_deleted', interactions: COUNT, completed: true },
    ]);
    // eslint-disable-next-line no-console
    console.log(`fan-out of ${COUNT} interactions on ${name}: delete ${deletion.ms} ms (${deletion.updates} updates racing it; load ${load()})`);
  }, 300_000);
});
