//! Gatewatch persistence: the [`Store`] trait and its embedded SQLite back-end.
//!
//! This crate owns what Gatewatch keeps between runs — ingest runs, short-lived exchange
//! metadata (and bodies when asked), findings, the API inventory, the install key and the
//! event-time watermark — plus the schema migrations and the retention and privacy jobs over
//! that data. One
//! [`Store`] trait fronts every back-end; [`open_store`] picks one from a URL or path, and the
//! [`store_conformance_suite!`] macro holds the behaviour every back-end must pass.
//!
//! It must not: decide what is stored beyond what callers pass (redaction happens upstream; the
//! store never sees a raw credential), read the wall clock (retention runs on the event time it
//! is given), or know about detectors, decoders or the CLI. It is synchronous and tokio-free.

mod error;
mod findings;
mod inventory;
mod privacy;
mod retention;
mod run;
mod sqlite;
mod store;

#[doc(hidden)]
pub mod conformance;

pub use error::{Result, StoreError};
pub use findings::{FindingFilter, MAX_EVIDENCE_EXCHANGE_IDS, StoredFinding, UpsertReport};
pub use inventory::{InventoryWriteReport, StoredEndpoint};
pub use privacy::PrivacyCounts;
pub use retention::{MAX_BODY_HOURS, MAX_CLIENT_IP_DAYS, RetentionPolicy, RetentionReport};
pub use run::{RunId, RunRecord, RunStart, RunSummary};
pub use sqlite::{SQLITE_SCHEMA_VERSION, SqliteStore};
pub use store::{
    DEFAULT_DB_PATH, ExchangeStorage, Store, StoreCounts, StoredSpec, WriteReport, open_store,
};
