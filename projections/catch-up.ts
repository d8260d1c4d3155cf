import { Database, Queryable } from '../src/ports/database';
import { comparePositions, EventStore, Position, RecordedEvent, START } from '../src/ports/event-store';
import { projectEvents, READ_TABLES } from './interactions.projection';

export const INTERACTIONS_PROJECTION = 'interactions';
const DEFAULT_BATCH_SIZE = 1000;

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
      // Row-locks the checkpoint so two projectors of the same name cannot interleave their batches.
      await tx.query(
        `INSERT INTO projection_checkpoints (name, commit_position, prepare_position) VALUES ($1, 0, 0)
         ON CONFLICT (name) DO NOTHING`,
        [this.name],
      );
      await tx.query('SELECT 1 FROM projection_checkpoints WHERE name = $1 FOR UPDATE', [this.name]);
      const checkpoint = await readCheckpoint(tx, this.name);
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
      await tx.query(
        `INSERT INTO projection_checkpoints (name, commit_position, prepare_position) VALUES ($1, 0, 0)
         ON CONFLICT (name) DO NOTHING`,
        [this.name],
      );
      await tx.query('SELECT 1 FROM projection_checkpoints WHERE name = $1 FOR UPDATE', [this.name]);
      if (comparePositions(position, await readCheckpoint(tx, this.name)) > 0) {
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
  return db.transaction(async (tx) => {
    await tx.query(`TRUNCATE ${READ_TABLES.join(', ')}`);
    await tx.query('DELETE FROM projection_checkpoints WHERE name = $1', [name]);
    let events = 0;
    let position = START;
    const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
    for await (const batch of store.readAll(START, { batchSize, within: tx })) {
      await projectEvents(tx, batch);
      events += batch.length;
      position = batch[batch.length - 1]!.position;
      options.onProgress?.(events);
    }
    await writeCheckpoint(tx, name, position);
    return { events, position };
  });
}
