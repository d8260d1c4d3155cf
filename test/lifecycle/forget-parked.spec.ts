import { uuidv7 } from 'uuidv7';
import { InteractionsMaintenance } from '../../src';
import { BACKENDS } from '../support/backends';
import { ModuleUnderTest, startModule } from '../support/module';

/**
 * forgetContact where an interaction's read row stopped following its stream (an event of it parked,
 * everything after it parked too): the row is stale, and must not be taken for what the stream says.
 */
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
    // Another writer's event the projection cannot apply: parked, and everything after it with it.
    await m.log.appendToStream(
      `interaction-${interaction.uuid}`,
      [
        {
          id: uuidv7(),
          type: 'InteractionUpdated',
          data: { schemaVersion: 1, interactionUuid: interaction.uuid, changes: { interactionType: 'call' } },
          // A number: the write side reads it as a time, the projection's check refuses it.
          metadata: { actorUuid: null, correlationId: uuidv7(), causationId: null, recordedAt: Date.now() as unknown as string },
        },
      ],
      'any',
    );
    await m.app.get(InteractionsMaintenance).rebuild();
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
