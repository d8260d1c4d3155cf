-- One idempotency key is one request whatever the command. An interaction command binds its key in
-- idempotency_keys, a lifecycle decision in lifecycle_decisions, each in one statement that skips a key the
-- other table holds. A NOT EXISTS there sees only what had committed when the statement began, so two requests
-- of one key sent at once (one of each kind) could both bind it. Each binding statement calls this instead:
-- it takes the key's lock (till the statement's transaction ends), then looks at the other kind's table; being
-- VOLATILE, its query sees what committed up to then, so the later of two binders sees the earlier one's key.
CREATE FUNCTION key_free_of_other_kind(binder text, k text) RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(hashtextextended('crm_interactions.idempotency_key.' || current_schema() || '.' || k, 0));
  IF binder = 'lifecycle' THEN
    RETURN NOT EXISTS (SELECT FROM idempotency_keys WHERE key = k);
  END IF;
  RETURN NOT EXISTS (SELECT FROM lifecycle_decisions WHERE idempotency_key = k);
END
$$;
