-- The Mesh's kill switches (docs/mesh.md): a row per target that is killed now, removed by resume (the
-- audit trail keeps the history). ``target`` is an address with a version (that version only), an
-- address without one (every version of it) or ``*`` (the whole namespace). Each server process keeps
-- these rows in memory (engine/mesh/switches.py) and reads them again when one changes anywhere, so
-- the delivery paths check them without a query.
CREATE TABLE agent_kills (
    namespace    TEXT NOT NULL,
    target       TEXT NOT NULL,
    new_work     TEXT NOT NULL,
    in_flight    TEXT NOT NULL,
    reassign_to  TEXT,
    reason       TEXT,
    actor        TEXT NOT NULL,
    killed_at    BIGINT NOT NULL,
    PRIMARY KEY (namespace, target)
);

-- The worker processes serving each agent: recorded when a worker opens a delivery stream or claims,
-- refreshed while it keeps doing so. A table of its own, not columns of ``agents``: that row is the
-- feed counter every handoff updates.
CREATE TABLE agent_workers (
    namespace      TEXT NOT NULL,
    address        TEXT NOT NULL,
    worker_id      TEXT NOT NULL,
    via            TEXT NOT NULL,
    first_seen_at  BIGINT NOT NULL,
    last_seen_at   BIGINT NOT NULL,
    PRIMARY KEY (namespace, address, worker_id)
);

-- Versioned routing (docs/mesh.md): new intents to ``address`` (a base address, without a version) go
-- to its versions by ``weights`` (JSON: version -> weight), chosen by correlation id so a run never
-- mixes versions. Held in memory by each process like the kill switches.
CREATE TABLE agent_routes (
    namespace   TEXT NOT NULL,
    address     TEXT NOT NULL,
    weights     TEXT NOT NULL,
    actor       TEXT NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (namespace, address)
);

-- Mesh policies (docs/mesh.md, "Policies"): one per scope (``*``: the namespace, or an address), its
-- body JSON, versioned by ``generation`` (a change names the generation it read: compare-and-set).
-- Held in memory by each process like the kill switches and routes.
CREATE TABLE mesh_policies (
    namespace   TEXT NOT NULL,
    scope       TEXT NOT NULL,
    generation  BIGINT NOT NULL,
    body        TEXT NOT NULL,
    actor       TEXT NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (namespace, scope)
);

-- Usage rolled up as it is reported: per agent (its address, and its base address for a version) and
-- per namespace by UTC hour, and per intent tree (bucket 0). ``intents`` counts admissions where a
-- policy limits intents per hour. Rows are counters: added to at the end of the transaction that
-- reports the usage, in one order (store/_mesh.py), so concurrent writers neither lose an update nor
-- deadlock.
CREATE TABLE usage_rollups (
    namespace   TEXT NOT NULL,
    scope       TEXT NOT NULL,
    subject     TEXT NOT NULL,
    bucket      BIGINT NOT NULL,
    cost_usd    DOUBLE PRECISION NOT NULL,
    tokens_in   DOUBLE PRECISION NOT NULL,
    tokens_out  DOUBLE PRECISION NOT NULL,
    intents     BIGINT NOT NULL,
    PRIMARY KEY (namespace, scope, subject, bucket)
);

-- Synthetic intents (docs/mesh.md, "Sandbox and synthetic intents"): test traffic in a sandbox namespace,
-- flagged for its whole run, left out of usage rollups and the fleet's figures.
ALTER TABLE intents ADD COLUMN synthetic INTEGER NOT NULL DEFAULT 0;
