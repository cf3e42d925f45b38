-- Delivery bindings (AXP `agents[].delivery_mode`, PROTOCOL.md §4.2): how an agent registered to take
-- its work. `stream`: what its AXP agent stream sends is leased to the listener; `poll`: the stream
-- stays a feed. No row: never registered, the stream is a feed (a passive watcher leases nothing).
--
-- A table of its own rather than columns of `agents`: an `agents` row is the feed counter, updated at
-- the end of every transaction that queues work for the agent, so a registration would wait on that
-- row lock and every counter update would rewrite a wider row; and `agents` rows appear implicitly
-- (the first feed entry, the first heartbeat), while a binding exists only once someone registered it.
CREATE TABLE agent_bindings (
    namespace      TEXT NOT NULL,
    address        TEXT NOT NULL,
    delivery_mode  TEXT NOT NULL,     -- stream | poll
    lease_micros   BIGINT NOT NULL,   -- how long a lease taken by the `stream` binding lasts
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    PRIMARY KEY (namespace, address)
);
