-- The dashboard (store/_ui.py): its sessions, and the intents search of its list page.

-- name: insert_ui_session
INSERT INTO ui_sessions (session_hash, key_id, created_at, expires_at)
VALUES (:session_hash, :key_id, :created_at, :expires_at);

-- name: get_ui_session
SELECT * FROM ui_sessions WHERE session_hash = :session_hash;

-- name: delete_ui_session
DELETE FROM ui_sessions WHERE session_hash = :session_hash;

-- name: delete_expired_ui_sessions
DELETE FROM ui_sessions WHERE expires_at <= :now;

-- name: search_intents
-- Newest first, on the intents_listing index (namespace, created_at, intent_id); every filter optional.
SELECT * FROM intents
WHERE namespace = :namespace
  AND (CAST(:status AS TEXT) IS NULL OR status = :status)
  AND (CAST(:to_agent AS TEXT) IS NULL OR to_agent = :to_agent)
  AND (CAST(:intent_type AS TEXT) IS NULL OR intent_type = :intent_type)
  AND (CAST(:correlation_id AS TEXT) IS NULL OR correlation_id = :correlation_id)
  AND (CAST(:created_from AS BIGINT) IS NULL OR created_at >= :created_from)
  AND (CAST(:created_until AS BIGINT) IS NULL OR created_at < :created_until)
ORDER BY created_at DESC, intent_id DESC
LIMIT :limit;
