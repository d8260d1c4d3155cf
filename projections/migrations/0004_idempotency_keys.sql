-- Idempotency keys of commands: which request a key was first used for, and the stream it acts on. The
-- result itself is in that stream (its events carry the key in their metadata), so this row is written
-- before the append and a repeat after a crash finds out from the stream whether the first one landed.
CREATE TABLE idempotency_keys (
  key text PRIMARY KEY,
  -- A hash of the command and its input: the same key with another input is refused.
  fingerprint text NOT NULL,
  stream_name text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at);
