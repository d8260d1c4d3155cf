import { fingerprintOf } from '../../src/nest/idempotency';
import { EVERY_STORE, ModuleUnderTest, startModule } from '../support/module';

/**
 * An idempotency key's fingerprint is a hash of its request, and the dump holds the request's every other
 * input (the stream in `idempotency_keys`, her uuid in `lifecycle_decisions`): a list of guessed names would
 * confirm hers. A forget overwrites the fingerprints of the streams it visits; their keys' repeats are still
 * answered as the first request was.
 */
describe.each(EVERY_STORE)('forgetContact and idempotency fingerprints on %s', (_name, backend, eventStore) => {
  let m: ModuleUnderTest;
  beforeEach(async () => (m = await startModule({ backend, eventStore })));
  afterEach(() => m.close());

  it('leaves no fingerprint that confirms her name, and a repeat of a keyed request is answered as before', async () => {
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

    const before = await m.service.history(i.uuid);
    const repeat = await m.service.updateInteraction(i.uuid, {}, parties, { idempotencyKey: 'req-1' });
    // The first request's answer, as it reads now: her party erased, nothing appended again.
    expect(repeat.parties).toEqual([expect.objectContaining({ rawName: '[erased]', snapshot: expect.objectContaining({ source: 'erased' }) })]);
    expect(await m.service.history(i.uuid)).toEqual(before);
  });
});
