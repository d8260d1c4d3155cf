-- A forget overwrites the fingerprints of the keys bound to each stream it visits (an unsalted hash of a
-- request that named her confirms a guessed name): found by stream.
CREATE INDEX idempotency_keys_by_stream ON idempotency_keys (stream_name);
