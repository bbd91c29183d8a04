//! One module per CLI command.

pub mod alerts;
pub mod bench;
pub mod delivery;
pub mod demo;
pub mod events;
pub mod ingest;
pub mod inventory;
pub mod posture;
pub mod query;
pub mod serve;
pub mod simulate;
pub mod spec;
