-- The Mesh (store/_mesh.py): kill switches, the workers serving each agent, the work each agent has.

-- name: upsert_kill
INSERT INTO agent_kills (namespace, target, new_work, in_flight, reassign_to, reason, actor, killed_at)
VALUES (:namespace, :target, :new_work, :in_flight, :reassign_to, :reason, :actor, :killed_at)
ON CONFLICT (namespace, target) DO UPDATE SET
    new_work = excluded.new_work, in_flight = excluded.in_flight, reassign_to = excluded.reassign_to,
    reason = excluded.reason, actor = excluded.actor, killed_at = excluded.killed_at;

-- name: delete_kill
DELETE FROM agent_kills WHERE namespace = :namespace AND target = :target;

-- name: all_kills
SELECT * FROM agent_kills ORDER BY namespace, target;

-- name: agent_addresses
SELECT address FROM agents WHERE namespace = :namespace ORDER BY address;

-- The work an agent has that is not parked: queued, or leased to a worker (a kill's sweep).
-- name: open_work_of_agent
SELECT * FROM intents
WHERE namespace = :namespace AND to_agent = :to_agent
  AND ((:queued = 1 AND status = 'SUBMITTED') OR lease_expires_at IS NOT NULL)
ORDER BY intent_id
LIMIT :limit;

-- A lease heartbeat (:via null) refreshes a worker without changing how it takes its work.
-- name: seen_worker
INSERT INTO agent_workers (namespace, address, worker_id, via, first_seen_at, last_seen_at)
VALUES (:namespace, :address, :worker_id, COALESCE(CAST(:via AS TEXT), 'claim'), :now, :now)
ON CONFLICT (namespace, address, worker_id) DO UPDATE SET
    via = COALESCE(CAST(:via AS TEXT), agent_workers.via), last_seen_at = excluded.last_seen_at;

-- The leases held by workers not seen since :cutoff (they hold a stream, claim or extend a lease
-- while alive): released so other workers take the work.
-- name: leases_of_unreachable_workers
SELECT i.* FROM intents i
JOIN agent_workers w
  ON w.namespace = i.namespace AND w.address = i.to_agent AND w.worker_id = i.lease_owner
WHERE i.lease_expires_at IS NOT NULL AND w.last_seen_at < :cutoff
ORDER BY i.lease_expires_at
LIMIT :limit;

-- name: workers_of_namespace
SELECT * FROM agent_workers WHERE namespace = :namespace ORDER BY address, last_seen_at DESC;

-- Open intents per agent and status, with the oldest (stuck work; the fleet view); synthetic ones left out.
-- name: open_work_summary
SELECT to_agent, status, COUNT(*) AS count, MIN(updated_at) AS oldest_at
FROM intents
WHERE namespace = :namespace AND status NOT IN ('COMPLETED', 'FAILED', 'CANCELED', 'TIMED_OUT')
  AND synthetic = 0
GROUP BY to_agent, status;

-- Finished intents per agent and status since :since (error rates; intents today).
-- name: finished_summary
SELECT to_agent, status, COUNT(*) AS count
FROM intents
WHERE namespace = :namespace AND updated_at >= :since AND status IN ('COMPLETED', 'FAILED', 'CANCELED', 'TIMED_OUT')
  AND synthetic = 0
GROUP BY to_agent, status;

-- The longest-waiting open intents of one agent (stuck work).
-- name: oldest_open_of_agent
SELECT * FROM intents
WHERE namespace = :namespace AND to_agent = :to_agent
  AND status NOT IN ('COMPLETED', 'FAILED', 'CANCELED', 'TIMED_OUT')
ORDER BY updated_at, intent_id
LIMIT :limit;

-- name: upsert_route
INSERT INTO agent_routes (namespace, address, weights, actor, updated_at)
VALUES (:namespace, :address, :weights, :actor, :updated_at)
ON CONFLICT (namespace, address) DO UPDATE SET
    weights = excluded.weights, actor = excluded.actor, updated_at = excluded.updated_at;

-- name: delete_route
DELETE FROM agent_routes WHERE namespace = :namespace AND address = :address;

-- name: all_routes
SELECT * FROM agent_routes ORDER BY namespace, address;

-- name: insert_policy
INSERT INTO mesh_policies (namespace, scope, generation, body, actor, updated_at)
VALUES (:namespace, :scope, :generation, :body, :actor, :updated_at);

-- Compare-and-set: changes the policy only if it is still at :expected.
-- name: update_policy
UPDATE mesh_policies SET generation = :generation, body = :body, actor = :actor, updated_at = :updated_at
WHERE namespace = :namespace AND scope = :scope AND generation = :expected;

-- name: delete_policy
DELETE FROM mesh_policies WHERE namespace = :namespace AND scope = :scope;

-- name: get_policy
SELECT * FROM mesh_policies WHERE namespace = :namespace AND scope = :scope;

-- name: all_policies
SELECT * FROM mesh_policies ORDER BY namespace, scope;

-- name: add_usage
INSERT INTO usage_rollups (namespace, scope, subject, bucket, cost_usd, tokens_in, tokens_out, intents)
VALUES (:namespace, :scope, :subject, :bucket, :cost_usd, :tokens_in, :tokens_out, :intents)
ON CONFLICT (namespace, scope, subject, bucket) DO UPDATE SET
    cost_usd = usage_rollups.cost_usd + excluded.cost_usd,
    tokens_in = usage_rollups.tokens_in + excluded.tokens_in,
    tokens_out = usage_rollups.tokens_out + excluded.tokens_out,
    intents = usage_rollups.intents + excluded.intents;

-- name: usage_between
SELECT COALESCE(SUM(cost_usd), 0) AS cost_usd, COALESCE(SUM(tokens_in), 0) AS tokens_in,
       COALESCE(SUM(tokens_out), 0) AS tokens_out, COALESCE(SUM(intents), 0) AS intents
FROM usage_rollups
WHERE namespace = :namespace AND scope = :scope AND subject = :subject
  AND bucket >= :first AND bucket <= :last;

-- name: usage_by_subject
SELECT subject, SUM(cost_usd) AS cost_usd, SUM(tokens_in) AS tokens_in, SUM(tokens_out) AS tokens_out,
       SUM(intents) AS intents
FROM usage_rollups
WHERE namespace = :namespace AND scope = :scope AND bucket >= :first AND bucket <= :last
GROUP BY subject;

-- Leased intents of an address and, with :versions = 1, of its versions (a concurrency limit).
-- name: leased_count
SELECT COUNT(*) AS n FROM intents
WHERE namespace = :namespace AND lease_expires_at IS NOT NULL
  AND (to_agent = :address OR (:versions = 1 AND substr(to_agent, 1, :prefix_length) = :prefix));

-- name: leased_count_namespace
SELECT COUNT(*) AS n FROM intents WHERE namespace = :namespace AND lease_expires_at IS NOT NULL;

-- The intents created in a window, oldest first (a policy dry-run replays them).
-- name: intents_created_between
SELECT * FROM intents
WHERE namespace = :namespace AND created_at >= :since AND created_at < :until
ORDER BY created_at, intent_id
LIMIT :limit;

-- How each agent of the namespace takes its work (the fleet view).
-- name: bindings_of_namespace
SELECT address, delivery_mode FROM agent_bindings WHERE namespace = :namespace;
