import { randomUUID } from 'node:crypto';
import { uuidv7 } from 'uuidv7';
import { InteractionsMaintenance } from '../../src';
import { ModuleUnderTest, startModule } from '../support/module';
import { eventMetadata, loggedData, partiesRebuiltData, partyData } from '../support/poison';

/** UUIDs in any letter case are one uuid: stored, compared, looked up and returned in lower case. */
describe('uuids in any letter case (PostgreSQL)', () => {
  let m: ModuleUnderTest;
  beforeEach(async () => (m = await startModule({ withStaffDirectory: true })));
  afterEach(() => m.close());

  it('stores and returns lower case, and asks the directory in lower case', async () => {
    const ada = m.newContact({ name: 'Ada' });
    const bob = m.newContact({ name: 'Bob' });
    const created = await m.service.createInteraction(
      { contactUuid: ada.toUpperCase(), ownerUserUuid: '0190D6B4-5C1E-7000-8000-0000000000EE' },
      [{ rawName: 'Bob', contactUuid: bob.toUpperCase() }, { rawName: 'Sam', staffPersonUuid: '0190D6B4-5C1E-7000-8000-0000000000FF' }],
      ['550E8400-E29B-41D4-A716-446655440000'],
    );
    expect(created).toMatchObject({
      contactUuid: ada,
      ownerUserUuid: '0190d6b4-5c1e-7000-8000-0000000000ee',
      fileUuids: ['550e8400-e29b-41d4-a716-446655440000'],
      parties: [
        { contactUuid: bob, snapshot: { source: 'crm_contact', name: 'Bob' } },
        { staffPersonUuid: '0190d6b4-5c1e-7000-8000-0000000000ff' },
      ],
    });
    for (const asked of m.contacts.calls.flat()) expect(asked).toBe(asked.toLowerCase());
    expect(await m.service.getInteraction(created.uuid)).toEqual(created);
  });

  it('writes to one stream whatever the case of the uuid the caller names', async () => {
    const ada = m.newContact({ name: 'Ada' });
    const created = await m.service.createInteraction({ contactUuid: ada });
    const upper = created.uuid.toUpperCase();
    const updated = await m.service.updateInteraction(upper, { subject: 'changed' });
    expect(updated).toMatchObject({ uuid: created.uuid, subject: 'changed', version: 2 });
    expect((await m.service.history(created.uuid)).map((e) => e.type)).toEqual(['InteractionLogged', 'PartiesRebuilt', 'InteractionUpdated']);
    expect(await m.service.history(upper)).toEqual(await m.service.history(created.uuid));
    const { rows } = await m.db.query<{ n: string }>('SELECT count(DISTINCT stream_name) AS n FROM events');
    expect(Number(rows[0]!.n)).toBe(1);
    expect(await m.service.getInteractionAsOf(upper, new Date(Date.now() + 60_000))).toEqual(updated);
    await m.service.deleteInteraction(upper);
    expect(await m.service.getInteraction(created.uuid)).toBeNull();
  });

  it('answers every query for a uuid in any case', async () => {
    const ada = m.newContact({ name: 'Ada' });
    const bob = m.newContact({ name: 'Bob' });
    const created = await m.service.createInteraction({ contactUuid: ada }, [{ rawName: 'Bob', contactUuid: bob }]);
    const [ADA, BOB] = [ada.toUpperCase(), bob.toUpperCase()];
    expect(await m.service.getInteraction(created.uuid.toUpperCase())).toEqual(created);
    expect((await m.service.listInvolving(BOB)).map((i) => i.uuid)).toEqual([created.uuid]);
    expect((await m.service.listForContacts([ADA, ada])).map((i) => i.uuid)).toEqual([created.uuid]);
    expect(await m.service.interactionUuidsForContact(ADA)).toEqual([created.uuid]);
  });

  it('finds the subject contact next to each feed item when the directory answers its uuid in upper case', async () => {
    const ada = m.newContact({ name: 'Ada' });
    m.contacts.contacts.set(ada, { uuid: ada.toUpperCase(), name: 'Ada' });
    const created = await m.service.createInteraction({ contactUuid: ada });
    expect(await m.service.listRecent()).toEqual([expect.objectContaining({ uuid: created.uuid, contact: expect.objectContaining({ name: 'Ada' }) })]);
    expect(await m.service.listForContacts([ada])).toEqual([expect.objectContaining({ contact: expect.objectContaining({ name: 'Ada' }) })]);
  });

  it('keeps the frozen snapshot of a party named again in another case', async () => {
    const ada = m.newContact({ name: 'Ada' });
    const bob = m.newContact({ name: 'Bob' });
    const created = await m.service.createInteraction({ contactUuid: ada }, [{ rawName: 'Bob', contactUuid: bob }]);
    m.contacts.add({ uuid: bob, name: 'Robert' });
    const rebuilt = await m.service.updateInteraction(created.uuid, {}, [
      { rawName: 'Bob again', contactUuid: bob.toUpperCase() },
      { rawName: 'Walk-in' },
    ]);
    expect(rebuilt.parties[0]).toEqual({ ...created.parties[0], rawName: 'Bob again' });
    expect(rebuilt.parties[0]!.snapshot).toEqual(created.parties[0]!.snapshot);
  });
  it('reads an older stream written with upper-case uuids in lower case: as-of, edits and published events agree', async () => {
    const ada = m.newContact({ name: 'Ada' });
    const bob = m.newContact({ name: 'Bob' });
    const uuid = uuidv7();
    const raw = (revision: number, type: string, data: unknown) =>
      m.db.query(
        'INSERT INTO events (event_id, stream_name, stream_revision, event_type, data, metadata) VALUES ($1, $2, $3, $4, $5::jsonb, $6::jsonb)',
        [randomUUID(), `interaction-${uuid}`, revision, type, JSON.stringify(data), JSON.stringify(eventMetadata())],
      );
    // Written before uuids were normalised.
    await raw(0, 'InteractionLogged', loggedData(uuid, 'Older', ada.toUpperCase()));
    await raw(1, 'PartiesRebuilt', partiesRebuiltData(uuid.toUpperCase(), [partyData(0, { contactUuid: bob.toUpperCase() })]));
    await m.app.get(InteractionsMaintenance).rebuild();

    const read = await m.service.getInteraction(uuid);
    expect(read).toMatchObject({ contactUuid: ada, parties: [{ contactUuid: bob }] });
    expect(await m.service.getInteractionAsOf(uuid, new Date(Date.now() + 60_000))).toEqual(read);
    expect((await m.service.history(uuid)).map((event) => event.data)).toEqual([
      expect.objectContaining({ interactionUuid: uuid, contactUuid: ada }),
      expect.objectContaining({ interactionUuid: uuid, parties: [expect.objectContaining({ contactUuid: bob })] }),
    ]);

    // Naming the same subject and party (in lower case) changes nothing; an edit names each contact once.
    m.published.length = 0;
    await m.service.updateInteraction(uuid, { contactUuid: ada }, [{ rawName: 'Party 0', contactUuid: bob }]);
    expect(await m.service.history(uuid)).toHaveLength(2);
    await m.service.updateInteraction(uuid, { subject: 'Now' });
    expect(m.published).toEqual([expect.objectContaining({ involvedContactUuids: [ada, bob] })]);
  });
});
