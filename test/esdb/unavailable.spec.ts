import { uuidv7 } from 'uuidv7';
import { InteractionUnavailableError } from '../../src';
import { ModuleUnderTest, startModule } from '../support/module';
import { eventually, itWithTestServer } from './support';

/** The module on EventStoreDB while the server is away: typed, retryable errors, then recovery by itself. */
describe('EventStoreDB unreachable', () => {
  let m: ModuleUnderTest;
  beforeEach(async () => (m = await startModule({ eventStore: 'eventstoredb' })));
  afterEach(() => m.close());

  itWithTestServer('answers InteractionUnavailableError while the server is away and recovers when it is back', async () => {
    const contactUuid = m.newContact();
    const before = await m.service.createInteraction({ contactUuid, subject: 'before' });
    await m.esdbServer!.kill();

    const create = await m.service.createInteraction({ contactUuid, subject: 'during' }).catch((e: unknown) => e);
    expect(create).toBeInstanceOf(InteractionUnavailableError);
    expect([false, 'unknown']).toContain((create as InteractionUnavailableError).committed);
    const update = await m.service.updateInteraction(before.uuid, { subject: 'during' }).catch((e: unknown) => e);
    expect(update).toBeInstanceOf(InteractionUnavailableError);
    expect((update as InteractionUnavailableError).committed).toBe(false); // it failed reading the stream
    await expect(m.service.history(before.uuid)).rejects.toBeInstanceOf(InteractionUnavailableError);
    // The read tables are in PostgreSQL: queries still answer.
    expect((await m.service.getInteraction(before.uuid))?.subject).toBe('before');

    await m.esdbServer!.restart();
    const after = await eventually(
      () => m.service.createInteraction({ contactUuid, subject: 'after' }).catch(() => null),
      (created) => created !== null,
      15_000,
    );
    expect(after?.subject).toBe('after');
    expect((await m.service.updateInteraction(before.uuid, { subject: 'after' })).subject).toBe('after');
    expect(await m.service.getInteraction(uuidv7())).toBeNull();
  }, 60_000);
});
