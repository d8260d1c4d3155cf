-- A request holds its key while it runs: a repeat with the same input waits for it, then answers from
-- what it wrote or recorded (two requests of one key never decide at once). A holder that died leaves a
-- hold that lapses at held_until. A key is freed only by its holder, and only where nothing was written.
ALTER TABLE idempotency_keys ADD COLUMN held_by uuid, ADD COLUMN held_until timestamptz;
