-- Inbox threads and approval decisions (PROTOCOL.md §2.4; choices in docs/axp-compat.md).

-- An inbox thread is derived, not stored: the completion thread of an intent with a reply_to. This
-- index serves "threads for an owner, most recently updated first".
CREATE INDEX intents_reply_to ON intents (namespace, reply_to, updated_at)
    WHERE reply_to IS NOT NULL;

-- One decision per approval id and namespace. The id is the WAITING intent's id when the decision
-- resumed or failed that intent (intent_id set); any other id is only recorded (AXP conformance
-- answers 200 for an id it has never seen).
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
