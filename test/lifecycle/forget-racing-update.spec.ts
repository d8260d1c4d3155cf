import { ERASED, InteractionsMaintenance } from '../../src';
import { InteractionWriter } from '../../src/nest/interaction-writer';
import { dumpLog, dumpSchema, findIn } from '../support/data-dump';
import { EVERY_STORE, ModuleUnderTest, startModule } from '../support/module';
import { readTables } from '../support/read-tables';

/**
 * forgetContact(cora) racing an update that moves Cora's interaction to an unrelated contact: the forget
 * destroys her keys first (its content key with them, hers as the subject's), the update commits, then the
 * forget visits the stream and finds another subject. Nothing of hers may stay readable — not in the log as
 * the module reads it, not in the read tables — and the read tables must be what a rebuild makes.
 */
const CORA = { name: 'Cora Quillfeather', email: 'cora.quillfeather@inkwell-mail.example' };
const CORA_CONTENT = ['Cora wants the quill repaired', 'Nib notes from the Quillfeather desk'];
const CORA_STRINGS = [...Object.values(CORA), ...CORA_CONTENT, 'Quillfeather'];

describe.each(EVERY_STORE)('forgetContact racing an update of the subject, on %s', (_name, backend, eventStore) => {
  let m: ModuleUnderTest;
  beforeEach(async () => (m = await startModule({ backend, eventStore })));
  afterEach(() => m.close());

  it('an update moving her interaction to another contact between her keys going and the visit of its stream: none of her content stays readable', async () => {
    const cora = m.newContact(CORA);
    const eve = m.newContact({ name: 'Eve Other' });
    const own = await m.service.createInteraction({ contactUuid: cora, subject: CORA_CONTENT[0], body: CORA_CONTENT[1] }, [
      { rawName: 'Eve O.', contactUuid: eve },
    ]);
    // The forget's first sweep destroys all her keys at once, then visits each stream under its lock: the
    // update commits in between, played here when the fan-out comes to the stream.
    const writer = m.app.get(InteractionWriter);
    const visit = writer.applyToStream.bind(writer);
    const spy = jest.spyOn(writer, 'applyToStream').mockImplementationOnce(async (...args) => {
      await m.service.updateInteraction(own.uuid, { contactUuid: eve });
      return visit(...args);
    });
    const result = await m.service.forgetContact(cora);
    expect(spy).toHaveBeenCalled();
    const history = await m.service.history(own.uuid);
    expect(history.map((e) => e.type)).toContain('InteractionUpdated');

    // Nothing of hers readable: the log as the module reads it, the read row, every row of the schema.
    expect(findIn({ history: JSON.stringify(history.map((e) => e.data)) }, CORA_STRINGS)).toEqual([]);
    expect(findIn({ read: JSON.stringify(await m.service.getInteraction(own.uuid)) }, CORA_STRINGS)).toEqual([]);
    const dump = { ...(await dumpSchema(m.db, m.db.schema)), log: await dumpLog(m.log) };
    expect(findIn(dump, CORA_STRINGS)).toEqual([]);
    // The log and the read rows agree: a rebuild makes the same read tables.
    const live = await readTables(m.db);
    await m.app.get(InteractionsMaintenance).rebuild();
    expect(await readTables(m.db)).toEqual(live);
    // She was its subject when her keys went: the interaction goes with her content, as the contract says.
    expect(history[0]!.data).toMatchObject({ subject: ERASED, body: ERASED });
    expect(history.at(-1)).toMatchObject({ type: 'InteractionDeleted', data: { reason: 'contact_forgotten' } });
    expect(await m.service.getInteraction(own.uuid)).toBeNull();
    expect(result).toEqual({ interactions: 1 });
  });

  it('an interaction moved away from her before the forget, whose content key she still owns by mistake, is not deleted', async () => {
    const cora = m.newContact(CORA);
    const eve = m.newContact({ name: 'Eve Other' });
    const own = await m.service.createInteraction({ contactUuid: cora, subject: 'Once hers', body: 'Now Eve has it' });
    await m.service.updateInteraction(own.uuid, { contactUuid: eve });
    // An owner row left behind (on EventStoreDB: added before an append whose outcome never came back).
    await m.db.query(
      `INSERT INTO erasure_key_owners (contact_uuid, key_id)
       SELECT $1, key_id FROM erasure_keys WHERE interaction_uuid = $2 AND tag = 'content' ON CONFLICT DO NOTHING`,
      [cora, own.uuid],
    );
    await m.service.forgetContact(cora);
    // Eve's when the key went: her forget deletes no interaction of anyone else.
    expect(await m.service.getInteraction(own.uuid)).toMatchObject({ uuid: own.uuid, contactUuid: eve });
    expect((await m.service.history(own.uuid)).map((e) => e.type)).not.toContain('InteractionDeleted');
  });
});
