//! Gatewatch exports: turns `gatewatch.finding/1` records into the formats security teams
//! consume, and findings into gateway blocklists.
//!
//! The format modules are pure, synchronous mappings from findings to bytes (plus one
//! size-rotated NDJSON file writer). [`delivery`] moves those bytes: a [`delivery::Dispatcher`]
//! with one worker thread and one bounded queue per configured sink, blocking I/O (`ureq`,
//! std sockets, rustls), retries with backoff and a dead-letter file, so nothing is dropped
//! silently. No async runtime. It never adds request content beyond what a finding already
//! holds: evidence samples arrive masked upstream and are copied as they are.
//!
//! Entry points:
//! * [`render_alerts`] / [`AlertFormat`] — what `gatewatch alerts --format …` prints.
//! * [`render_blocklist`], [`blocklist_from_findings`], [`BlocklistFormat`] — what
//!   `gatewatch blocklist export` prints.
//! * one module per format for sinks that need more control (batching, envelopes, framing).
//! * [`delivery::DeliveryConfig`] / [`delivery::Dispatcher`] — sinks that deliver findings.

mod alerts;
pub mod batch;
pub mod blocklist;
pub mod cef;
pub mod delivery;
pub mod ecs;
mod error;
pub mod filter;
pub mod ndjson;
pub mod ocsf;
mod producer;
pub mod sentinel;
pub mod splunk;
pub mod syslog;
mod taxonomy;
pub mod webhook;

pub use alerts::{AlertFormat, render_alerts};
pub use blocklist::{
    BlockEntry, BlockReason, BlocklistFormat, blocklist_from_findings, render_blocklist,
};
pub use error::ExportError;
pub use filter::SinkFilter;
pub use producer::Producer;
pub use taxonomy::{
    cef_severity, is_data_security, mitre_tactic_name, ocsf_severity_id, syslog_severity,
};

/// Result alias of this crate.
pub type Result<T, E = ExportError> = std::result::Result<T, E>;

#[cfg(test)]
mod test_support;
