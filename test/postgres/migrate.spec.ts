import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertSchemaName, PgDatabase } from '../../src/adapters/postgres/database';
import { EVENT_LOG_MIGRATIONS, migrate, pendingMigrations, READ_TABLE_MIGRATIONS } from '../../projections/migrate';
import { dropSchema, MODULE_TABLES, TEST_DATABASE_URL, uniqueSchema } from '../support/postgres';

const READ_TABLE_IDS = [
  'read_tables/0001_read_tables.sql',
  'read_tables/0002_denormalised_parties_no_foreign_keys.sql',
  'read_tables/0003_parked_events.sql',
  'read_tables/0004_idempotency_keys.sql',
  'read_tables/0005_unresolved_party_keys.sql',
  'read_tables/0006_lifecycle_decisions.sql',
  'read_tables/0007_erasure_keys.sql',
  'read_tables/0008_feeds.sql',
  'read_tables/0009_no_parallel_feed_scans.sql',
  'read_tables/0010_interaction_keys_after_read.sql',
  'read_tables/0011_forgotten_content.sql',
  'read_tables/0012_erased_subject.sql',
  'read_tables/0013_owner_claims.sql',
  'read_tables/0014_unsettled_claims.sql',
  'read_tables/0015_idempotent_no_ops.sql',
  'read_tables/0016_idempotency_holds.sql',
  'read_tables/0017_fold_sigma_and_sharp_s.sql',
  'read_tables/0018_idempotency_keys_by_stream.sql',
  'read_tables/0019_forgotten_contacts.sql',
  'read_tables/0020_idempotency_unpublished.sql',
  'read_tables/0021_fold_stroke_letters_and_kept_marks.sql',
  'read_tables/0022_search_chinese_japanese_by_pairs.sql',
  'read_tables/0023_keys_read_without_forgotten_owners.sql',
  'read_tables/0024_one_request_per_key.sql',
];
const EVENT_LOG_IDS = ['event_log/0001_event_log.sql', 'event_log/0002_lock_and_read_stream.sql'];
const ALL_IDS = [...EVENT_LOG_IDS, ...READ_TABLE_IDS];
const TABLES = MODULE_TABLES;

async function tablesOf(db: PgDatabase): Promise<string[]> {
  const { rows } = await db.query<{ table_name: string }>(
    `SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name`,
    [db.schema],
  );
  return rows.map((r) => r.table_name);
}

async function recordedIds(db: PgDatabase): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>('SELECT id FROM schema_migrations ORDER BY id');
  return rows.map((r) => r.id);
}

async function schemaExists(db: PgDatabase): Promise<boolean> {
  const { rows } = await db.query('SELECT 1 FROM information_schema.schemata WHERE schema_name = $1', [db.schema]);
  return rows.length === 1;
}

describe('migrate (real PostgreSQL)', () => {
  const opened: PgDatabase[] = [];
  const schemas: string[] = [];

  function database(schema: string): PgDatabase {
    const db = new PgDatabase({ connectionString: TEST_DATABASE_URL, schema, max: 2 });
    opened.push(db);
    if (!schemas.includes(schema)) schemas.push(schema);
    return db;
  }

  afterEach(async () => {
    await Promise.all(opened.splice(0).map((db) => db.close()));
    await Promise.all(schemas.splice(0).map((schema) => dropSchema(schema)));
  });

  it('creates the schema and every table, records the ids, and does nothing the second time', async () => {
    const db = database(uniqueSchema('mig'));
    expect(await schemaExists(db)).toBe(false);

    expect(await pendingMigrations(db, [EVENT_LOG_MIGRATIONS, READ_TABLE_MIGRATIONS])).toEqual(ALL_IDS); // no schema yet
    const first = await migrate(db, [EVENT_LOG_MIGRATIONS, READ_TABLE_MIGRATIONS]);
    expect(first).toEqual(ALL_IDS);
    expect(await pendingMigrations(db, [EVENT_LOG_MIGRATIONS, READ_TABLE_MIGRATIONS])).toEqual([]);
    expect(await schemaExists(db)).toBe(true);
    expect(await tablesOf(db)).toEqual(TABLES);
    expect(await recordedIds(db)).toEqual(ALL_IDS);

    const { rows } = await db.query<{ applied_at: Date }>('SELECT applied_at FROM schema_migrations WHERE id = $1', [ALL_IDS[0]]);
    expect(rows[0]!.applied_at).toBeInstanceOf(Date);

    expect(await migrate(db, [EVENT_LOG_MIGRATIONS, READ_TABLE_MIGRATIONS])).toEqual([]);
    expect(await tablesOf(db)).toEqual(TABLES);
    expect(await recordedIds(db)).toEqual(ALL_IDS);
  });

  it('applies only what is missing when a set is added later', async () => {
    const db = database(uniqueSchema('mig'));
    expect(await migrate(db, [EVENT_LOG_MIGRATIONS])).toEqual(EVENT_LOG_IDS);
    expect(await tablesOf(db)).toEqual(['events', 'schema_migrations']);
    expect(await migrate(db, [EVENT_LOG_MIGRATIONS, READ_TABLE_MIGRATIONS])).toEqual(READ_TABLE_IDS);
    expect(await recordedIds(db)).toEqual(ALL_IDS);
  });

  it('two concurrent migrations of the same fresh schema from two databases both succeed and create everything once', async () => {
    const schema = uniqueSchema('mig');
    const a = database(schema);
    const b = database(schema);
    const results = await Promise.all([
      migrate(a, [EVENT_LOG_MIGRATIONS, READ_TABLE_MIGRATIONS]),
      migrate(b, [EVENT_LOG_MIGRATIONS, READ_TABLE_MIGRATIONS]),
    ]);
    // One applied everything, the other waited and found nothing to do.
    expect([...results].sort((x, y) => y.length - x.length)).toEqual([ALL_IDS, []]);
    expect(await tablesOf(a)).toEqual(TABLES);
    expect(await recordedIds(b)).toEqual(ALL_IDS);
    // Both databases can use the tables.
    await expect(a.query('SELECT count(*) FROM events')).resolves.toBeDefined();
    await expect(b.query('SELECT count(*) FROM interactions')).resolves.toBeDefined();
  });

  it('several concurrent migrations of different schemas all succeed', async () => {
    const dbs = Array.from({ length: 3 }, () => database(uniqueSchema('mig')));
    const results = await Promise.all(dbs.map((db) => migrate(db, [EVENT_LOG_MIGRATIONS, READ_TABLE_MIGRATIONS])));
    expect(results).toEqual([ALL_IDS, ALL_IDS, ALL_IDS]);
    for (const db of dbs) expect(await tablesOf(db)).toEqual(TABLES);
  });

  it('rolls back everything when a migration fails: no schema, nothing recorded, a later run starts afresh', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'crm-mig-'));
    try {
      writeFileSync(join(dir, '0001_good.sql'), 'CREATE TABLE good_one (id integer PRIMARY KEY);');
      writeFileSync(join(dir, '0002_bad.sql'), 'CREATE TABLE bad_one (id integer PRIMARY KEY, oops nosuchtype);');
      writeFileSync(join(dir, 'README.txt'), 'not a migration');
      const db = database(uniqueSchema('mig'));

      await expect(migrate(db, [EVENT_LOG_MIGRATIONS, { name: 'extra', dir }])).rejects.toThrow();
      expect(await schemaExists(db)).toBe(false);

      writeFileSync(join(dir, '0002_bad.sql'), 'CREATE TABLE bad_one (id integer PRIMARY KEY);');
      expect(await migrate(db, [EVENT_LOG_MIGRATIONS, { name: 'extra', dir }])).toEqual([
        ...EVENT_LOG_IDS,
        'extra/0001_good.sql',
        'extra/0002_bad.sql',
      ]);
      expect(await tablesOf(db)).toEqual(['bad_one', 'events', 'good_one', 'schema_migrations']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('assertSchemaName', () => {
  it.each(['bad-name; drop', 'bad-name', 'x; DROP SCHEMA public CASCADE', 'Upper', '1starts_with_digit', '', 'has space', 'quote"d', 'a'.repeat(64), 'dot.ted'])(
    'rejects %j',
    (name) => {
      expect(() => assertSchemaName(name)).toThrow(/Invalid schema name/);
      expect(() => new PgDatabase({ connectionString: TEST_DATABASE_URL, schema: name })).toThrow(/Invalid schema name/);
    },
  );

  it.each(['crm_interactions', '_private', 'a', 't_0123456789ab', 'a'.repeat(63)])('accepts %j', (name) => {
    expect(assertSchemaName(name)).toBe(name);
  });
});
