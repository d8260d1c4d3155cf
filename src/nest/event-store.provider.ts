import { Logger } from '@nestjs/common';
import { EventStoreDbEventStore } from '../adapters/eventstoredb/eventstoredb-event-store';
import { SubscriptionProjector } from '../adapters/eventstoredb/subscription-projector';
import { PostgresEventStore } from '../adapters/postgres/postgres-event-store';
import { Database } from '../ports/database';
import { EventStore } from '../ports/event-store';
import { projectEvents } from '../../projections/interactions.projection';
import { InteractionsModuleOptions } from './options';
import { AsyncProjection, DEFAULT_READ_YOUR_WRITES_TIMEOUT_MS, SubscriptionReadYourWrites } from './read-your-writes';

export function createEventStore(options: InteractionsModuleOptions, db: Database): EventStore {
  const eventStore = options.eventStore ?? { kind: 'postgres' };
  switch (eventStore.kind) {
    case 'postgres':
      // The read tables change in the append's own transaction: queries see every write at once.
      return new PostgresEventStore(db, projectEvents);
    case 'eventstoredb':
      if (!eventStore.connectionString) {
        throw new Error("InteractionsModule: eventStore.connectionString is required for kind 'eventstoredb'");
      }
      // The read tables follow through a subscription (startAsyncProjection).
      return EventStoreDbEventStore.connect(eventStore.connectionString);
    default:
      throw new Error(`InteractionsModule: unknown eventStore.kind '${(eventStore as { kind: string }).kind}'`);
  }
}

/**
 * Starts the projection that follows an event store whose appends do not update the read tables
 * themselves; null for the PostgreSQL event store (it projects inline).
 */
export function startAsyncProjection(
  options: InteractionsModuleOptions,
  db: Database,
  store: EventStore,
): AsyncProjection | null {
  if (!(store instanceof EventStoreDbEventStore)) return null;
  const logger = new Logger('InteractionsModule');
  const projector = new SubscriptionProjector(db, store, {
    onError: (error) =>
      logger.warn(`EventStoreDB subscription failed, resubscribing: ${error instanceof Error ? error.message : String(error)}`),
  }).start();
  const readYourWrites = options.readYourWrites ?? {};
  const timeoutMs = readYourWrites === false ? null : (readYourWrites.timeoutMs ?? DEFAULT_READ_YOUR_WRITES_TIMEOUT_MS);
  return new SubscriptionReadYourWrites(projector, timeoutMs);
}
