//! The Gatewatch server (`gatewatch serve`): authenticated HTTP ingest endpoints in front of the
//! pipeline, with an on-disk spool so that every acknowledged batch survives a crash, bounded
//! queues that answer 429/503 instead of buffering without limit, Prometheus metrics and
//! health probes.
//!
//! This crate owns the HTTP surface, tokens, rate limits, the spool and its replay. It decodes
//! bodies with `gw-ingest` and hands the records to a [`RecordSink`]; it must not know what the
//! pipeline does with them (the binary implements the sink), and it never keeps a token secret,
//! only its SHA-256.

pub mod auth;
mod config;
mod decode;
mod error;
mod http;
pub mod metrics;
pub mod spool;

pub use config::{Scope, ServerConfig, TokenConfig};
pub use decode::{Endpoint, MAX_REPORTED_REJECTS, RejectReport};
pub use error::{ApiError, ServerError};
pub use http::{ServeReport, Server, shutdown_signal};

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

    /// Appends the sink's own Prometheus series (alerts by rule, store latency...) to `/metrics`.
    fn render_metrics(&self, _out: &mut String) {}
}

pub use auth::hash_token;
