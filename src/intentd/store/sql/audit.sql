-- The audit trail (store/_audit.py).

-- name: lock_audit_head
-- The chain's head, locked for the rest of the transaction (made on a namespace's first record).
INSERT INTO audit_heads (namespace, seq, hash) VALUES (:namespace, 0, '')
ON CONFLICT (namespace) DO UPDATE SET seq = audit_heads.seq
RETURNING seq, hash;

-- name: set_audit_head
UPDATE audit_heads SET seq = :seq, hash = :hash WHERE namespace = :namespace;

-- name: insert_audit_record
INSERT INTO audit_records (
    namespace, seq, at, key_id, principal, role, action, intent_id, agent, details, details_hash,
    prev_hash, hash
) VALUES (
    :namespace, :seq, :at, :key_id, :principal, :role, :action, :intent_id, :agent, :details,
    :details_hash, :prev_hash, :hash
);

-- name: audit_head
SELECT seq, hash FROM audit_heads WHERE namespace = :namespace;

-- name: list_audit_records
-- Every filter that is set must hold (store/_audit.py, AuditQuery).
SELECT * FROM audit_records
WHERE namespace = :namespace AND seq > :after
  AND (CAST(:intent_id AS TEXT) IS NULL OR intent_id = :intent_id)
  AND (CAST(:correlation_id AS TEXT) IS NULL OR intent_id IN (
      SELECT i.intent_id FROM intents i
      WHERE i.namespace = :namespace AND i.correlation_id = :correlation_id))
  AND (CAST(:action AS TEXT) IS NULL OR action = :action)
  AND (CAST(:agent AS TEXT) IS NULL OR agent = :agent)
  AND (CAST(:actor AS TEXT) IS NULL OR principal = :actor OR key_id = :actor)
  AND (CAST(:since AS BIGINT) IS NULL OR at >= :since)
  AND (CAST(:until AS BIGINT) IS NULL OR at < :until)
ORDER BY seq LIMIT :limit;

-- name: chain_page
-- For verify: every row of the namespace in seq order, whatever its seq says.
SELECT * FROM audit_records WHERE namespace = :namespace AND seq > :after ORDER BY seq LIMIT :limit;

-- name: prune_audit_details
UPDATE audit_records SET details = NULL
WHERE namespace = :namespace AND at < :before AND details IS NOT NULL;

-- name: audit_namespaces
SELECT namespace FROM audit_heads ORDER BY namespace;

-- The namespace's records about its agents (kills, resumes, bindings), newest first: the mesh events.
-- name: mesh_events
SELECT * FROM audit_records
WHERE namespace = :namespace AND action LIKE 'agent.%'
  AND (CAST(:action AS TEXT) IS NULL OR action = :action)
ORDER BY seq DESC LIMIT :limit;
