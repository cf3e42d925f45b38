-- The audit trail (engine/audit.py, docs/audit.md): one record per state change, decision and key
-- operation, hash-chained per namespace. Each record stores the hash of the one before it in its
-- namespace, and audit_heads holds each chain's last seq and hash, updated last in the transaction that
-- appends (Tx.flush), so concurrent writers take the head's row lock in one order and append in turn.
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
CREATE INDEX audit_records_intent ON audit_records (intent_id, seq);

CREATE TABLE audit_heads (
    namespace  TEXT PRIMARY KEY,
    seq        BIGINT NOT NULL,
    hash       TEXT NOT NULL
);
