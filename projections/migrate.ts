import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Database, Queryable } from '../src/ports/database';
import { backfillPartyKeys } from './party-keys-backfill';
import { backfillSearchWords } from './search-backfill';

/** A folder of `NNNN_name.sql` files, applied in file-name order and recorded as `<set>/<file>`. */
export interface MigrationSet {
  name: string;
  dir: string;
  /** Data steps SQL cannot do, run right after the file of that name, in the same transaction. */
  after?: Record<string, (tx: Queryable) => Promise<void>>;
}

/** The letters whose fold migration 0017 changed: ς and ß, and the capitals that lower-case to them. */
const FOLD_CHANGED_0017 = '[ςΣßẞ]';
/**
 * Text whose fold migration 0021 may have changed: ø, or a character past Latin-1 (the stroke letters, ı, a
 * mark now kept); but punctuation, currency signs, symbols and emoji (U+2000–U+2BFF, U+1F000–U+1FAFF), whose
 * fold did not change and which most text past Latin-1 holds (’ – € “).
 */
const FOLD_CHANGED_0021 = '[øØ]|[^\u0001-\u00ff\u2000-\u2bff\u{1f000}-\u{1faff}]';

/**
 * Text that may hold a Han or kana character after folding (migration 0022): the CJK blocks, the
 * compatibility and enclosed forms that fold to them, halfwidth katakana, and the ideographic planes.
 */
export const CJK_TEXT_0022 =
  '[\u2e80-\u2fdf\u3005-\u30ff\u3190-\u33ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f' +
  '\u{16fe0}-\u{16fff}\u{1aff0}-\u{1b16f}\u{1f200}-\u{1f2ff}\u{20000}-\u{3ffff}]';

/** After a change of the fold: the party keys and search words of the rows whose text matches, folded again. */
const foldedAgain = (matching: string) => async (tx: Queryable) => {
  await backfillPartyKeys(tx, matching);
  await backfillSearchWords(tx, matching);
};

export const READ_TABLE_MIGRATIONS: MigrationSet = {
  name: 'read_tables',
  dir: join(__dirname, 'migrations'),
  // Party keys and search words are computed in TypeScript (one rule with the projection's and the queries').
  after: {
    '0005_unresolved_party_keys.sql': backfillPartyKeys,
    '0008_feeds.sql': backfillSearchWords,
    // Only rows whose text may fold otherwise are read again, and only those whose keys or words changed are
    // written (no table-wide rewrite at start).
    '0017_fold_sigma_and_sharp_s.sql': foldedAgain(FOLD_CHANGED_0017),
    '0021_fold_stroke_letters_and_kept_marks.sql': foldedAgain(FOLD_CHANGED_0021),
    '0022_search_chinese_japanese_by_pairs.sql': (tx) => backfillSearchWords(tx, CJK_TEXT_0022),
  },
};
export const EVENT_LOG_MIGRATIONS: MigrationSet = {
  name: 'event_log',
  dir: join(__dirname, '../src/adapters/postgres/migrations'),
};

function migrationsOf(set: MigrationSet): { id: string; sql: string; after?: (tx: Queryable) => Promise<void> }[] {
  return readdirSync(set.dir)
    .filter((file) => /^\d{4}_[a-z0-9_]+\.sql$/.test(file))
    .sort()
    .map((file) => ({ id: `${set.name}/${file}`, sql: readFileSync(join(set.dir, file), 'utf8'), after: set.after?.[file] }));
}

/** The ids of the migrations not recorded in the schema yet (all of them where it has no tables). */
export async function pendingMigrations(db: Queryable, sets: MigrationSet[]): Promise<string[]> {
  const ids = sets.flatMap(migrationsOf).map((migration) => migration.id);
  const [{ present }] = (await db.query<{ present: boolean }>("SELECT to_regclass('schema_migrations') IS NOT NULL AS present", [])).rows as [
    { present: boolean },
  ];
  if (!present) return ids;
  const { rows } = await db.query<{ id: string }>('SELECT id FROM schema_migrations', []);
  const applied = new Set(rows.map((row) => row.id));
  return ids.filter((id) => !applied.has(id));
}

/**
 * Creates the schema and applies the migrations not yet recorded, all in one transaction under an
 * advisory lock: safe to run twice, and from several processes at once (the second waits, then finds
 * nothing to do). Returns the ids it applied.
 */
export async function migrate(db: Database, sets: MigrationSet[]): Promise<string[]> {
  const pending = sets.flatMap(migrationsOf);
  return db.transaction(async (tx) => {
    // Not the sessions' limit on idling in a transaction: a data step works in this process between its
    // statements (a backfill folds a chunk of long bodies for longer than that), and ended, the upgrade
    // would fail on every start. (An instance gone mid-migration holds its locks till TCP notices, as before.)
    await tx.query("SELECT set_config('idle_in_transaction_session_timeout', '0', true)");
    await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`crm_interactions.migrate.${db.schema}`]);
    // Identifiers cannot be parameters; the schema name was checked by assertSchemaName.
    // Quoted: a valid name may be a keyword (`user`, `order`), which unquoted is a syntax error.
    await tx.query(`CREATE SCHEMA IF NOT EXISTS "${db.schema}"`);
    await tx.query(
      `CREATE TABLE IF NOT EXISTS schema_migrations (
         id text PRIMARY KEY,
         applied_at timestamptz NOT NULL DEFAULT now()
       )`,
    );
    const { rows } = await tx.query<{ id: string }>('SELECT id FROM schema_migrations');
    const applied = new Set(rows.map((row) => row.id));
    const done: string[] = [];
    for (const migration of pending) {
      if (applied.has(migration.id)) continue;
      await tx.query(migration.sql);
      await migration.after?.(tx);
      await tx.query('INSERT INTO schema_migrations (id) VALUES ($1)', [migration.id]);
      done.push(migration.id);
    }
    return done;
  });
}
