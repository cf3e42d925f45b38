-- The claim queue is ordered by when an intent entered it (queued_at) instead of by the agent feed's
-- cursor: the feed cursor is now assigned at the end of each transaction, in one global order of
-- agents, so that writers on several connections never deadlock on the feed counters.
DROP INDEX intents_claimable;
ALTER TABLE intents DROP COLUMN agent_seq;
ALTER TABLE intents ADD COLUMN queued_at BIGINT;
UPDATE intents SET queued_at = updated_at WHERE status = 'SUBMITTED';
CREATE INDEX intents_claimable ON intents (namespace, to_agent, queued_at)
    WHERE status = 'SUBMITTED';
