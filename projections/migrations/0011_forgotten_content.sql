-- Forgetting a contact destroys the erasure keys it owns, and with a content key the interaction's
-- content: that interaction is the contact's (its content follows its subject, also through a merge),
-- and the decision deletes it, whatever subject its stream still names (a create that raced a merge).
-- The statement that destroys the keys records here which interactions lost their content, and plans
-- every interaction it destroyed a key of, so none is left unvisited with keys gone and rows readable.
ALTER TABLE lifecycle_targets ADD COLUMN content_erased boolean NOT NULL DEFAULT false;
