import { EVENT_LOG_MIGRATIONS, migrate, READ_TABLE_MIGRATIONS } from '../../projections/migrate';
import { BACKENDS } from '../support/backends';
import { migrateBefore } from '../support/migrations';
import { uniqueSchema } from '../support/postgres';

/**
 * Migration 0014 on owner rows claimed before it: their claims are random ids, which the settling pass
 * would never find in the log and so withdraw, though their appends may have landed. They are confirmed
 * instead (erring toward erasing more); rows whose every claim was withdrawn go.
 */
describe.each(BACKENDS.map((backend) => [backend.name, backend] as const))('migration 0014 on %s', (_name, backend) => {
  it('confirms the owner rows claimed before it and drops those left without a claim', async () => {
    const db = await backend.open(uniqueSchema('claims'));
    try {
      await migrateBefore(db, '0014');
      await db.query(
        `WITH key AS (
           INSERT INTO erasure_keys (key_id, interaction_uuid, tag, key)
           VALUES ('01900000-0000-7000-8000-0000000000a1', '01900000-0000-7000-8000-000000000001', 'content', 'a2V5')
           RETURNING key_id)
         INSERT INTO erasure_key_owners (contact_uuid, key_id, claims, claimed_at)
         SELECT c, key_id, cl, CASE WHEN cl IS NULL THEN NULL ELSE now() END
         FROM key, (VALUES ('01900000-0000-7000-8000-0000000000c1'::uuid, NULL::uuid[]),
                           ('01900000-0000-7000-8000-0000000000c2', ARRAY['01900000-0000-7000-8000-0000000000f1'::uuid]),
                           ('01900000-0000-7000-8000-0000000000c3', '{}')) AS o(c, cl)`,
      );
      expect(await migrate(db, [EVENT_LOG_MIGRATIONS, READ_TABLE_MIGRATIONS])).toEqual(['read_tables/0014_unsettled_claims.sql', 'read_tables/0015_idempotent_no_ops.sql', 'read_tables/0016_idempotency_holds.sql', 'read_tables/0017_fold_sigma_and_sharp_s.sql', 'read_tables/0018_idempotency_keys_by_stream.sql', 'read_tables/0019_forgotten_contacts.sql', 'read_tables/0020_idempotency_unpublished.sql', 'read_tables/0021_fold_stroke_letters_and_kept_marks.sql', 'read_tables/0022_search_chinese_japanese_by_pairs.sql', 'read_tables/0023_keys_read_without_forgotten_owners.sql', 'read_tables/0024_one_request_per_key.sql']);
      const { rows } = await db.query('SELECT contact_uuid, claims, claimed_at FROM erasure_key_owners ORDER BY contact_uuid');
      expect(rows).toEqual([
        { contact_uuid: '01900000-0000-7000-8000-0000000000c1', claims: null, claimed_at: null },
        { contact_uuid: '01900000-0000-7000-8000-0000000000c2', claims: null, claimed_at: null },
      ]);
    } finally {
      await db.close();
      await backend.dropSchema(db.schema);
    }
  });
});
