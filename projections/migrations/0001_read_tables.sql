-- Read tables of the interactions projection. Rebuildable at any time from the event log.

-- "get one", "for contacts" and "subject uuids": one row per live interaction.
CREATE TABLE interactions (
  uuid uuid PRIMARY KEY,
  contact_uuid uuid NOT NULL,
  interaction_type text NOT NULL,
  occurred_at timestamptz NOT NULL,
  subject text,
  body text,
  owner_user_uuid uuid,
  metadata jsonb NOT NULL,
  file_uuids uuid[] NOT NULL,
  inserted_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  -- The stream revision last applied: makes every handler idempotent under re-delivery.
  version bigint NOT NULL
);

-- Newest-first feeds of a subject contact are one range scan of this index.
CREATE INDEX interactions_by_subject ON interactions (contact_uuid, occurred_at DESC, inserted_at DESC, uuid DESC);

CREATE TABLE interaction_parties (
  interaction_uuid uuid NOT NULL REFERENCES interactions (uuid) ON DELETE CASCADE,
  position integer NOT NULL,
  raw_name text NOT NULL,
  contact_uuid uuid,
  staff_person_uuid uuid,
  snapshot jsonb NOT NULL,
  PRIMARY KEY (interaction_uuid, position)
);

-- "involving": one row per (contact, interaction) where the contact is the subject or a party, deduped,
-- carrying the sort keys so that a contact's page is one range scan with no join before the limit.
CREATE TABLE interaction_involvements (
  contact_uuid uuid NOT NULL,
  interaction_uuid uuid NOT NULL REFERENCES interactions (uuid) ON DELETE CASCADE,
  occurred_at timestamptz NOT NULL,
  inserted_at timestamptz NOT NULL,
  PRIMARY KEY (contact_uuid, interaction_uuid)
);

CREATE INDEX interaction_involvements_feed
  ON interaction_involvements (contact_uuid, occurred_at DESC, inserted_at DESC, interaction_uuid DESC);
CREATE INDEX interaction_involvements_by_interaction ON interaction_involvements (interaction_uuid);

-- Where each catch-up projection stands in the global log.
CREATE TABLE projection_checkpoints (
  name text PRIMARY KEY,
  commit_position numeric(20, 0) NOT NULL,
  prepare_position numeric(20, 0) NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);
