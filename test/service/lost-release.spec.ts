import { EventBus } from '@nestjs/cqrs';
import { uuidv7 } from 'uuidv7';
import { InteractionUnavailableError } from '../../src';
import { PostgresEventStore } from '../../src/adapters/postgres/postgres-event-store';
import { InteractionWriter } from '../../src/nest/interaction-writer';
import { UnknownOutcomes } from '../../src/nest/unknown-outcomes';
import { Database } from '../../src/ports/database';
import { newStreamProjection, projectEvents } from '../../projections/interactions.projection';
import { migratedDatabase } from '../support/backends';
import { InMemoryContactDirectory } from '../support/directories';

/**
 * A keyed request whose release of its hold is lost (its connection killed at that moment) sends it again:
 * left held, the key kept the client's retry (a repeat) waiting the whole 30 s lapse after the request.
 */
describe('a hold whose release was lost', () => {
  let db: Database;
  let cleanup: () => Promise<void>;
  const contacts = new InMemoryContactDirectory();
  const contactUuid = contacts.add({ uuid: uuidv7(), name: 'Ada' }).uuid;
  const eventBus = { publishAll: () => undefined } as unknown as EventBus;
  beforeEach(async () => ({ db, cleanup } = await migratedDatabase()));
  afterEach(() => cleanup());

  it('answers a repeat soon after the first request ended', async () => {
    let dropRelease = true;
    const faulty: Database = Object.assign(Object.create(db) as Database, {
      query: (text: string, params?: unknown[]) => {
        if (dropRelease && text.startsWith('UPDATE idempotency_keys SET held_by = NULL')) {
          dropRelease = false;
          return Promise.reject(new InteractionUnavailableError('PostgreSQL is unavailable: terminating connection due to administrator command', false));
        }
        return db.query(text, params);
      },
    });
    const store = new PostgresEventStore(db, projectEvents, async (events) => newStreamProjection(events));
    const writer = new InteractionWriter(store, faulty, { contacts, staff: null }, eventBus, new UnknownOutcomes());
    const command = () => ({
      kind: 'create' as const,
      interactionUuid: uuidv7(),
      attrs: { contactUuid, interactionType: 'call' as const, occurredAt: new Date('2026-11-30T10:00:00Z'), subject: 's', body: null, ownerUserUuid: null, metadata: {} },
      parties: [],
      fileUuids: [],
    });
    const idempotency = { key: 'held', fingerprint: 'f' };
    const first = await writer.execute(command(), {}, new Date(), idempotency);
    const started = Date.now();
    const repeat = await writer.execute(command(), {}, new Date(), idempotency);
    const waited = Date.now() - started;
    expect(repeat.interaction?.uuid).toBe(first.interaction?.uuid);
    expect(waited).toBeLessThan(5_000);
  }, 60_000);
});
