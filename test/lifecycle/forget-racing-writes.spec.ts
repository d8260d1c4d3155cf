import { InteractionWriter } from '../../src/nest/interaction-writer';
import { LifecycleDecisions } from '../../src/lifecycle/decisions';
import { LifecycleFanOut } from '../../src/lifecycle';
import { dumpSchema, findIn } from '../support/data-dump';
import { EVERY_STORE, ModuleUnderTest, startModule } from '../support/module';

/**
 * Writes naming a contact while she is forgotten, before the host has removed her from its directory (the
 * demo's order: the module first). Once the forget is recorded a write naming her is refused, in its own
 * statement, as naming a contact that does not exist; one under way before is erased with the rest.
 */
const CORA = { name: 'Cora Racefeather', email: 'cora.racefeather@example.test' };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.each(EVERY_STORE)('forgetContact racing writes that name her, on %s', (_name, backend, eventStore) => {
  let m: ModuleUnderTest;
  beforeEach(async () => (m = await startModule({ backend, eventStore })));
  afterEach(() => m.close());

  /** Runs `write` in each of the forget's stream visits, before the visit; what each gave. */
  function writeDuringEveryVisit(write: () => Promise<unknown>): unknown[] {
    const writer = m.app.get(InteractionWriter);
    const visit = writer.applyToStream.bind(writer);
    const outcomes: unknown[] = [];
    jest.spyOn(writer, 'applyToStream').mockImplementation(async (...args) => {
      outcomes.push(await write().catch((error: unknown) => error));
      return visit(...args);
    });
    return outcomes;
  }

  async function herLeaks(): Promise<string[]> {
    return findIn(await dumpSchema(m.db, m.db.schema), ['Racefeather', 'racefeather@']);
  }

  it('refuses creates naming her once the forget is recorded, and leaves nothing of her', async () => {
    const cora = m.newContact(CORA);
    const eve = m.newContact({ name: 'Eve Other' });
    await m.service.createInteraction({ contactUuid: eve, subject: 'before' }, [{ rawName: 'Cora R.', contactUuid: cora }]);
    const outcomes = writeDuringEveryVisit(() =>
      m.service.createInteraction({ contactUuid: eve, subject: 'racing' }, [{ rawName: 'Cora Racefeather', contactUuid: cora }]),
    );
    await m.service.forgetContact(cora);
    jest.restoreAllMocks();
    expect(outcomes.length).toBeGreaterThan(0);
    for (const outcome of outcomes) {
      expect(outcome).toMatchObject({ name: 'InteractionValidationError', errors: { 'parties.0.contactUuid': ['does not exist'] } });
    }
    await expect(m.service.createInteraction({ contactUuid: cora, subject: 'after' })).rejects.toMatchObject({
      errors: { contactUuid: ['does not exist'] },
    });
    expect(await herLeaks()).toEqual([]);
  });

  it('refuses writes naming her between the record of her forget and the destruction of her keys (her owner rows still there)', async () => {
    const cora = m.newContact(CORA);
    const oscar = m.newContact({ name: 'Oscar Other' });
    const i = await m.service.createInteraction({ contactUuid: oscar, subject: 'x' }, [{ rawName: 'Cora R.', contactUuid: cora }, { rawName: 'Free Fred' }]);
    const own = await m.service.createInteraction({ contactUuid: cora, subject: 'Cora own' });
    // The forget is recorded (she is in forgotten_contacts); its sweeps, which destroy her keys, wait.
    const fanOut = m.app.get(LifecycleFanOut);
    const sweep = (fanOut as unknown as { sweepAndComplete: (...args: unknown[]) => Promise<unknown> }).sweepAndComplete.bind(fanOut);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let entered!: () => void;
    const recorded = new Promise<void>((resolve) => (entered = resolve));
    jest.spyOn(fanOut as never, 'sweepAndComplete').mockImplementation((async (...args: unknown[]) => {
      entered();
      await gate;
      return sweep(...args);
    }) as never);
    const forgetting = m.service.forgetContact(cora);
    await recorded;
    const before = m.published.length;
    // A stale form saving the parties again, her among them; an edit of her own interaction's body.
    await expect(m.service.updateInteraction(i.uuid, { body: 'edited' }, [{ rawName: 'Free Fred' }, { rawName: 'Cora R.', contactUuid: cora }])).rejects.toMatchObject({
      errors: { 'parties.1.contactUuid': ['does not exist'] },
    });
    await expect(m.service.updateInteraction(own.uuid, { body: 'Cora body' })).rejects.toMatchObject({ name: 'InteractionNotFoundError' });
    expect(m.published.slice(before)).toEqual([]);
    release();
    await expect(forgetting).resolves.toMatchObject({ interactions: 2 });
    jest.restoreAllMocks();
    expect(await herLeaks()).toEqual([]);
  });

  it('refuses an update that would link her again to an interaction the forget has visited', async () => {
    const cora = m.newContact(CORA);
    const eve = m.newContact({ name: 'Eve Other' });
    const i = await m.service.createInteraction({ contactUuid: eve, subject: 'meeting' }, [{ rawName: 'Cora R.', contactUuid: cora }]);
    const writer = m.app.get(InteractionWriter);
    const visit = writer.applyToStream.bind(writer);
    let relinked: unknown = null;
    jest.spyOn(writer, 'applyToStream').mockImplementation(async (...args) => {
      const result = await visit(...args);
      relinked ??= await m.service.updateInteraction(i.uuid, {}, [{ rawName: 'Cora Racefeather', contactUuid: cora }]).catch((e: unknown) => e);
      return result;
    });
    await m.service.forgetContact(cora);
    jest.restoreAllMocks();
    expect(relinked).toMatchObject({ name: 'InteractionValidationError', errors: { 'parties.0.contactUuid': ['does not exist'] } });
    await expect(m.service.linkParty(i.uuid, 0, { contactUuid: cora })).rejects.toMatchObject({ name: 'InteractionValidationError' });
    expect(await herLeaks()).toEqual([]);
  });

  it('refuses a create whose directory answered before the forget was recorded, and that writes after it', async () => {
    const cora = m.newContact(CORA);
    const eve = m.newContact({ name: 'Eve Other' });
    // The host's directory answers this create late: it found her before the forget, and writes after it.
    const findContacts = m.contacts.findContacts.bind(m.contacts);
    jest.spyOn(m.contacts, 'findContacts').mockImplementationOnce(async (uuids) => {
      await sleep(1_000);
      return findContacts(uuids);
    });
    const racing = m.service.createInteraction({ contactUuid: eve, subject: 'racing' }, [{ rawName: 'Cora Racefeather', contactUuid: cora }]);
    await sleep(100);
    await expect(m.service.forgetContact(cora)).resolves.toEqual({ interactions: 0 });
    await expect(racing).rejects.toMatchObject({ errors: { 'parties.0.contactUuid': ['does not exist'] } });
    jest.restoreAllMocks();
    expect(await herLeaks()).toEqual([]);
  });

  it('erases an edit that wrote her before the forget was recorded and had not committed yet', async () => {
    const cora = m.newContact(CORA);
    const eve = m.newContact({ name: 'Eve Other' });
    const i = await m.service.createInteraction({ contactUuid: eve, subject: 'meeting' }, [{ rawName: 'Eve', contactUuid: eve }]);
    // The edit's session holds its writes a while before it commits (on PostgreSQL its transaction is open).
    const writer = m.app.get(InteractionWriter) as unknown as { decideAndAppend: (...args: unknown[]) => Promise<void> };
    const decideAndAppend = writer.decideAndAppend.bind(writer);
    let written!: () => void;
    const wrote = new Promise<void>((resolve) => (written = resolve));
    jest.spyOn(writer, 'decideAndAppend').mockImplementationOnce(async (...args: unknown[]) => {
      await decideAndAppend(...args);
      written();
      await sleep(1_500);
    });
    const editing = m.service.updateInteraction(i.uuid, {}, [{ rawName: 'Cora Racefeather', contactUuid: cora }]);
    await wrote;
    await expect(m.service.forgetContact(cora)).resolves.toEqual({ interactions: 1 });
    await editing; // it had ended before the forget returned
    jest.restoreAllMocks();
    expect((await m.service.getInteraction(i.uuid))!.parties).toEqual([expect.objectContaining({ rawName: '[erased]', contactUuid: null })]);
    expect(await herLeaks()).toEqual([]);
  });
  it('refuses moving an interaction to her, and leaves it where it was', async () => {
    const cora = m.newContact(CORA);
    const eve = m.newContact({ name: 'Eve Other' });
    const i = await m.service.createInteraction({ contactUuid: eve, subject: 'meeting' });
    await m.service.forgetContact(cora);
    await expect(m.service.updateInteraction(i.uuid, { contactUuid: cora })).rejects.toMatchObject({
      name: 'InteractionValidationError',
      errors: { contactUuid: ['does not exist'] },
    });
    expect((await m.service.getInteraction(i.uuid))!.contactUuid).toBe(eve);
  });

  it('lets a merge of her that meets her forget under way finish, as the forget erases what it would move', async () => {
    const ada = m.newContact({ name: 'Ada Racefeather' });
    const bea = m.newContact({ name: 'Bea Into' });
    const eve = m.newContact({ name: 'Eve Other' });
    await m.service.createInteraction({ contactUuid: eve, subject: 'one' }, [{ rawName: 'Ada', contactUuid: ada }]);
    await m.service.createInteraction({ contactUuid: ada, subject: 'two' });
    await m.service.createInteraction({ contactUuid: ada, subject: 'three' });
    // The merge's first stream visit waits until her forget (of Ada, so of Bea too: one person) is recorded.
    const writer = m.app.get(InteractionWriter);
    const visit = writer.applyToStream.bind(writer);
    let forgetting: Promise<unknown> | null = null;
    jest.spyOn(writer, 'applyToStream').mockImplementation(async (...args) => {
      if (forgetting === null) {
        forgetting = m.service.forgetContact(ada);
        while ((await m.db.query("SELECT 1 FROM lifecycle_decisions WHERE kind = 'contact_forgotten'", [])).rows.length === 0) await sleep(10);
      }
      return visit(...args);
    });
    await expect(m.service.contactsMerged(ada, bea)).resolves.toMatchObject({ interactions: expect.any(Number) });
    await expect(forgetting).resolves.toMatchObject({ interactions: expect.any(Number) });
    jest.restoreAllMocks();
    expect(await m.service.listInvolving(ada)).toEqual([]);
    expect(await herLeaks()).toEqual([]);
    expect(findIn(await dumpSchema(m.db, m.db.schema), ['Ada Racefeather'])).toEqual([]);
  });

  it('refuses a merge into a contact forgotten just after the merge was checked, and leaves the merged contact what she owns', async () => {
    const ada = m.newContact({ name: 'Ada Mergefrom' });
    const cora = m.newContact(CORA);
    const eve = m.newContact({ name: 'Eve Other' });
    const own = await m.service.createInteraction({ contactUuid: ada, subject: 'own' }, [{ rawName: 'Eve', contactUuid: eve }]);
    const party = await m.service.createInteraction({ contactUuid: eve, subject: 'party' }, [{ rawName: 'Ada', contactUuid: ada }]);
    await m.service.createInteraction({ contactUuid: cora, subject: 'hers' }, [{ rawName: 'Cora Racefeather', contactUuid: cora }]);
    // The merge's handler found Cora in the directory; her forget is recorded, and done, before the merge
    // is: the merge's record refuses it (merges and forgets are recorded one at a time).
    const decisions = m.app.get(LifecycleDecisions);
    const decide = decisions.decide.bind(decisions);
    jest.spyOn(decisions, 'decide').mockImplementationOnce(async (...args) => {
      await m.service.forgetContact(cora);
      return decide(...args);
    });
    await expect(m.service.contactsMerged(ada, cora)).rejects.toMatchObject({ errors: { intoUuid: ['does not exist'] } });
    jest.restoreAllMocks();
    // A forgotten contact owns no key: what Ada owns would otherwise outlive Cora's forget, readable under her.
    const { rows } = await m.db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM erasure_key_owners o JOIN forgotten_contacts f ON f.uuid = o.contact_uuid',
      [],
    );
    expect(rows[0]!.n).toBe(0);
    // Nothing was moved to Cora: Ada's interactions are still hers, and forgetting Ada erases them.
    expect((await m.service.getInteraction(own.uuid))!.contactUuid).toBe(ada);
    expect((await m.service.getInteraction(party.uuid))!.parties[0]!.contactUuid).toBe(ada);
    expect(await herLeaks()).toEqual([]);
    await m.service.forgetContact(ada);
    expect(findIn(await dumpSchema(m.db, m.db.schema), ['Mergefrom'])).toEqual([]);
  });
});
