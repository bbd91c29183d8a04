//! The embedded back-end: one SQLite file in WAL mode.

mod detector_state;
mod events;
mod exchanges;
mod explorer;
mod findings;
mod inventory;
mod jobs;
mod migrate;
mod runs;
mod sensitive;
mod settings;
mod specs;
mod text;

use std::cell::OnceCell;
use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use gw_model::{Event, Exchange, Finding, FindingStatus};
use jiff::Timestamp;
use rusqlite::{Connection, OpenFlags};

use crate::error::{Result, StoreError};
use crate::events::EventFilter;
use crate::explorer::QueryResult;
use crate::findings::{FindingFilter, StoredFinding, UpsertReport};
use crate::inventory::{InventoryWriteReport, StoredEndpoint};
use crate::privacy::PrivacyCounts;
use crate::retention::{RetentionPolicy, RetentionReport};
use crate::run::{RunId, RunRecord, RunStart, RunSummary};
use crate::sensitive::{SensitiveFieldObservation, StoredSensitiveField};
use crate::store::{ExchangeStorage, Store, StoreCounts, StoredSpec, WriteReport};

pub use explorer::DEFAULT_QUERY_STEP_LIMIT;
pub use migrate::SQLITE_SCHEMA_VERSION;

/// How long a writer waits for another process's lock before failing with "database is locked".
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Page size of new database files (bytes); an existing file keeps the size it was made with.
const PAGE_SIZE: i64 = 16_384;

/// The embedded store. One connection, used from one thread at a time, plus a read-only
/// connection for explorer queries, opened on the first [`Store::query`].
pub struct SqliteStore {
    conn: Connection,
    location: String,
    /// What the explorer connection opens: the file path, or the `file:` URI of the shared
    /// in-memory database.
    explorer_path: String,
    explorer: OnceCell<explorer::Explorer>,
    query_step_limit: u64,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database file at `path`: WAL journal, `synchronous =
    /// NORMAL`, a busy timeout, foreign keys on, and the schema migrated to the latest version.
    pub fn open(path: impl AsRef<Path>) -> Result<SqliteStore> {
        let location = path.as_ref().display().to_string();
        let conn = Connection::open(path.as_ref()).map_err(|source| StoreError::Open {
            location: location.clone(),
            source,
        })?;
        let explorer_path = path.as_ref().display().to_string();
        SqliteStore::configure(conn, location, explorer_path, true)
    }

    /// A private database that lives as long as this value; for tests and `--db :memory:`.
    ///
    /// It is a uniquely named shared-cache in-memory database, so that the explorer's
    /// read-only connection sees the same data; nothing else knows its name.
    pub fn open_in_memory() -> Result<SqliteStore> {
        let location = "sqlite://:memory:".to_string();
        let mut name = [0u8; 16];
        getrandom::fill(&mut name).map_err(|e| StoreError::Random {
            location: location.clone(),
            detail: e.to_string(),
        })?;
        let name: String = name.iter().map(|b| format!("{b:02x}")).collect();
        let uri = format!("file:gatewatch-{name}?mode=memory&cache=shared");
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&uri, flags).map_err(|source| StoreError::Open {
            location: location.clone(),
            source,
        })?;
        SqliteStore::configure(conn, location, uri, false)
    }

    fn configure(
        mut conn: Connection,
        location: String,
        explorer_path: String,
        file: bool,
    ) -> Result<SqliteStore> {
        let open_failed = |source| StoreError::Open {
            location: location.clone(),
            source,
        };
        conn.busy_timeout(BUSY_TIMEOUT).map_err(open_failed)?;
        if file {
            // Before WAL is on, so that a new file takes it. SQLite writes each dirty page to
            // the WAL with its own write calls: with 4 KiB pages the store writer spent 4.7 µs
            // of its 11.4 µs per record in the kernel under `serve` load, 3.6 µs with 16 KiB.
            conn.pragma_update(None, "page_size", PAGE_SIZE)
                .map_err(open_failed)?;
            let mode: String = conn
                .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
                .map_err(open_failed)?;
            if !mode.eq_ignore_ascii_case("wal") {
                return Err(StoreError::Conflict {
                    location,
                    operation: "open",
                    detail: format!(
                        "cannot switch the journal to WAL (the file system left it at `{mode}`)"
                    ),
                });
            }
        }
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(open_failed)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(open_failed)?;
        migrate::migrate(&mut conn, &location)?;
        Ok(SqliteStore {
            conn,
            location,
            explorer_path,
            explorer: OnceCell::new(),
            query_step_limit: DEFAULT_QUERY_STEP_LIMIT,
        })
    }

    /// Sets the work bound of explorer queries, in SQLite VM steps (default
    /// [`DEFAULT_QUERY_STEP_LIMIT`]); a query past it is refused. Applies to queries run after
    /// this call.
    pub fn set_query_step_limit(&mut self, steps: u64) {
        self.query_step_limit = steps.max(1);
        self.explorer = OnceCell::new();
    }

    fn explorer(&self) -> Result<&explorer::Explorer> {
        if let Some(explorer) = self.explorer.get() {
            return Ok(explorer);
        }
        let opened =
            explorer::Explorer::open(&self.explorer_path, &self.location, self.query_step_limit)?;
        Ok(self.explorer.get_or_init(|| opened))
    }
}

impl Store for SqliteStore {
    fn location(&self) -> &str {
        &self.location
    }

    fn schema_version(&self) -> Result<u32> {
        migrate::current_version(&self.conn, Ctx::new(&self.location, "schema_version"))
    }

    fn install_key(&mut self) -> Result<[u8; 32]> {
        settings::install_key(&mut self.conn, &self.location)
    }

    fn begin_run(&mut self, start: &RunStart) -> Result<RunId> {
        runs::begin(&self.conn, &self.location, start)
    }

    fn finish_run(&mut self, id: RunId, summary: &RunSummary) -> Result<()> {
        runs::finish(&mut self.conn, &self.location, id, summary)
    }

    fn list_runs(&self, limit: u32) -> Result<Vec<RunRecord>> {
        runs::list(&self.conn, &self.location, limit)
    }

    fn write_exchanges(
        &mut self,
        exchanges: &[Exchange],
        mode: ExchangeStorage,
    ) -> Result<WriteReport> {
        exchanges::write(&mut self.conn, &self.location, exchanges, mode)
    }

    fn count_exchanges(&self) -> Result<u64> {
        Ok(self.counts()?.exchanges)
    }

    fn counts(&self) -> Result<StoreCounts> {
        settings::counts(&self.conn, &self.location)
    }

    fn event_watermark(&self) -> Result<Option<Timestamp>> {
        settings::event_watermark(&self.conn, &self.location)
    }

    fn upsert_findings(&mut self, findings: &[Finding]) -> Result<UpsertReport> {
        findings::upsert(&mut self.conn, &self.location, findings)
    }

    fn list_findings(&self, filter: &FindingFilter) -> Result<Vec<Finding>> {
        findings::list(&self.conn, &self.location, filter)
    }

    fn get_finding(&self, id: &str) -> Result<Option<StoredFinding>> {
        findings::get(&self.conn, &self.location, id)
    }

    fn set_finding_status(
        &mut self,
        id: &str,
        status: FindingStatus,
        reason: Option<&str>,
    ) -> Result<()> {
        findings::set_status(&mut self.conn, &self.location, id, status, reason)
    }

    fn apply_retention(
        &mut self,
        now: Timestamp,
        policy: &RetentionPolicy,
    ) -> Result<RetentionReport> {
        jobs::apply_retention(&mut self.conn, &self.location, now, policy)
    }

    fn delete_by_ip(&mut self, ip: IpAddr) -> Result<PrivacyCounts> {
        jobs::erase(
            &mut self.conn,
            &self.location,
            jobs::Subject::Ip(&ip.to_string()),
        )
    }

    fn delete_by_identity(&mut self, identity: &str) -> Result<PrivacyCounts> {
        jobs::erase(
            &mut self.conn,
            &self.location,
            jobs::Subject::Identity(identity),
        )
    }

    fn export_by_ip(&self, ip: IpAddr) -> Result<Vec<serde_json::Value>> {
        jobs::export_by_ip(&self.conn, &self.location, &ip.to_string())
    }

    fn save_endpoints(
        &mut self,
        upserts: &[StoredEndpoint],
        removed: &[String],
    ) -> Result<InventoryWriteReport> {
        inventory::save(&mut self.conn, &self.location, upserts, removed)
    }

    fn load_endpoints(&self, api: Option<&str>) -> Result<Vec<StoredEndpoint>> {
        inventory::load(&self.conn, &self.location, api)
    }

    fn save_spec(&mut self, spec: &StoredSpec) -> Result<bool> {
        specs::save(&self.conn, &self.location, spec)
    }

    fn load_specs(&self) -> Result<Vec<StoredSpec>> {
        specs::load(&self.conn, &self.location)
    }

    fn delete_spec(&mut self, name: &str) -> Result<bool> {
        specs::delete(&self.conn, &self.location, name)
    }

    fn write_events(&mut self, events: &[Event]) -> Result<u64> {
        events::write(&mut self.conn, &self.location, events)
    }

    fn list_events(&self, filter: &EventFilter) -> Result<Vec<Event>> {
        events::list(&self.conn, &self.location, filter)
    }

    fn count_events(&self, filter: &EventFilter) -> Result<u64> {
        events::count(&self.conn, &self.location, filter)
    }

    fn merge_sensitive_fields(
        &mut self,
        observations: &[SensitiveFieldObservation],
    ) -> Result<u64> {
        sensitive::merge(&mut self.conn, &self.location, observations)
    }

    fn list_sensitive_fields(
        &self,
        endpoint_id: Option<&str>,
    ) -> Result<Vec<StoredSensitiveField>> {
        sensitive::list(&self.conn, &self.location, endpoint_id)
    }

    fn save_detector_state(
        &mut self,
        name: &str,
        state: &[u8],
        watermark: Option<Timestamp>,
    ) -> Result<()> {
        detector_state::save(&self.conn, &self.location, name, state, watermark)
    }

    fn load_detector_state(&self, name: &str) -> Result<Option<(Vec<u8>, Option<Timestamp>)>> {
        detector_state::load(&self.conn, &self.location, name)
    }

    fn query(&self, sql: &str, max_rows: usize) -> Result<QueryResult> {
        self.explorer()?.query(&self.location, sql, max_rows)
    }
}

/// The database and operation an error happened in; turns low-level errors into
/// [`StoreError`]s that name both.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ctx<'a> {
    pub location: &'a str,
    pub operation: &'static str,
}

impl<'a> Ctx<'a> {
    pub fn new(location: &'a str, operation: &'static str) -> Self {
        Ctx {
            location,
            operation,
        }
    }

    pub fn sql(self, source: rusqlite::Error) -> StoreError {
        StoreError::Sqlite {
            location: self.location.to_string(),
            operation: self.operation,
            source,
        }
    }

    pub fn corrupt(self, what: impl Into<String>, detail: impl ToString) -> StoreError {
        StoreError::Corrupt {
            location: self.location.to_string(),
            operation: self.operation,
            what: what.into(),
            detail: detail.to_string(),
        }
    }

    pub fn encode(self, what: impl Into<String>, source: serde_json::Error) -> StoreError {
        StoreError::Encode {
            location: self.location.to_string(),
            operation: self.operation,
            what: what.into(),
            source,
        }
    }

    pub fn not_found(self, what: impl Into<String>) -> StoreError {
        StoreError::NotFound {
            location: self.location.to_string(),
            operation: self.operation,
            what: what.into(),
        }
    }

    pub fn conflict(self, detail: impl Into<String>) -> StoreError {
        StoreError::Conflict {
            location: self.location.to_string(),
            operation: self.operation,
            detail: detail.into(),
        }
    }

    pub fn invalid_record(self, detail: impl Into<String>) -> StoreError {
        StoreError::InvalidRecord {
            location: self.location.to_string(),
            operation: self.operation,
            detail: detail.into(),
        }
    }

    /// A stored microsecond count back to a timestamp.
    pub fn timestamp_us(self, what: &str, us: i64) -> Result<Timestamp> {
        Timestamp::from_microsecond(us).map_err(|e| self.corrupt(what, e))
    }

    /// A stored RFC 3339 text back to a timestamp.
    pub fn timestamp_text(self, what: &str, text: &str) -> Result<Timestamp> {
        text.parse::<Timestamp>()
            .map_err(|e| self.corrupt(what, format!("{text:?}: {e}")))
    }
}

/// SQLite integers are signed; counts and sizes above `i64::MAX` saturate.
pub(crate) fn to_sql_int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Stored counts are never negative; a negative one is treated as zero.
pub(crate) fn from_sql_int(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}
