-- Gatewatch embedded store, schema version 2: the API inventory.
--
-- One row per endpoint (host + method + path template) that discovery knows: declared by a
-- spec, learned from traffic, or both. `state` is the complete inventory state as JSON and is
-- the source of truth (gw-discover owns its shape); the other columns are copies kept for
-- filtering and ordering and must be updated together with it.
-- Nothing here identifies a client: exposure is kept as counts and the event time of the first
-- public call, never as addresses, so privacy requests have nothing to erase here.
CREATE TABLE inventory_endpoints (
    id            TEXT    PRIMARY KEY,   -- stable endpoint id (`ep_` + hash of host, method, template)
    api           TEXT    NOT NULL,      -- the API (group) the endpoint belongs to
    host          TEXT    NOT NULL,
    method        TEXT    NOT NULL,
    template      TEXT    NOT NULL,
    first_seen_us INTEGER,               -- event time; NULL for a declared endpoint never called
    last_seen_us  INTEGER,
    calls         INTEGER NOT NULL,
    state         TEXT    NOT NULL
);
CREATE INDEX inventory_endpoints_by_api ON inventory_endpoints (api, host, template, method);
