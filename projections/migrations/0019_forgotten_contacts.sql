-- The contacts a forget took away: the forgotten contact and those a merge had made one person with it.
-- Commands naming one are refused as naming a contact that does not exist, whatever the host's directory
-- says meanwhile, so nothing written after the forget holds her again. Written with the decision.
CREATE TABLE forgotten_contacts (
  uuid uuid PRIMARY KEY,
  decision_id uuid NOT NULL
);

INSERT INTO forgotten_contacts (uuid, decision_id)
SELECT DISTINCT ON (uuid) (payload->>'contactUuid')::uuid AS uuid, decision_id
FROM lifecycle_decisions WHERE kind = 'contact_forgotten'
ORDER BY uuid, created_at, decision_id;

-- Refuses a forgotten contact as an owner of an erasure key, in the statement that would make it one (every
-- write naming a contact as subject or linked party gives it a key): the writer answers 'does not exist'.
-- Called only for a row found in forgotten_contacts, so a write naming none costs an index probe.
CREATE FUNCTION refuse_forgotten_contact(contact uuid) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'contact % was forgotten', contact USING ERRCODE = 'CIF01';
END
$$;
