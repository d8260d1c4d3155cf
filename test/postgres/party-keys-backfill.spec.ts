import { EVENT_LOG_MIGRATIONS, migrate, READ_TABLE_MIGRATIONS } from '../../projections/migrate';
import { BACKENDS } from '../support/backends';
import { migrateBefore } from '../support/migrations';
import { uniqueSchema } from '../support/postgres';

/** Migration 0005 on tables that hold parties already: their search keys are filled by the module's rule. */
describe.each(BACKENDS.map((backend) => [backend.name, backend] as const))('migration 0005 on %s', (_name, backend) => {
  it('backfills name and email keys of the party rows written before it', async () => {
    const db = await backend.open(uniqueSchema('keys'));
    try {
      await migrateBefore(db, '0005');
      await db.query(
        `INSERT INTO interaction_parties (interaction_uuid, position, raw_name, contact_uuid, staff_person_uuid, snapshot)
         SELECT '01900000-0000-7000-8000-000000000001', p, n, NULL, NULL, '{"source": "free_text", "capturedAt": "2026-01-01T00:00:00Z"}'
         FROM unnest(ARRAY['  José   Álvarez', 'Dana <Dana@Acme.com>', 'x']) WITH ORDINALITY AS t(n, p)`,
      );
      expect(await migrate(db, [EVENT_LOG_MIGRATIONS, READ_TABLE_MIGRATIONS])).toContain('read_tables/0005_unresolved_party_keys.sql');
      const { rows } = await db.query('SELECT name_key, email_keys FROM interaction_parties ORDER BY position');
      expect(rows).toEqual([
        { name_key: 'jose alvarez', email_keys: null },
        { name_key: 'dana <dana@acme.com>', email_keys: ['dana@acme.com'] },
        { name_key: 'x', email_keys: null },
      ]);
    } finally {
      await db.close();
      await backend.dropSchema(db.schema);
    }
  });
});
