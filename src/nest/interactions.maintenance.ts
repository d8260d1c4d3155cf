import { Inject, Injectable } from '@nestjs/common';
import { Database } from '../ports/database';
import { PostgresEventStore } from '../adapters/postgres/postgres-event-store';
import { EventStore, Position } from '../ports/event-store';
import { readCheckpoint, rebuild, RebuildSummary } from '../../projections/catch-up';
import { READ_TABLES } from '../../projections/interactions.projection';
import { ASYNC_PROJECTION, AsyncProjection } from './read-your-writes';
import { migrateDatabase } from './database.provider';
import { INTERACTIONS_OPTIONS, InteractionsModuleOptions } from './options';
import { DATABASE, EVENT_STORE } from './tokens';

export interface InteractionStats {
  /** Streams and events in the log; null where the event store cannot count them cheaply (EventStoreDB). */
  streams: number | null;
  events: number | null;
  head: Position;
  /** Rows of each read table. */
  readTables: Record<(typeof READ_TABLES)[number], number>;
  /** Where the catch-up projection stands; with inline projection only a rebuild moves it. */
  checkpoint: Position;
  projection: 'inline' | 'subscription';
}

export interface InteractionsHealth {
  database: { up: boolean; error?: string };
  eventStore: { kind: 'postgres' | 'eventstoredb'; up: boolean; error?: string };
  projection: { mode: 'inline' | 'subscription'; caughtUp: boolean; lastError?: string | null };
}

const errorText = (error: unknown) => (error instanceof Error ? error.message : String(error));

/**
 * Operations around the read model for hosts, the CLI and health checks: rebuild, counts, and whether
 * the database, the event store and the projection are well.
 */
@Injectable()
export class InteractionsMaintenance {
  constructor(
    @Inject(DATABASE) private readonly db: Database,
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(ASYNC_PROJECTION) private readonly asyncProjection: AsyncProjection | null,
    @Inject(INTERACTIONS_OPTIONS) private readonly options: InteractionsModuleOptions,
  ) {}

  /** Applies pending migrations (also with `migrate: false`); returns the ids it applied. */
  migrate(): Promise<string[]> {
    return migrateDatabase(this.db, this.options);
  }

  /** Empties the read tables and replays the whole log into them (see `rebuild` in projections/). */
  rebuild(options: { batchSize?: number; onProgress?: (events: number) => void } = {}): Promise<RebuildSummary> {
    return rebuild(this.db, this.store, options);
  }

  async stats(): Promise<InteractionStats> {
    const readTables = {} as InteractionStats['readTables'];
    for (const table of READ_TABLES) {
      // Table names are the module's constants, not input.
      const { rows } = await this.db.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`, []);
      readTables[table] = Number(rows[0]?.n ?? 0);
    }
    const counts = this.store instanceof PostgresEventStore ? await this.store.counts() : null;
    return {
      streams: counts?.streams ?? null,
      events: counts?.events ?? null,
      head: await this.store.headPosition(),
      readTables,
      checkpoint: await readCheckpoint(this.db),
      projection: this.asyncProjection ? 'subscription' : 'inline',
    };
  }

  async health(): Promise<InteractionsHealth> {
    const database = await this.db.query('SELECT 1', []).then(
      () => ({ up: true }),
      (error: unknown) => ({ up: false, error: errorText(error) }),
    );
    if (!this.asyncProjection) {
      return {
        database,
        eventStore: { kind: 'postgres', ...database },
        projection: { mode: 'inline', caughtUp: database.up },
      };
    }
    const status = this.asyncProjection.status();
    return {
      database,
      eventStore: { kind: 'eventstoredb', up: status.connected, ...(status.lastError && { error: status.lastError }) },
      projection: { mode: 'subscription', caughtUp: status.caughtUp, lastError: status.lastError },
    };
  }
}
