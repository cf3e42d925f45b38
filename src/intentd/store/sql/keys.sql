-- API keys (store/_keys.py): stored as SHA-256 hashes, never in plaintext.

-- name: insert_api_key
INSERT INTO api_keys (key_id, namespace, name, role, key_hash, created_at, task_roles)
VALUES (:key_id, :namespace, :name, :role, :key_hash, :created_at, :task_roles);

-- name: get_api_key_by_hash
SELECT * FROM api_keys WHERE key_hash = :key_hash;

-- name: list_api_keys
SELECT * FROM api_keys ORDER BY created_at;

-- name: revoke_api_key
UPDATE api_keys SET revoked_at = :now WHERE key_id = :key_id AND revoked_at IS NULL;
