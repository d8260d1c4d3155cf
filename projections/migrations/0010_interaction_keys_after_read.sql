-- A stream session's erasure keys in the round trip of its read (src/adapters/erasure, `readStreamWith`
-- of the PostgreSQL store): every key of the interaction, with its owners as one text. The caller passes
-- the read's row count, so the function runs after the read took the stream's lock; being VOLATILE, its
-- query takes its snapshot then and sees the keys the lock's previous holder committed (the calling
-- statement's own snapshot is from before the wait).
CREATE FUNCTION interaction_keys_after_read(interaction uuid, read_rows bigint)
RETURNS TABLE (key_id uuid, tag text, key text, owners text) LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  RETURN QUERY
    SELECT k.key_id, k.tag, encode(k.key, 'base64'),
      array_to_string(ARRAY(SELECT o.contact_uuid FROM erasure_key_owners o WHERE o.key_id = k.key_id), ' ')
    FROM erasure_keys k WHERE k.interaction_uuid = interaction;
END $$;
