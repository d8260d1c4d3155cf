import { uuidv7 } from 'uuidv7';
import { LifecycleFanOut } from '../../src/lifecycle';
import { decideForInteraction, LifecycleDecision } from '../../src/lifecycle/decider';
import { planTargets, recordDecision } from '../../src/lifecycle/decision-store';
import { InteractionWriter } from '../../src/nest/interaction-writer';
import { ModuleUnderTest, startModule } from '../support/module';

/**
 * A process that died after appending a stream's event but before marking its target: resuming counts
 * that stream once and never appends to it again. On both event stores (with
 * EventStoreDB the mark follows the append, so this is the window a crash can leave there).
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
});
