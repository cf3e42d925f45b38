-- Notifications of human tasks (engine/notify): a durable outbox, and the per-database secret that
-- signs approve/reject links when INTENTD_LINK_SECRET is not set.

-- One row per (notice, channel, recipient), written in the transaction that caused the notice, so a
-- crash between that commit and the send loses nothing. The sender claims a due row by moving its
-- due_at past the send's time limit and counting the attempt (a lease: a sender that dies mid-send
-- leaves the row to be taken again), then marks it sent, due again later (backoff) or dead.
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
);
-- What the sender takes next: pending rows in due order (sent and dead rows stay out of the index).
CREATE INDEX notifications_due ON notifications (due_at) WHERE status = 'pending';

-- Secrets the runtime makes for itself, one per name, shared by every replica of the database.
CREATE TABLE runtime_secrets (
    name        TEXT PRIMARY KEY,
    value       TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
