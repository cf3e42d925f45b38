-- PostgreSQL overrides: row locks for the writer, SKIP LOCKED so replicas never take the same row.

-- name: get_intent_for_update
SELECT * FROM intents WHERE intent_id = :intent_id FOR UPDATE;

-- name: get_intent_for_update_nowait
SELECT * FROM intents WHERE intent_id = :intent_id FOR UPDATE NOWAIT;

-- name: claimable_intents
SELECT * FROM intents
WHERE namespace = :namespace AND to_agent = :to_agent AND status = 'SUBMITTED'
ORDER BY queued_at, intent_id
LIMIT :limit
FOR UPDATE SKIP LOCKED;

-- name: expired_leases
SELECT * FROM intents WHERE lease_expires_at <= :now ORDER BY lease_expires_at LIMIT :limit
FOR UPDATE SKIP LOCKED;

-- name: due_timers
SELECT * FROM timers WHERE due_at <= :now ORDER BY due_at LIMIT :limit FOR UPDATE SKIP LOCKED;

-- name: notify
SELECT pg_notify('intentd_changes', :payload);

-- name: due_notifications
SELECT * FROM notifications WHERE status = 'pending' AND due_at <= :now ORDER BY due_at LIMIT :limit
FOR UPDATE SKIP LOCKED;

-- name: open_work_of_agent
-- A kill's sweep locks what it moves; a claim leasing the same row meanwhile is waited for and seen.
SELECT * FROM intents
WHERE namespace = :namespace AND to_agent = :to_agent
  AND ((:queued = 1 AND status = 'SUBMITTED') OR lease_expires_at IS NOT NULL)
ORDER BY intent_id
LIMIT :limit
FOR UPDATE;

-- name: lock_policy
-- Serialises leases under one concurrency limit across replicas (engine/mesh/policies.py).
SELECT generation FROM mesh_policies WHERE namespace = :namespace AND scope = :scope FOR UPDATE;

-- name: leases_of_unreachable_workers
SELECT i.* FROM intents i
JOIN agent_workers w
  ON w.namespace = i.namespace AND w.address = i.to_agent AND w.worker_id = i.lease_owner
WHERE i.lease_expires_at IS NOT NULL AND w.last_seen_at < :cutoff
ORDER BY i.lease_expires_at
LIMIT :limit
FOR UPDATE OF i SKIP LOCKED;
