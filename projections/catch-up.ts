import { Database, Queryable } from '../src/ports/database';
import { comparePositions, EventStore, Position, RecordedEvent, START } from '../src/ports/event-store';
import {
  applyPrepared,
  INTERACTION_KEY,
  pgArray,
  prepareEvents,
  projectEvents,
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
  async applyBatch(batch: readonly RecordedEvent[]): Promise<number> {
    const last = batch[batch.length - 1];
    if (!last) return 0;
    return this.db.transaction(async (tx) => {
      const checkpoint = await lockCheckpoint(tx, this.name);
      const fresh = batch.filter((event) => comparePositions(event.position, checkpoint) > 0);
      if (fresh.length === 0) return 0;
      await projectEvents(tx, fresh);
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
  return db.transaction(async (connection) => {
    const tx = serialized(connection);
    await tx.query(`TRUNCATE ${READ_TABLES.join(', ')}`);
    await tx.query('DELETE FROM projection_checkpoints WHERE name = $1', [name]);
    // Statements here move thousands of rows, on tables that grow from nothing: compiling them (JIT)
    // costs more than running them, and the planner needs row counts of this transaction's own rows.
    await tx.query("SELECT set_config('jit', 'off', true)");
    await deferIndexes(tx);
    let analyzedAt = 0;
    let events = 0;
    let position = START;
    const batchSize = options.batchSize ?? REBUILD_BATCH_SIZE;
    // The log is streamed batch by batch (never held) and each batch is applied set-based, in a
    // two-stage pipeline: while the server applies batch N, this process already has batch N+1 (its
    // read was queued first) and parses and folds it. Batch N+1 touches the tables only after batch N
    // is applied, so the result is that of applying the batches one after the other.
    const batches = store.readAll(START, { batchSize, within: tx })[Symbol.asyncIterator]();
    try {
      let result = await batches.next();
      let prepared = result.done ? null : prepareEvents(result.value);
      while (!result.done && prepared) {
        const batch = result.value;
        const reading = prefetch(batches);
        const applying = applyPrepared(tx, prepared);
        applying.catch(() => undefined); // awaited below; a failure of the next read must not orphan it
        result = await reading;
        const next = result.done ? null : prepareEvents(result.value);
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

/** Starts reading the next batch; a failure surfaces where it is awaited, never as an unhandled rejection. */
function prefetch(batches: AsyncIterator<RecordedEvent[]>): Promise<IteratorResult<RecordedEvent[]>> {
  const pending = batches.next();
  pending.catch(() => undefined);
  return pending;
}
