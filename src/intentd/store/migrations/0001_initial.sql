-- intentd schema, version 1. Portable: the same DDL runs on SQLite and PostgreSQL.
-- Times are BIGINT microseconds since the epoch; JSON is TEXT (never queried inside by SQL, and
-- cheaper to append than jsonb). IDs are UUIDv7 text.

CREATE TABLE api_keys (
    key_id      TEXT PRIMARY KEY,
    namespace   TEXT NOT NULL,
    name        TEXT NOT NULL,
    role        TEXT NOT NULL,
    key_hash    TEXT NOT NULL UNIQUE,
    created_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);

-- The current-state projection of intent_events (rebuildable from them).
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
    agent_seq              BIGINT NOT NULL,
    created_at             BIGINT NOT NULL,
    updated_at             BIGINT NOT NULL
);
CREATE UNIQUE INDEX intents_idempotency ON intents (namespace, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
-- The delivery queue: claimable intents per agent, in feed order.
CREATE INDEX intents_claimable ON intents (namespace, to_agent, agent_seq)
    WHERE status = 'SUBMITTED';
-- Leases live on the intent row, so a claim or completion writes no timer row (hot path).
CREATE INDEX intents_lease_expiry ON intents (lease_expires_at)
    WHERE lease_expires_at IS NOT NULL;
CREATE INDEX intents_listing ON intents (namespace, created_at, intent_id);
CREATE INDEX intents_correlation ON intents (namespace, correlation_id);

-- Append-only, ordered per intent: the audit trail.
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

-- Durable timers (deadlines now; reminders, escalations and retry backoff later).
CREATE TABLE timers (
    timer_id   TEXT PRIMARY KEY,
    intent_id  TEXT NOT NULL,
    kind       TEXT NOT NULL,
    due_at     BIGINT NOT NULL,
    payload    TEXT NOT NULL
);
CREATE INDEX timers_due ON timers (due_at);

-- Agents known to this server; feed_seq is the per-agent delivery cursor of the AXP agent stream.
CREATE TABLE agents (
    namespace     TEXT NOT NULL,
    address       TEXT NOT NULL,
    feed_seq      BIGINT NOT NULL,
    created_at    BIGINT NOT NULL,
    last_seen_at  BIGINT,
    heartbeat     TEXT,
    PRIMARY KEY (namespace, address)
);

-- What each agent's stream yields, in per-agent order: intents sent to it, replies sent to it.
CREATE TABLE agent_feed (
    namespace       TEXT NOT NULL,
    address         TEXT NOT NULL,
    seq             BIGINT NOT NULL,
    intent_id       TEXT NOT NULL,
    event_type      TEXT NOT NULL,
    at              BIGINT NOT NULL,
    PRIMARY KEY (namespace, address, seq)
);
