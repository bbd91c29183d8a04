//! The counters every component reports (Vector's component contract).

use serde::Serialize;

/// Counters of one component. A component never loses a record silently:
/// `received == sent + dropped + rejected` whenever it is idle.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ComponentMetrics {
    pub received: u64,
    pub sent: u64,
    /// Removed on purpose (filtering, sampling); counted, never silent.
    pub dropped: u64,
    /// Refused as invalid; each also lands in the rejects quarantine.
    pub rejected: u64,
    /// Internal failures (I/O, store); the records involved are also counted as rejected or dropped.
    pub errors: u64,
}

impl ComponentMetrics {
    pub fn merge(&mut self, other: &ComponentMetrics) {
        self.received += other.received;
        self.sent += other.sent;
        self.dropped += other.dropped;
        self.rejected += other.rejected;
        self.errors += other.errors;
    }

    /// Whether every received record is accounted for.
    pub fn is_balanced(&self) -> bool {
        self.received == self.sent + self.dropped + self.rejected
    }

    /// Test helper: panics with the counters when a component lost or invented records.
    pub fn assert_balanced(&self, component: &str) {
        assert!(
            self.is_balanced(),
            "{component}: received {} != sent {} + dropped {} + rejected {}",
            self.received,
            self.sent,
            self.dropped,
            self.rejected
        );
    }
}
