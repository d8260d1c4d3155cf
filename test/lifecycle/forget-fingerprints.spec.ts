import { fingerprintOf } from '../../src/nest/idempotency';
import { EVERY_STORE, ModuleUnderTest, startModule } from '../support/module';

/**
 * An idempotency key's fingerprint is a hash of its request, and the dump holds the request's every other
 * input (the stream in `idempotency_keys`, her uuid in `lifecycle_decisions`): a list of guessed names would
 * confirm hers. A forget overwrites the fingerprints of the streams it visits, and their keys refuse every
 * request from then on.
 */
describe.each(EVERY_STORE)('forgetContact and idempotency fingerprints on %s', (_name, backend, eventStore) => {
  let m: ModuleUnderTest;
  beforeEach(async () => (m = await startModule({ backend, eventStore })));
  afterEach(() => m.close());

  it('leaves no fingerprint that confirms her name, and refuses every request with a key it reached', async () => {
    const cora = m.newContact({ name: 'Cora Quillfeather' });
    const eve = m.newContact({ name: 'Eve' });
    const i = await m.service.createInteraction({ contactUuid: eve, subject: 'meeting' });
    const parties = [{ rawName: 'Cora Quillfeather', contactUuid: cora }];
    await m.service.updateInteraction(i.uuid, {}, parties, { idempotencyKey: 'req-1' });
    await m.service.forgetContact(cora);

    const { rows: keys } = await m.db.query<{ fingerprint: string; stream_name: string }>('SELECT fingerprint, stream_name FROM idempotency_keys', []);
    expect(keys).toHaveLength(1);
    const guess = (rawName: string) =>
      fingerprintOf({
        kind: 'update',
        interactionUuid: i.uuid,
        attrs: {},
        parties: [{ rawName, contactUuid: cora, staffPersonUuid: null, inputIndex: 0 }],
        actorUuid: null,
      });
    // The guess is made as the module makes it: before the forget it matched.
    expect(['Ada Lovelace', 'Cora Quillfeather'].filter((name) => guess(name) === keys[0]!.fingerprint)).toEqual([]);

    // The request can no longer be told from another: every request with the key is refused, none is
    // answered with what may be another interaction (here: another interaction's update under it).
    const before = await m.service.history(i.uuid);
    const other = await m.service.createInteraction({ contactUuid: eve, subject: 'other' });
    for (const [uuid, changes] of [[i.uuid, parties], [other.uuid, []]] as const) {
      await expect(m.service.updateInteraction(uuid, {}, [...changes], { idempotencyKey: 'req-1' })).rejects.toMatchObject({
        errors: { idempotencyKey: ['was already used for a different request'] },
      });
    }
    expect(await m.service.history(i.uuid)).toEqual(before);
  });
});
