-- Dashboard sessions (issue 20, server/dashboard): a person signed in at /ui with an API key. Only the
-- SHA-256 of the random session id is kept, with the key the session acts as and when it ends, so any
-- replica serves it; the key itself is read again on every request, so a revoked key ends its sessions.
CREATE TABLE ui_sessions (
    session_hash  TEXT PRIMARY KEY,
    key_id        TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL
);
CREATE INDEX ui_sessions_expiry ON ui_sessions (expires_at);
