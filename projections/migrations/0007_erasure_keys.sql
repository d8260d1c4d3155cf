-- Erasure by crypto-shredding (src/adapters/erasure): the personal fields of every event are sealed
-- (AES-256-GCM) with a key kept here, never in the log. Forgetting a contact deletes the keys it owns,
-- and with them every copy of its data in the log, on PostgreSQL and on EventStoreDB alike. Not a read
-- table: a rebuild keeps it (and needs it).
CREATE TABLE erasure_keys (
  key_id uuid PRIMARY KEY,
  interaction_uuid uuid NOT NULL,
  -- 'content' (subject, body, metadata) or 'party:' and a hash of one party's rawName in the interaction.
  tag text NOT NULL,
  key bytea NOT NULL,
  UNIQUE (interaction_uuid, tag)
);

-- Whose data a key seals: the interaction's subject for its content key, the contacts a party was linked
-- to for its party key. Forgetting a contact destroys the keys it owns (and, for a subject, all of that
-- interaction's keys).
CREATE TABLE erasure_key_owners (
  contact_uuid uuid NOT NULL,
  key_id uuid NOT NULL REFERENCES erasure_keys ON DELETE CASCADE,
  PRIMARY KEY (contact_uuid, key_id)
);

CREATE INDEX erasure_key_owners_by_key ON erasure_key_owners (key_id);
