import { EventStoreDBClient, MaxAppendSizeExceededError } from '@eventstore/db-client';
import { InteractionValidationError } from '../../src';
import { ModuleUnderTest, startModule } from '../support/module';
import { rejectionOf } from '../support/rejections';

/**
 * A KurrentDB/EventStoreDB node refuses an append larger than its MaxAppendSize (1,048,576 bytes by
 * default) with MaximumAppendSizeExceeded, and writes nothing. The test server has no such limit, so the
 * client's append here refuses as the node would. A body within the contract (≤ 1,000,000 characters) is
 * sealed into more bytes than that: the refusal must be a validation error, not a raw one.
 */
const MAX_APPEND_SIZE = 1_048_576;

describe('EventStoreDB: an append past MaxAppendSize', () => {
  let m: ModuleUnderTest;
  const append = EventStoreDBClient.prototype.appendToStream;
  beforeAll(async () => {
    const limited = function (this: EventStoreDBClient, ...args: Parameters<typeof append>) {
      const events = [args[1]].flat() as Array<{ data: unknown; metadata?: unknown }>;
      const bytes = events.reduce((sum, e) => sum + Buffer.byteLength(JSON.stringify(e.data)) + Buffer.byteLength(JSON.stringify(e.metadata ?? null)), 0);
      if (bytes > MAX_APPEND_SIZE) return Promise.reject(new MaxAppendSizeExceededError(undefined, MAX_APPEND_SIZE));
      return append.apply(this, args);
    };
    EventStoreDBClient.prototype.appendToStream = limited as typeof append;
    m = await startModule({ eventStore: 'eventstoredb' });
  }, 60_000);
  afterAll(async () => {
    EventStoreDBClient.prototype.appendToStream = append;
    await m?.close();
  });

  it('is an InteractionValidationError on `interaction`, and nothing is written', async () => {
    const contactUuid = m.newContact({ name: 'Ada' });
    const events = await m.countEvents();
    const error = await rejectionOf(m.service.createInteraction({ contactUuid, body: 'x'.repeat(900_000) }, [], [], { idempotencyKey: 'big' }));
    expect(error).toBeInstanceOf(InteractionValidationError);
    expect(Object.keys((error as InteractionValidationError).errors)).toEqual(['interaction']);
    expect(await m.countEvents()).toBe(events);
    // The key was freed with the refusal: the same key serves a request that fits.
    const created = await m.service.createInteraction({ contactUuid, body: 'x'.repeat(500_000) }, [], [], { idempotencyKey: 'big' });
    expect(created.body).toHaveLength(500_000);
  });
});
