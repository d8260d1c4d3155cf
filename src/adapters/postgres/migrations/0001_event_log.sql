-- The event log: one row per event, one stream per interaction ("interaction-<uuid>").
CREATE TABLE events (
  global_position bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  -- The appending transaction: catch-up readers order by (transaction_id, global_position) and only read
  -- transactions older than the oldest one still running, so no late commit is ever skipped. Stored as
  -- bigint, not xid8: PGlite's 32-bit build orders xid8 wrongly in a btree index (997 after 1002).
  transaction_id bigint NOT NULL DEFAULT pg_current_xact_id()::text::bigint,
  event_id uuid NOT NULL UNIQUE,
  stream_name text NOT NULL,
  stream_revision bigint NOT NULL CHECK (stream_revision >= 0),
  event_type text NOT NULL,
  data jsonb NOT NULL,
  metadata jsonb NOT NULL,
  -- Optimistic concurrency: two appends can never take the same revision of a stream.
  CONSTRAINT events_stream_revision_key UNIQUE (stream_name, stream_revision)
);

CREATE INDEX events_global_order ON events (transaction_id, global_position);
