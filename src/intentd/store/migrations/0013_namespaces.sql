-- Namespaces are tenants (docs/security.md): every row carries one, and no read, stream, claim or
-- handoff crosses them. This table names them and marks test namespaces (``sandbox``: 1). A namespace
-- is created explicitly (``intentd namespaces create``) or implicitly with its first API key; the
-- namespaces of the keys that exist already are created here.
CREATE TABLE namespaces (
    name        TEXT PRIMARY KEY,
    sandbox     INTEGER NOT NULL DEFAULT 0,
    created_at  BIGINT NOT NULL
);

INSERT INTO namespaces (name, sandbox, created_at)
SELECT namespace, 0, MIN(created_at) FROM api_keys GROUP BY namespace;
