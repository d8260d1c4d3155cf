import { EVENT_LOG_MIGRATIONS, migrate, READ_TABLE_MIGRATIONS } from '../../projections/migrate';
import { BACKENDS } from '../support/backends';
import { migrateBefore } from '../support/migrations';
import { uniqueSchema } from '../support/postgres';
import { Database } from '../../src/ports/database';

/** An interaction's read row as an older version wrote it: its subject, and the search words it kept. */
function insertRow(db: Database, uuid: string, subject: string, words: string[]): Promise<unknown> {
  return db.query(
    `INSERT INTO interactions (uuid, contact_uuid, interaction_type, occurred_at, subject, body, owner_user_uuid,
       metadata, file_uuids, inserted_at, updated_at, version, parties, search)
     VALUES ($1, $1, 'note', now(), $2, NULL, NULL, '{}', '{}', now(), now(), 1, '[]', array_to_tsvector($3::text[]))`,
    [uuid, subject, words],
  );
}

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

  it('migration 0017 folds again the name keys and search words written before it (final sigma, ß)', async () => {
    const db = await backend.open(uniqueSchema('fold'));
    try {
      await migrateBefore(db, '0017');
      const uuid = '01900000-0000-7000-8000-000000000017';
      await insertRow(db, uuid, 'ΟΔΟΣ Straße', ['οδος', 'straße']);
      await db.query(
        `INSERT INTO interaction_parties (interaction_uuid, position, raw_name, contact_uuid, staff_person_uuid, snapshot, name_key)
         SELECT $1, p, n, NULL, NULL, '{"source": "free_text", "capturedAt": "2026-01-01T00:00:00Z"}', k
         FROM (VALUES (0, 'Ο ΚΟΣ', 'ο κος'), (1, 'Plain', 'left as it was')) AS t(p, n, k)`,
        [uuid],
      );
      expect(await migrate(db, [EVENT_LOG_MIGRATIONS, READ_TABLE_MIGRATIONS])).toEqual(['read_tables/0017_fold_sigma_and_sharp_s.sql', 'read_tables/0018_idempotency_keys_by_stream.sql', 'read_tables/0019_forgotten_contacts.sql', 'read_tables/0020_idempotency_unpublished.sql', 'read_tables/0021_fold_stroke_letters_and_kept_marks.sql', 'read_tables/0022_search_chinese_japanese_by_pairs.sql', 'read_tables/0023_keys_read_without_forgotten_owners.sql', 'read_tables/0024_one_request_per_key.sql']);
      expect((await db.query('SELECT tsvector_to_array(search) AS words FROM interactions', [])).rows).toEqual([{ words: ['strasse', 'οδοσ'] }]);
      // Only rows with a letter whose fold changed are written again.
      expect((await db.query('SELECT name_key FROM interaction_parties ORDER BY position', [])).rows).toEqual([
        { name_key: 'ο κοσ' },
        { name_key: 'left as it was' },
      ]);
    } finally {
      await db.close();
      await backend.dropSchema(db.schema);
    }
  });

  it('migration 0021 folds again the name keys and search words of text past Latin-1 (stroke letters, ı, vowel signs)', async () => {
    const db = await backend.open(uniqueSchema('fold'));
    try {
      await migrateBefore(db, '0021');
      const row = (uuid: string, subject: string) => insertRow(db, uuid, subject, ['stale']);
      await row('01900000-0000-7000-8000-000000000021', 'Łódź Søren IŞIK बाल');
      await row('01900000-0000-7000-8000-000000000022', 'Crème brûlée'); // Latin-1 only: its fold did not change
      await row('01900000-0000-7000-8000-000000000023', 'It’s agreed – €120 👍🏽'); // punctuation, currency, emoji: nor theirs
      // Read again (past Latin-1), but its words are those of the new fold already: not written.
      await insertRow(db, '01900000-0000-7000-8000-000000000024', 'Ωμέγα', ['ωμεγα']);
      const version = async () => (await db.query<{ x: string }>(`SELECT xmin::text AS x FROM interactions WHERE uuid = '01900000-0000-7000-8000-000000000024'`, [])).rows[0]!.x;
      const unchanged = await version();
      await db.query(
        `INSERT INTO interaction_parties (interaction_uuid, position, raw_name, contact_uuid, staff_person_uuid, snapshot, name_key)
         SELECT '01900000-0000-7000-8000-000000000021', p, n, NULL, NULL, '{"source": "free_text", "capturedAt": "2026-01-01T00:00:00Z"}', 'stale'
         FROM (VALUES (0, 'Đorđe Łukasz'), (1, 'José')) AS t(p, n)`,
      );
      expect(await migrate(db, [EVENT_LOG_MIGRATIONS, READ_TABLE_MIGRATIONS])).toEqual(['read_tables/0021_fold_stroke_letters_and_kept_marks.sql', 'read_tables/0022_search_chinese_japanese_by_pairs.sql', 'read_tables/0023_keys_read_without_forgotten_owners.sql', 'read_tables/0024_one_request_per_key.sql']);
      expect((await db.query('SELECT tsvector_to_array(search) AS words FROM interactions ORDER BY uuid', [])).rows).toEqual([
        { words: expect.arrayContaining(['lodz', 'soren', 'isik', 'बाल'.normalize('NFKD')]) },
        { words: ['stale'] },
        { words: ['stale'] },
        { words: ['ωμεγα'] },
      ]);
      expect(await version()).toBe(unchanged);
      expect((await db.query('SELECT name_key FROM interaction_parties ORDER BY position', [])).rows).toEqual([
        { name_key: 'dorde lukasz' },
        { name_key: 'stale' },
      ]);
    } finally {
      await db.close();
      await backend.dropSchema(db.schema);
    }
  });
  it('migration 0022 computes again the search words of text with Chinese or Japanese, searched by pairs since', async () => {
    const db = await backend.open(uniqueSchema('cjk'));
    try {
      await migrateBefore(db, '0022');
      await insertRow(db, '01900000-0000-7000-8000-000000000031', '我在北京工作 ｺｰﾋｰ', ['我在北京工作', 'コーヒー']);
      await insertRow(db, '01900000-0000-7000-8000-000000000032', 'Łódź 👍🏽', ['stale']); // no Han or kana: not read again
      await insertRow(db, '01900000-0000-7000-8000-000000000033', 'Hangul 한국어', ['stale']);
      expect(await migrate(db, [EVENT_LOG_MIGRATIONS, READ_TABLE_MIGRATIONS])).toEqual(['read_tables/0022_search_chinese_japanese_by_pairs.sql', 'read_tables/0023_keys_read_without_forgotten_owners.sql', 'read_tables/0024_one_request_per_key.sql']);
      expect((await db.query('SELECT tsvector_to_array(search) AS words FROM interactions ORDER BY uuid', [])).rows).toEqual([
        { words: ['コ', 'コー', 'ヒ', 'ヒー', 'ー', 'ーヒ', '京', '京工', '作', '北', '北京', '在', '在北', '工', '工作', '我', '我在'].sort() },
        { words: ['stale'] },
        { words: ['stale'] },
      ]);
    } finally {
      await db.close();
      await backend.dropSchema(db.schema);
    }
  });
});
