-- On EventStoreDB an erasure key's owners are written before the append that needs them (no transaction
-- spans the two stores). Such a row lists the appends under way that rely on it (`claims`, one id per
-- append) and when it was last claimed (`claimed_at`, the database's clock); both are NULL once one of
-- them landed, as on every row written in an append's own transaction. An append that certainly failed
-- withdraws its claim, and a row nobody claims and no landed append made goes with it: an owner left
-- behind would make her forget destroy keys sealing someone else's data.
ALTER TABLE erasure_key_owners ADD COLUMN claims uuid[], ADD COLUMN claimed_at timestamptz;

-- The stream revision of the subject move that last set a content key's owner: the owners of a move that
-- landed earlier, written late (on EventStoreDB after another append moved the subject on), are not set.
ALTER TABLE erasure_keys ADD COLUMN subject_revision bigint;
