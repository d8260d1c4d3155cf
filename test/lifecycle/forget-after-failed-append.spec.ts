import { InteractionConflictError, InteractionsMaintenance } from '../../src';
import { ErasingEventStore } from '../../src/adapters/erasure/erasing-event-store';
import { EVENT_STORE } from '../../src/nest/tokens';
import { StreamSession } from '../../src/ports/event-store';
import { ModuleUnderTest, startModule } from '../support/module';
import { readTables } from '../support/read-tables';

/**
 * On EventStoreDB the erasure keys' owners are written before the append (no transaction spans the two
 * stores): an update that makes Cora the subject, or links a party to her, adds her as an owner first.
 * When its append then certainly fails (another writer moved the stream past its expected version), she
 * must not stay an owner: her forget would destroy keys sealing Eve's content and party, and Eve's
 * interaction would read erased in its history while its read row kept it (a rebuild would lose it).
 * PostgreSQL writes owners in the append's transaction, rolled back with it.
 */
describe('forgetContact after an append that failed with its owners already written, on EventStoreDB', () => {
  let m: ModuleUnderTest;
  beforeEach(async () => (m = await startModule({ eventStore: 'eventstoredb' })));
  afterEach(() => m.close());

  /** The module's next append to the stream waits for `competing` to land first: its expectation fails. */
  function loseNextAppendTo(competing: () => Promise<unknown>): jest.SpyInstance {
    const inner = (m.app.get(EVENT_STORE) as ErasingEventStore).inner;
    const withStream = inner.withStream.bind(inner);
    return jest.spyOn(inner, 'withStream').mockImplementationOnce((streamName, work, options) =>
      withStream(
        streamName,
        (session: StreamSession) =>
          work({
            ...session,
            appendToStream: async (events, expected) => {
              await competing();
              return session.appendToStream(events, expected);
            },
          }),
        options,
      ),
    );
  }

  async function ownersOf(interactionUuid: string): Promise<Array<{ tag: string; contact_uuid: string }>> {
    const { rows } = await m.db.query<{ tag: string; contact_uuid: string }>(
      `SELECT k.tag, o.contact_uuid FROM erasure_key_owners o JOIN erasure_keys k USING (key_id)
       WHERE k.interaction_uuid = $1 ORDER BY k.tag, o.contact_uuid`,
      [interactionUuid],
    );
    return rows;
  }

  it('an update moving Eve’s interaction to Cora that lost its race leaves Cora owning nothing of it; her forget keeps Eve’s content', async () => {
    const eve = m.newContact({ name: 'Eve Keeper' });
    const cora = m.newContact({ name: 'Cora Gone' });
    const own = await m.service.createInteraction({ contactUuid: eve, subject: 'Eve’s renewal', body: 'Eve’s notes' });
    const owners = await ownersOf(own.uuid);

    const spy = loseNextAppendTo(() => m.service.updateInteraction(own.uuid, { body: 'Eve’s notes, revised' }));
    await expect(m.service.updateInteraction(own.uuid, { contactUuid: cora }, null, { expectedVersion: own.version })).rejects.toThrow(
      InteractionConflictError,
    );
    expect(spy).toHaveBeenCalled();
    expect(await ownersOf(own.uuid)).toEqual(owners);

    await m.service.forgetContact(cora);
    const history = await m.service.history(own.uuid);
    expect(history.map((e) => [e.type, e.data])).toEqual([
      ['InteractionLogged', expect.objectContaining({ contactUuid: eve, subject: 'Eve’s renewal', body: 'Eve’s notes' })],
      ['PartiesRebuilt', expect.anything()],
      ['InteractionUpdated', expect.objectContaining({ changes: { body: 'Eve’s notes, revised' } })],
    ]);
    expect(await m.service.getInteraction(own.uuid)).toMatchObject({ contactUuid: eve, body: 'Eve’s notes, revised' });
    const live = await readTables(m.db);
    await m.app.get(InteractionsMaintenance).rebuild();
    expect(await readTables(m.db)).toEqual(live);
  });

  it('an update linking Eve’s party to Cora that lost its race leaves Cora owning nothing of it; her forget keeps the party’s name', async () => {
    const eve = m.newContact({ name: 'Eve Keeper' });
    const dan = m.newContact({ name: 'Dan Subject' });
    const cora = m.newContact({ name: 'Cora Gone' });
    const own = await m.service.createInteraction({ contactUuid: dan, subject: 'Call', body: 'About Eve' }, [
      { rawName: 'Eve K.', contactUuid: eve },
    ]);
    const owners = await ownersOf(own.uuid);

    const spy = loseNextAppendTo(() => m.service.updateInteraction(own.uuid, { body: 'About Eve, again' }));
    await expect(
      m.service.updateInteraction(own.uuid, {}, [{ rawName: 'Eve K.', contactUuid: cora }], { expectedVersion: own.version }),
    ).rejects.toThrow(InteractionConflictError);
    expect(spy).toHaveBeenCalled();
    expect(await ownersOf(own.uuid)).toEqual(owners);

    await m.service.forgetContact(cora);
    const rebuilt = (await m.service.history(own.uuid)).filter((e) => e.type === 'PartiesRebuilt').map((e) => e.data);
    expect(rebuilt).toEqual([expect.objectContaining({ parties: [expect.objectContaining({ rawName: 'Eve K.', contactUuid: eve })] })]);
    expect((await m.service.getInteraction(own.uuid))?.parties).toEqual([expect.objectContaining({ rawName: 'Eve K.', contactUuid: eve })]);
    const live = await readTables(m.db);
    await m.app.get(InteractionsMaintenance).rebuild();
    expect(await readTables(m.db)).toEqual(live);
  });
});
