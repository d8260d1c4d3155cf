import { Inject, Injectable, OnModuleInit, Optional } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { COMMAND_HANDLER_METADATA, QUERY_HANDLER_METADATA } from '@nestjs/cqrs/dist/decorators/constants';
import { Gauge, Histogram, Registry } from 'prom-client';
import { Database } from '../ports/database';
import {
  InteractionConflictError,
  InteractionNotFoundError,
  InteractionUnavailableError,
  InteractionValidationError,
} from '../domain/errors';
import { traced } from '../observability/tracing';
import { countParkedEvents, PARKED_COUNT_CAP } from './interactions.maintenance';
import { AsyncProjection, ASYNC_PROJECTION } from './read-your-writes';
import { DATABASE } from './tokens';

/** How a command or query ended, as a metric label: bounded, and the same names as the error classes. */
export type Outcome = 'ok' | 'invalid' | 'not_found' | 'conflict' | 'unavailable' | 'error';

export function outcomeOf(error: unknown): Outcome {
  if (error instanceof InteractionValidationError) return 'invalid';
  if (error instanceof InteractionNotFoundError) return 'not_found';
  if (error instanceof InteractionConflictError) return 'conflict';
  if (error instanceof InteractionUnavailableError) return 'unavailable';
  return 'error';
}

/** The module's providers among which the command and query handlers are (see interactions.module.ts). */
export const HANDLER_TYPES = Symbol('crm-interactions:HANDLER_TYPES');

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * The module's metrics, in a prom-client Registry of its own (never the process's default one, so a
 * host's own metrics and a second module instance cannot collide): serve `registry.metrics()`, or merge it
 * into the host's registry (`Registry.merge`). Every metric is listed in the README ("Observability").
 * Latencies are observed as commands and queries run; the state gauges (parked events, projection lag,
 * pending lifecycle work) are read from the module's tables when scraped, and are NaN while the tables
 * cannot be read: the scrape still answers, with every other metric (a host's process metrics too).
 */
@Injectable()
export class InteractionsMetrics implements OnModuleInit {
  readonly registry = new Registry();

  private readonly commandDuration = new Histogram({
    name: 'crm_interactions_command_duration_seconds',
    help: 'Time a command of the module took, by command and outcome (ok, invalid, not_found, conflict, unavailable, error)',
    labelNames: ['command', 'outcome'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });

  private readonly queryDuration = new Histogram({
    name: 'crm_interactions_query_duration_seconds',
    help: 'Time a query of the module took, by query and outcome',
    labelNames: ['query', 'outcome'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });

  constructor(
    private readonly moduleRef: ModuleRef,
    @Inject(HANDLER_TYPES) private readonly handlerTypes: Function[],
    @Inject(DATABASE) db: Database,
    @Optional() @Inject(ASYNC_PROJECTION) asyncProjection: AsyncProjection | null,
  ) {
    new Gauge({
      name: 'crm_interactions_parked_events',
      help: `Events the projection could not apply and parked (see retryParked() or the CLI's 'parked retry'), counted up to ${PARKED_COUNT_CAP}; 0 when all is well`,
      registers: [this.registry],
      async collect() {
        this.set(await countParkedEvents(db).catch(() => NaN));
      },
    });
    new Gauge({
      name: 'crm_interactions_projection_lag_seconds',
      help: 'How far the read tables are behind the log: 0 when caught up (always with the PostgreSQL event store), else the time since the projection last stored its checkpoint',
      registers: [this.registry],
      async collect() {
        if (!asyncProjection) return this.set(0);
        const status = asyncProjection.status();
        if (status.caughtUp) return this.set(0);
        const rows = await db
          .query<{ at: Date | null }>('SELECT updated_at AS at FROM projection_checkpoints ORDER BY updated_at DESC LIMIT 1', [])
          .then((result) => result.rows, () => null);
        if (!rows) return this.set(NaN);
        const at = rows[0]?.at;
        this.set(at ? Math.max(0, (Date.now() - new Date(at).getTime()) / 1000) : 0);
      },
    });
    new Gauge({
      name: 'crm_interactions_projection_caught_up',
      help: '1 when the read tables show every event of the log (always with the PostgreSQL event store), else 0',
      registers: [this.registry],
      collect() {
        this.set(!asyncProjection || asyncProjection.status().caughtUp ? 1 : 0);
      },
    });
    new Gauge({
      name: 'crm_interactions_lifecycle_pending',
      help: "Contacts' lifecycle work not finished yet: decisions, and the interactions they still have to reach",
      labelNames: ['kind'] as const,
      registers: [this.registry],
      async collect() {
        const counts = await db
          .query<{ decisions: string; interactions: string }>(
            `SELECT (SELECT count(*) FROM lifecycle_decisions WHERE completed_at IS NULL) AS decisions,
                    (SELECT count(*) FROM lifecycle_targets WHERE done_at IS NULL) AS interactions`,
            [],
          )
          .then(({ rows }) => rows[0], () => undefined);
        this.set({ kind: 'decisions' }, counts ? Number(counts.decisions) : NaN);
        this.set({ kind: 'interactions' }, counts ? Number(counts.interactions) : NaN);
      },
    });
  }

  /**
   * Every command and query handler of the module is timed and traced where it runs, whoever dispatched
   * it (the service, or a host on the CommandBus/QueryBus): each handler's `execute` is wrapped once.
   */
  onModuleInit(): void {
    for (const type of this.handlerTypes) {
      const kind = Reflect.hasMetadata(COMMAND_HANDLER_METADATA, type) ? 'command' : Reflect.hasMetadata(QUERY_HANDLER_METADATA, type) ? 'query' : null;
      if (!kind) continue;
      const handler = this.moduleRef.get<{ execute(message: object): Promise<unknown> }>(type, { strict: true });
      const execute = handler.execute.bind(handler);
      handler.execute = (message: object) => this.observe(kind, message.constructor.name, () => execute(message));
    }
  }

  /** Times and traces one command or query. */
  observe<T>(kind: 'command' | 'query', name: string, work: () => Promise<T>): Promise<T> {
    const end: (labels: { outcome: Outcome }) => number =
      kind === 'command' ? this.commandDuration.startTimer({ command: name }) : this.queryDuration.startTimer({ query: name });
    return traced(`crm-interactions ${kind} ${name}`, { [`crm_interactions.${kind}`]: name }, work).then(
      (result) => {
        end({ outcome: 'ok' });
        return result;
      },
      (error: unknown) => {
        end({ outcome: outcomeOf(error) });
        throw error;
      },
    );
  }
}

