import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PgDatabase } from '../../src/adapters/postgres/database';
import { migrate, READ_TABLE_MIGRATIONS } from '../../projections/migrate';
import { backfillSearchWords } from '../../projections/search-backfill';
import { dropSchema, TEST_DATABASE_URL, uniqueSchema } from '../support/postgres';

/**
 * A migration's data step works between its statements (a backfill's chunk of 2,000 rows folded in this
 * process: ~20 s for bodies of 100,000 characters, within the contract's cap). The sessions' limit on
 * idling in a transaction (10 s) must not end it, or the upgrade fails on every start. Here the limit is 1 s
 * (a connection's own setting wins) and the chunk 300 such rows, a few seconds of folding.
 */
describe('a migration whose data step works longer than the idle limit between statements (PostgreSQL)', () => {
  const schema = uniqueSchema('migidle');
  const dir = mkdtempSync(join(tmpdir(), 'migidle-'));
  let db: PgDatabase;
  beforeAll(async () => {
    db = new PgDatabase({ connectionString: TEST_DATABASE_URL, schema, max: 2, options: '-c idle_in_transaction_session_timeout=1000' });
    await migrate(db, [READ_TABLE_MIGRATIONS]);
    writeFileSync(join(dir, '0001_rewrite_search.sql'), 'SELECT 1;');
  });
  afterAll(async () => {
    await db.close();
    await dropSchema(schema);
    rmSync(dir, { recursive: true, force: true });
  });

  it('is applied', async () => {
    await db.query(
      `INSERT INTO interactions (uuid, contact_uuid, interaction_type, occurred_at, metadata, file_uuids, inserted_at, updated_at, version, subject, body)
       SELECT gen_random_uuid(), gen_random_uuid(), 'note', now(), '{}', '{}', now(), now(), 0, 'row ' || g,
              repeat('Lorem ipsum dolor Über straße café ' || g || ' ', 3000)
       FROM generate_series(1, 300) AS g`,
      [],
    );
    const set = { name: 'rewrite', dir, after: { '0001_rewrite_search.sql': (tx: Parameters<typeof backfillSearchWords>[0]) => backfillSearchWords(tx) } };
    await expect(migrate(db, [set])).resolves.toEqual(['rewrite/0001_rewrite_search.sql']);
  }, 120_000);
});
