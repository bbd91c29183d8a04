//! Finding queries and the stable names the store writes for finding enums.

use gw_model::{Finding, FindingKind, FindingStatus, Severity};
use serde::{Deserialize, Serialize};

/// At most this many evidence exchange ids are kept on a finding as it absorbs repeated hits.
pub const MAX_EVIDENCE_EXCHANGE_IDS: usize = 20;

/// Which findings to list. Every `None` matches everything.
///
/// Results are ordered by `last_seen` (newest first), then by `id`, so pages are stable.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindingFilter {
    pub kind: Option<FindingKind>,
    /// This severity or higher.
    pub min_severity: Option<Severity>,
    pub rule_id: Option<String>,
    pub status: Option<FindingStatus>,
    /// At most this many findings; `None` for all.
    pub limit: Option<u32>,
    /// Skip this many findings first.
    pub offset: u32,
}

/// A finding with what the store knows about it beyond the record itself.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StoredFinding {
    pub finding: Finding,
    /// Why a person last changed the status (`false positive: load test`), if they said.
    pub status_reason: Option<String>,
}

/// What one `upsert_findings` call did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpsertReport {
    /// Findings stored as new.
    pub inserted: u64,
    /// Findings folded into an active finding with the same fingerprint.
    pub absorbed: u64,
}

pub(crate) fn kind_name(kind: FindingKind) -> &'static str {
    match kind {
        FindingKind::Threat => "threat",
        FindingKind::Posture => "posture",
        FindingKind::Inventory => "inventory",
    }
}

/// Severity as an integer that orders like [`Severity`], for `>=` in SQL.
pub(crate) fn severity_rank(severity: Severity) -> i64 {
    match severity {
        Severity::Info => 0,
        Severity::Low => 1,
        Severity::Medium => 2,
        Severity::High => 3,
        Severity::Critical => 4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_the_wire_format() {
        for kind in [
            FindingKind::Threat,
            FindingKind::Posture,
            FindingKind::Inventory,
        ] {
            let wire = serde_json::to_value(kind).unwrap();
            assert_eq!(wire, kind_name(kind));
        }
        for status in [
            FindingStatus::Open,
            FindingStatus::Acknowledged,
            FindingStatus::Suppressed,
            FindingStatus::Resolved,
        ] {
            assert_eq!(serde_json::to_value(status).unwrap(), status.as_str());
        }
    }

    #[test]
    fn ranks_order_like_severities() {
        for pair in Severity::ALL.windows(2) {
            assert!(severity_rank(pair[0]) < severity_rank(pair[1]));
        }
    }
}
