//! The Gatewatch server (`gatewatch serve`): authenticated HTTP ingest endpoints in front of the
//! pipeline, with an on-disk spool so that every acknowledged batch survives a crash, bounded
//! queues that answer 429/503 instead of buffering without limit, Prometheus metrics and
//! health probes; the `/v1` read API over inventory, findings and alerts (through a
//! [`ReadStore`]) with its OpenAPI 3.1 document at `/v1/openapi.json`; HTTPS with rustls when
//! `server.tls` is configured.
//!
//! This crate owns the HTTP surface, tokens, rate limits, the spool and its replay. It decodes
//! bodies with `gw-ingest` and hands the records to a [`RecordSink`]; it must not know what the
//! pipeline does with them (the binary implements the sink), and it never keeps a token secret,
//! only its SHA-256.

mod api;
pub mod auth;
mod config;
mod decode;
mod error;
mod http;
pub mod metrics;
mod openapi;
mod read;
pub mod spool;
mod tls;

pub use api::{
    DEFAULT_LIMIT, ENDPOINT_DETAIL_FINDINGS, MAX_LIMIT, MAX_REASON_CHARS, StatusAction,
    StatusChange,
};
pub use config::{Scope, ServerConfig, TokenConfig};
pub use decode::{Endpoint, MAX_REPORTED_REJECTS, RejectReport};
pub use error::{ApiError, ServerError};
pub use http::{ServeReport, Server, shutdown_signal};
pub use openapi::{documented_operations, openapi_document};
pub use read::{EndpointFilter, FindingQuery, ReadStore};
pub use tls::TlsConfig;

use gw_model::{Exchange, SourceKind};

/// Records of one acknowledged request, in the order they were decoded.
#[derive(Clone, Debug, PartialEq)]
pub struct Batch {
    /// Spool sequence number: batches reach the sink in increasing order.
    pub seq: u64,
    /// The token that sent it.
    pub token_id: String,
    pub source: SourceKind,
    pub records: Vec<Exchange>,
}

/// A batch the sink could not take, handed back so it can be retried.
#[derive(Debug)]
pub struct SinkFailure {
    pub batch: Batch,
    pub reason: String,
}

/// Where acknowledged batches go: the pipeline. Called from one dedicated thread, in sequence
/// order, so an implementation may block while its pipeline is busy (the server keeps
/// acknowledging into its bounded queue meanwhile, and answers 429 once that is full).
pub trait RecordSink: Send + Sync + 'static {
    /// Takes one batch, or hands it back with the reason it cannot (it is retried).
    fn submit(&self, batch: Batch) -> Result<(), SinkFailure>;

    /// The highest sequence number up to which every submitted batch is durable downstream
    /// (stored): spool entries up to it are committed and never replayed. 0 = none yet.
    fn durable_through(&self) -> u64;

    /// Called once at shutdown after the last submit: returns when everything submitted is
    /// durable (or failed for good).
    fn drain(&self) -> Result<(), String>;

    /// Appends the sink's own Prometheus series to `/metrics`, in the text exposition format
    /// (`# HELP` / `# TYPE` lines, then samples; names prefixed `gatewatch_`, not clashing with
    /// the server's own). The server already renders ingest counts by source and endpoint,
    /// rejects by reason, the ingest queue depth (`gatewatch_ingest_queue_batches`), spool
    /// pending bytes, the lag in batches (`gatewatch_pipeline_lag_batches`) and the read API's
    /// store time. The pipeline should render what only it knows:
    ///
    /// - `gatewatch_alerts_raised_total{rule="GW-T-SQLI",severity="high"}` (counter): new
    ///   threat findings stored, by rule id and severity (absorbed repeats not counted);
    /// - `gatewatch_findings_raised_total{kind="posture",rule="..."}` (counter), likewise for
    ///   the other finding kinds;
    /// - `gatewatch_pipeline_event_lag_seconds` (gauge): wall-clock now minus the newest
    ///   `observed_at` stored (the store's event watermark), i.e. how far behind real time the
    ///   stored data is;
    /// - `gatewatch_pipeline_queue_records` (gauge): records taken by `submit` and not yet
    ///   stored (the pipeline's own queue, after the server's);
    /// - `gatewatch_store_write_seconds` (summary or histogram) and
    ///   `gatewatch_records_stored_total` / `gatewatch_records_duplicate_total` (counters).
    ///
    /// Called on every scrape from an HTTP worker: it must not block on the pipeline (read
    /// atomics or a snapshot).
    fn render_metrics(&self, _out: &mut String) {}
}

pub use auth::hash_token;
