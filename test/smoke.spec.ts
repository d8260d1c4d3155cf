import { startModule, ModuleUnderTest } from './support/module';

describe('smoke', () => {
  let m: ModuleUnderTest;
  beforeEach(async () => (m = await startModule()));
  afterEach(() => m.close());

  it('creates and reads back', async () => {
    const contactUuid = m.newContact({ name: 'Ada' });
    const party = m.newContact({ name: 'Bob' });
    const created = await m.service.createInteraction({ contactUuid, subject: 'Hello' }, [
      { rawName: 'Bob', contactUuid: party },
      { rawName: '  ' },
    ]);
    const got = await m.service.getInteraction(created.uuid);
    expect(got).toEqual(created);
    console.log(JSON.stringify(got, null, 1));
    expect(await m.service.listInvolving(party)).toHaveLength(1);
  });
});
