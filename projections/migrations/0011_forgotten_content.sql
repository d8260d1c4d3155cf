-- Forgetting a contact destroys the erasure keys it owns; the statement that destroys them records here
-- every interaction it destroyed a key of (planned, so none is left unvisited with keys gone) and whether
-- its content key went: then an interaction whose stream names a contact merged with the forgotten one,
-- either way (a create or a merge that raced the forget), is deleted like one of hers.
ALTER TABLE lifecycle_targets ADD COLUMN content_erased boolean NOT NULL DEFAULT false;
