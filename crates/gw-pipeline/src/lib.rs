//! The Gatewatch runtime: records move in [`Batch`]es through [`Operator`]s, split into
//! partitions by API (host + base path) so that every partition's state is owned by one worker
//! thread and needs no locks. Channels are bounded, so a slow stage slows its producers instead
//! of buffering without limit.
//!
//! This crate also owns the two contracts every component shares: the rejects quarantine
//! ([`Reject`], [`RejectSink`]) and the component counters ([`ComponentMetrics`]).
//!
//! It must not know about input formats, detectors or storage engines: those plug in as
//! operators and sinks.

mod metrics;
mod operator;
mod partition;
mod reject;

pub use metrics::ComponentMetrics;
pub use operator::{Batch, OpContext, Operator, PassThrough};
pub use partition::{
    OperatorReport, PartitionKey, PartitionOutput, PartitionedRuntime, RuntimeConfig, partition_of,
};
pub use reject::{RawMasker, Reject, RejectCounts, RejectSink};
