// The whole InteractionsService suite, with EventStoreDB as the event store (see on-eventstoredb.ts).
import './on-eventstoredb';
import '../../service/interactions.service.spec';
import { EventStoreDbEventStore } from '../../../src/adapters/eventstoredb/eventstoredb-event-store';
import { startModule } from '../../support/module';

it('boots the module of these suites on EventStoreDB', async () => {
  const m = await startModule();
  try {
    expect(m.eventStore).toBe('eventstoredb');
    expect(m.log).toBeInstanceOf(EventStoreDbEventStore);
    const created = await m.service.createInteraction({ contactUuid: m.newContact() });
    expect(await m.countEvents()).toBe(2);
    expect((await m.store.readStream(`interaction-${created.uuid}`)).map((e) => e.type)).toEqual(['InteractionLogged', 'PartiesRebuilt']);
  } finally {
    await m.close();
  }
});
