-- Namespaces (store/_namespaces.py): the tenants, and which of them are sandboxes.

-- name: insert_namespace
INSERT INTO namespaces (name, sandbox, created_at)
VALUES (:name, :sandbox, :created_at)
ON CONFLICT (name) DO NOTHING;

-- name: get_namespace
SELECT * FROM namespaces WHERE name = :name;

-- name: list_namespaces
SELECT * FROM namespaces ORDER BY name;
