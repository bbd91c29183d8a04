//! The `Store` trait every back-end implements, and the URL that chooses one.

use std::net::IpAddr;

use gw_model::{Event, Exchange, Finding, FindingStatus};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::error::{Result, StoreError};
use crate::events::EventFilter;
use crate::explorer::QueryResult;
use crate::findings::{FindingFilter, StoredFinding, UpsertReport};
use crate::inventory::{InventoryWriteReport, StoredEndpoint};
use crate::privacy::PrivacyCounts;
use crate::retention::{RetentionPolicy, RetentionReport};
use crate::run::{RunId, RunRecord, RunStart, RunSummary};
use crate::sensitive::{SensitiveFieldObservation, StoredSensitiveField};
use crate::sqlite::SqliteStore;

/// Where the embedded store lives when neither `--db` nor the config says otherwise.
pub const DEFAULT_DB_PATH: &str = "./gatewatch.db";

/// How much of each accepted exchange `write_exchanges` keeps.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExchangeStorage {
    /// Nothing; only the event-time watermark advances.
    None,
    /// Id, time, source kind, method, host, path, query, status, client and resolved IP,
    /// identity (principal, consumer, credential fingerprint), user agent, sizes, duration.
    #[default]
    Metadata,
    /// The metadata plus request and response bodies (kept at most 48 hours).
    MetadataAndBodies,
}

/// What one `write_exchanges` call did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WriteReport {
    /// New exchange rows.
    pub written: u64,
    /// Records whose id was already stored; left as they were.
    pub duplicates: u64,
    /// New body rows (MetadataAndBodies only; records without any body store none).
    pub bodies_written: u64,
}

/// Row counts, for `gatewatch status` and tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreCounts {
    pub exchanges: u64,
    pub bodies: u64,
    pub findings: u64,
    pub runs: u64,
    /// Detection events (one per exchange).
    pub events: u64,
}

/// Persistence for one Gatewatch install: runs, short-lived exchange metadata, findings,
/// settings, and the retention and privacy jobs over them.
///
/// Synchronous by design: the pipeline calls it from one writer thread, in batches. Every
/// mutating call is one transaction. Times passed in are event time except where a field says
/// "wall clock"; an implementation never reads the clock itself.
pub trait Store: Send {
    /// The database path or URL, as used in error messages.
    fn location(&self) -> &str;

    /// The schema version (number of the last applied migration).
    fn schema_version(&self) -> Result<u32>;

    /// The per-install secret that keys credential fingerprints (HMAC-SHA256). Generated from
    /// the operating system's random source on the first call and returned unchanged after.
    fn install_key(&mut self) -> Result<[u8; 32]>;

    /// Records the start of a run and returns its id.
    fn begin_run(&mut self, start: &RunStart) -> Result<RunId>;

    /// Records what a run did. Fails for an unknown or already finished run.
    fn finish_run(&mut self, id: RunId, summary: &RunSummary) -> Result<()>;

    /// The `limit` most recent runs, newest first.
    fn list_runs(&self, limit: u32) -> Result<Vec<RunRecord>>;

    /// Keeps what `mode` says of each record, in one transaction, and advances the event-time
    /// watermark to the latest `observed_at` seen (in every mode). A record whose id is already
    /// stored is left unchanged. Values must already be redacted.
    fn write_exchanges(
        &mut self,
        exchanges: &[Exchange],
        mode: ExchangeStorage,
    ) -> Result<WriteReport>;

    /// Stored exchange rows.
    fn count_exchanges(&self) -> Result<u64>;

    /// Row counts of every table that holds data.
    fn counts(&self) -> Result<StoreCounts>;

    /// The latest `observed_at` ever passed to `write_exchanges`; "now" for retention.
    fn event_watermark(&self) -> Result<Option<Timestamp>>;

    /// Stores findings. A finding whose fingerprint matches an active (not resolved) stored
    /// finding is absorbed into it ([`Finding::absorb`]): count added, time range widened,
    /// evidence bounded; the stored id and status are kept. Otherwise it is inserted as is.
    fn upsert_findings(&mut self, findings: &[Finding]) -> Result<UpsertReport>;

    /// Findings matching `filter`, newest `last_seen` first, then by id.
    fn list_findings(&self, filter: &FindingFilter) -> Result<Vec<Finding>>;

    /// One finding with its status reason.
    fn get_finding(&self, id: &str) -> Result<Option<StoredFinding>>;

    /// Changes a finding's status (acknowledge, suppress, resolve, reopen), with a reason.
    fn set_finding_status(
        &mut self,
        id: &str,
        status: FindingStatus,
        reason: Option<&str>,
    ) -> Result<()>;

    /// Deletes bodies older than `policy.body_hours`, exchanges and detection events older
    /// than `policy.client_ip_days`, and clears the actor IP of findings last seen before that,
    /// with `now` as event time (normally [`Store::event_watermark`]).
    fn apply_retention(
        &mut self,
        now: Timestamp,
        policy: &RetentionPolicy,
    ) -> Result<RetentionReport>;

    /// Erases what is stored about a client IP (direct peer or resolved): exchanges, bodies,
    /// detection events whose actor IP it is or whose exchange is erased; scrubs findings.
    fn delete_by_ip(&mut self, ip: IpAddr) -> Result<PrivacyCounts>;

    /// Erases what is stored about an identity: a principal, consumer id or name, or
    /// credential fingerprint (exchanges, bodies, detection events whose actor identity it is
    /// or whose exchange is erased; scrubs findings).
    fn delete_by_identity(&mut self, identity: &str) -> Result<PrivacyCounts>;

    /// Everything stored about a client IP, as JSON objects: exchanges first (oldest first,
    /// `"record": "exchange"`), then detection events (oldest first, `"record": "event"`,
    /// the `gatewatch.event/1` record under `"event"`), then findings (`"record": "finding"`).
    fn export_by_ip(&self, ip: IpAddr) -> Result<Vec<serde_json::Value>>;

    /// Inserts or replaces inventory endpoints by id and deletes the `removed` ids, in one
    /// transaction. Refuses (and writes nothing of) a batch holding an empty id or a state that
    /// is not a JSON object.
    fn save_endpoints(
        &mut self,
        upserts: &[StoredEndpoint],
        removed: &[String],
    ) -> Result<InventoryWriteReport>;

    /// Stored inventory endpoints of `api` (every API for `None`), ordered by API, host,
    /// template, method.
    fn load_endpoints(&self, api: Option<&str>) -> Result<Vec<StoredEndpoint>>;

    /// Keeps an imported API description under `spec.name`, replacing an earlier one of that
    /// name. Returns whether one was replaced.
    fn save_spec(&mut self, spec: &StoredSpec) -> Result<bool>;

    /// Every stored API description, by name.
    fn load_specs(&self) -> Result<Vec<StoredSpec>>;

    /// Forgets the API description `name`; returns whether there was one.
    fn delete_spec(&mut self, name: &str) -> Result<bool>;

    /// Stores detection events, in one transaction, and returns how many exchanges had no
    /// event stored before. Idempotent per `exchange_id`: an event for an exchange already
    /// stored is merged into it as [`Event::merge`] does (detections united by
    /// `(rule_id, location)` keeping the higher confidence and the first fragment, alert ids
    /// united, known endpoint and actor fields kept). Refuses (and writes nothing of) a batch
    /// holding an empty exchange id, rule id, location, alert id or endpoint id, or a
    /// confidence outside 0..=1.
    fn write_events(&mut self, events: &[Event]) -> Result<u64>;

    /// Events matching `filter`, ordered by `observed_at` then `exchange_id`, each with its
    /// detections sorted by `(rule_id, location)` and its alert ids sorted.
    fn list_events(&self, filter: &EventFilter) -> Result<Vec<Event>>;

    /// How many events match `filter`, ignoring its `limit` and `offset`.
    fn count_events(&self, filter: &EventFilter) -> Result<u64>;

    /// Adds sensitive-field observations, in one transaction: per
    /// `(endpoint_id, location, field, kind, status_class)` counts are added, `first_seen`
    /// is the earliest, `last_seen` the latest and `sensitivity` the highest seen. Returns
    /// how many keys were new. Refuses (and writes nothing of) a batch holding an observation
    /// that [`SensitiveFieldObservation::problem`] rejects.
    fn merge_sensitive_fields(&mut self, observations: &[SensitiveFieldObservation])
    -> Result<u64>;

    /// Stored sensitive fields of one endpoint (every endpoint for `None`), ordered by
    /// endpoint id, location name, field, kind and status class (none first).
    fn list_sensitive_fields(&self, endpoint_id: Option<&str>)
    -> Result<Vec<StoredSensitiveField>>;

    /// Keeps a detector's opaque snapshot under `name`, replacing an earlier one, with the
    /// event time it covers. Refuses an empty name and a state above
    /// [`crate::MAX_DETECTOR_STATE_BYTES`] (256 MiB).
    fn save_detector_state(
        &mut self,
        name: &str,
        state: &[u8],
        watermark: Option<Timestamp>,
    ) -> Result<()>;

    /// The snapshot saved under `name` and its watermark, if any.
    fn load_detector_state(&self, name: &str) -> Result<Option<(Vec<u8>, Option<Timestamp>)>>;

    /// Runs one read-only SQL statement over the explorer views ([`crate::EXPLORER_VIEWS`],
    /// documented in docs/QUERY.md) and returns at most `max_rows` rows, with `truncated` set
    /// when there were more. Refuses, with [`StoreError::QueryRefused`], anything but a single
    /// SELECT over those views: writes, schema changes, PRAGMA, ATTACH, transactions, several
    /// statements, raw tables, and queries that run past the back-end's work bound.
    fn query(&self, sql: &str, max_rows: usize) -> Result<QueryResult>;
}

/// An imported API description, kept as its source text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredSpec {
    /// The API name (given at import, or the spec's title).
    pub name: String,
    /// Where it was imported from, as given.
    pub file: String,
    pub content: String,
    /// Wall-clock time of the import, read by the caller.
    pub imported_at: Timestamp,
}

/// Opens the store named by `--db` or the config: `sqlite://PATH`, `sqlite://:memory:`,
/// a plain path, or (not yet available) `postgres://…`.
pub fn open_store(url_or_path: &str) -> Result<Box<dyn Store>> {
    match parse_location(url_or_path)? {
        Location::SqliteMemory => Ok(Box::new(SqliteStore::open_in_memory()?)),
        Location::SqliteFile(path) => Ok(Box::new(SqliteStore::open(path)?)),
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Location<'a> {
    SqliteFile(&'a str),
    SqliteMemory,
}

fn parse_location(url_or_path: &str) -> Result<Location<'_>> {
    let unsupported = |reason: &str| StoreError::UnsupportedBackend {
        location: url_or_path.to_string(),
        reason: reason.to_string(),
    };
    let path = match url_or_path.split_once("://") {
        None => url_or_path,
        Some(("sqlite", path)) => path,
        Some(("postgres" | "postgresql", _)) => {
            return Err(unsupported(
                "the PostgreSQL back-end is not built yet; use a SQLite path or sqlite://PATH",
            ));
        }
        Some((scheme, _)) => {
            return Err(unsupported(&format!(
                "unknown store scheme `{scheme}://`; expected sqlite://PATH or a file path"
            )));
        }
    };
    match path {
        "" => Err(unsupported("the store path is empty")),
        ":memory:" => Ok(Location::SqliteMemory),
        path => Ok(Location::SqliteFile(path)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_choose_the_back_end() {
        assert_eq!(
            parse_location("gatewatch.db").unwrap(),
            Location::SqliteFile("gatewatch.db")
        );
        assert_eq!(
            parse_location("sqlite:///var/lib/gw.db").unwrap(),
            Location::SqliteFile("/var/lib/gw.db")
        );
        assert_eq!(
            parse_location("sqlite://:memory:").unwrap(),
            Location::SqliteMemory
        );
        assert_eq!(
            parse_location(DEFAULT_DB_PATH).unwrap(),
            Location::SqliteFile("./gatewatch.db")
        );
    }

    #[test]
    fn postgres_is_refused_clearly() {
        let err = parse_location("postgres://gw@db/gatewatch")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("postgres://gw@db/gatewatch: "), "{err}");
        assert!(
            err.contains("PostgreSQL back-end is not built yet"),
            "{err}"
        );
    }

    #[test]
    fn unknown_schemes_and_empty_paths_are_refused() {
        let err = parse_location("mysql://x").unwrap_err().to_string();
        assert!(err.contains("unknown store scheme `mysql://`"), "{err}");
        let err = parse_location("sqlite://").unwrap_err().to_string();
        assert!(err.contains("empty"), "{err}");
    }
}
