-- HTTP push delivery and webhooks (store/_webhooks.py, migration 0012). Their POSTs are rows of the
-- notification outbox (`notifications`), with `subject` naming the event or intent they deliver.

-- name: insert_outbox_delivery
INSERT INTO notifications (
    notification_id, namespace, channel, recipient, notice, status, attempts, due_at, created_at,
    subject, max_attempts
) VALUES (
    :notification_id, :namespace, :channel, :recipient, :notice, 'pending', 0, :due_at, :created_at,
    :subject, :max_attempts
);

-- name: get_outbox_delivery
SELECT * FROM notifications WHERE notification_id = :notification_id AND namespace = :namespace;

-- name: list_outbox_deliveries
SELECT * FROM notifications
WHERE namespace = :namespace AND channel IN ('http', 'subscription') AND status = :status
ORDER BY created_at, notification_id LIMIT :limit;

-- name: outbox_delivery_counts
SELECT status, COUNT(*) AS n FROM notifications WHERE subject = :subject GROUP BY status;

-- name: put_agent_callback
INSERT INTO agent_callbacks (namespace, address, callback_url, secret, created_at, updated_at)
VALUES (:namespace, :address, :callback_url, :secret, :now, :now)
ON CONFLICT (namespace, address) DO UPDATE SET
    callback_url = excluded.callback_url, secret = excluded.secret, updated_at = excluded.updated_at;

-- name: get_agent_callback
SELECT * FROM agent_callbacks WHERE namespace = :namespace AND address = :address;

-- name: http_bound_agents
-- The agents whose work is pushed: read by each server process into a short-lived cache.
SELECT b.namespace, b.address FROM agent_bindings b
JOIN agent_callbacks c ON c.namespace = b.namespace AND c.address = b.address
WHERE b.delivery_mode = 'http';

-- name: insert_webhook_subscription
INSERT INTO webhook_subscriptions (
    subscription_id, namespace, owner_agent, callback_url, event_types, secret, active, description,
    created_at, updated_at, revoked_at
) VALUES (
    :subscription_id, :namespace, :owner_agent, :callback_url, :event_types, :secret, :active,
    :description, :now, :now, NULL
);

-- name: update_webhook_subscription
UPDATE webhook_subscriptions SET
    event_types = :event_types, secret = :secret, active = :active, description = :description,
    updated_at = :now
WHERE subscription_id = :subscription_id;

-- name: find_webhook_subscription
-- The live subscription an upsert changes: one per owner and callback URL.
SELECT * FROM webhook_subscriptions
WHERE namespace = :namespace AND owner_agent = :owner_agent AND callback_url = :callback_url
  AND revoked_at IS NULL;

-- name: get_webhook_subscription
SELECT * FROM webhook_subscriptions WHERE subscription_id = :subscription_id AND namespace = :namespace;

-- name: list_webhook_subscriptions
SELECT * FROM webhook_subscriptions WHERE namespace = :namespace ORDER BY created_at, subscription_id;

-- name: active_webhook_subscriptions
SELECT * FROM webhook_subscriptions WHERE active = 1 AND revoked_at IS NULL;

-- name: revoke_webhook_subscription
UPDATE webhook_subscriptions SET revoked_at = :now, active = 0, updated_at = :now
WHERE subscription_id = :subscription_id AND namespace = :namespace AND revoked_at IS NULL;

-- name: insert_webhook_event
INSERT INTO webhook_events (event_id, namespace, owner_agent, event_type, source, payload, accepted_at)
VALUES (:event_id, :namespace, :owner_agent, :event_type, :source, :payload, :accepted_at);

-- name: get_webhook_event
SELECT * FROM webhook_events WHERE event_id = :event_id AND namespace = :namespace;

-- name: revive_outbox_delivery
-- A dead letter replayed: due now with its attempts counted afresh, under the same id.
UPDATE notifications SET status = 'pending', attempts = 0, due_at = :now, finished_at = NULL
WHERE notification_id = :notification_id AND namespace = :namespace AND status = 'dead';
