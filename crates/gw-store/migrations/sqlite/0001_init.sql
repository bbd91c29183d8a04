-- Gatewatch embedded store, schema version 1.
--
-- Conventions
--   * Times used for filtering or retention are INTEGER microseconds since the Unix epoch,
--     UTC, in columns ending in `_us`. They are event time (the record's own timestamp),
--     except `ingest_runs.*_at`, which are the wall-clock times the CLI passed in.
--     Exact timestamps for display are kept next to them as RFC 3339 TEXT.
--   * IP addresses are TEXT in their canonical Rust `IpAddr` form (`203.0.113.45`, `2001:db8::1`).
--   * Every value reaching this schema was redacted upstream: credentials are `[REDACTED]`,
--     credential fingerprints are `hmac-sha256:<hex>` keyed with `settings.install_key`.
--   * The migration runner wraps this file in one transaction and records it in
--     `schema_migrations`; this file must not contain BEGIN/COMMIT.

-- Small key/value facts about this install.
--   install_key        BLOB(32)  per-install secret for HMAC credential fingerprints;
--                                generated once, never rotated by the store.
--   event_watermark_us INTEGER   the largest `observed_at` ever passed to write_exchanges;
--                                retention is driven by it, never by the wall clock.
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value BLOB NOT NULL
);

-- One row per `gatewatch ingest` (or other) run: what was read and what became of it.
-- `finished_at` is NULL while the run is in progress or if it was interrupted.
CREATE TABLE ingest_runs (
    id                 INTEGER PRIMARY KEY,
    command            TEXT    NOT NULL,
    inputs             TEXT    NOT NULL,  -- JSON array of input names (paths, URLs, "-")
    started_at         TEXT    NOT NULL,  -- RFC 3339, wall clock passed in by the caller
    finished_at        TEXT,              -- RFC 3339, wall clock passed in by the caller
    records_read       INTEGER,
    accepted           INTEGER,
    rejected           INTEGER,           -- sum of rejected_by_reason
    rejected_by_reason TEXT,              -- JSON object {reason: count}, keys sorted
    bytes              INTEGER,
    elapsed_ms         INTEGER,
    findings           INTEGER,
    first_event_at     TEXT,              -- RFC 3339, event time of the earliest accepted record
    last_event_at      TEXT               -- RFC 3339, event time of the latest accepted record
);

-- Short-lived metadata of accepted records, so that later stages, findings (evidence ids) and
-- privacy requests have something to point at. Raw traffic is not stored: no headers, and
-- bodies only in `exchange_bodies` when the operator asked for them.
-- Rows live at most `client_ip_days` (they hold client IPs), counted in event time.
CREATE TABLE exchanges (
    id             TEXT    PRIMARY KEY,   -- gatewatch.exchange/1 `id`; re-ingesting is a no-op
    observed_at    TEXT    NOT NULL,      -- RFC 3339, exact
    observed_us    INTEGER NOT NULL,      -- event time, drives retention
    source_kind    TEXT    NOT NULL,      -- `nginx.combined`, `envoy.json`, ...
    method         TEXT    NOT NULL,
    host           TEXT,
    path           TEXT    NOT NULL,
    query          TEXT,
    status         INTEGER,
    client_ip      TEXT,                  -- the gateway's direct peer
    resolved_ip    TEXT,                  -- rightmost untrusted X-Forwarded-For hop
    principal      TEXT,
    consumer_id    TEXT,
    consumer_name  TEXT,
    credential_fp  TEXT,
    user_agent     TEXT,
    request_size   INTEGER,
    response_size  INTEGER,
    duration_ms    REAL
);
-- Only event time is indexed (retention deletes by range, and UUIDv7 ids and event time both
-- grow, so both b-trees are appended to). An index on the client IPs would be written at a
-- random place for every row: measured, it cut batched inserts from ~160k to ~60k rows/s.
-- Privacy requests by IP or identity are rare administrative jobs and scan the table instead.
CREATE INDEX exchanges_by_time ON exchanges (observed_us);

-- Captured bodies, only in MetadataAndBodies mode; at most `body_hours` old in event time.
-- Each body column holds the gatewatch.exchange/1 `Body` object as JSON (content, encoding,
-- size, truncated, redacted), or NULL when that side had no body.
CREATE TABLE exchange_bodies (
    exchange_id   TEXT    PRIMARY KEY REFERENCES exchanges (id) ON DELETE CASCADE,
    observed_us   INTEGER NOT NULL,       -- copied from exchanges so retention needs no join
    request_body  TEXT,
    response_body TEXT
);
CREATE INDEX exchange_bodies_by_time ON exchange_bodies (observed_us);

-- Findings (threat alerts, posture and inventory findings). `body` is the complete
-- gatewatch.finding/1 JSON and is the source of truth; the other columns are copies kept for
-- filtering and must be updated together with it.
-- At most one finding per fingerprint is active (not resolved): repeated hits are absorbed
-- into it. A resolved finding stays as history and a new hit opens a new one.
CREATE TABLE findings (
    id              TEXT    PRIMARY KEY,
    fingerprint     TEXT    NOT NULL,
    kind            TEXT    NOT NULL,     -- threat | posture | inventory
    rule_id         TEXT    NOT NULL,
    severity_rank   INTEGER NOT NULL,     -- 0 info, 1 low, 2 medium, 3 high, 4 critical
    status          TEXT    NOT NULL,     -- open | acknowledged | suppressed | resolved
    status_reason   TEXT,                 -- why the status was last changed by a person
    first_seen_us   INTEGER NOT NULL,
    last_seen_us    INTEGER NOT NULL,     -- event time, drives actor IP retention
    count           INTEGER NOT NULL,
    actor_ip        TEXT,
    actor_identity  TEXT,
    body            TEXT    NOT NULL
);
CREATE UNIQUE INDEX findings_one_active_per_fingerprint
    ON findings (fingerprint) WHERE status <> 'resolved';
CREATE INDEX findings_by_last_seen ON findings (last_seen_us DESC, id);
CREATE INDEX findings_by_actor_ip  ON findings (actor_ip) WHERE actor_ip IS NOT NULL;
