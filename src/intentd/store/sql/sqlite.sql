-- SQLite overrides. SQLite has one writer, so the shared queries need no row locks.

-- name: lock_policy
-- One writer: nothing to lock.
SELECT generation FROM mesh_policies WHERE namespace = :namespace AND scope = :scope;
