-- Feeds a History tab needs: filters by type, period and owner, word search, and counts per type.
--
-- Filters: the involvement feed's index carries the interaction's type and owner (INCLUDE), so a
-- filtered page is still one range scan of it, checked on the index entries, with no row visited
-- before it is known to be on the page. The period is a range of that index's leading sort column.
ALTER TABLE interaction_involvements ADD COLUMN interaction_type text, ADD COLUMN owner_user_uuid uuid;
UPDATE interaction_involvements v SET interaction_type = i.interaction_type, owner_user_uuid = i.owner_user_uuid
FROM interactions i WHERE i.uuid = v.interaction_uuid;
-- Rows of an interaction that is gone (none should exist: the projection deletes them together).
DELETE FROM interaction_involvements WHERE interaction_type IS NULL;
ALTER TABLE interaction_involvements ALTER COLUMN interaction_type SET NOT NULL;
DROP INDEX interaction_involvements_feed;
CREATE INDEX interaction_involvements_feed
  ON interaction_involvements (contact_uuid, occurred_at DESC, inserted_at DESC, interaction_uuid DESC)
  INCLUDE (interaction_type, owner_user_uuid);

-- The whole CRM's newest first (listRecent).
CREATE INDEX interactions_recent ON interactions (occurred_at DESC, inserted_at DESC, uuid DESC);

-- Search: the distinct words of subject and body, folded by the module (src/domain/search.ts: NFKD,
-- accents stripped, lower case, split at anything but letters and digits) and stored as lexemes as they
-- are (array_to_tsvector), so no text search configuration, unaccent or locale is involved and
-- PostgreSQL and PGlite agree. Filled for older rows right after this file (projections/migrate.ts).
ALTER TABLE interactions ADD COLUMN search tsvector NOT NULL DEFAULT ''::tsvector;
CREATE INDEX interactions_search ON interactions USING gin (search);

-- Counts per type, kept by statement triggers as rows come and go: a count reads a handful of rows
-- whatever the feed's size, and a rebuild (a few big statements per batch) adds one grouped row set per
-- statement. Writers only ever INSERT here — no row is updated, so no two writers ever wait for each
-- other on a counter, however busy the contact: a count is the sum of its rows. The counts compactor
-- (src/nest/counts-compactor.ts, projections/counts.ts) folds the rows written since (`compacted` false)
-- into one row per key now and then, in one statement. Both tables are emptied with the read tables on a
-- rebuild.
--   involvement_counts  per contact and type: the interactions involving the contact (countInvolving);
--   interaction_counts  per type: the interactions (countInteractions).
CREATE TABLE involvement_counts (
  contact_uuid uuid NOT NULL,
  interaction_type text NOT NULL,
  n bigint NOT NULL,
  compacted boolean NOT NULL DEFAULT false
);
CREATE INDEX involvement_counts_by_contact ON involvement_counts (contact_uuid);
CREATE INDEX involvement_counts_to_compact ON involvement_counts (contact_uuid) WHERE NOT compacted;
CREATE TABLE interaction_counts (
  interaction_type text NOT NULL,
  n bigint NOT NULL,
  compacted boolean NOT NULL DEFAULT false
);

CREATE FUNCTION involvement_counts_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO involvement_counts (contact_uuid, interaction_type, n)
  SELECT contact_uuid, interaction_type, CASE WHEN TG_OP = 'INSERT' THEN count(*) ELSE -count(*) END
  FROM changed_rows GROUP BY contact_uuid, interaction_type;
  RETURN NULL;
END $$;

CREATE TRIGGER involvement_counts_insert AFTER INSERT ON interaction_involvements
  REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION involvement_counts_apply();
CREATE TRIGGER involvement_counts_delete AFTER DELETE ON interaction_involvements
  REFERENCING OLD TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION involvement_counts_apply();

CREATE FUNCTION interaction_counts_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' THEN
    -- A change of type moves the row from one count to the other.
    INSERT INTO interaction_counts (interaction_type, n)
    SELECT interaction_type, sum(delta) FROM (
      SELECT n.interaction_type, 1 AS delta FROM new_rows n JOIN old_rows o ON o.uuid = n.uuid
      WHERE o.interaction_type <> n.interaction_type
      UNION ALL
      SELECT o.interaction_type, -1 FROM new_rows n JOIN old_rows o ON o.uuid = n.uuid
      WHERE o.interaction_type <> n.interaction_type
    ) AS d GROUP BY interaction_type;
  ELSIF TG_OP = 'INSERT' THEN
    INSERT INTO interaction_counts (interaction_type, n) SELECT interaction_type, count(*) FROM new_rows GROUP BY 1;
  ELSE
    INSERT INTO interaction_counts (interaction_type, n) SELECT interaction_type, -count(*) FROM old_rows GROUP BY 1;
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER interaction_counts_insert AFTER INSERT ON interactions
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION interaction_counts_apply();
CREATE TRIGGER interaction_counts_delete AFTER DELETE ON interactions
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION interaction_counts_apply();
CREATE TRIGGER interaction_counts_update AFTER UPDATE ON interactions
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION interaction_counts_apply();

INSERT INTO involvement_counts (contact_uuid, interaction_type, n, compacted)
SELECT contact_uuid, interaction_type, count(*), true FROM interaction_involvements GROUP BY 1, 2;
INSERT INTO interaction_counts (interaction_type, n, compacted)
SELECT interaction_type, count(*), true FROM interactions GROUP BY 1;
