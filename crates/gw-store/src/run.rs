//! Ingest runs: one row per CLI run that fed records into the store.

use std::collections::BTreeMap;
use std::fmt;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// The store-assigned id of a run; increases with every `begin_run`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RunId(pub i64);

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "run {}", self.0)
    }
}

/// What a run was asked to do. `started_at` is the wall clock, read by the caller.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunStart {
    /// The CLI command, e.g. `ingest`.
    pub command: String,
    /// Input names as given: paths, URLs, `-` for stdin.
    pub inputs: Vec<String>,
    pub started_at: Timestamp,
}

/// What became of a run's input. `finished_at` is the wall clock, read by the caller;
/// `first_event` / `last_event` are event time.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunSummary {
    pub finished_at: Timestamp,
    pub records_read: u64,
    pub accepted: u64,
    /// Rejected records by reason (`parse_error`, `too_large`, ...), sorted by reason.
    pub rejected_by_reason: BTreeMap<String, u64>,
    /// Input bytes read.
    pub bytes: u64,
    pub elapsed_ms: u64,
    /// Findings produced or updated by the run.
    pub findings: u64,
    pub first_event: Option<Timestamp>,
    pub last_event: Option<Timestamp>,
}

impl RunSummary {
    /// All rejected records, whatever the reason.
    pub fn rejected(&self) -> u64 {
        self.rejected_by_reason.values().sum()
    }
}

/// A run as stored: its start, and its summary once finished.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRecord {
    pub id: RunId,
    pub start: RunStart,
    /// `None` while the run is in progress or when it was interrupted.
    pub summary: Option<RunSummary>,
}
