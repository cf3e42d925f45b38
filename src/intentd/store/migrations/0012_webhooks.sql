-- HTTP push delivery and webhooks (engine/webhooks, docs/webhooks.md). Both go out through the
-- notification outbox (0008): each POST is a `notifications` row written in the transaction of the
-- change it reports, so a crash between that commit and the send loses nothing.

-- Which outbox rows carry what: `subject` is the webhook event a row delivers (its event_id) or the
-- intent a push delivers; `max_attempts` the row's own limit (an intent's max_delivery_attempts),
-- NULL for the sender's configured one. Human tasks' rows leave both NULL.
ALTER TABLE notifications ADD COLUMN subject TEXT;
ALTER TABLE notifications ADD COLUMN max_attempts INTEGER;
CREATE INDEX notifications_subject ON notifications (subject);

-- Where an agent registered with the `http` binding (agent_bindings.delivery_mode = 'http') takes its
-- work, and the secret its POSTs are signed with.
CREATE TABLE agent_callbacks (
    namespace     TEXT NOT NULL,
    address       TEXT NOT NULL,
    callback_url  TEXT NOT NULL,
    secret        TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    PRIMARY KEY (namespace, address)
);

-- AXP webhook subscriptions (PROTOCOL.md §6). Revocation sets revoked_at: the row stays, so the
-- deliveries made to it still name it.
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
CREATE INDEX webhook_subscriptions_owner ON webhook_subscriptions (namespace, owner_agent);

-- Every event delivered to subscriptions: published through the API, or an intent's lifecycle event.
-- Its event_id is stable: every delivery and replay of it carries the same one.
CREATE TABLE webhook_events (
    event_id     TEXT PRIMARY KEY,
    namespace    TEXT NOT NULL,
    owner_agent  TEXT NOT NULL,
    event_type   TEXT NOT NULL,
    source       TEXT NOT NULL,
    payload      TEXT NOT NULL,   -- JSON
    accepted_at  BIGINT NOT NULL
);
