import { copyFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EVENT_LOG_MIGRATIONS, migrate, READ_TABLE_MIGRATIONS } from '../../projections/migrate';
import { Database } from '../../src/ports/database';

/** The tables as a version before read-table migration `first` (its number, '0005') left them. */
export async function migrateBefore(db: Database, first: string): Promise<void> {
  const before = mkdtempSync(join(tmpdir(), 'read-tables-'));
  try {
    for (const file of readdirSync(READ_TABLE_MIGRATIONS.dir).filter((f) => f < first)) {
      copyFileSync(join(READ_TABLE_MIGRATIONS.dir, file), join(before, file));
    }
    await migrate(db, [EVENT_LOG_MIGRATIONS, { name: READ_TABLE_MIGRATIONS.name, dir: before }]);
  } finally {
    rmSync(before, { recursive: true, force: true });
  }
}
