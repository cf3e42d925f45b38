-- Named queries shared by both backends. `:name` parameters; postgres.sql overrides some names.

-- name: insert_intent
INSERT INTO intents (
    intent_id, namespace, intent_type, correlation_id, from_agent, to_agent, reply_to,
    parent_intent_id, root_intent_id, payload, status, waiting_reason, result, error, reason,
    deadline_at, max_delivery_attempts, delivery_attempt, lease_token, lease_owner, lease_expires_at,
    policy_generation, controls, policy, usage, idempotency_key, request_hash, last_seq, queued_at,
    created_at, updated_at, step_key, synthetic, trace_context
) VALUES (
    :intent_id, :namespace, :intent_type, :correlation_id, :from_agent, :to_agent, :reply_to,
    :parent_intent_id, :root_intent_id, :payload, :status, :waiting_reason, :result, :error, :reason,
    :deadline_at, :max_delivery_attempts, :delivery_attempt, :lease_token, :lease_owner,
    :lease_expires_at, :policy_generation, :controls, :policy, :usage, :idempotency_key,
    :request_hash, :last_seq, :queued_at, :created_at, :updated_at, :step_key, :synthetic, :trace_context
);

-- name: update_intent
UPDATE intents SET
    status = :status, waiting_reason = :waiting_reason, result = :result, error = :error,
    to_agent = :to_agent, reason = :reason, delivery_attempt = :delivery_attempt, lease_token = :lease_token,
    lease_owner = :lease_owner, lease_expires_at = :lease_expires_at,
    policy_generation = :policy_generation, controls = :controls, policy = :policy, usage = :usage,
    last_seq = :last_seq, queued_at = :queued_at, updated_at = :updated_at
WHERE intent_id = :intent_id;

-- name: get_intent
SELECT * FROM intents WHERE intent_id = :intent_id;

-- name: get_intent_for_update
SELECT * FROM intents WHERE intent_id = :intent_id;

-- name: get_intent_for_update_nowait
SELECT * FROM intents WHERE intent_id = :intent_id;

-- name: get_intent_by_idempotency_key
SELECT * FROM intents WHERE namespace = :namespace AND idempotency_key = :idempotency_key;

-- name: list_intents
SELECT * FROM intents
WHERE namespace = :namespace
  AND (CAST(:status AS TEXT) IS NULL OR status = :status)
  AND (CAST(:to_agent AS TEXT) IS NULL OR to_agent = :to_agent)
  AND (CAST(:correlation_id AS TEXT) IS NULL OR correlation_id = :correlation_id)
  AND (CAST(:before_created_at AS BIGINT) IS NULL
       OR created_at < :before_created_at
       OR (created_at = :before_created_at AND intent_id < :before_intent_id))
ORDER BY created_at DESC, intent_id DESC
LIMIT :limit;

-- name: insert_event
INSERT INTO intent_events (intent_id, seq, event_type, status, at, actor, waiting_reason, details)
VALUES (:intent_id, :seq, :event_type, :status, :at, :actor, :waiting_reason, :details);

-- name: list_events
SELECT * FROM intent_events WHERE intent_id = :intent_id AND seq > :since ORDER BY seq LIMIT :limit;

-- name: reserve_feed_seqs
-- Reserves :count cursor values for an agent's feed; returns the last one.
INSERT INTO agents (namespace, address, feed_seq, created_at)
VALUES (:namespace, :address, :count, :now)
ON CONFLICT (namespace, address) DO UPDATE SET feed_seq = agents.feed_seq + :count
RETURNING feed_seq;

-- name: insert_feed
INSERT INTO agent_feed (namespace, address, seq, intent_id, event_type, at)
VALUES (:namespace, :address, :seq, :intent_id, :event_type, :at);

-- name: read_feed
SELECT f.seq, f.intent_id, f.event_type, f.at, i.status, i.correlation_id, i.intent_type,
       i.result, i.error, i.reason
FROM agent_feed f JOIN intents i ON i.intent_id = f.intent_id
WHERE f.namespace = :namespace AND f.address = :address AND f.seq > :since
ORDER BY f.seq
LIMIT :limit;

-- name: claimable_intents
SELECT * FROM intents
WHERE namespace = :namespace AND to_agent = :to_agent AND status = 'SUBMITTED'
ORDER BY queued_at, intent_id
LIMIT :limit;

-- The open leases of one worker (a held delivery stream's, sent again when it reconnects).
-- name: leases_of_worker
SELECT * FROM intents
WHERE lease_expires_at IS NOT NULL AND namespace = :namespace AND lease_owner = :worker
ORDER BY lease_expires_at;

-- name: expired_leases
SELECT * FROM intents WHERE lease_expires_at <= :now ORDER BY lease_expires_at LIMIT :limit;

-- name: extend_lease
UPDATE intents SET lease_expires_at = :lease_expires_at
WHERE intent_id = :intent_id AND lease_token = :lease_token;

-- name: insert_timer
INSERT INTO timers (timer_id, intent_id, kind, due_at, payload)
VALUES (:timer_id, :intent_id, :kind, :due_at, :payload);

-- name: due_timers
SELECT * FROM timers WHERE due_at <= :now ORDER BY due_at LIMIT :limit;

-- name: delete_timer
DELETE FROM timers WHERE timer_id = :timer_id;

-- name: delete_intent_timers
DELETE FROM timers WHERE intent_id = :intent_id AND kind = :kind;

-- name: next_timer_due
SELECT MIN(due_at) AS due_at FROM timers;

-- name: next_lease_expiry
SELECT MIN(lease_expires_at) AS due_at FROM intents WHERE lease_expires_at IS NOT NULL;

-- name: record_agent_heartbeat
INSERT INTO agents (namespace, address, feed_seq, created_at, last_seen_at, heartbeat)
VALUES (:namespace, :address, 0, :now, :now, :heartbeat)
ON CONFLICT (namespace, address) DO UPDATE SET last_seen_at = :now, heartbeat = :heartbeat;

-- name: list_inbox_threads
-- Completion threads (intents with a reply_to) by their current owner. The CASE is the thread status
-- of engine/inbox.py (THREAD_STATUS); tests/compat checks the two agree.
SELECT i.*, t.owner_agent AS thread_owner, t.updated_at AS thread_updated_at
FROM inbox_threads t JOIN intents i ON i.intent_id = t.thread_id
WHERE t.namespace = :namespace
  AND (CAST(:owner AS TEXT) IS NULL OR t.owner_agent = :owner)
  AND (CAST(:thread_status AS TEXT) IS NULL OR :thread_status = CASE
        WHEN i.status IN ('CREATED', 'SUBMITTED') THEN 'pending'
        WHEN i.status IN ('COMPLETED', 'FAILED', 'CANCELED', 'TIMED_OUT') THEN 'done'
        ELSE 'active' END)
ORDER BY t.updated_at DESC, t.thread_id DESC
LIMIT :limit;

-- name: get_approval
SELECT * FROM approvals WHERE namespace = :namespace AND approval_id = :approval_id;

-- name: insert_approval
INSERT INTO approvals (namespace, approval_id, decision, comment, decided_by, decided_at, intent_id)
VALUES (:namespace, :approval_id, :decision, :comment, :decided_by, :decided_at, :intent_id);

-- name: touch_inbox_thread
-- Written with every change of a thread: created owned by the intent's reply_to, later only its
-- updated_at moves (never back: replicas' clocks may differ). Returns the thread's owner now.
INSERT INTO inbox_threads (thread_id, namespace, owner_agent, updated_at)
VALUES (:thread_id, :namespace, :owner_agent, :at)
ON CONFLICT (thread_id) DO UPDATE SET updated_at = CASE
    WHEN excluded.updated_at > inbox_threads.updated_at THEN excluded.updated_at
    ELSE inbox_threads.updated_at END
RETURNING owner_agent;

-- name: set_inbox_thread_owner
UPDATE inbox_threads SET owner_agent = :owner_agent WHERE thread_id = :thread_id;

-- name: get_inbox_thread
SELECT * FROM inbox_threads WHERE thread_id = :thread_id;

-- name: list_inbox_items
SELECT * FROM inbox_items WHERE thread_id = :thread_id ORDER BY seq LIMIT :limit;

-- name: next_inbox_item_seq
SELECT COALESCE(MAX(seq), 0) + 1 AS seq FROM inbox_items WHERE thread_id = :thread_id;

-- name: inbox_item_by_key
SELECT * FROM inbox_items WHERE thread_id = :thread_id AND idempotency_key = :idempotency_key;

-- name: insert_inbox_item
INSERT INTO inbox_items (thread_id, seq, item_type, actor, at, details, idempotency_key)
VALUES (:thread_id, :seq, :item_type, :actor, :at, :details, :idempotency_key);

-- name: update_inbox_item
UPDATE inbox_items SET details = :details WHERE thread_id = :thread_id AND seq = :seq;

-- name: reserve_inbox_seqs
-- Reserves :count change cursors of an owner's feed; returns the last one (see reserve_feed_seqs).
INSERT INTO inbox_owners (namespace, owner_agent, change_seq)
VALUES (:namespace, :owner_agent, :count)
ON CONFLICT (namespace, owner_agent) DO UPDATE SET change_seq = inbox_owners.change_seq + :count
RETURNING change_seq;

-- name: insert_inbox_change
INSERT INTO inbox_changes (namespace, owner_agent, seq, thread_id, change_type, at)
VALUES (:namespace, :owner_agent, :seq, :thread_id, :change_type, :at);

-- name: read_inbox_changes
SELECT seq, thread_id, change_type, at FROM inbox_changes
WHERE namespace = :namespace AND owner_agent = :owner_agent AND seq > :after
ORDER BY seq
LIMIT :limit;

-- name: list_agents
SELECT * FROM agents WHERE namespace = :namespace ORDER BY address;

-- name: get_agent
SELECT * FROM agents WHERE namespace = :namespace AND address = :address;

-- name: list_tree
SELECT * FROM intents
WHERE namespace = :namespace AND root_intent_id = :root_intent_id
ORDER BY created_at, intent_id
LIMIT :limit;

-- name: insert_workflow_run
INSERT INTO workflow_runs (run_id, namespace, scenario_id, plan, created_at)
VALUES (:run_id, :namespace, :scenario_id, :plan, :created_at);

-- name: get_workflow_run
SELECT * FROM workflow_runs WHERE run_id = :run_id;

-- name: journal
SELECT * FROM run_journal WHERE run_id = :run_id ORDER BY seq;

-- name: journal_entry
SELECT * FROM run_journal WHERE run_id = :run_id AND key = :key;

-- name: put_journal_entry
INSERT INTO run_journal (
    run_id, key, seq, kind, status, attempt, child_intent_id, result, error, awaited,
    started_at, ended_at, due_at
) VALUES (
    :run_id, :key, :seq, :kind, :status, :attempt, :child_intent_id, :result, :error, :awaited,
    :started_at, :ended_at, :due_at
)
ON CONFLICT (run_id, key) DO UPDATE SET
    status = excluded.status, attempt = excluded.attempt, child_intent_id = excluded.child_intent_id,
    result = excluded.result, error = excluded.error, awaited = excluded.awaited,
    ended_at = excluded.ended_at, due_at = excluded.due_at;

-- name: count_awaited_unfinished
SELECT COUNT(*) AS n FROM run_journal
WHERE run_id = :run_id AND awaited = 1 AND status IN ('RUNNING', 'WAITING');

-- name: next_journal_seq
SELECT COALESCE(MAX(seq), 0) + 1 AS seq FROM run_journal WHERE run_id = :run_id;

-- name: insert_human_task
INSERT INTO human_tasks (
    task_id, namespace, intent_id, state, spec, assignees, level, level_started_at, reminders_sent,
    journal_key, decision, created_at, updated_at
) VALUES (
    :task_id, :namespace, :intent_id, :state, :spec, :assignees, :level, :level_started_at,
    :reminders_sent, :journal_key, :decision, :created_at, :updated_at
);

-- name: update_human_task
UPDATE human_tasks SET
    state = :state, assignees = :assignees, level = :level, level_started_at = :level_started_at,
    reminders_sent = :reminders_sent, decision = :decision, updated_at = :updated_at
WHERE task_id = :task_id;

-- name: get_human_task
SELECT * FROM human_tasks WHERE task_id = :task_id;

-- name: open_human_task_of_intent
SELECT * FROM human_tasks WHERE intent_id = :intent_id AND state = 'open';

-- name: list_human_tasks
-- Oldest first: a list of what waits is a queue. :state and :intent_id filter when given.
SELECT * FROM human_tasks
WHERE namespace = :namespace
  AND (CAST(:state AS TEXT) IS NULL OR state = :state)
  AND (CAST(:intent_id AS TEXT) IS NULL OR intent_id = :intent_id)
ORDER BY created_at, task_id
LIMIT :limit;

-- name: insert_link_use
INSERT INTO link_uses (nonce, task_id, used_at) VALUES (:nonce, :task_id, :used_at)
ON CONFLICT (nonce) DO NOTHING;

-- name: approvers
SELECT name, task_roles FROM api_keys
WHERE namespace = :namespace AND role = 'approver' AND revoked_at IS NULL
ORDER BY name;

-- name: insert_notification
INSERT INTO notifications (
    notification_id, namespace, channel, recipient, notice, status, attempts, due_at, created_at
) VALUES (
    :notification_id, :namespace, :channel, :recipient, :notice, 'pending', 0, :due_at, :created_at
);

-- name: due_notifications
SELECT * FROM notifications WHERE status = 'pending' AND due_at <= :now ORDER BY due_at LIMIT :limit;

-- name: claim_notification
-- The claim is a lease: due_at moves past the send's time limit, and the attempt is counted.
UPDATE notifications SET attempts = attempts + 1, due_at = :lease_until
WHERE notification_id = :notification_id AND status = 'pending';

-- name: reschedule_notification
-- Only the claim that made attempt :attempts may settle it (a sender that outlived its lease may not).
UPDATE notifications SET due_at = :due_at, last_error = :last_error
WHERE notification_id = :notification_id AND attempts = :attempts AND status = 'pending';

-- name: finish_notification
UPDATE notifications SET status = :status, last_error = :last_error, finished_at = :now
WHERE notification_id = :notification_id AND attempts = :attempts AND status = 'pending';

-- name: next_notification_due
SELECT MIN(due_at) AS due_at FROM notifications WHERE status = 'pending';

-- name: list_notifications
SELECT * FROM notifications ORDER BY created_at, notification_id LIMIT :limit;

-- name: insert_runtime_secret
INSERT INTO runtime_secrets (name, value, created_at) VALUES (:name, :value, :created_at)
ON CONFLICT (name) DO NOTHING;

-- name: get_runtime_secret
SELECT value FROM runtime_secrets WHERE name = :name;

-- name: put_agent_binding
-- Register (or change) an agent's delivery binding; created_at stays that of the first registration.
INSERT INTO agent_bindings (namespace, address, delivery_mode, lease_micros, created_at, updated_at)
VALUES (:namespace, :address, :delivery_mode, :lease_micros, :now, :now)
ON CONFLICT (namespace, address) DO UPDATE SET
    delivery_mode = excluded.delivery_mode, lease_micros = excluded.lease_micros,
    updated_at = excluded.updated_at;

-- name: get_agent_binding
SELECT * FROM agent_bindings WHERE namespace = :namespace AND address = :address;
