-- Metrics (store/_metrics.py): what /metrics reads from the database at scrape time.

-- Intents per agent and status, with the oldest place in the queue (read for SUBMITTED: the oldest
-- queued intent). One pass over every intent row (no index serves a count of every status, and one
-- kept for it would cost every write on the hot path); test traffic (synthetic) left out, as from
-- every fleet figure.
-- name: intent_counts
SELECT namespace, to_agent, status, COUNT(*) AS count, MIN(queued_at) AS oldest_queued_at
FROM intents
WHERE synthetic = 0
GROUP BY namespace, to_agent, status;
