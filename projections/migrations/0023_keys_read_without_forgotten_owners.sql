-- A stream session's keys are read without the owners a forget has taken away (forgotten_contacts,
-- migration 0019): an append that needs her as an owner then writes her owner row again, and that
-- statement refuses her (refuse_forgotten_contact). Between her forget's record and the destruction of
-- her keys, a write re-naming her found her row there, skipped that statement, and was accepted.
CREATE OR REPLACE FUNCTION interaction_keys_after_read(interaction uuid, read_rows bigint)
RETURNS TABLE (key_id uuid, tag text, key text, owners text) LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  RETURN QUERY
    SELECT k.key_id, k.tag, encode(k.key, 'base64'),
      array_to_string(ARRAY(
        SELECT o.contact_uuid FROM erasure_key_owners o
        WHERE o.key_id = k.key_id AND NOT EXISTS (SELECT 1 FROM forgotten_contacts f WHERE f.uuid = o.contact_uuid)), ' ')
    FROM erasure_keys k WHERE k.interaction_uuid = interaction;
END $$;
