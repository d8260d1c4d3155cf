import { uuidv7 } from 'uuidv7';
import { BACKENDS } from '../support/backends';
import { ModuleUnderTest, startModule } from '../support/module';

/**
 * One idempotency key, one request, whatever the command (CONTRACT "Concurrency and retries"): a lifecycle
 * command and an interaction command sent at once with one key never both bind it.
 */
describe('one key sent at once by a lifecycle and an interaction command (PostgreSQL)', () => {
  let m: ModuleUnderTest;
  beforeAll(async () => (m = await startModule({ backend: BACKENDS.find((backend) => backend.name === 'postgres')! })));
  afterAll(() => m.close());

  it.each([
    ['contactDeleted', (key: string) => m.service.contactDeleted(uuidv7(), { idempotencyKey: key })],
    ['contactsMerged', (key: string) => m.service.contactsMerged(m.newContact({ name: 'From' }), m.newContact({ name: 'Into' }), { idempotencyKey: key })],
  ])('%s beside a create: exactly one of them is answered, the other refused', async (_, lifecycle) => {
    const outcomes: string[] = [];
    for (let round = 0; round < 40; round++) {
      const key = `race-${uuidv7()}`;
      const results = await Promise.allSettled([
        m.service.createInteraction({ contactUuid: m.newContact({ name: 'X' }), subject: 's' }, [], [], { idempotencyKey: key }),
        lifecycle(key),
      ]);
      outcomes.push(results.map((result) => result.status).join(' '));
      for (const result of results) {
        if (result.status === 'rejected') {
          expect(result.reason).toMatchObject({ errors: { idempotencyKey: ['was already used for a different request'] } });
        }
      }
    }
    expect(outcomes.filter((outcome) => outcome !== 'fulfilled rejected' && outcome !== 'rejected fulfilled')).toEqual([]);
  }, 60_000);
});
