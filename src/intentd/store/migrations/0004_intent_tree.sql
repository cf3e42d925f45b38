-- The tree of a run: every intent carries the id of the intent that began its chain (root_intent_id),
-- so one index range reads a whole run, in the order its intents were created.
CREATE INDEX intents_tree ON intents (namespace, root_intent_id, created_at, intent_id);
