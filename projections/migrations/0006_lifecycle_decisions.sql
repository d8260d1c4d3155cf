-- Contacts' lifecycle (src/lifecycle): a decision is recorded here before any interaction stream is
-- touched, then fanned out to every affected interaction; a process that dies half-way finishes the
-- pending decisions on its next start (or `crm-interactions resume`). Not a read table: a rebuild
-- keeps it.
CREATE TABLE lifecycle_decisions (
  decision_id uuid PRIMARY KEY,
  -- contact_deleted | staff_person_deleted | contacts_merged
  kind text NOT NULL,
  -- The uuids the decision is about: { contactUuid } | { staffPersonUuid } | { fromUuid, intoUuid }.
  payload jsonb NOT NULL,
  actor_uuid uuid,
  correlation_id text NOT NULL,
  -- A repeat with the same key and the same input returns the first result; another input is refused.
  idempotency_key text UNIQUE,
  fingerprint text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  completed_at timestamptz,
  -- The interaction streams the decision appended to, once completed.
  interactions integer
);

CREATE INDEX lifecycle_decisions_pending ON lifecycle_decisions (created_at) WHERE completed_at IS NULL;

-- The fan-out's plan: every interaction found affected, and whether its stream has been dealt with
-- (appended: the decision's events are in it; false: the stream needed nothing by then).
CREATE TABLE lifecycle_targets (
  decision_id uuid NOT NULL,
  interaction_uuid uuid NOT NULL,
  done_at timestamptz,
  appended boolean,
  PRIMARY KEY (decision_id, interaction_uuid)
);

CREATE INDEX lifecycle_targets_pending ON lifecycle_targets (decision_id) WHERE done_at IS NULL;

-- Finding a staff person's parties is an index scan, not a scan of every party (a contact's are found
-- through interaction_involvements, whose key starts with the contact).
CREATE INDEX interaction_parties_by_staff ON interaction_parties (staff_person_uuid) WHERE staff_person_uuid IS NOT NULL;
