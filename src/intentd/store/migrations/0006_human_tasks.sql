-- Human tasks (the human-tasks issue): what a person is asked about a WAITING intent, and where its
-- reminders and escalations stand (model/_task.py). The intent's events are the record; this table is
-- their projection, so that "what waits for me" and "what is overdue" are queries.
CREATE TABLE human_tasks (
    task_id           TEXT PRIMARY KEY,
    namespace         TEXT NOT NULL,
    intent_id         TEXT NOT NULL,
    state             TEXT NOT NULL,      -- open | decided | timed_out | canceled
    spec              TEXT NOT NULL,      -- JSON: the normalised human_task
    assignees         TEXT NOT NULL,      -- JSON list: who may decide now
    level             INTEGER NOT NULL,   -- escalation levels reached
    level_started_at  BIGINT NOT NULL,
    reminders_sent    INTEGER NOT NULL,   -- at the current level
    journal_key       TEXT,               -- an agent's own question: its answer's journal key
    decision          TEXT,               -- JSON: outcome, comment, data, decided_by, decided_at, via
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL
);
CREATE INDEX human_tasks_by_state ON human_tasks (namespace, state, created_at);
CREATE INDEX human_tasks_by_intent ON human_tasks (intent_id, state);

-- Signed links decide once: the nonce of each link used, written in the decision's transaction.
CREATE TABLE link_uses (
    nonce     TEXT PRIMARY KEY,
    task_id   TEXT NOT NULL,
    used_at   BIGINT NOT NULL
);

-- A person is an approver key; the roles it holds make it an assignee of ``role:<name>`` tasks.
ALTER TABLE api_keys ADD COLUMN task_roles TEXT NOT NULL DEFAULT '[]';
