import { PostgresEventStore } from '../adapters/postgres/postgres-event-store';
import { Database } from '../ports/database';
import { EventStore } from '../ports/event-store';
import { projectEvents } from '../../projections/interactions.projection';
import { InteractionsModuleOptions } from './options';

export function createEventStore(options: InteractionsModuleOptions, db: Database): EventStore {
  const kind = options.eventStore?.kind ?? 'postgres';
  if (kind !== 'postgres') {
    throw new Error(`InteractionsModule: eventStore.kind '${kind}' is not available in this version; use 'postgres'`);
  }
  // The read tables change in the append's own transaction: queries see every write at once.
  return new PostgresEventStore(db, projectEvents);
}
