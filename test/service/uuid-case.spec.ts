import { ModuleUnderTest, startModule } from '../support/module';

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
});
