-- The subject an interaction's read row showed when a forget destroyed its content key with the contact's
-- keys: the forget deletes the interaction where that subject is the forgotten contact (or one merged with
-- her), also when an update racing the forget moved it to someone else before its stream was visited. The
-- read row at that moment, not the stream's past: a content key she owns by mistake (an owner left behind
-- by an EventStoreDB append that failed) must not make an interaction that was hers long ago hers again.
ALTER TABLE lifecycle_targets ADD COLUMN erased_subject uuid;
