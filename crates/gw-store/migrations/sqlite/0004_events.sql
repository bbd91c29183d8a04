-- Gatewatch embedded store, schema version 4: detection events, sensitive fields, detector
-- state. The read-only explorer views are not here: they are created per explorer connection
-- (src/sqlite/explorer.sql) so that their documented names may equal table names.

-- Detection events (gatewatch.event/1), one row per exchange on which at least one per-record
-- detector fired. They hold a client IP, so they live at most `client_ip_days` (event time),
-- like exchanges. A second write for the same exchange merges into the row.
CREATE TABLE event_records (
    exchange_id      TEXT    PRIMARY KEY,
    observed_at      TEXT    NOT NULL,    -- RFC 3339, exact
    observed_us      INTEGER NOT NULL,    -- event time, drives retention and ordering
    endpoint_id      TEXT,
    endpoint_host    TEXT,
    endpoint_method  TEXT,
    endpoint_template TEXT,
    actor_ip         TEXT,                -- canonical IpAddr text
    actor_identity   TEXT,
    actor_user_agent TEXT
);
CREATE INDEX event_records_by_time     ON event_records (observed_us, exchange_id);
CREATE INDEX event_records_by_endpoint ON event_records (endpoint_id, observed_us)
    WHERE endpoint_id IS NOT NULL;
CREATE INDEX event_records_by_ip       ON event_records (actor_ip, observed_us)
    WHERE actor_ip IS NOT NULL;
CREATE INDEX event_records_by_identity ON event_records (actor_identity, observed_us)
    WHERE actor_identity IS NOT NULL;

-- The detections of an event: at most one per (rule, location); a merge keeps the higher
-- confidence and the first fragment.
CREATE TABLE event_detections (
    exchange_id TEXT NOT NULL REFERENCES event_records (exchange_id) ON DELETE CASCADE,
    rule_id     TEXT NOT NULL,
    location    TEXT NOT NULL,            -- `query:id`, `body:$.comment`, `header:user-agent`
    fragment    TEXT,                     -- masked upstream
    confidence  REAL NOT NULL,
    PRIMARY KEY (exchange_id, rule_id, location)
);
CREATE INDEX event_detections_by_rule ON event_detections (rule_id, exchange_id);

-- Which alerts (finding ids) an event fed. No foreign key to findings: a finding may be
-- written after its events, and events must not keep a finding from changing.
CREATE TABLE event_alerts (
    alert_id    TEXT NOT NULL,
    exchange_id TEXT NOT NULL REFERENCES event_records (exchange_id) ON DELETE CASCADE,
    PRIMARY KEY (alert_id, exchange_id)
);
CREATE INDEX event_alerts_by_exchange ON event_alerts (exchange_id);

-- Sensitive data seen per endpoint and field: kinds, counts, first/last seen, the highest
-- sensitivity. Never a value. No client data, so retention and privacy leave it alone.
-- `status_class` is '' when the observation is not tied to a response class (request side),
-- so that the key is a plain unique key on every back-end (NULLs are distinct in keys).
CREATE TABLE sensitive_field_stats (
    endpoint_id   TEXT    NOT NULL,
    location      TEXT    NOT NULL,       -- path | query | header | request_body | response_body
    field         TEXT    NOT NULL,       -- `$.customer.email`, a parameter or header name
    kind          TEXT    NOT NULL,       -- `email`, `credit_card`, ...
    status_class  TEXT    NOT NULL,       -- `2xx`, ..., or ''
    count         INTEGER NOT NULL,
    first_seen_us INTEGER NOT NULL,
    first_seen    TEXT    NOT NULL,       -- RFC 3339 copy of first_seen_us
    last_seen_us  INTEGER NOT NULL,
    last_seen     TEXT    NOT NULL,       -- RFC 3339 copy of last_seen_us
    sensitivity   INTEGER NOT NULL,       -- 0 low, 1 medium, 2 high, 3 critical
    PRIMARY KEY (endpoint_id, location, field, kind, status_class)
);

-- Opaque detector snapshots (behavioral baselines) so a restart continues where it stopped.
CREATE TABLE detector_states (
    name         TEXT    PRIMARY KEY,
    state        BLOB    NOT NULL,
    watermark_us INTEGER                  -- event time the snapshot covers, if the detector said
);
