import { uuidv7 } from 'uuidv7';
import { LifecycleFanOut } from '../../src/lifecycle';
import { decideForInteraction, LifecycleDecision } from '../../src/lifecycle/decider';
import { destroyKeysPlanning, planTargets, recordDecision } from '../../src/lifecycle/decision-store';
import { InteractionWriter } from '../../src/nest/interaction-writer';
import { InteractionsMaintenance } from '../../src';
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

    await expect(m.app.get(LifecycleFanOut).resumePending()).resolves.toEqual({ decisions: 1, interactions: 6 });
    for (const interaction of interactions) {
      const events = await m.service.history(interaction.uuid);
      expect(events.filter((e) => (e.data as { decisionId?: string }).decisionId === decision.decisionId)).toHaveLength(1);
      expect((await m.service.getInteraction(interaction.uuid))!.contactUuid).toBe(into);
    }
    await expect(m.app.get(LifecycleFanOut).resumePending()).resolves.toEqual({ decisions: 0, interactions: 0 });
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
    await destroyKeysPlanning(m.db, decision, null);
    await m.service.updateInteraction(moved.uuid, { contactUuid: eve });

    await expect(m.app.get(LifecycleFanOut).resumePending()).resolves.toEqual({ decisions: 1, interactions: 3 });
    // Hers when her keys went: both gone; Eve's keeps its row, without her.
    for (const uuid of [hers.uuid, moved.uuid]) expect(await m.service.getInteraction(uuid)).toBeNull();
    expect((await m.service.getInteraction(evesOwn.uuid))!.parties[0]).toMatchObject({ rawName: '[erased]', contactUuid: null });
    const coraStrings = ['Cora Crashwell', 'cora.crashwell@example.com', 'Crashwell', 'Cora asked', 'Cora again', 'Cora C.'];
    expect(findIn({ ...(await dumpSchema(m.db, m.db.schema)), log: await dumpLog(m.log) }, coraStrings)).toEqual([]);
    const live = await readTables(m.db);
    await m.app.get(InteractionsMaintenance).rebuild();
    expect(await readTables(m.db)).toEqual(live);
  });
});
