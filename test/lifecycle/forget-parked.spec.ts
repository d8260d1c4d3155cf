import { uuidv7 } from 'uuidv7';
import { InteractionsMaintenance, InteractionUnreadableError } from '../../src';
import { BACKENDS } from '../support/backends';
import { EVERY_STORE, ModuleUnderTest, startModule } from '../support/module';

/**
 * forgetContact where an interaction's read row stopped following its stream (an event of it parked,
 * everything after it parked too): the row is stale, and must not be taken for what the stream says, nor
 * keep what it shows of her.
 */

/** Another writer's event the projection cannot apply: parked, and everything after it with it. */
async function parkAnEventOf(m: ModuleUnderTest, interactionUuid: string, unreadable = false): Promise<void> {
  await m.log.appendToStream(
    `interaction-${interactionUuid}`,
    [
      {
        id: uuidv7(),
        type: 'InteractionUpdated',
        // `unreadable`: data the write side cannot read either, so a session of the stream fails.
        data: { schemaVersion: 1, interactionUuid, changes: unreadable ? 'not changes' : { interactionType: 'call' } },
        // A number: the write side reads it as a time, the projection's check refuses it.
        metadata: { actorUuid: null, correlationId: uuidv7(), causationId: null, recordedAt: Date.now() as unknown as string },
      },
    ],
    'any',
  );
  await m.app.get(InteractionsMaintenance).rebuild();
}

/** Every read-table row of the interactions, as text. */
async function readRows(m: ModuleUnderTest, uuids: string[]): Promise<string> {
  const { rows } = await m.db.query(
    `SELECT (SELECT json_agg(i) FROM interactions i WHERE uuid = ANY($1::uuid[])) AS rows,
       (SELECT json_agg(p) FROM interaction_parties p WHERE interaction_uuid = ANY($1::uuid[])) AS parties`,
    [uuids],
  );
  return JSON.stringify(rows);
}

describe.each(BACKENDS.map((backend) => [backend.name, backend] as const))('forgetting a contact beside a parked stream, on %s', (_name, backend) => {
  let m: ModuleUnderTest;
  beforeEach(async () => (m = await startModule({ backend })));
  afterEach(() => m.close());

  it.each([
    ['', false],
    [', also where she still owns its content key (an owner row left behind)', true],
  ])('deletes no interaction her stale read row shows her the subject of, which a parked update gave to another%s', async (_, ownerLeft) => {
    const dana = m.newContact({ name: 'Dana Whitfield' });
    const oscar = m.newContact({ name: 'Oscar Own' });
    const interaction = await m.service.createInteraction({ contactUuid: dana, subject: 'first logged for Dana' });
    await parkAnEventOf(m, interaction.uuid);
    expect(await m.app.get(InteractionsMaintenance).parkedEvents()).toHaveLength(1);
    // Long before any forget, the interaction is given to Oscar, with his own content; its row still shows Dana.
    await m.service.updateInteraction(interaction.uuid, { contactUuid: oscar, subject: 'Oscar’s own subject', body: 'Oscar’s notes' });

    if (ownerLeft) {
      await m.db.query(
        `INSERT INTO erasure_key_owners (contact_uuid, key_id) SELECT $1, key_id FROM erasure_keys WHERE interaction_uuid = $2 AND tag = 'content'`,
        [dana, interaction.uuid],
      );
    }

    await m.service.forgetContact(dana);
    const history = await m.service.history(interaction.uuid);
    expect(history.map((e) => e.type)).not.toContain('InteractionDeleted');
    // Its content reads erased where her key went with it: his interaction, kept (never deleted by her forget).
    const contentKept = !ownerLeft;
    expect(history.at(-1)).toMatchObject({
      type: 'InteractionUpdated',
      data: { changes: { contactUuid: oscar, subject: contentKept ? 'Oscar’s own subject' : '[erased]' } },
    });
  });
});

describe.each(EVERY_STORE)('forgetting a contact whose interactions\' read rows are behind their parked streams, on %s', (_name, backend, eventStore) => {
  let m: ModuleUnderTest;
  beforeEach(async () => (m = await startModule({ backend, eventStore })));
  afterEach(() => m.close());

  it('erases what her stale read rows show of her: her parties, and the content of the interaction she is the subject of', async () => {
    const dana = m.newContact({ name: 'Dana Whitfield', email: 'dana@whitfield.example' });
    const other = m.newContact({ name: 'Other Person' });
    const hers = await m.service.createInteraction({ contactUuid: dana, subject: 'secret subject', body: 'secret body', metadata: { note: 'secret' } }, [
      { rawName: 'Someone Else' },
    ]);
    const about = await m.service.createInteraction({ contactUuid: other, subject: 'kept subject' }, [
      { rawName: 'Dana W. <dana@whitfield.example>', contactUuid: dana },
      { rawName: 'Free Text' },
    ]);
    for (const { uuid } of [hers, about]) await parkAnEventOf(m, uuid);
    expect(await m.app.get(InteractionsMaintenance).parkedEvents()).toHaveLength(2);
    expect(await readRows(m, [hers.uuid, about.uuid])).toMatch(/secret|Dana|whitfield/i);

    await m.service.forgetContact(dana);
    const rows = await readRows(m, [hers.uuid, about.uuid]);
    expect(rows).not.toMatch(/secret|Dana|whitfield/i);
    // The rows are still behind (their revision stays); what was not hers stays. Her interaction's parties
    // were under its content key, which was hers.
    expect(rows).toMatch(/kept subject/);
    expect(rows).toMatch(/Free Text/);
    expect(rows).not.toMatch(/Someone Else/);
    expect(await m.service.getInteraction(about.uuid)).toMatchObject({
      version: about.version,
      parties: [{ rawName: '[erased]', snapshot: { source: 'erased' } }, { rawName: 'Free Text' }],
    });
    expect(await m.service.getInteraction(hers.uuid)).toMatchObject({ version: hers.version, subject: '[erased]', body: '[erased]', metadata: {} });
    expect(await m.service.findUnresolvedParties({ email: 'dana@whitfield.example' })).toEqual([]);
    expect(await m.service.listRecent({ search: 'secret' })).toEqual([]);
  });

  it('erases her stale read row also where the forget cannot finish its stream (an event it cannot read)', async () => {
    const dana = m.newContact({ name: 'Dana Whitfield' });
    const about = await m.service.createInteraction({ contactUuid: m.newContact() }, [{ rawName: 'Dana Whitfield', contactUuid: dana }]);
    await parkAnEventOf(m, about.uuid, true);
    await expect(m.service.forgetContact(dana)).rejects.toBeInstanceOf(InteractionUnreadableError);
    expect(await readRows(m, [about.uuid])).not.toMatch(/Dana|Whitfield/);
  });
});
