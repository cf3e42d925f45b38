-- Runs (the workflows issue): a parent intent that delegates owns a journal, one entry per step key
-- (model/_journal.py); a declared workflow also keeps its compiled plan.

-- The key under which a child is held in its parent's journal (null for every other intent).
ALTER TABLE intents ADD COLUMN step_key TEXT;

CREATE TABLE run_journal (
    run_id          TEXT NOT NULL,      -- the parent intent
    key             TEXT NOT NULL,
    seq             INTEGER NOT NULL,   -- creation order within the run
    kind            TEXT NOT NULL,      -- child | value | step
    status          TEXT NOT NULL,      -- RUNNING | WAITING | COMPLETED | FAILED | CANCELED | SKIPPED
    attempt         INTEGER NOT NULL,
    child_intent_id TEXT,
    result          TEXT,               -- JSON
    error           TEXT,               -- JSON
    awaited         INTEGER NOT NULL,   -- 1 while the parent is parked until this entry finishes
    started_at      BIGINT NOT NULL,
    ended_at        BIGINT,
    due_at          BIGINT,
    PRIMARY KEY (run_id, key)
);

-- A declared workflow (POST /v1/scenarios/apply): its plan, compiled once when it was applied.
CREATE TABLE workflow_runs (
    run_id       TEXT PRIMARY KEY,
    namespace    TEXT NOT NULL,
    scenario_id  TEXT NOT NULL,
    plan         TEXT NOT NULL,         -- JSON (engine/workflows/plan.py)
    created_at   BIGINT NOT NULL
);

-- A wait's wake-up timer is deleted when its intent leaves WAITING (timers/wake.py): by intent, not by
-- a scan of every timer (a hundred thousand parked runs each have one).
CREATE INDEX timers_intent ON timers (intent_id, kind);
