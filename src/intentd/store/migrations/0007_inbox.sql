-- Inbox threads that hold more than their intent (PROTOCOL.md §2.4, §2.6; docs/axp-compat.md): replies,
-- delegation to another owner, deleted messages, and each owner's feed of thread changes.

-- One row per thread (an intent with a reply_to), written in the transaction of every change of it:
-- its owner (the reply_to until a delegation moves the thread) and when it last changed (an event of
-- its intent or an entry of its own). Listing reads threads from here.
CREATE TABLE inbox_threads (
    thread_id    TEXT PRIMARY KEY,
    namespace    TEXT NOT NULL,
    owner_agent  TEXT NOT NULL,
    updated_at   BIGINT NOT NULL
);
CREATE INDEX inbox_threads_owner ON inbox_threads (namespace, owner_agent, updated_at);
CREATE INDEX inbox_threads_recent ON inbox_threads (namespace, updated_at);
INSERT INTO inbox_threads (thread_id, namespace, owner_agent, updated_at)
SELECT intent_id, namespace, reply_to, updated_at FROM intents WHERE reply_to IS NOT NULL;

-- Listing no longer reads intents by reply_to; the index only cost a write on every change of an
-- intent with a reply_to.
DROP INDEX intents_reply_to;

-- A thread's own entries, in order: replies (message.sent), delegations (thread.delegated) and
-- deletions (messages.deleted). details is JSON: a reply's text and who it is deleted for.
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
CREATE UNIQUE INDEX inbox_items_idempotency ON inbox_items (thread_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;

-- The change feed (GET /v1/inbox/changes). Each owner ('*': every owner of the namespace) has a
-- counter, taken at the end of a transaction like an agent's feed cursor (Tx.flush), so cursors
-- grow in commit order and a reader paging by cursor loses nothing to a slower transaction.
CREATE TABLE inbox_owners (
    namespace    TEXT NOT NULL,
    owner_agent  TEXT NOT NULL,
    change_seq   BIGINT NOT NULL,
    PRIMARY KEY (namespace, owner_agent)
);

CREATE TABLE inbox_changes (
    namespace    TEXT NOT NULL,
    owner_agent  TEXT NOT NULL,
    seq          BIGINT NOT NULL,
    thread_id    TEXT NOT NULL,
    change_type  TEXT NOT NULL,
    at           BIGINT NOT NULL,
    PRIMARY KEY (namespace, owner_agent, seq)
);
