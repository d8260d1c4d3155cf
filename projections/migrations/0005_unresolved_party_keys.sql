-- Late linking (findUnresolvedParties): the keys a free-text party is found by, kept by the projection
-- with one pure rule (src/domain/party-keys.ts) for every party, and indexed only where the party is
-- unresolved (no contact, no staff link), so linking a party takes it out of both indexes.
--   name_key    its rawName folded: NFKD, accents stripped, lower case, whitespace collapsed, trimmed;
--   email_keys  the email addresses written inside its rawName, lower case (NULL when there are none).
-- Rows written before this migration get their keys from the module right after it (backfill in
-- projections/migrate.ts), so the upgrade needs no rebuild.
ALTER TABLE interaction_parties ADD COLUMN name_key text, ADD COLUMN email_keys text[];

CREATE INDEX interaction_parties_unresolved_name ON interaction_parties (name_key)
  WHERE contact_uuid IS NULL AND staff_person_uuid IS NULL;

-- GIN over the address lists: "contains this email" is `email_keys @> ARRAY[email]`. (pg_trgm would
-- allow any substring, but it is an extension a host's PGlite may not have loaded.)
CREATE INDEX interaction_parties_unresolved_email ON interaction_parties USING gin (email_keys)
  WHERE contact_uuid IS NULL AND staff_person_uuid IS NULL;
