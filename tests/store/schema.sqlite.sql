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
);

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
, queued_at BIGINT, step_key TEXT);

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

-- table workflow_runs
CREATE TABLE workflow_runs (
    run_id       TEXT PRIMARY KEY,
    namespace    TEXT NOT NULL,
    scenario_id  TEXT NOT NULL,
    plan         TEXT NOT NULL,         -- JSON (engine/workflows/plan.py)
    created_at   BIGINT NOT NULL
);

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

-- index intents_reply_to
CREATE INDEX intents_reply_to ON intents (namespace, reply_to, updated_at)
    WHERE reply_to IS NOT NULL;

-- index intents_tree
CREATE INDEX intents_tree ON intents (namespace, root_intent_id, created_at, intent_id);

-- index timers_due
CREATE INDEX timers_due ON timers (due_at);

-- index timers_intent
CREATE INDEX timers_intent ON timers (intent_id, kind);

