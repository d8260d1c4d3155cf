import { InteractionsMaintenance } from '../../src';
import { InteractionWriter } from '../../src/nest/interaction-writer';
import { LifecycleFanOut } from '../../src/lifecycle/fan-out';
import { RecordedDecision } from '../../src/lifecycle/decision-store';
import { ModuleUnderTest, startModule } from '../support/module';
import { POSTGRES } from '../support/backends';
import { readTables } from '../support/read-tables';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * One runner per decision (LifecycleFanOut.alone). contactsMerged(a, b), then contactsMerged(b, a) while the
 * first's own run is slow on one stream (a busy pool, a stream lock held by a long update): the second
 * finishes the first (finishOlderAbout) by waiting for its run, then runs itself. Two runners of the first
 * would each sweep, and its own run's later sweep re-pointed back what the second moved.
 */
/** The first stream visit of the next lifecycle command takes 1.5 s (its stream lock held by a long update, say); resolves as it starts. */
function slowFirstVisit(m: ModuleUnderTest): Promise<void> {
  const writer = m.app.get(InteractionWriter);
  const visit = writer.applyToStream.bind(writer);
  let first = true;
  return new Promise<void>((started) => {
    jest.spyOn(writer, 'applyToStream').mockImplementation(async (...args) => {
      if (first) {
        first = false;
        started();
        await sleep(1500);
      }
      return visit(...args);
    });
  });
}

describe('two opposite merges, the first one slow (PostgreSQL)', () => {
  let m: ModuleUnderTest;
  beforeEach(async () => (m = await startModule({ backend: POSTGRES, eventStore: 'postgres' })));
  afterEach(() => m.close());

  it('afterwards the interactions of a and b are all with one of them', async () => {
    const a = m.newContact({ name: 'Alpha' });
    const b = m.newContact({ name: 'Beta' });
    const made: string[] = [];
    for (let i = 0; i < 4; i++) {
      made.push((await m.service.createInteraction({ contactUuid: a, subject: `a${i}` })).uuid);
      made.push((await m.service.createInteraction({ contactUuid: b, subject: `b${i}` })).uuid);
    }
    const started = slowFirstVisit(m);
    const ab = m.service.contactsMerged(a, b);
    await started;
    const ba = await m.service.contactsMerged(b, a);
    const abResult = await ab;
    expect(abResult.interactions + ba.interactions).toBe(12); // 4 of a's moved to b, then all 8 back
    const count = { a: 0, b: 0 };
    for (const uuid of made) {
      const subject = (await m.service.getInteraction(uuid))!.contactUuid;
      if (subject === a) count.a++;
      if (subject === b) count.b++;
    }
    const live = await readTables(m.db);
    await m.app.get(InteractionsMaintenance).rebuild();
    expect(await readTables(m.db)).toEqual(live);
    expect([count.a, count.b].sort()).toEqual([0, 8]);
  });
});

/**
 * The same stale run, deleting: contactDeleted(a) whose own run is slow on one stream, then contactsMerged(b, a)
 * (a still exists in the host's directory: it is removed after contactDeleted returns). The merge finishes the
 * deletion first, then moves b's interactions to a; the deletion's own run then sweeps again and deletes them.
 */
describe('a slow contactDeleted run sweeping after a newer merge into its contact (PostgreSQL)', () => {
  let m: ModuleUnderTest;
  beforeEach(async () => (m = await startModule({ backend: POSTGRES, eventStore: 'postgres' })));
  afterEach(() => m.close());

  it("b's interactions, merged into a after a's deletion was finished, are not deleted", async () => {
    const a = m.newContact({ name: 'Alpha' });
    const b = m.newContact({ name: 'Beta' });
    const ofA = (await m.service.createInteraction({ contactUuid: a, subject: 'a0' })).uuid;
    const ofB: string[] = [];
    for (let i = 0; i < 3; i++) ofB.push((await m.service.createInteraction({ contactUuid: b, subject: `b${i}` })).uuid);
    const started = slowFirstVisit(m);
    const deletion = m.service.contactDeleted(a);
    await started;
    const merged = await m.service.contactsMerged(b, a);
    const deleted = await deletion;
    expect(deleted).toEqual({ interactions: 1 });
    expect(merged).toEqual({ interactions: 3 });
    expect(await m.app.get(LifecycleFanOut).resumePending()).toEqual({ decisions: 0, interactions: 0, failed: 0 });
    expect(await m.service.getInteraction(ofA)).toBeNull();
    // The merge answered after the deletion was complete: b's interactions are a's now, not deleted.
    expect((await Promise.all(ofB.map((u) => m.service.getInteraction(u)))).map((i) => i?.contactUuid ?? 'deleted')).toEqual([a, a, a]);
  });
});

describe('callers of one pending decision arriving together (PostgreSQL)', () => {
  let m: ModuleUnderTest;
  beforeEach(async () => (m = await startModule({ backend: POSTGRES, eventStore: 'postgres' })));
  afterEach(() => m.close());

  it('get one runner: a keyed repeat and the resumer wait for the command that runs it', async () => {
    const a = m.newContact({ name: 'Alpha' });
    await m.service.createInteraction({ contactUuid: a, subject: 'a0' });
    const fanOut = m.app.get(LifecycleFanOut) as unknown as {
      run: (r: RecordedDecision) => Promise<unknown>;
      sweepAndComplete: (r: RecordedDecision) => Promise<unknown>;
    };
    const sweep = fanOut.sweepAndComplete.bind(fanOut);
    let inside = 0;
    let most = 0;
    jest.spyOn(fanOut, 'sweepAndComplete').mockImplementation(async (r: RecordedDecision) => {
      inside++;
      most = Math.max(most, inside);
      try {
        await sleep(300);
        return await sweep(r);
      } finally {
        inside--;
      }
    });
    const run = fanOut.run.bind(fanOut);
    let others: Promise<unknown> | null = null;
    jest.spyOn(fanOut, 'run').mockImplementation((r: RecordedDecision) => {
      others ??= Promise.all([run(r), run(r)]);
      return run(r);
    });
    await expect(m.service.contactDeleted(a)).resolves.toEqual({ interactions: 1 });
    await expect(others).resolves.toEqual([{ interactions: 1 }, { interactions: 1 }]);
    jest.restoreAllMocks();
    expect(most).toBe(1);
  });
});
