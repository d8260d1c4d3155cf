-- Forgetting a contact destroys the erasure keys it owns; the statement that destroys them records here
-- every interaction it destroyed a key of (planned, so none is left unvisited with keys gone) and whether
-- its content key went: then an interaction whose stream names a contact merged into the forgotten one (a
-- create that raced the merge, whose keys the merge handed over) is deleted like one of hers.
ALTER TABLE lifecycle_targets ADD COLUMN content_erased boolean NOT NULL DEFAULT false;
