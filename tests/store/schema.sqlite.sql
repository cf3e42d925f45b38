-- table agent_bindings
CREATE TABLE agent_bindings (
    namespace      TEXT NOT NULL,
    address        TEXT NOT NULL,
    delivery_mode  TEXT NOT NULL,     -- stream | poll
    lease_micros   BIGINT NOT NULL,   -- how long a lease taken by the `stream` binding lasts
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    PRIMARY KEY (namespace, address)
);

-- table agent_callbacks
CREATE TABLE agent_callbacks (
    namespace     TEXT NOT NULL,
    address       TEXT NOT NULL,
    callback_url  TEXT NOT NULL,
    secret        TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    PRIMARY KEY (namespace, address)
);

-- table agent_feed
CREATE TABLE agent_feed (
    namespace       TEXT NOT NULL,
    address         TEXT NOT NULL,
    seq             BIGINT NOT NULL,
    intent_id       TEXT NOT NULL,
    event_type      TEXT NOT NULL,
    at              BIGINT NOT NULL,
    PRIMARY KEY (namespace, address, seq)
);

-- table agent_kills
CREATE TABLE agent_kills (
    namespace    TEXT NOT NULL,
    target       TEXT NOT NULL,
    new_work     TEXT NOT NULL,
    in_flight    TEXT NOT NULL,
    reassign_to  TEXT,
    reason       TEXT,
    actor        TEXT NOT NULL,
    killed_at    BIGINT NOT NULL,
    PRIMARY KEY (namespace, target)
);

-- table agent_routes
CREATE TABLE agent_routes (
    namespace   TEXT NOT NULL,
    address     TEXT NOT NULL,
    weights     TEXT NOT NULL,
    actor       TEXT NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (namespace, address)
);

-- table agent_workers
CREATE TABLE agent_workers (
    namespace      TEXT NOT NULL,
    address        TEXT NOT NULL,
    worker_id      TEXT NOT NULL,
    via            TEXT NOT NULL,
    first_seen_at  BIGINT NOT NULL,
    last_seen_at   BIGINT NOT NULL,
    PRIMARY KEY (namespace, address, worker_id)
);

-- table agents
CREATE TABLE agents (
    namespace     TEXT NOT NULL,
    address       TEXT NOT NULL,
    feed_seq      BIGINT NOT NULL,
    created_at    BIGINT NOT NULL,
    last_seen_at  BIGINT,
    heartbeat     TEXT,
    PRIMARY KEY (namespace, address)
);

-- table api_keys
CREATE TABLE api_keys (
    key_id      TEXT PRIMARY KEY,
    namespace   TEXT NOT NULL,
    name        TEXT NOT NULL,
    role        TEXT NOT NULL,
    key_hash    TEXT NOT NULL UNIQUE,
    created_at  BIGINT NOT NULL,
    revoked_at  BIGINT
, task_roles TEXT NOT NULL DEFAULT '[]', expires_at BIGINT, agents TEXT NOT NULL DEFAULT '[]', rotated_to TEXT);

-- table approvals
CREATE TABLE approvals (
    namespace    TEXT NOT NULL,
    approval_id  TEXT NOT NULL,
    decision     TEXT NOT NULL,
    comment      TEXT,
    decided_by   TEXT NOT NULL,
    decided_at   BIGINT NOT NULL,
    intent_id    TEXT,
    PRIMARY KEY (namespace, approval_id)
);

-- table audit_heads
CREATE TABLE audit_heads (
    namespace  TEXT PRIMARY KEY,
    seq        BIGINT NOT NULL,
    hash       TEXT NOT NULL
);

-- table audit_records
CREATE TABLE audit_records (
    namespace     TEXT NOT NULL,
    seq           BIGINT NOT NULL,    -- 1, 2, … per namespace, no gaps
    at            BIGINT NOT NULL,
    key_id        TEXT,               -- the API key that asked, NULL for the runtime's own work
    principal     TEXT NOT NULL,      -- who: the key's name, an agent address, or "intentd"
    role          TEXT,
    action        TEXT NOT NULL,      -- intent.completed, key.created, …
    intent_id     TEXT,
    agent         TEXT,
    details       TEXT,               -- JSON, NULL once pruned (retention): details_hash stays
    details_hash  TEXT NOT NULL,
    prev_hash     TEXT NOT NULL,
    hash          TEXT NOT NULL,
    PRIMARY KEY (namespace, seq)
);

-- table human_tasks
CREATE TABLE human_tasks (
    task_id           TEXT PRIMARY KEY,
    namespace         TEXT NOT NULL,
    intent_id         TEXT NOT NULL,
    state             TEXT NOT NULL,      -- open | decided | timed_out | canceled
    spec              TEXT NOT NULL,      -- JSON: the normalised human_task
    assignees         TEXT NOT NULL,      -- JSON list: who may decide now
    level             INTEGER NOT NULL,   -- escalation levels reached
    level_started_at  BIGINT NOT NULL,
    reminders_sent    INTEGER NOT NULL,   -- at the current level
    journal_key       TEXT,               -- an agent's own question: its answer's journal key
    decision          TEXT,               -- JSON: outcome, comment, data, decided_by, decided_at, via
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL
);

-- table inbox_changes
CREATE TABLE inbox_changes (
    namespace    TEXT NOT NULL,
    owner_agent  TEXT NOT NULL,
    seq          BIGINT NOT NULL,
    thread_id    TEXT NOT NULL,
    change_type  TEXT NOT NULL,
    at           BIGINT NOT NULL,
    PRIMARY KEY (namespace, owner_agent, seq)
);

-- table inbox_items
CREATE TABLE inbox_items (
    thread_id        TEXT NOT NULL,
    seq              INTEGER NOT NULL,
    item_type        TEXT NOT NULL,
    actor            TEXT NOT NULL,
    at               BIGINT NOT NULL,
    details          TEXT NOT NULL,
    idempotency_key  TEXT,
    PRIMARY KEY (thread_id, seq)
);

-- table inbox_owners
CREATE TABLE inbox_owners (
    namespace    TEXT NOT NULL,
    owner_agent  TEXT NOT NULL,
    change_seq   BIGINT NOT NULL,
    PRIMARY KEY (namespace, owner_agent)
);

-- table inbox_threads
CREATE TABLE inbox_threads (
    thread_id    TEXT PRIMARY KEY,
    namespace    TEXT NOT NULL,
    owner_agent  TEXT NOT NULL,
    updated_at   BIGINT NOT NULL
);

-- table intent_events
CREATE TABLE intent_events (
    intent_id       TEXT NOT NULL,
    seq             INTEGER NOT NULL,
    event_type      TEXT NOT NULL,
    status          TEXT NOT NULL,
    at              BIGINT NOT NULL,
    actor           TEXT NOT NULL,
    waiting_reason  TEXT,
    details         TEXT NOT NULL,
    PRIMARY KEY (intent_id, seq)
);

-- table intents
CREATE TABLE intents (
    intent_id              TEXT PRIMARY KEY,
    namespace              TEXT NOT NULL,
    intent_type            TEXT NOT NULL,
    correlation_id         TEXT NOT NULL,
    from_agent             TEXT NOT NULL,
    to_agent               TEXT NOT NULL,
    reply_to               TEXT,
    parent_intent_id       TEXT,
    root_intent_id         TEXT,
    payload                TEXT NOT NULL,
    status                 TEXT NOT NULL,
    waiting_reason         TEXT,
    result                 TEXT,
    error                  TEXT,
    reason                 TEXT,
    deadline_at            BIGINT,
    max_delivery_attempts  INTEGER NOT NULL,
    delivery_attempt       INTEGER NOT NULL,
    lease_token            TEXT,
    lease_owner            TEXT,
    lease_expires_at       BIGINT,
    policy_generation      INTEGER NOT NULL,
    controls               TEXT NOT NULL,
    policy                 TEXT NOT NULL,
    usage                  TEXT NOT NULL,
    idempotency_key        TEXT,
    request_hash           TEXT,
    last_seq               INTEGER NOT NULL,
    created_at             BIGINT NOT NULL,
    updated_at             BIGINT NOT NULL
, queued_at BIGINT, step_key TEXT, synthetic INTEGER NOT NULL DEFAULT 0, trace_context TEXT);

-- table link_uses
CREATE TABLE link_uses (
    nonce     TEXT PRIMARY KEY,
    task_id   TEXT NOT NULL,
    used_at   BIGINT NOT NULL
);

-- table mesh_policies
CREATE TABLE mesh_policies (
    namespace   TEXT NOT NULL,
    scope       TEXT NOT NULL,
    generation  BIGINT NOT NULL,
    body        TEXT NOT NULL,
    actor       TEXT NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (namespace, scope)
);

-- table namespaces
CREATE TABLE namespaces (
    name        TEXT PRIMARY KEY,
    sandbox     INTEGER NOT NULL DEFAULT 0,
    created_at  BIGINT NOT NULL
);

-- table notifications
CREATE TABLE notifications (
    notification_id  TEXT PRIMARY KEY,  -- stable across retries: receivers drop duplicates by it
    namespace        TEXT NOT NULL,
    channel          TEXT NOT NULL,     -- webhook | email | another registered channel
    recipient        TEXT NOT NULL,     -- an e-mail address, or '' for a channel that sends once per notice
    notice           TEXT NOT NULL,     -- JSON (engine/notify/notice.py)
    status           TEXT NOT NULL,     -- pending | sent | dead
    attempts         INTEGER NOT NULL,  -- sends begun, also the claim's fencing token
    due_at           BIGINT NOT NULL,   -- the next attempt (or the claim's end while one is sending)
    last_error       TEXT,
    created_at       BIGINT NOT NULL,
    finished_at      BIGINT             -- sent or given up
, subject TEXT, max_attempts INTEGER);

-- table run_journal
CREATE TABLE run_journal (
    run_id          TEXT NOT NULL,      -- the parent intent
    key             TEXT NOT NULL,
    seq             INTEGER NOT NULL,   -- creation order within the run
    kind            TEXT NOT NULL,      -- child | value | step
    status          TEXT NOT NULL,      -- RUNNING | WAITING | COMPLETED | FAILED | CANCELED | SKIPPED
    attempt         INTEGER NOT NULL,
    child_intent_id TEXT,
    result          TEXT,               -- JSON
    error           TEXT,               -- JSON
    awaited         INTEGER NOT NULL,   -- 1 while the parent is parked until this entry finishes
    started_at      BIGINT NOT NULL,
    ended_at        BIGINT,
    due_at          BIGINT,
    PRIMARY KEY (run_id, key)
);

-- table runtime_secrets
CREATE TABLE runtime_secrets (
    name        TEXT PRIMARY KEY,
    value       TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

-- table schema_migrations
CREATE TABLE schema_migrations (
    version     INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    applied_at  BIGINT NOT NULL
);

-- table timers
CREATE TABLE timers (
    timer_id   TEXT PRIMARY KEY,
    intent_id  TEXT NOT NULL,
    kind       TEXT NOT NULL,
    due_at     BIGINT NOT NULL,
    payload    TEXT NOT NULL
);

-- table ui_sessions
CREATE TABLE ui_sessions (
    session_hash  TEXT PRIMARY KEY,
    key_id        TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL
);

-- table usage_rollups
CREATE TABLE usage_rollups (
    namespace   TEXT NOT NULL,
    scope       TEXT NOT NULL,
    subject     TEXT NOT NULL,
    bucket      BIGINT NOT NULL,
    cost_usd    DOUBLE PRECISION NOT NULL,
    tokens_in   DOUBLE PRECISION NOT NULL,
    tokens_out  DOUBLE PRECISION NOT NULL,
    intents     BIGINT NOT NULL,
    PRIMARY KEY (namespace, scope, subject, bucket)
);

-- table webhook_events
CREATE TABLE webhook_events (
    event_id     TEXT PRIMARY KEY,
    namespace    TEXT NOT NULL,
    owner_agent  TEXT NOT NULL,
    event_type   TEXT NOT NULL,
    source       TEXT NOT NULL,
    payload      TEXT NOT NULL,   -- JSON
    accepted_at  BIGINT NOT NULL
);

-- table webhook_subscriptions
CREATE TABLE webhook_subscriptions (
    subscription_id  TEXT PRIMARY KEY,
    namespace        TEXT NOT NULL,
    owner_agent      TEXT NOT NULL,
    callback_url     TEXT NOT NULL,
    event_types      TEXT NOT NULL,     -- JSON list of event types ("intent.*" matches every intent event)
    secret           TEXT NOT NULL,
    active           INTEGER NOT NULL,  -- 0 | 1
    description      TEXT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    revoked_at       BIGINT
);

-- table workflow_runs
CREATE TABLE workflow_runs (
    run_id       TEXT PRIMARY KEY,
    namespace    TEXT NOT NULL,
    scenario_id  TEXT NOT NULL,
    plan         TEXT NOT NULL,         -- JSON (engine/workflows/plan.py)
    created_at   BIGINT NOT NULL
);

-- index audit_records_intent
CREATE INDEX audit_records_intent ON audit_records (intent_id, seq);

-- index human_tasks_by_intent
CREATE INDEX human_tasks_by_intent ON human_tasks (intent_id, state);

-- index human_tasks_by_state
CREATE INDEX human_tasks_by_state ON human_tasks (namespace, state, created_at);

-- index inbox_items_idempotency
CREATE UNIQUE INDEX inbox_items_idempotency ON inbox_items (thread_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;

-- index inbox_threads_owner
CREATE INDEX inbox_threads_owner ON inbox_threads (namespace, owner_agent, updated_at);

-- index inbox_threads_recent
CREATE INDEX inbox_threads_recent ON inbox_threads (namespace, updated_at);

-- index intents_claimable
CREATE INDEX intents_claimable ON intents (namespace, to_agent, queued_at)
    WHERE status = 'SUBMITTED';

-- index intents_correlation
CREATE INDEX intents_correlation ON intents (namespace, correlation_id);

-- index intents_idempotency
CREATE UNIQUE INDEX intents_idempotency ON intents (namespace, idempotency_key)
    WHERE idempotency_key IS NOT NULL;

-- index intents_lease_expiry
CREATE INDEX intents_lease_expiry ON intents (lease_expires_at)
    WHERE lease_expires_at IS NOT NULL;

-- index intents_listing
CREATE INDEX intents_listing ON intents (namespace, created_at, intent_id);

-- index intents_tree
CREATE INDEX intents_tree ON intents (namespace, root_intent_id, created_at, intent_id);

-- index notifications_due
CREATE INDEX notifications_due ON notifications (due_at) WHERE status = 'pending';

-- index notifications_subject
CREATE INDEX notifications_subject ON notifications (subject);

-- index timers_due
CREATE INDEX timers_due ON timers (due_at);

-- index timers_intent
CREATE INDEX timers_intent ON timers (intent_id, kind);

-- index ui_sessions_expiry
CREATE INDEX ui_sessions_expiry ON ui_sessions (expires_at);

-- index webhook_subscriptions_owner
CREATE INDEX webhook_subscriptions_owner ON webhook_subscriptions (namespace, owner_agent);

