//! Stored API inventory endpoints.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// One inventory endpoint as the store keeps it: identity and ordering columns plus the
/// inventory's own state as a JSON object, which the store keeps verbatim (gw-discover owns
/// its shape).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StoredEndpoint {
    /// Stable endpoint id; a save with an existing id replaces the row.
    pub id: String,
    /// The API (group) the endpoint belongs to, the `load_endpoints` filter.
    pub api: String,
    pub host: String,
    pub method: String,
    pub template: String,
    /// Event time of the first and last call; `None` for an endpoint never called.
    pub first_seen: Option<Timestamp>,
    pub last_seen: Option<Timestamp>,
    pub calls: u64,
    /// The complete inventory state; must be a JSON object.
    pub state: serde_json::Value,
}

/// What one `save_endpoints` call did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InventoryWriteReport {
    /// Rows inserted or replaced.
    pub upserted: u64,
    /// Rows deleted (ids that were not stored are not counted).
    pub removed: u64,
}
