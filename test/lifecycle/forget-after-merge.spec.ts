import { uuidv7 } from 'uuidv7';
import { ERASED, InteractionsMaintenance } from '../../src';
import { moveAllOwnership } from '../../src/adapters/erasure/key-store';
import { dumpLog, dumpSchema, findIn } from '../support/data-dump';
import { EVERY_STORE, ModuleUnderTest, startModule } from '../support/module';
import { readTables } from '../support/read-tables';

/**
 * forgetContact(into) after contactsMerged(from, into) whose sweeps missed a stream a racing create
 * wrote for `from`: the merge's last step hands `from`'s keys over to `into` (so forgetting `into`
 * forgets `from` too), but the stream still names `from`. Nothing of `from` may stay readable — not in
 * the log, not in the read tables — and the read tables must be what a rebuild makes.
 */
const CORA = { name: 'Cora Fromage', email: 'cora.fromage@brie-mail.example' };
const CORA_CONTENT = ['Cora asked about the cellar', 'Fromage tasting notes'];
const CORA_RAW = 'Cora F. (the cellar)';
const CORA_STRINGS = [...Object.values(CORA), ...CORA_CONTENT, CORA_RAW, 'Fromage'];

describe.each(EVERY_STORE)('forgetting a contact another was merged into, on %s', (_name, backend, eventStore) => {
  let m: ModuleUnderTest;
  beforeEach(async () => (m = await startModule({ backend, eventStore })));
  afterEach(() => m.close());

  /**
   * Cora merged into Dora; then, as if they had raced the merge (committed after its sweeps, before its
   * hand-over of keys, which the tests play), Cora's own interaction (subject, and a party) and Eve's with
   * Cora as a party, both still naming Cora.
   */
  async function scene() {
    const cora = m.newContact(CORA);
    const dora = m.newContact({ name: 'Dora Into' });
    const eve = m.newContact({ name: 'Eve Other' });
    await m.service.contactsMerged(cora, dora);
    const own = await m.service.createInteraction({ contactUuid: cora, subject: CORA_CONTENT[0], body: CORA_CONTENT[1] }, [
      { rawName: CORA_RAW, contactUuid: cora },
      { rawName: 'Eve O.', contactUuid: eve },
    ]);
    const eves = await m.service.createInteraction({ contactUuid: eve, subject: 'Eve at the market', body: 'stall 12' }, [
      { rawName: 'Eve O.', contactUuid: eve },
      { rawName: CORA_RAW, contactUuid: cora },
      { rawName: 'Visitor' },
    ]);
    return { cora, dora, eve, own, eves };
  }

  async function expectForgotten(s: Awaited<ReturnType<typeof scene>>): Promise<void> {
    // Cora's interaction is gone (its content was Dora's to forget); Eve's keeps Eve, with Cora erased.
    expect(await m.service.getInteraction(s.own.uuid)).toBeNull();
    expect((await m.service.history(s.own.uuid)).at(-1)).toMatchObject({ type: 'InteractionDeleted', data: { reason: 'contact_forgotten' } });
    const eves = (await m.service.getInteraction(s.eves.uuid))!;
    expect(eves).toMatchObject({ subject: 'Eve at the market', body: 'stall 12' });
    expect(eves.parties.map((p) => p.rawName)).toEqual(['Eve O.', ERASED, 'Visitor']);
    expect(eves.parties[1]!.snapshot).toEqual({ source: 'erased', capturedAt: expect.any(String) });
    // Nothing of Cora anywhere: every row of the schema, and the log as stored.
    const dump = { ...(await dumpSchema(m.db, m.db.schema)), log: await dumpLog(m.log) };
    expect(findIn(dump, CORA_STRINGS)).toEqual([]);
    const live = await readTables(m.db);
    await m.app.get(InteractionsMaintenance).rebuild();
    expect(await readTables(m.db)).toEqual(live);
  }

  it('a stream found through the keys handed over: its content goes with the interaction, its party reads erased', async () => {
    const s = await scene();
    // What the merge's last step does for keys a racing create made for Cora after its sweeps.
    await moveAllOwnership(m.db, s.cora, s.dora);
    await expect(m.service.forgetContact(s.dora)).resolves.toEqual({ interactions: 2 });
    await expectForgotten(s);
  });

  it('keys handed over between the plan and the destruction of the keys: their streams are still visited', async () => {
    const s = await scene();
    // The hand-over lands right after the forget reads its plan (the first insert into its targets),
    // before its keys go: a statement trigger of this test stands in for the racing merge.
    const fn = `hand_over_${uuidv7().replace(/-/g, '')}`;
    await m.db.query(
      `CREATE FUNCTION ${fn}() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         WITH moved AS (DELETE FROM erasure_key_owners WHERE contact_uuid = '${s.cora}' RETURNING key_id)
         INSERT INTO erasure_key_owners (contact_uuid, key_id) SELECT '${s.dora}', key_id FROM moved ON CONFLICT DO NOTHING;
         RETURN NULL;
       END $$`,
      [],
    );
    await m.db.query(`CREATE TRIGGER ${fn} AFTER INSERT ON lifecycle_targets FOR EACH STATEMENT EXECUTE FUNCTION ${fn}()`, []);
    await expect(m.service.forgetContact(s.dora)).resolves.toEqual({ interactions: 2 });
    await expectForgotten(s);
  });

  it('forgetting the contact merged away, when its keys went before the merge re-pointed the stream: the interaction goes', async () => {
    const gina = m.newContact({ name: 'Gina Gone', email: 'gina.gone@example.com' });
    const hugo = m.newContact({ name: 'Hugo Kept' });
    const ginas = await m.service.createInteraction({ contactUuid: gina, subject: 'Gina and the goats', body: 'Gina herds' }, [{ rawName: 'Gina G.', contactUuid: gina }]);
    await m.service.contactsMerged(gina, hugo);
    expect(await m.service.getInteraction(ginas.uuid)).toMatchObject({ contactUuid: hugo });
    // As the keys were when a forget of Gina racing the merge destroyed them: still Gina's.
    await moveAllOwnership(m.db, hugo, gina);
    await m.service.forgetContact(gina);
    expect(await m.service.getInteraction(ginas.uuid)).toBeNull();
    expect(findIn({ ...(await dumpSchema(m.db, m.db.schema)), log: await dumpLog(m.log) }, ['Gina Gone', 'gina.gone@example.com', 'Gina and the goats', 'Gina herds', 'Gina G.'])).toEqual([]);
    const live = await readTables(m.db);
    await m.app.get(InteractionsMaintenance).rebuild();
    expect(await readTables(m.db)).toEqual(live);
  });

  it('forgetting the contact merged away, after the merge: the merge made them one person, and both are forgotten', async () => {
    const cora = m.newContact(CORA);
    const dora = m.newContact({ name: 'Dora Into', email: 'dora.into@example.com' });
    const eve = m.newContact({ name: 'Eve Other' });
    const coras = await m.service.createInteraction({ contactUuid: cora, subject: CORA_CONTENT[0], body: CORA_CONTENT[1] }, [
      { rawName: CORA_RAW, contactUuid: cora },
    ]);
    const doras = await m.service.createInteraction({ contactUuid: dora, subject: 'Dora on the phone' }, [{ rawName: 'Dora I.', contactUuid: dora }]);
    const eves = await m.service.createInteraction({ contactUuid: eve, subject: 'Eve at the market' }, [
      { rawName: 'Eve O.', contactUuid: eve },
      { rawName: CORA_RAW, contactUuid: cora },
      { rawName: 'Dora I.', contactUuid: dora },
    ]);
    await m.service.contactsMerged(cora, dora);

    await expect(m.service.forgetContact(cora)).resolves.toEqual({ interactions: 3 });
    expect(await m.service.getInteraction(coras.uuid)).toBeNull();
    expect(await m.service.getInteraction(doras.uuid)).toBeNull();
    const left = (await m.service.getInteraction(eves.uuid))!;
    expect(left).toMatchObject({ contactUuid: eve, subject: 'Eve at the market' });
    expect(left.parties.map((p) => [p.rawName, p.contactUuid, p.snapshot.source])).toEqual([
      ['Eve O.', eve, expect.not.stringMatching('erased')],
      [ERASED, null, 'erased'],
      [ERASED, null, 'erased'],
    ]);
    expect(await m.service.listInvolving(dora)).toEqual([]);
    const strings = [...CORA_STRINGS, 'Dora Into', 'dora.into@example.com', 'Dora on the phone', 'Dora I.'];
    expect(findIn({ ...(await dumpSchema(m.db, m.db.schema)), log: await dumpLog(m.log) }, strings)).toEqual([]);
    const live = await readTables(m.db);
    await m.app.get(InteractionsMaintenance).rebuild();
    expect(await readTables(m.db)).toEqual(live);
    await expect(m.service.forgetContact(cora)).resolves.toEqual({ interactions: 0 });
  });

  it('refuses a merge from or into a contact forgotten before: a later run of her forget takes no one else', async () => {
    const cora = m.newContact(CORA);
    const fred = m.newContact({ name: 'Fred Unrelated' });
    const oscar = m.newContact({ name: 'Oscar Other' });
    await m.service.createInteraction({ contactUuid: cora, subject: CORA_CONTENT[0] });
    await m.service.forgetContact(cora);
    const refused = { name: 'InteractionValidationError', errors: { fromUuid: ['does not exist'] } };
    await expect(m.service.contactsMerged(cora, fred)).rejects.toMatchObject(refused);
    // A repeat of a merge recorded before the forget is answered as the first request was.
    const [dora, gus] = [m.newContact({ name: 'Dora Before' }), m.newContact({ name: 'Gus Into' })];
    const merged = await m.service.contactsMerged(dora, gus, { idempotencyKey: 'merged-before-forget' });
    await m.service.forgetContact(dora);
    await expect(m.service.contactsMerged(dora, gus, { idempotencyKey: 'merged-before-forget' })).resolves.toEqual(merged);
    await expect(m.service.contactsMerged(cora, fred, { idempotencyKey: 'merge-after-forget' })).rejects.toMatchObject(refused);
    await expect(m.service.contactsMerged(fred, cora)).rejects.toMatchObject({ errors: { intoUuid: ['does not exist'] } });
    const freds = await m.service.createInteraction({ contactUuid: fred, subject: 'Fred on his own' });
    const oscars = await m.service.createInteraction({ contactUuid: oscar, subject: 'Oscar' }, [{ rawName: 'Fred U.', contactUuid: fred }]);
    // A repeat of her forget without a key: a new decision, which finds nothing left to do.
    await expect(m.service.forgetContact(cora)).resolves.toEqual({ interactions: 0 });
    expect(await m.service.getInteraction(freds.uuid)).toMatchObject({ subject: 'Fred on his own' });
    expect((await m.service.getInteraction(oscars.uuid))!.parties).toEqual([expect.objectContaining({ rawName: 'Fred U.', contactUuid: fred })]);
    await expect(m.service.createInteraction({ contactUuid: fred, subject: 'Fred again' })).resolves.toMatchObject({ contactUuid: fred });
  });

  it('deletes no interaction of another subject whose content key the forgotten contact owns without a merge', async () => {
    const s = await scene();
    const frank = m.newContact({ name: 'Frank Else' });
    const franks = await m.service.createInteraction({ contactUuid: frank, subject: 'Frank at the dairy' }, [{ rawName: 'Frank E.', contactUuid: frank }]);
    // An owner row Dora should not have (how it could come about is another matter): no merge made Frank hers.
    await m.db.query(
      `INSERT INTO erasure_key_owners (contact_uuid, key_id) SELECT $1, key_id FROM erasure_keys WHERE interaction_uuid = $2 AND tag = 'content'`,
      [s.dora, franks.uuid],
    );
    await m.service.forgetContact(s.dora);
    expect(await m.service.getInteraction(franks.uuid)).toMatchObject({ uuid: franks.uuid, contactUuid: frank });
    expect((await m.service.history(franks.uuid)).map((event) => event.type)).not.toContain('InteractionDeleted');
  });
});
