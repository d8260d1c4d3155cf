-- A request that changed nothing (an update to the values already there) appends no event, so none
-- carries its key: how many of the stream's events it was answered on, so that a repeat answers the same
-- (null: the stream's events tell, as before).
ALTER TABLE idempotency_keys ADD COLUMN answered_events integer;
