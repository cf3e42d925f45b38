-- Scoped keys (issue 17): a key may expire, an agent key is bound to the agent addresses it acts for,
-- and a rotated key names its successor (it stays valid until its expires_at, the rotation's grace).
ALTER TABLE api_keys ADD COLUMN expires_at BIGINT;
ALTER TABLE api_keys ADD COLUMN agents TEXT NOT NULL DEFAULT '[]';
ALTER TABLE api_keys ADD COLUMN rotated_to TEXT;
