//! Results of privacy requests (erasure by client IP or by identity).
//!
//! Erasure deletes the stored exchanges (and their bodies) and detection events of the data
//! subject. Findings are
//! security records and stay, but lose the subject's data: the matching actor field is cleared,
//! and evidence pointing at the deleted exchanges (ids and masked samples) is dropped.

use serde::{Deserialize, Serialize};

/// What an erasure request removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrivacyCounts {
    pub exchanges_deleted: u64,
    pub bodies_deleted: u64,
    /// Findings whose actor or evidence referred to the subject and were scrubbed.
    pub findings_redacted: u64,
    /// Detection events whose actor was the subject, or whose exchange was erased.
    pub events_deleted: u64,
}
