-- The owner rows still claimed (migration 0013): none on PostgreSQL, and on EventStoreDB only those of
-- appends under way or whose outcome never came back, which a periodic pass settles from the log
-- (`unsettledClaims`). Partial, so the settling pass reads a handful of entries, not every owner row.
CREATE INDEX erasure_key_owners_claimed ON erasure_key_owners (claimed_at) WHERE claims IS NOT NULL;

-- A claim is now the id of its append's first event, which the pass looks for in the log; one made before
-- (a random id) would never be found there and be withdrawn, though its append may have landed. Such
-- rows are confirmed: their owners stay (a forget of theirs erases too much, never too little). A row
-- whose every claim was withdrawn, left by a withdrawal's second statement that did not run, goes.
DELETE FROM erasure_key_owners WHERE claims = '{}';
UPDATE erasure_key_owners SET claims = NULL, claimed_at = NULL WHERE claims IS NOT NULL;
