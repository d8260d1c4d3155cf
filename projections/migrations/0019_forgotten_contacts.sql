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
