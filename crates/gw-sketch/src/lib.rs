//! Streaming primitives for Gatewatch's behavioural detection: event-time windows with a
//! watermark ([`EventClock`], [`Tumbling`], [`WindowCount`], [`SlidingCounter`]), EWMA mean and
//! variance ([`Ewma`]), robust seasonal baselines ([`SeasonalBaseline`], median/MAD/quantile
//! thresholds), distinct counts ([`HyperLogLog`]), frequencies ([`CountMinSketch`]), heavy
//! hitters ([`SpaceSaving`]), quantiles ([`DdSketch`]) a capacity-bounded LRU map with
//! event-time idle eviction ([`BoundedMap`]) and a capacity-bounded set of hashes ([`HashSet64`]).
//!
//! Everything here is pure and deterministic: no I/O, no wall clock (time is always the record
//! timestamp the caller passes, as Unix seconds), fixed hash seeds ([`stable_hash`]) so
//! sketches merge across processes, and serde state so detectors can snapshot. This crate
//! must not know about records, endpoints or findings; that is `gw-detect`.

mod baseline;
mod bounded_map;
mod bounded_set;
mod cms;
mod ddsketch;
mod error;
mod ewma;
mod hash;
mod hll;
mod topk;
mod window;

pub use baseline::{
    MAD_TO_SIGMA, RobustStats, SampleRing, Season, SeasonalBaseline, Threshold, ThresholdRule,
};
pub use bounded_map::{BoundedMap, Evicted};
pub use bounded_set::HashSet64;
pub use cms::CountMinSketch;
pub use ddsketch::{DdSketch, MIN_INDEXABLE};
pub use error::SketchError;
pub use ewma::Ewma;
pub use hash::{STABLE_SEED, mix64, stable_hash, stable_hash_parts};
pub use hll::HyperLogLog;
pub use topk::{HeavyHitter, SpaceSaving};
pub use window::{Admission, ClosedWindow, EventClock, SlidingCounter, Tumbling, WindowCount};
