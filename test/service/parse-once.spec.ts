import { EVENT_SCHEMAS, InteractionEventType } from '../../src/domain/events';
import { BACKENDS } from '../support/backends';
import { ModuleUnderTest, startModule } from '../support/module';

/**
 * A command's events are parsed once on the PostgreSQL event store: the write side's parse before
 * append serves the inline projection of that append, the fold and publishing. Events read back (the
 * stream an edit reads) are parsed as they are read.
 */
describe.each(BACKENDS.map((backend) => [backend.name, backend] as const))('each decided event parsed once on %s', (_name, backend) => {
  let m: ModuleUnderTest;
  const spies: jest.SpyInstance[] = [];
  const parses = (type: InteractionEventType) => spies.find((spy) => spy.getMockName() === type)!.mock.calls.length;
  beforeEach(async () => {
    m = await startModule({ backend });
    for (const type of Object.keys(EVENT_SCHEMAS) as InteractionEventType[]) {
      spies.push(jest.spyOn(EVENT_SCHEMAS[type], 'safeParse').mockName(type));
    }
  });
  afterEach(async () => {
    for (const spy of spies.splice(0)) spy.mockRestore();
    await m.close();
  });

  it('a create, an edit and a deletion, with their read rows written', async () => {
    const contactUuid = m.newContact({ name: 'Ada' });
    const created = await m.service.createInteraction({ contactUuid, subject: 'Intro call', interactionType: 'call' }, [{ rawName: 'Visitor' }]);
    expect([parses('InteractionLogged'), parses('PartiesRebuilt')]).toEqual([1, 1]);
    await m.service.updateInteraction(created.uuid, { subject: 'Intro call, rescheduled' });
    expect(parses('InteractionUpdated')).toBe(1);
    expect(await m.service.getInteraction(created.uuid)).toMatchObject({ subject: 'Intro call, rescheduled' });
    await m.service.deleteInteraction(created.uuid);
    expect(parses('InteractionDeleted')).toBe(1);
    expect(await m.countEvents()).toBe(4);
  });
});
