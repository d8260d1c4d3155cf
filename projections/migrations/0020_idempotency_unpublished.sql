-- A key whose request may have landed without its events being published on the EventBus: it ended with
-- an unknown outcome, or its hold lapsed (its process died). The next request of the key that finds the
-- events publishes them (at least once, never lost for a keyed command); then the mark goes.
ALTER TABLE idempotency_keys ADD COLUMN unpublished boolean NOT NULL DEFAULT false;
