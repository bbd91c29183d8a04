//! The one error type of the crate. Messages name the input (file, finding id, field), the
//! place and the reason.

use std::path::PathBuf;

/// Why an export could not be produced.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// Reading, writing or renaming an export file failed.
    #[error("{path}: {action}: {source}", path = path.display())]
    Io {
        path: PathBuf,
        action: &'static str,
        #[source]
        source: std::io::Error,
    },
    /// Writing to a caller-supplied writer failed.
    #[error("writing {format} output: {source}")]
    Write {
        format: &'static str,
        #[source]
        source: std::io::Error,
    },
    /// A record could not be serialized to JSON.
    #[error("finding {finding_id}: serializing as {format}: {source}")]
    Json {
        finding_id: String,
        format: &'static str,
        #[source]
        source: serde_json::Error,
    },
    /// One record is larger than a sink's per-request limit, so no batch can carry it.
    #[error(
        "finding {finding_id}: {format} record is {size} bytes, larger than the {limit}-byte request limit"
    )]
    RecordTooLarge {
        finding_id: String,
        format: &'static str,
        size: usize,
        limit: usize,
    },
    /// A syslog header field breaks RFC 5424 (length or character set).
    #[error("syslog {field} {value:?}: {reason}")]
    InvalidSyslogField {
        field: &'static str,
        value: String,
        reason: String,
    },
    /// The blocklist format cannot express an empty list and there is nothing to block.
    #[error(
        "blocklist format {format}: no unexpired entries to render, and an empty {format} list is rejected by the gateway"
    )]
    EmptyBlocklist { format: &'static str },
    /// An unknown format name was asked for.
    #[error("unknown {what} format {name:?}; expected one of: {expected}")]
    UnknownFormat {
        what: &'static str,
        name: String,
        expected: &'static str,
    },
    /// A webhook signature header is missing, malformed, stale or does not match.
    #[error("webhook signature: {reason}")]
    WebhookSignature { reason: String },
    /// A delivery sink's configuration is invalid or its resources (dead-letter file, CA file,
    /// output file) cannot be set up.
    #[error("sink {sink:?}: {reason}")]
    SinkConfig { sink: String, reason: String },
    /// A shared delivery dispatcher was closed while other handles still held it.
    #[error(
        "cannot close the delivery sinks: {others} other handle(s) to the dispatcher are still alive; close it after every session using it has finished, or its queues are drained later, unreported, when the last handle is dropped"
    )]
    DispatcherInUse { others: usize },
    /// A dead-letter file changed under a replay in a way the replay cannot merge.
    #[error("{path}: {reason}", path = path.display())]
    DeadLetterChanged { path: PathBuf, reason: String },
}

impl ExportError {
    pub(crate) fn json(finding_id: &str, format: &'static str, source: serde_json::Error) -> Self {
        ExportError::Json {
            finding_id: finding_id.to_string(),
            format,
            source,
        }
    }
}
