import { Inject, Injectable, OnModuleDestroy, Optional } from '@nestjs/common';
import { registerUpcaster, unregisterUpcaster } from '../domain/events';
import { Database } from '../ports/database';
import { ErasingEventStore } from '../adapters/erasure/erasing-event-store';
import { PostgresEventStore } from '../adapters/postgres/postgres-event-store';
import { comparePositions, EventStore, Position } from '../ports/event-store';
import { readCheckpoint, rebuild, RebuildSummary, retryParked, RetrySummary } from '../../projections/catch-up';
import { READ_TABLES } from '../../projections/interactions.projection';
import { ASYNC_PROJECTION, AsyncProjection } from './read-your-writes';
import { migrateDatabase } from './database.provider';
import { INTERACTIONS_OPTIONS, InteractionsModuleOptions } from './options';
import { DATABASE, EVENT_STORE, READ_DATABASE } from './tokens';
import { errorText } from '../domain/errors';

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

/** An event the projection could not apply (docs/contract.md "Poison events are parked"). */
export interface ParkedEvent {
  streamName: string;
  revision: number;
  position: Position;
  type: string;
  /** Why it was parked; "behind the parked event at revision n" for a stream's later events. */
  error: string;
  parkedAt: Date;
}

export interface InteractionsHealth {
  /**
   * `down`: the database or the event store cannot be reached; `degraded`: events are parked, the
   * projection lags, or the read replica cannot be reached (queries fail, commands do not).
   */
  status: 'ok' | 'degraded' | 'down';
  database: { up: boolean; error?: string };
  /**
   * With `database.readReplica`: whether it answers, and how far its replay is behind (seconds since the
   * last transaction it replayed while WAL is still waiting to be replayed; 0 when it has replayed all
   * it received; null when it is not a standby).
   */
  readReplica?: { up: boolean; error?: string; lagSeconds?: number | null };
  eventStore: { kind: 'postgres' | 'eventstoredb'; up: boolean; error?: string };
  projection: {
    mode: 'inline' | 'subscription';
    caughtUp: boolean;
    /** Events waiting in `parked_events` (counted up to 10,000); null when the database cannot be asked. */
    parked: number | null;
    /** Where the read tables stand against the log's head (subscription only). */
    lag?: { head: Position; checkpoint: Position } | null;
    lastError?: string | null;
    /** Subscription only: `leader` applies it here; `follower` waits on the checkpoint another instance stores. */
    role?: 'leader' | 'follower';
  };
}

/** health() and the parked-events gauge count parked events up to this many. */
export const PARKED_COUNT_CAP = 10_000;

/** The parked events, counted up to PARKED_COUNT_CAP: cheap to ask however many went wrong. */
export async function countParkedEvents(db: Database): Promise<number> {
  const { rows } = await db.query<{ n: string }>('SELECT count(*) AS n FROM (SELECT 1 FROM parked_events LIMIT $1) AS p', [PARKED_COUNT_CAP]);
  return Number(rows[0]?.n ?? 0);
}

/** How long /health waits for the event store before calling it down. */
const EVENT_STORE_PROBE_MS = 2000;

/**
 * Operations around the read model for hosts, the CLI and health checks: rebuild, counts, and whether
 * the database, the event store and the projection are well.
 */
@Injectable()
export class InteractionsMaintenance implements OnModuleDestroy {
  constructor(
    @Inject(DATABASE) private readonly db: Database,
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(ASYNC_PROJECTION) private readonly asyncProjection: AsyncProjection | null,
    @Inject(INTERACTIONS_OPTIONS) private readonly options: InteractionsModuleOptions,
    /** Where the read queries go (the read replica, if any); the primary when not given. */
    @Optional() @Inject(READ_DATABASE) private readonly readDb: Database | null = null,
  ) {
    // At construction: before the application is up, so before the write side or a subscription reads an event.
    for (const upcaster of options.upcasters ?? []) registerUpcaster(upcaster);
  }

  onModuleDestroy(): void {
    for (const upcaster of this.options.upcasters ?? []) unregisterUpcaster(upcaster);
  }

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
    const log = this.store instanceof ErasingEventStore ? this.store.inner : this.store;
    const counts = log instanceof PostgresEventStore ? await log.counts() : null;
    return {
      streams: counts?.streams ?? null,
      events: counts?.events ?? null,
      head: await this.store.headPosition(),
      readTables,
      checkpoint: await readCheckpoint(this.db),
      projection: this.asyncProjection ? 'subscription' : 'inline',
    };
  }

  /** The parked events in log order. */
  async parkedEvents(): Promise<ParkedEvent[]> {
    const { rows } = await this.db.query<{
      stream_name: string;
      stream_revision: string;
      commit_position: string;
      prepare_position: string;
      event_type: string;
      error: string;
      parked_at: Date;
    }>(
      `SELECT stream_name, stream_revision, commit_position, prepare_position, event_type, error, parked_at
       FROM parked_events ORDER BY commit_position, prepare_position, stream_name, stream_revision`,
      [],
    );
    return rows.map((row) => ({
      streamName: row.stream_name,
      revision: Number(row.stream_revision),
      position: { commit: BigInt(row.commit_position), prepare: BigInt(row.prepare_position) },
      type: row.event_type,
      error: row.error,
      parkedAt: new Date(row.parked_at),
    }));
  }

  /** Re-reads the parked events and applies what now applies, stream by stream in order (see `retryParked`). */
  retryParked(): Promise<RetrySummary> {
    return retryParked(this.db, this.store);
  }

  /**
   * Cheap enough to poll: `SELECT 1`, the parked count (a small table), and with EventStoreDB one read of
   * the head and the checkpoint row. A failing projection is reported as the projection's, never as the
   * event store being down.
   */
  async health(): Promise<InteractionsHealth> {
    const [health, readReplica] = await Promise.all([this.primaryHealth(), this.readDb === null || this.readDb === this.db ? undefined : this.replicaHealth(this.readDb)]);
    if (!readReplica) return health;
    return { ...health, status: health.status === 'ok' && !readReplica.up ? 'degraded' : health.status, readReplica };
  }

  private async replicaHealth(replica: Database): Promise<NonNullable<InteractionsHealth['readReplica']>> {
    return replica
      .query<{ lag: number | null }>(
        `SELECT CASE WHEN NOT pg_is_in_recovery() THEN NULL
                     WHEN pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn() THEN 0
                     ELSE EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())::float8 END AS lag`,
        [],
      )
      .then(
        ({ rows }) => ({ up: true, lagSeconds: rows[0]?.lag ?? null }),
        (error: unknown) => ({ up: false, error: errorText(error) }),
      );
  }

  private async primaryHealth(): Promise<InteractionsHealth> {
    const database = await this.db.query('SELECT 1', []).then(
      () => ({ up: true }),
      (error: unknown) => ({ up: false, error: errorText(error) }),
    );
    const parked = database.up ? await this.parkedCount() : null;
    if (!this.asyncProjection) {
      const eventStore = { kind: 'postgres' as const, ...database };
      const projection = { mode: 'inline' as const, caughtUp: database.up, parked };
      return { status: statusOf(database.up, projection.caughtUp, parked), database, eventStore, projection };
    }
    const state = this.asyncProjection.status();
    const head = await withTimeout(this.store.headPosition(), EVENT_STORE_PROBE_MS).then(
      (position) => ({ up: true as const, position }),
      (error: unknown) => ({ up: false as const, error: errorText(error) }),
    );
    const checkpoint = database.up ? await readCheckpoint(this.db).catch(() => null) : null;
    const lag = head.up && checkpoint ? { head: head.position, checkpoint: laterOf(checkpoint, state.position) } : null;
    const caughtUp = state.caughtUp || (lag !== null && comparePositions(lag.checkpoint, lag.head) >= 0);
    const eventStore = head.up ? { kind: 'eventstoredb' as const, up: true } : { kind: 'eventstoredb' as const, up: false, error: head.error };
    return {
      status: database.up && eventStore.up ? statusOf(true, caughtUp, parked) : 'down',
      database,
      eventStore,
      projection: { mode: 'subscription', caughtUp, parked, lag, lastError: state.lastError, role: state.role },
    };
  }

  /** Counted up to PARKED_COUNT_CAP: a health check stays cheap whatever went wrong. */
  private async parkedCount(): Promise<number | null> {
    return countParkedEvents(this.db).catch(() => null);
  }
}

function statusOf(up: boolean, caughtUp: boolean, parked: number | null): InteractionsHealth['status'] {
  if (!up) return 'down';
  return caughtUp && parked === 0 ? 'ok' : 'degraded';
}

function laterOf(a: Position, b: Position): Position {
  return comparePositions(a, b) >= 0 ? a : b;
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
