-- Events the projection met but could not apply (unknown type in a module stream, data failing its
-- schema after upcasting, data naming another interaction, metadata without a usable recordedAt), and
-- the later events of their streams, which wait behind them to keep each stream in order. Lives beside
-- the read tables (not the log, which may be EventStoreDB): a rebuild empties and refills it.
CREATE TABLE parked_events (
  stream_name text NOT NULL,
  stream_revision bigint NOT NULL,
  commit_position numeric(20, 0) NOT NULL,
  prepare_position numeric(20, 0) NOT NULL,
  event_id uuid NOT NULL,
  event_type text NOT NULL,
  error text NOT NULL,
  parked_at timestamptz NOT NULL DEFAULT now(),
  -- A re-delivered event is parked once.
  PRIMARY KEY (stream_name, stream_revision)
);
