import { Logger } from '@nestjs/common';
import { ErasingEventStore } from '../adapters/erasure/erasing-event-store';
import type { EventStoreDbEventStore } from '../adapters/eventstoredb/eventstoredb-event-store';
import type { SubscriptionProjector } from '../adapters/eventstoredb/subscription-projector';
import { AdvisoryLockLease } from '../adapters/postgres/advisory-lock-lease';
import { PostgresEventStore } from '../adapters/postgres/postgres-event-store';
import { Database } from '../ports/database';
import { appendProjection, newStreamProjection, projectEvents, rowReadWithStream } from '../../projections/interactions.projection';
import { openDatabase, openReadReplica } from './database.provider';
import { DEFAULT_SCHEMA, InteractionsModuleOptions } from './options';
import { loadOptional } from './optional-package';
import { AsyncProjection, DEFAULT_READ_YOUR_WRITES_TIMEOUT_MS, SubscriptionReadYourWrites } from './read-your-writes';
import { errorText } from '../domain/errors';

type EventStoreOption = NonNullable<InteractionsModuleOptions['eventStore']>;

/** The EventStoreDB adapter, loaded only for `eventStore: { kind: 'eventstoredb' }` (an optional peer). */
function eventStoreDb(): {
  EventStoreDbEventStore: typeof EventStoreDbEventStore;
  SubscriptionProjector: typeof SubscriptionProjector;
} {
  return loadOptional('@eventstore/db-client', "eventStore: { kind: 'eventstoredb' }", () => ({
    ...(require('../adapters/eventstoredb/eventstoredb-event-store') as { EventStoreDbEventStore: typeof EventStoreDbEventStore }),
    ...(require('../adapters/eventstoredb/subscription-projector') as { SubscriptionProjector: typeof SubscriptionProjector }),
  }));
}

/**
 * An append's owner claims are taken as never landing once an hour old (`settleClaims`): its resends
 * must end well within that.
 */
const MAX_RESOLVE_WITHIN_MS = 600_000;

/** The longest timer Node keeps: a longer one (or NaN, Infinity, a negative one) fires after 1 ms. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** A duration option, when given: a whole number of milliseconds from 0 to `max`, or a boot error naming it. */
function checkMilliseconds(name: string, value: unknown, max = MAX_TIMER_MS): void {
  if (value !== undefined && !(typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 && value <= max)) {
    throw new Error(`InteractionsModule: ${name} must be a whole number of milliseconds from 0 to ${max} (got ${String(value)})`);
  }
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null;
const optionError = (text: string) => new Error(`InteractionsModule: ${text}`);

/**
 * The `database` option's shape and its servers' sizes and timeouts, checked before anything is opened: a
 * host configured from JavaScript or from its environment gets a start-up error naming the option, not a
 * TypeError of a driver, nor a pool without a limit (pg takes a `maxConnections` of 0 or "ten" as none).
 */
function checkDatabaseOption(options: InteractionsModuleOptions): void {
  const database: unknown = isObject(options) ? options.database : undefined;
  if (!isObject(database) || !('connectionString' in database || isObject(database.pglite))) {
    throw optionError('database must be { connectionString } or { pglite: { dataDir?, instance? } }');
  }
  if ('connectionString' in database) {
    for (const [name, server] of [['database', database], ['database.readReplica', database.readReplica]] as const) {
      if (name === 'database.readReplica' && server === undefined) continue;
      if (!isObject(server) || typeof server.connectionString !== 'string' || server.connectionString === '') {
        throw optionError(`${name}.connectionString is required`);
      }
      const max = server.maxConnections;
      if (max !== undefined && !(Number.isSafeInteger(max) && (max as number) >= 1)) {
        throw optionError(`${name}.maxConnections must be a whole number from 1 (got ${String(max)})`);
      }
      if (server.queryTimeoutMs !== false) checkMilliseconds(`${name}.queryTimeoutMs`, server.queryTimeoutMs);
    }
    return;
  }
  const { dataDir, instance } = database.pglite as Record<string, unknown>;
  if (dataDir !== undefined && (typeof dataDir !== 'string' || dataDir === '')) {
    throw optionError('database.pglite.dataDir must be a non-empty string');
  }
  if (instance !== undefined && !(isObject(instance) && ['query', 'exec', 'transaction', 'close'].every((m) => typeof instance[m] === 'function'))) {
    throw optionError('database.pglite.instance must be a PGlite instance');
  }
}

/** The module's other durations (`readYourWrites.timeoutMs`, `countsCompactionMs`), checked before anything is opened. */
function checkDurationOptions(options: InteractionsModuleOptions): void {
  if (options.readYourWrites) checkMilliseconds('readYourWrites.timeoutMs', options.readYourWrites.timeoutMs);
  if (options.countsCompactionMs !== false) checkMilliseconds('countsCompactionMs', options.countsCompactionMs);
}

/** The event store option, checked before anything is opened. */
export function checkEventStoreOption(options: InteractionsModuleOptions): EventStoreOption {
  const eventStore = options.eventStore ?? { kind: 'postgres' };
  switch (eventStore.kind) {
    case 'postgres':
      return eventStore;
    case 'eventstoredb': {
      if (!eventStore.connectionString) {
        throw new Error("InteractionsModule: eventStore.connectionString is required for kind 'eventstoredb'");
      }
      checkMilliseconds('eventStore.resolveWithinMs', eventStore.resolveWithinMs, MAX_RESOLVE_WITHIN_MS);
      return eventStore;
    }
    default:
      throw new Error(`InteractionsModule: unknown eventStore.kind '${(eventStore as { kind: string }).kind}'`);
  }
}

/** What the module opens at start, and closes when the application closes. */
export interface ModuleResources {
  db: Database;
  /** `database.readReplica`'s pool, where the read queries go; null without one. */
  readReplica: Database | null;
  /** The log with crypto-shredding around it: what every part of the module reads and appends through. */
  store: ErasingEventStore;
}

/**
 * Opens the database (migrated) and the event store, or nothing: options are checked first, and a
 * failure after something was opened closes it again, so a failed start leaves no pool, PGlite lock
 * or client behind.
 */
export async function openResources(options: InteractionsModuleOptions): Promise<ModuleResources> {
  checkDatabaseOption(options);
  checkDurationOptions(options);
  const eventStore = checkEventStoreOption(options);
  // Parsing the connection string is all connect() does at once: a malformed one fails here.
  const esdb =
    eventStore.kind === 'eventstoredb'
      ? eventStoreDb().EventStoreDbEventStore.connect(eventStore.connectionString, { resolveWithinMs: eventStore.resolveWithinMs })
      : null;
  let db: Database | undefined;
  try {
    db = await openDatabase(options);
    const readReplica = await openReadReplica(options);
    if (esdb) return { db, readReplica, store: new ErasingEventStore(esdb, db) };
    // With PostgreSQL the read tables change in the append's own transaction: queries see every write at once.
    const log: PostgresEventStore = new PostgresEventStore(
      db,
      async (tx, events, parked): Promise<void> => projectEvents(tx, await store.open(events, tx), parked),
      async (events) => newStreamProjection(await store.open(events)),
      async (tx, streamName, drafts, gate, row) =>
        appendProjection(streamName, await store.open(drafts, tx), gate === undefined ? undefined : { gate, row }),
      rowReadWithStream,
    );
    const store: ErasingEventStore = new ErasingEventStore(log, db);
    return { db, readReplica, store };
  } catch (error) {
    await esdb?.close().catch(() => undefined);
    await db?.close().catch(() => undefined);
    throw error;
  }
}

/**
 * The projector that follows an event store whose appends do not update the read tables themselves,
 * not yet started (the module starts it once the application is up); null for the PostgreSQL event
 * store (it projects inline).
 */
/**
 * With the read tables on a PostgreSQL server the projector holds a lease: several instances of the host
 * may share them, and exactly one at a time applies the subscription (the others wait on the checkpoint
 * it stores; see AdvisoryLockLease and SubscriptionReadYourWrites). The lease opens a connection of its
 * own from `database.connectionString`. On PGlite the database lives in this one process, so no other
 * instance can share the tables: no lease, the projector always applies.
 */
export function createSubscriptionProjector(
  options: InteractionsModuleOptions,
  db: Database,
  store: ErasingEventStore,
): SubscriptionProjector | null {
  if (checkEventStoreOption(options).kind !== 'eventstoredb') return null;
  const adapter = eventStoreDb();
  if (!(store.inner instanceof adapter.EventStoreDbEventStore)) return null;
  const logger = new Logger('InteractionsModule');
  const { database } = options;
  return new adapter.SubscriptionProjector(db, store.inner, {
    ...('connectionString' in database && {
      lease: new AdvisoryLockLease({ connectionString: database.connectionString, schema: options.schema ?? DEFAULT_SCHEMA }),
    }),
    open: (events) => store.open(events),
    onError: (error) =>
      logger.warn(`EventStoreDB subscription failed, resubscribing: ${errorText(error)}`),
    onLease: (event) => {
      if (event.kind === 'acquired') logger.log('Took the projection lease: this instance applies the EventStoreDB subscription');
      else if (event.kind === 'lost') logger.warn(`Lost the projection lease (${errorText(event.reason)}); following the leader until it is free again`);
      else if (event.kind === 'resigned') logger.warn(`Gave the projection lease up, the subscription failing (${errorText(event.reason)}); another instance may take it`);
      else logger.warn(`Cannot take the projection lease, trying every second: ${errorText(event.error)}`);
    },
  });
}

/** The write side's read-your-writes wait over the subscription projector; null without one. */
export function createAsyncProjection(
  options: InteractionsModuleOptions,
  projector: SubscriptionProjector | null,
): AsyncProjection | null {
  if (!projector) return null;
  const readYourWrites = options.readYourWrites ?? {};
  const timeoutMs = readYourWrites === false ? null : (readYourWrites.timeoutMs ?? DEFAULT_READ_YOUR_WRITES_TIMEOUT_MS);
  return new SubscriptionReadYourWrites(projector, timeoutMs);
}
