import { uuidv7 } from 'uuidv7';
import { BACKENDS } from '../support/backends';
import { ModuleUnderTest, startModule } from '../support/module';

/**
 * A busy contact: 2,000 interactions (half as the subject, half as a party) merged, then (PostgreSQL)
 * deleted, in one command each. Prints the time of each fan-out (README "Contacts' lifecycle").
 */
const COUNT = 2000;

/** Runs `work` over 0..n-1 with `parallel` callers. */
async function inParallel(n: number, parallel: number, work: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: parallel }, async () => {
    while (next < n) await work(next++);
  }));
}

describe.each(BACKENDS.map((backend) => [backend.name, backend] as const))('on %s', (name, backend) => {
  let m: ModuleUnderTest;
  beforeEach(async () => (m = await startModule({ backend })));
  afterEach(() => m.close());

  it(`merges and then deletes a contact of ${COUNT} interactions, each stream once`, async () => {
    const busy = m.newContact({ name: 'Busy' });
    const into = m.newContact({ name: 'Kept' });
    const other = m.newContact({ name: 'Other' });
    await inParallel(COUNT, 8, (i) =>
      i % 2 === 0
        ? m.service.createInteraction({ contactUuid: busy, subject: `own ${i}` }, [{ rawName: 'Free' }])
        : m.service.createInteraction({ contactUuid: other, subject: `party ${i}` }, [{ rawName: 'Busy', contactUuid: busy }]),
    );
    const eventsBefore = await m.countEvents();

    let started = Date.now();
    await expect(m.service.contactsMerged(busy, into)).resolves.toEqual({ interactions: COUNT });
    const mergeMs = Date.now() - started;
    expect(await m.service.listInvolving(busy, { limit: 10 })).toEqual([]);
    expect(await m.service.interactionUuidsForContact(into)).toHaveLength(COUNT / 2);
    expect(await m.countEvents()).toBe(eventsBefore + COUNT);

    // eslint-disable-next-line no-console
    console.log(`fan-out of ${COUNT} interactions on ${name}: merge ${mergeMs} ms`);
    if (name !== 'postgres') return; // PGlite: the merge is measured; the delete costs the same (README)

    started = Date.now();
    await expect(m.service.contactDeleted(into, { actorUuid: uuidv7() })).resolves.toEqual({ interactions: COUNT });
    const deleteMs = Date.now() - started;
    expect(await m.service.listInvolving(into, { limit: 10 })).toEqual([]);
    expect(await m.service.listInvolving(other)).toHaveLength(COUNT / 2);
    expect(await m.countEvents()).toBe(eventsBefore + 2 * COUNT);

    const { rows } = await m.db.query<{ kind: string; interactions: number; completed: boolean }>(
      'SELECT kind, interactions, completed_at IS NOT NULL AS completed FROM lifecycle_decisions ORDER BY created_at',
    );
    expect(rows).toEqual([
      { kind: 'contacts_merged', interactions: COUNT, completed: true },
      { kind: 'contact_deleted', interactions: COUNT, completed: true },
    ]);
    // eslint-disable-next-line no-console
    console.log(`fan-out of ${COUNT} interactions on ${name}: delete ${deleteMs} ms`);
  }, 180_000);
});
