-- An append on EventStoreDB that writes owners before it is made records itself here first (its claim,
-- which is its first event's id), and goes when its claim is confirmed or withdrawn. What stays is an
-- append whose outcome never came back, settled later from the log by a periodic pass (`settleClaims`)
-- by this row's time: a later append's confirm may have cleared the owner rows' claims meanwhile.
CREATE TABLE erasure_unsettled_appends (
  claim uuid PRIMARY KEY,
  interaction_uuid uuid NOT NULL,
  claimed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX erasure_unsettled_appends_by_time ON erasure_unsettled_appends (claimed_at);

-- The owner rows still claimed (none on PostgreSQL): the pass also drops those a withdrawal left with no
-- claim at all (`dropWithdrawnRows`), read through this partial index rather than every owner row.
CREATE INDEX erasure_key_owners_claimed ON erasure_key_owners (claimed_at) WHERE claims IS NOT NULL;

-- Claims made before this migration are random ids, which the log would never hold, and have no row
-- above: they are confirmed, their owners staying (a forget of theirs erases too much, never too little).
-- A row whose every claim was withdrawn, left by a withdrawal's second statement that did not run, goes.
DELETE FROM erasure_key_owners WHERE claims = '{}';
UPDATE erasure_key_owners SET claims = NULL, claimed_at = NULL WHERE claims IS NOT NULL;
