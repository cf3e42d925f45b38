-- API keys (store/_keys.py): stored as SHA-256 hashes, never in plaintext.

-- name: insert_api_key
INSERT INTO api_keys (
    key_id, namespace, name, role, key_hash, created_at, task_roles, expires_at, agents
) VALUES (
    :key_id, :namespace, :name, :role, :key_hash, :created_at, :task_roles, :expires_at, :agents
);

-- name: get_api_key_by_hash
SELECT * FROM api_keys WHERE key_hash = :key_hash;

-- name: get_api_key
SELECT * FROM api_keys WHERE key_id = :key_id;

-- name: list_api_keys
SELECT * FROM api_keys ORDER BY created_at, key_id;

-- name: list_api_keys_in
SELECT * FROM api_keys WHERE namespace = :namespace ORDER BY created_at, key_id;

-- name: revoke_api_key
UPDATE api_keys SET revoked_at = :now WHERE key_id = :key_id AND revoked_at IS NULL;

-- name: retire_api_key
-- A rotation: the old key names its successor and stops at the end of the grace period (or sooner,
-- if it was to expire before then).
UPDATE api_keys SET rotated_to = :rotated_to,
    expires_at = CASE WHEN expires_at IS NULL OR expires_at > :expires_at THEN :expires_at ELSE expires_at END
WHERE key_id = :key_id AND revoked_at IS NULL AND rotated_to IS NULL;
