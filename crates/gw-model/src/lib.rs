//! Canonical Gatewatch types: the traffic record `gatewatch.exchange/1`, the finding record
//! `gatewatch.finding/1`, severities and the OWASP API Top 10 (2023) / MITRE ATT&CK mappings.
//!
//! This crate is the narrow waist of the workspace: every input format is turned into an
//! [`Exchange`] at the edge, and every detector or posture rule produces a [`Finding`]. It does
//! no I/O and knows nothing about gateways, stores or transports. `../shared/FORMATS.md` is the
//! contract; the serde attributes here are its source of truth.

mod event;
mod exchange;
mod finding;
mod name;
mod taxonomy;

pub use event::*;
pub use exchange::*;
pub use finding::*;
pub use name::Name;
pub use taxonomy::*;

/// JSON Schema (draft 2020-12) of a type, as printed by `gatewatch schema`.
pub fn json_schema<T: schemars::JsonSchema>() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(T)).expect("a JSON schema always serializes")
}
