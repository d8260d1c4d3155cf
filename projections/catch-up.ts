import { Database, Queryable } from '../src/ports/database';
import { COUNTED_TABLES, countFromScratch } from './counts';
import { traced } from '../src/observability/tracing';
import { comparePositions, EventStore, Position, RecordedEvent, START } from '../src/ports/event-store';
import {
  applyPrepared,
  COUNT_TABLES,
  INTERACTION_KEY,
  isDataError,
  ParkedStreams,
  parkedStreamsOf,
  pgArray,
  prepareEvents,
  projectEvents,
  projectOneByOne,
  READ_TABLES,
  serialized,
} from './interactions.projection';

export const INTERACTIONS_PROJECTION = 'interactions';
const DEFAULT_BATCH_SIZE = 1000;
/** A rebuild's batches are larger: fewer statements per event; two batches in memory at a time. */
const REBUILD_BATCH_SIZE = 2500;

export async function readCheckpoint(q: Queryable, name = INTERACTIONS_PROJECTION): Promise<Position> {
  const { rows } = await q.query<{ commit_position: string; prepare_position: string }>(
    'SELECT commit_position, prepare_position FROM projection_checkpoints WHERE name = $1',
    [name],
  );
  const row = rows[0];
  return row ? { commit: BigInt(row.commit_position), prepare: BigInt(row.prepare_position) } : START;
}

async function writeCheckpoint(q: Queryable, name: string, position: Position): Promise<void> {
  await q.query(
    `INSERT INTO projection_checkpoints (name, commit_position, prepare_position, updated_at)
     VALUES ($1, $2, $3, now())
     ON CONFLICT (name) DO UPDATE
       SET commit_position = EXCLUDED.commit_position, prepare_position = EXCLUDED.prepare_position,
           updated_at = EXCLUDED.updated_at`,
    [name, position.commit.toString(), position.prepare.toString()],
  );
}

/** Reads the checkpoint with its row locked, so two projectors of one name cannot interleave batches. */
async function lockCheckpoint(tx: Queryable, name: string): Promise<Position> {
  await tx.query(
    `INSERT INTO projection_checkpoints (name, commit_position, prepare_position) VALUES ($1, 0, 0)
     ON CONFLICT (name) DO NOTHING`,
    [name],
  );
  await tx.query('SELECT 1 FROM projection_checkpoints WHERE name = $1 FOR UPDATE', [name]);
  return readCheckpoint(tx, name);
}

/**
 * Applies events to the read tables from a checkpoint, committing each batch's read-table writes and
 * the new checkpoint in one transaction: a crash between batches loses nothing and applies nothing twice.
 */
export class CatchUpProjector {
  constructor(
    private readonly db: Database,
    private readonly store: EventStore,
    private readonly name = INTERACTIONS_PROJECTION,
  ) {}

  /** Applies one delivered batch; events at or before the stored checkpoint are skipped (re-delivery). */
  applyBatch(batch: readonly RecordedEvent[]): Promise<number> {
    return traced('crm-interactions projection batch', { 'crm_interactions.events': batch.length }, async () => {
      try {
        return await this.applyWith(batch, projectEvents);
      } catch (error) {
        // An event the schemas accept but PostgreSQL refuses: never retry the batch forever, park it.
        if (!isDataError(error)) throw error;
        return this.applyWith(batch, async (tx, fresh) => projectOneByOne(tx, fresh, await parkedStreamsOf(tx, fresh)));
      }
    });
  }

  private async applyWith(
    batch: readonly RecordedEvent[],
    project: (tx: Queryable, fresh: RecordedEvent[]) => Promise<void>,
  ): Promise<number> {
    const last = batch[batch.length - 1];
    if (!last) return 0;
    return this.db.transaction(async (tx) => {
      const checkpoint = await lockCheckpoint(tx, this.name);
      const fresh = batch.filter((event) => comparePositions(event.position, checkpoint) > 0);
      if (fresh.length === 0) return 0;
      await project(tx, fresh);
      await writeCheckpoint(tx, this.name, last.position);
      return fresh.length;
    });
  }

  /**
   * Moves the checkpoint forward to `position` (never back), for a subscription that knows every event up
   * to there has been applied: its filtered checkpoints pass events of other streams.
   */
  async advanceTo(position: Position): Promise<void> {
    await this.db.transaction(async (tx) => {
      if (comparePositions(position, await lockCheckpoint(tx, this.name)) > 0) {
        await writeCheckpoint(tx, this.name, position);
      }
    });
  }

  /** Reads from the checkpoint to the head, batch by batch; returns how many events it applied. */
  async catchUp(batchSize = DEFAULT_BATCH_SIZE): Promise<number> {
    let applied = 0;
    for await (const batch of this.store.readAll(await readCheckpoint(this.db, this.name), { batchSize })) {
      applied += await this.applyBatch(batch);
    }
    return applied;
  }
}

export interface RetrySummary {
  /** Parked events that applied now. */
  applied: number;
  /** Parked events that still fail, or wait behind one that does. */
  stillParked: number;
}

/**
 * Re-reads the parked events from the event store and applies each stream's in revision order (after a
 * fix: an upcaster registered, a bad event's stream repaired), unparking what now applies; what still
 * fails is parked again with everything behind it. One transaction, holding the catch-up projector's
 * checkpoint and each parked stream's append lock, so neither projects those streams meanwhile.
 */
export async function retryParked(db: Database, store: EventStore, name = INTERACTIONS_PROJECTION): Promise<RetrySummary> {
  let summary: RetrySummary = { applied: 0, stillParked: 0 };
  // A stream parked further between its read and the locks is left for the next round, read again.
  for (let round = 0; round < RETRY_ROUNDS; round++) {
    const { applied, stillParked, unread } = await retryOnce(db, store, name);
    summary = { applied: summary.applied + applied, stillParked };
    if (unread === 0) break;
  }
  return summary;
}

const RETRY_ROUNDS = 3;

async function retryOnce(db: Database, store: EventStore, name: string): Promise<RetrySummary & { unread: number }> {
  // The streams are read before the transaction (on PGlite it holds the only connection); the
  // transaction then takes the rows still parked, so a concurrent retry cannot apply anything twice.
  const streams = (
    await db.query<{ stream_name: string }>('SELECT DISTINCT stream_name FROM parked_events ORDER BY stream_name', [])
  ).rows.map((row) => row.stream_name);
  if (streams.length === 0) return { applied: 0, stillParked: 0, unread: 0 };
  const stored: RecordedEvent[] = [];
  // One by one, not push(...events): spreading a long stream (~125,000 events) overflows the stack.
  for (const stream of streams) for (const event of await store.readStream(stream)) stored.push(event);
  const lastRead = new Map(stored.map((event) => [event.streamName, event.revision]));
  const retry = (oneByOne: boolean) =>
    db.transaction(async (tx) => {
      await lockCheckpoint(tx, name);
      // The lock an append to the stream takes (PostgreSQL event store): its inline projection waits for us.
      await tx.query('SELECT pg_advisory_xact_lock(hashtextextended(s, 0)) FROM unnest($1::text[]) AS s ORDER BY s', [
        pgArray(streams),
      ]);
      const { rows } = await tx.query<{ stream_name: string; stream_revision: string }>(
        'SELECT stream_name, stream_revision FROM parked_events WHERE stream_name = ANY($1::text[]) FOR UPDATE',
        [pgArray(streams)],
      );
      // A stream with an event parked after it was read (a forget's, say, whose keys went meanwhile) is
      // not applied from that read: its older events would go in as read, and the newer one stay parked.
      const unread = new Set(
        rows
          .filter((row) => Number(row.stream_revision) > (lastRead.get(row.stream_name) ?? Infinity))
          .map((row) => row.stream_name),
      );
      const wanted = new Set(
        rows.filter((row) => !unread.has(row.stream_name)).map((row) => `${row.stream_name} ${Number(row.stream_revision)}`),
      );
      // An event the store no longer has stays parked, as it is.
      const events = stored.filter((event) => wanted.has(`${event.streamName} ${event.revision}`));
      if (events.length > 0) {
        await tx.query(
          `DELETE FROM parked_events p USING unnest($1::text[], $2::bigint[]) AS e(stream_name, stream_revision)
           WHERE p.stream_name = e.stream_name AND p.stream_revision = e.stream_revision`,
          [pgArray(events.map((e) => e.streamName)), pgArray(events.map((e) => e.revision))],
        );
      }
      const count = async () => Number((await tx.query<{ n: string }>('SELECT count(*) AS n FROM parked_events', [])).rows[0]?.n ?? 0);
      const before = await count();
      if (oneByOne) await projectOneByOne(tx, events, new Map());
      else await applyPrepared(tx, prepareEvents(events));
      const stillParked = await count();
      return { applied: events.length - (stillParked - before), stillParked, unread: unread.size };
    });
  try {
    return await retry(false);
  } catch (error) {
    if (!isDataError(error)) throw error;
    return retry(true);
  }
}

export interface RebuildSummary {
  events: number;
  position: Position;
}

/**
 * Empties the read tables and replays the whole log into them, in one transaction: nobody ever sees
 * half-rebuilt tables (readers wait on the tables' lock), and an append that projects inline waits too,
 * then applies its events on top of the rebuilt state. Progress is reported after every batch.
 */
export async function rebuild(
  db: Database,
  store: EventStore,
  options: { batchSize?: number; onProgress?: (events: number) => void; name?: string } = {},
): Promise<RebuildSummary> {
  const name = options.name ?? INTERACTIONS_PROJECTION;
  const batchSize = options.batchSize ?? REBUILD_BATCH_SIZE;
  // A batch size of 0 would read nothing and leave the tables empty.
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new Error(`rebuild: batchSize must be a positive integer, got ${String(batchSize)}`);
  }
  try {
    return await rebuildOnce(db, store, { ...options, name, batchSize }, false);
  } catch (error) {
    // An event the schemas accept but PostgreSQL refuses: once more, each batch under a savepoint, and
    // the batch that fails one event at a time, parking what the database refuses.
    if (!isDataError(error)) throw error;
    return rebuildOnce(db, store, { ...options, name, batchSize }, true);
  }
}

async function rebuildOnce(
  db: Database,
  store: EventStore,
  options: { batchSize: number; onProgress?: (events: number) => void; name: string },
  careful: boolean,
): Promise<RebuildSummary> {
  const { name, batchSize } = options;
  return db.transaction(async (connection) => {
    const tx = serialized(connection);
    // In the order every writer of the projection locks them (checkpoint, parked_events, read tables),
    // so a rebuild never deadlocks with a catch-up batch, a retry or an inline append.
    await tx.query('DELETE FROM projection_checkpoints WHERE name = $1', [name]);
    await tx.query(`TRUNCATE parked_events, ${[...READ_TABLES, ...COUNT_TABLES].join(', ')}`);
    // Statements here move thousands of rows, on tables that grow from nothing: compiling them (JIT)
    // costs more than running them, and the planner needs row counts of this transaction's own rows.
    await tx.query("SELECT set_config('jit', 'off', true)");
    await deferIndexes(tx);
    // The counts are made once from the finished tables (below), not row set by row set as live writes
    // make them: the count triggers are off for this transaction's statements (DDL, so rolled back with it).
    for (const table of COUNTED_TABLES) await tx.query(`ALTER TABLE ${table} DISABLE TRIGGER USER`);
    let analyzedAt = 0;
    let events = 0;
    let position = START;
    // Parked streams carry over from batch to batch: the table was emptied with the others.
    const parked: ParkedStreams = new Map();
    // The log is streamed batch by batch (never held) and each batch is applied set-based, in a
    // two-stage pipeline: while the server applies batch N, this process already has batch N+1 (its
    // read was queued first) and parses and folds it. Batch N+1 touches the tables only after batch N
    // is applied, so the result is that of applying the batches one after the other.
    const batches = store.readAll(START, { batchSize, within: tx })[Symbol.asyncIterator]();
    if (careful) {
      for (let result = await batches.next(); !result.done; result = await batches.next()) {
        await applyCarefully(tx, result.value, parked);
        events += result.value.length;
        position = result.value[result.value.length - 1]!.position;
        options.onProgress?.(events);
      }
    }
    try {
      let result = careful ? { done: true as const, value: undefined } : await batches.next();
      let prepared = result.done ? null : prepareEvents(result.value, parked);
      while (!result.done && prepared) {
        const batch = result.value;
        const reading = prefetch(batches);
        const applying = applyPrepared(tx, prepared);
        applying.catch(() => undefined); // awaited below; a failure of the next read must not orphan it
        result = await reading;
        const next = result.done ? null : prepareEvents(result.value, parked);
        await applying;
        events += batch.length;
        position = batch[batch.length - 1]!.position;
        if (events >= analyzedAt * 4 && !result.done) {
          // Statistics at 1, 4, 16, … batches: the deletes and updates of later batches use the indexes.
          await tx.query(`ANALYZE ${READ_TABLES.join(', ')}`);
          analyzedAt = events;
        }
        options.onProgress?.(events);
        prepared = next;
      }
    } catch (error) {
      void batches.return?.(undefined).catch(() => undefined);
      throw error;
    }
    await restoreIndexes(tx);
    for (const table of COUNTED_TABLES) await tx.query(`ALTER TABLE ${table} ENABLE TRIGGER USER`);
    await countFromScratch(tx);
    if (analyzedAt > 0) await tx.query(`ANALYZE ${READ_TABLES.join(', ')}`); // fresh statistics for the queries
    await writeCheckpoint(tx, name, position);
    return { events, position };
  });
}

/**
 * Drops, for the time of a rebuild, the read tables' indexes that no write of the projection uses (the
 * ones for the queries: by contact), remembering their definitions; `restoreIndexes` builds them again
 * once the rows are in. Building an index over the finished table (a sort) is far cheaper than
 * inserting millions of random keys into it one by one. The indexes by interaction stay: the deletes
 * and updates of later batches need them. All of it is DDL inside the rebuild's transaction: a failed
 * rebuild rolls back to the tables and indexes as they were. Names never leave the server.
 */
async function deferIndexes(tx: Queryable): Promise<void> {
  await tx.query(
    `CREATE TEMP TABLE rebuild_deferred_indexes (
       table_name text NOT NULL, index_name text NOT NULL, constraint_name text, index_def text NOT NULL, constraint_def text
     ) ON COMMIT DROP`,
  );
  const tables = READ_TABLES as readonly string[];
  await tx.query(
    `INSERT INTO rebuild_deferred_indexes
     SELECT c.relname, i.relname, con.conname, pg_get_indexdef(x.indexrelid), pg_get_constraintdef(con.oid)
     FROM pg_index x
     JOIN pg_class i ON i.oid = x.indexrelid
     JOIN pg_class c ON c.oid = x.indrelid
     JOIN unnest($1::text[], $2::text[]) AS t(table_name, key_column) ON t.table_name = c.relname
     JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = x.indkey[0]
     LEFT JOIN pg_constraint con ON con.conindid = x.indexrelid AND con.conrelid = c.oid
     WHERE c.relnamespace = current_schema()::regnamespace AND a.attname <> t.key_column`,
    [pgArray(tables), pgArray(tables.map((table) => INTERACTION_KEY[table as keyof typeof INTERACTION_KEY]))],
  );
  await tx.query(
    `DO $$
     DECLARE r record;
     BEGIN
       FOR r IN SELECT * FROM rebuild_deferred_indexes LOOP
         IF r.constraint_name IS NOT NULL THEN
           EXECUTE format('ALTER TABLE %I.%I DROP CONSTRAINT %I', current_schema(), r.table_name, r.constraint_name);
         ELSE
           EXECUTE format('DROP INDEX %I.%I', current_schema(), r.index_name);
         END IF;
       END LOOP;
     END $$`,
  );
}

async function restoreIndexes(tx: Queryable): Promise<void> {
  // Sorting a million keys (and a GIN index's words) in memory rather than in temporary files.
  await tx.query("SELECT set_config('maintenance_work_mem', '256MB', true)");
  await tx.query(
    `DO $$
     DECLARE r record;
     BEGIN
       FOR r IN SELECT * FROM rebuild_deferred_indexes LOOP
         IF r.constraint_name IS NOT NULL THEN
           EXECUTE format('ALTER TABLE %I.%I ADD CONSTRAINT %I %s', current_schema(), r.table_name, r.constraint_name, r.constraint_def);
         ELSE
           EXECUTE r.index_def;
         END IF;
       END LOOP;
     END $$`,
  );
}

/** One batch under a savepoint; if the database refuses its data, its events one by one instead. */
async function applyCarefully(tx: Queryable, batch: RecordedEvent[], parked: ParkedStreams): Promise<void> {
  const before = new Map(parked);
  await tx.query('SAVEPOINT rebuild_batch', []);
  try {
    await applyPrepared(tx, prepareEvents(batch, parked));
    await tx.query('RELEASE SAVEPOINT rebuild_batch', []);
  } catch (error) {
    if (!isDataError(error)) throw error;
    await tx.query('ROLLBACK TO SAVEPOINT rebuild_batch', []);
    parked.clear();
    for (const [stream, revision] of before) parked.set(stream, revision);
    await projectOneByOne(tx, batch, parked);
  }
}

/** Starts reading the next batch; a failure surfaces where it is awaited, never as an unhandled rejection. */
function prefetch(batches: AsyncIterator<RecordedEvent[]>): Promise<IteratorResult<RecordedEvent[]>> {
  const pending = batches.next();
  pending.catch(() => undefined);
  return pending;
}
