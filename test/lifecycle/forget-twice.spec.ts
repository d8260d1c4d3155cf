import { EVERY_STORE, ModuleUnderTest, startModule } from '../support/module';

/**
 * Two forgets of one contact at once (two requests, no key): the streams both plan get her events once.
 * The second counted every party the first had erased and unlinked as hers again (its snapshot reads
 * erased), and appended a second PartiesUnlinked.
 */
describe.each(EVERY_STORE)('two forgets of one contact at once, on %s', (_name, backend, eventStore) => {
  let m: ModuleUnderTest;
  beforeEach(async () => (m = await startModule({ backend, eventStore })));
  afterEach(() => m.close());

  it('the second affects nothing more', async () => {
    const cora = m.newContact({ name: 'Cora Countwell' });
    const eve = m.newContact({ name: 'Eve' });
    const hers: string[] = [];
    const eves: string[] = [];
    for (let i = 0; i < 3; i++) {
      hers.push((await m.service.createInteraction({ contactUuid: cora, subject: `own ${i}` })).uuid);
      eves.push((await m.service.createInteraction({ contactUuid: eve, subject: `eve ${i}` }, [{ rawName: 'Cora C.', contactUuid: cora }, { rawName: 'Zed' }])).uuid);
    }
    const [a, b] = await Promise.all([m.service.forgetContact(cora), m.service.forgetContact(cora)]);
    expect(a.interactions + b.interactions).toBe(6);
    for (const uuid of hers) expect((await m.service.history(uuid)).map((e) => e.type)).toEqual(['InteractionLogged', 'PartiesRebuilt', 'InteractionDeleted']);
    for (const uuid of eves) {
      expect((await m.service.history(uuid)).map((e) => e.type)).toEqual(['InteractionLogged', 'PartiesRebuilt', 'PartiesUnlinked']);
    }
  });
});
