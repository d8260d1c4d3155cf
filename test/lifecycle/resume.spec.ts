import { uuidv7 } from 'uuidv7';
import { LifecycleFanOut } from '../../src/lifecycle';
import { decideForInteraction, LifecycleDecision } from '../../src/lifecycle/decider';
import { destroyKeysPlanning, pendingDecisions, planTargets, recordDecision } from '../../src/lifecycle/decision-store';
import { InteractionWriter } from '../../src/nest/interaction-writer';
import { InteractionsMaintenance, InteractionUnavailableError } from '../../src';
import { dumpLog, dumpSchema, findIn } from '../support/data-dump';
import { ModuleUnderTest, startModule } from '../support/module';
import { readTables } from '../support/read-tables';

/**
 * A process that died after appending a stream's event but before marking its target: resuming counts
 * that stream once and never appends to it again. On both event stores (with
 * EventStoreDB the mark follows the append, so this is the window a crash can leave there). And a forget
 * that died between destroying her keys and visiting her streams: the next run decides each stream on the
 * subject recorded when her keys went, whatever happened to it meanwhile.
 */
describe.each(['postgres', 'eventstoredb'] as const)('resuming a decision on %s', (eventStore) => {
  let m: ModuleUnderTest;
  beforeEach(async () => (m = await startModule({ eventStore })));
  afterEach(() => m.close());

  it('counts a stream that got its event before the crash once, and does the rest', async () => {
    const from = m.newContact({ name: 'From' });
    const into = m.newContact({ name: 'Into' });
    const interactions = [];
    for (let i = 0; i < 6; i++) interactions.push(await m.service.createInteraction({ contactUuid: from, subject: `i${i}` }));
    const decision: LifecycleDecision = { decisionId: uuidv7(), kind: 'contacts_merged', fromUuid: from, intoUuid: into };
    await recordDecision(m.db, { decision, actorUuid: null, correlationId: decision.decisionId, completed: false, interactions: null }, { key: null, fingerprint: 'f' });
    // Planned (always before any append), the first stream got its event, and then the process died.
    await expect(planTargets(m.db, decision)).resolves.toBe(6);
    await m.app.get(InteractionWriter).applyToStream(interactions[0]!.uuid, (state) => decideForInteraction(decision, state), {});

    await expect(m.app.get(LifecycleFanOut).resumePending()).resolves.toEqual({ decisions: 1, interactions: 6, failed: 0 });
    for (const interaction of interactions) {
      const events = await m.service.history(interaction.uuid);
      expect(events.filter((e) => (e.data as { decisionId?: string }).decisionId === decision.decisionId)).toHaveLength(1);
      expect((await m.service.getInteraction(interaction.uuid))!.contactUuid).toBe(into);
    }
    await expect(m.app.get(LifecycleFanOut).resumePending()).resolves.toEqual({ decisions: 0, interactions: 0, failed: 0 });
  });

  it('finishes a forget that died after destroying her keys, with a stream moved away from her in between', async () => {
    const cora = m.newContact({ name: 'Cora Crashwell', email: 'cora.crashwell@example.com' });
    const eve = m.newContact({ name: 'Eve Other' });
    const hers = await m.service.createInteraction({ contactUuid: cora, subject: 'Crashwell plans', body: 'Cora asked' }, [{ rawName: 'Eve O.', contactUuid: eve }]);
    const moved = await m.service.createInteraction({ contactUuid: cora, subject: 'Crashwell moving', body: 'Cora again' });
    const evesOwn = await m.service.createInteraction({ contactUuid: eve, subject: 'Eve alone' }, [{ rawName: 'Cora C.', contactUuid: cora }]);
    const decision: LifecycleDecision = { decisionId: uuidv7(), kind: 'contact_forgotten', contactUuid: cora };
    await recordDecision(m.db, { decision, actorUuid: null, correlationId: decision.decisionId, completed: false, interactions: null }, { key: null, fingerprint: 'f' });
    // The first sweep planned her streams and destroyed her keys, and then the process died; before the
    // next start an update moved one of her interactions to Eve.
    await planTargets(m.db, decision);
    await destroyKeysPlanning(m.db, null, decision, null);
    await m.service.updateInteraction(moved.uuid, { contactUuid: eve });

    await expect(m.app.get(LifecycleFanOut).resumePending()).resolves.toEqual({ decisions: 1, interactions: 3, failed: 0 });
    // Hers when her keys went: both gone; Eve's keeps its row, without her.
    for (const uuid of [hers.uuid, moved.uuid]) expect(await m.service.getInteraction(uuid)).toBeNull();
    expect((await m.service.getInteraction(evesOwn.uuid))!.parties[0]).toMatchObject({ rawName: '[erased]', contactUuid: null });
    const coraStrings = ['Cora Crashwell', 'cora.crashwell@example.com', 'Crashwell', 'Cora asked', 'Cora again', 'Cora C.'];
    expect(findIn({ ...(await dumpSchema(m.db, m.db.schema)), log: await dumpLog(m.log) }, coraStrings)).toEqual([]);
    const live = await readTables(m.db);
    await m.app.get(InteractionsMaintenance).rebuild();
    expect(await readTables(m.db)).toEqual(live);
  });

  /** A merge recorded and planned whose first stream got its event, and then the process died. */
  async function halfDoneMerge(fromUuid: string, intoUuid: string, streams: string[]): Promise<LifecycleDecision> {
    const decision: LifecycleDecision = { decisionId: uuidv7(), kind: 'contacts_merged', fromUuid, intoUuid };
    await recordDecision(m.db, { decision, actorUuid: null, correlationId: decision.decisionId, completed: false, interactions: null }, { key: null, fingerprint: 'f' });
    await planTargets(m.db, decision);
    await m.app.get(InteractionWriter).applyToStream(streams[0]!, (state) => decideForInteraction(decision, state), { causationId: decision.decisionId });
    return decision;
  }

  it.each([
    ['deletion', (m: ModuleUnderTest, b: string) => m.service.contactDeleted(b), 4, 'gone'],
    ['merge into another', (m: ModuleUnderTest, b: string, c: string) => m.service.contactsMerged(b, c), 4, 'moved to C'],
  ] as const)('finishes a merge left pending before a later %s of its into runs', async (_, later, streams, end) => {
    const a = m.newContact({ name: 'A' });
    const b = m.newContact({ name: 'B' });
    const c = m.newContact({ name: 'C' });
    const interactions = [];
    for (let k = 0; k < 4; k++) interactions.push(await m.service.createInteraction({ contactUuid: a, subject: `a${k}` }));
    await halfDoneMerge(a, b, interactions.map((i) => i.uuid));

    // After the restart, before the resumer got to it, the host deletes B or merges it into C.
    await expect(later(m, b, c)).resolves.toEqual({ interactions: streams });
    await expect(m.app.get(LifecycleFanOut).resumePending()).resolves.toEqual({ decisions: 0, interactions: 0, failed: 0 });
    for (const { uuid } of interactions) {
      const now = await m.service.getInteraction(uuid);
      expect(end === 'gone' ? now : now?.contactUuid).toEqual(end === 'gone' ? null : c);
    }
    for (const contact of [a, b]) expect(await m.service.listInvolving(contact)).toEqual([]);
  });

  it('finishes the other pending decisions when one cannot finish, and keeps the later ones about its contact waiting', async () => {
    const x = m.newContact({ name: 'X' });
    const from = m.newContact({ name: 'From' });
    const into = m.newContact({ name: 'Into' });
    const bad = await m.service.createInteraction({ contactUuid: x, subject: 'x' });
    const metadata = { actorUuid: null, correlationId: uuidv7(), causationId: null, recordedAt: new Date().toISOString() };
    await m.log.appendToStream(`interaction-${bad.uuid}`, [{ id: uuidv7(), type: 'SomeoneElsesEvent', data: { interactionUuid: bad.uuid }, metadata }], 'any');
    await expect(m.service.contactDeleted(x)).rejects.toMatchObject({ name: 'InteractionUnreadableError' });
    const fine = await m.service.createInteraction({ contactUuid: from, subject: 'fine' });
    await halfDoneMerge(from, into, [fine.uuid]);
    const more = await m.service.createInteraction({ contactUuid: from, subject: 'more' });
    await planTargets(m.db, (await pendingDecisions(m.db))[1]!.decision);

    await expect(m.app.get(LifecycleFanOut).resumePending()).resolves.toEqual({ decisions: 1, interactions: 2, failed: 1 });
    expect((await m.service.getInteraction(more.uuid))!.contactUuid).toBe(into);
    // A later decision about X waits for the one that cannot finish: it fails with its error, and stays pending.
    await expect(m.service.contactsMerged(x, into)).rejects.toMatchObject({ name: 'InteractionUnreadableError' });
    expect((await pendingDecisions(m.db)).map((d) => d.decision.kind)).toEqual(['contact_deleted', 'contacts_merged']);
    expect((await m.service.getInteraction(bad.uuid))!.contactUuid).toBe(x);
    // A resume tries the first once; the merge waiting for it is not run again behind it.
    const fanOut = m.app.get(LifecycleFanOut);
    // Each decision's fan-out (what `run` does once its older decisions are dealt with).
    const run = jest.spyOn(fanOut as unknown as { sweepAndComplete: LifecycleFanOut['run'] }, 'sweepAndComplete');
    await expect(fanOut.resumePending()).resolves.toEqual({ decisions: 0, interactions: 0, failed: 2 });
    expect(run).toHaveBeenCalledTimes(1);
    // An erasure waits for none of them: Into's forget destroys the keys of all merged with Into (X too)
    // at once; only then does X's unreadable stream fail it.
    await expect(m.service.forgetContact(into)).rejects.toMatchObject({ name: 'InteractionUnreadableError' });
    expect((await m.service.history(more.uuid))[0]!.data).toMatchObject({ subject: '[erased]' });
  });

  it('answers a decision the closing module stopped as unavailable and committed: the next start finishes it', async () => {
    const a = m.newContact({ name: 'A' });
    const b = m.newContact({ name: 'B' });
    const i = await m.service.createInteraction({ contactUuid: a });
    m.app.get(LifecycleFanOut).stop();
    const error = await m.service.contactsMerged(a, b).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InteractionUnavailableError);
    expect(error).toMatchObject({ committed: true, retryable: true });
    expect((await pendingDecisions(m.db)).map((d) => d.decision.kind)).toEqual(['contacts_merged']);
    expect((await m.service.getInteraction(i.uuid))!.contactUuid).toBe(a);
  });
});
