//! Limits of detector state snapshots (behavioral baselines kept across restarts).

/// The largest detector state the store accepts: 256 MiB. A detector whose snapshot grows
/// past this has an unbounded baseline, which is a bug to fix there, not here.
pub const MAX_DETECTOR_STATE_BYTES: usize = 256 * 1024 * 1024;
