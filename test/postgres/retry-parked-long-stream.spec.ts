import { uuidv7 } from 'uuidv7';
import { InteractionsMaintenance } from '../../src';
import { ModuleUnderTest, startModule } from '../support/module';

/** A parked stream longer than a call may have arguments: retryParked read it with push(...events). */
describe('retryParked of a very long parked stream', () => {
  let m: ModuleUnderTest;
  beforeAll(async () => (m = await startModule()));
  afterAll(() => m.close());

  it('reads it back and keeps its parked event parked, instead of overflowing the stack', async () => {
    const stream = `interaction-${uuidv7()}`;
    await m.db.query(
      `INSERT INTO events (event_id, stream_name, stream_revision, event_type, data, metadata)
       SELECT gen_random_uuid(), $1, g, 'InteractionArchived', '{}', jsonb_build_object('recordedAt', '2026-04-01T10:00:00.000Z')
       FROM generate_series(0, 129999) AS g`,
      [stream],
    );
    // Parked as the projection parks an unknown type (the rest of the stream would be parked behind it).
    await m.db.query(
      `INSERT INTO parked_events (stream_name, stream_revision, commit_position, prepare_position, event_id, event_type, error)
       SELECT stream_name, stream_revision, transaction_id, global_position, event_id, event_type, 'unknown event type'
       FROM events WHERE stream_name = $1 AND stream_revision = 0`,
      [stream],
    );
    expect(await m.app.get(InteractionsMaintenance).retryParked()).toEqual({ applied: 0, stillParked: 1 });
  }, 120_000);
});
