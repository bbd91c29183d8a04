//! Gatewatch persistence: the [`Store`] trait and its embedded SQLite back-end.
//!
//! This crate owns what Gatewatch keeps between runs — ingest runs, short-lived exchange
//! metadata (and bodies when asked), findings, the API inventory, the install key and the
//! event-time watermark, detection events, sensitive fields, detector snapshots — plus the
//! read-only SQL explorer, the schema migrations and the retention and privacy jobs over
//! that data. One
//! [`Store`] trait fronts every back-end; [`open_store`] picks one from a URL or path, and the
//! [`store_conformance_suite!`] macro holds the behaviour every back-end must pass.
//!
//! It must not: decide what is stored beyond what callers pass (redaction happens upstream; the
//! store never sees a raw credential), read the wall clock (retention runs on the event time it
//! is given), or know about detectors, decoders or the CLI. It is synchronous and tokio-free.

mod detector_state;
mod error;
mod events;
mod explorer;
mod findings;
mod inventory;
mod privacy;
mod retention;
mod run;
mod sensitive;
mod sqlite;
mod store;

#[doc(hidden)]
pub mod conformance;

pub use detector_state::MAX_DETECTOR_STATE_BYTES;
pub use error::{Result, StoreError};
pub use events::EventFilter;
pub use explorer::{EXPLORER_VIEWS, QueryResult, SAVED_QUERIES, SavedQuery, saved_query};
pub use findings::{FindingFilter, MAX_EVIDENCE_EXCHANGE_IDS, StoredFinding, UpsertReport};
pub use inventory::{InventoryWriteReport, StoredEndpoint};
pub use privacy::PrivacyCounts;
pub use retention::{MAX_BODY_HOURS, MAX_CLIENT_IP_DAYS, RetentionPolicy, RetentionReport};
pub use run::{RunId, RunRecord, RunStart, RunSummary};
pub use sensitive::{
    MAX_SENSITIVITY, SensitiveFieldObservation, SensitiveLocation, StoredSensitiveField,
};
pub use sqlite::{DEFAULT_QUERY_STEP_LIMIT, SQLITE_SCHEMA_VERSION, SqliteStore};
pub use store::{
    DEFAULT_DB_PATH, ExchangeStorage, Store, StoreCounts, StoredSpec, WriteReport, open_store,
};
