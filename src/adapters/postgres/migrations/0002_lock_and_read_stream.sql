-- What a read–decide–append of a stream starts with, in one round trip: the stream's lock, then the
-- stream as committed once the lock is held. It has to be a function: one statement that both waits for
-- the lock and reads would read with the snapshot it took before waiting, and miss what the lock's
-- previous holder committed meanwhile. A VOLATILE function's statements each take a new snapshot
-- (READ COMMITTED), so the read comes after the wait. The lock is the one `withStream` takes by itself
-- (same key), so sessions that lock either way exclude each other.
CREATE FUNCTION lock_and_read_stream(stream text) RETURNS SETOF events LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(hashtextextended(stream, 0));
  RETURN QUERY SELECT * FROM events WHERE stream_name = stream ORDER BY stream_revision;
END $$;
