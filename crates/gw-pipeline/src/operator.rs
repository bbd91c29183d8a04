//! The operator trait every pipeline stage implements.

use gw_model::{Event, Exchange, Finding};

use crate::ComponentMetrics;

/// Records travel in batches (hundreds to thousands), never one by one.
pub type Batch = Vec<Exchange>;

/// What an operator may produce besides the records it passes on.
#[derive(Debug, Default)]
pub struct OpContext {
    /// Findings raised while processing the batch.
    pub findings: Vec<Finding>,
    /// Detection events (one per record a per-record detector fired on).
    pub events: Vec<Event>,
}

/// A stage of the pipeline. Operators are synchronous and owned by one partition worker, so
/// they keep per-endpoint state without locks. An operator may enrich records in place, drop
/// them (and count it), and raise findings.
pub trait Operator: Send {
    /// Stable component name used in metrics and logs.
    fn name(&self) -> &'static str;

    /// Processes one batch in place.
    fn process(&mut self, batch: &mut Batch, ctx: &mut OpContext);

    /// Called once when the input ends (end of files, shutdown), to flush windows.
    fn finish(&mut self, _ctx: &mut OpContext) {}

    /// Called when a durability barrier passes the partition (see
    /// [`PartitionedRuntime::barrier`](crate::PartitionedRuntime::barrier)): an operator that
    /// holds findings back (open alert windows) hands out what it has so far, so that a
    /// long-running service stores alerts while they are still growing. Whatever it hands out
    /// must be safe to merge with what it hands out later for the same alert.
    fn on_barrier(&mut self, _ctx: &mut OpContext) {}

    /// This operator's counters.
    fn metrics(&self) -> ComponentMetrics;
}

/// Passes records on untouched. The runtime's default stage until discovery, classification
/// and detection plug in.
#[derive(Debug, Default)]
pub struct PassThrough {
    metrics: ComponentMetrics,
}

impl Operator for PassThrough {
    fn name(&self) -> &'static str {
        "pass_through"
    }

    fn process(&mut self, batch: &mut Batch, _ctx: &mut OpContext) {
        let n = batch.len() as u64;
        self.metrics.received += n;
        self.metrics.sent += n;
    }

    fn metrics(&self) -> ComponentMetrics {
        self.metrics
    }
}
