import { PgDatabase } from '../../src/adapters/postgres/database';
import { Database } from '../../src/ports/database';
import { EventStore } from '../../src/ports/event-store';
import { CatchUpProjector, readCheckpoint } from '../../projections/catch-up';
import { reportHorizonHolders } from './postgres';
import { SETTLE_MS, sleep } from './timing';

/**
 * Catches the projector up until its checkpoint is the store's head, polling only while another
 * transaction of the server holds the settled horizon back (on PostgreSQL, after SETTLE_MS, it says
 * which); returns how many events it applied.
 */
export async function catchUpFully(projector: CatchUpProjector, db: Database, store: EventStore, batchSize?: number): Promise<number> {
  const head = await store.headPosition();
  const deadline = Date.now() + SETTLE_MS;
  let applied = 0;
  for (;;) {
    applied += await projector.catchUp(batchSize);
    const checkpoint = await readCheckpoint(db);
    if (checkpoint.commit === head.commit && checkpoint.prepare === head.prepare) return applied;
    if (Date.now() > deadline) {
      await horizonReportOf(db)?.();
      return applied;
    }
    await sleep(25);
  }
}

/** What says who holds the settled horizon back: on PostgreSQL, the server's sessions; nothing on PGlite. */
export function horizonReportOf(db: Database): (() => Promise<void>) | undefined {
  return db instanceof PgDatabase ? reportHorizonHolders : undefined;
}
