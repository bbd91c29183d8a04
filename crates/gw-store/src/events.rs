//! Detection event queries (`gatewatch.event/1` records are defined in gw-model).

use std::net::IpAddr;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// Which detection events to list or count. Every `None` matches everything; set fields must
/// all match.
///
/// Results are ordered by `observed_at`, then `exchange_id`, so pages are stable.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EventFilter {
    /// Events that fed this alert (finding id).
    pub alert_id: Option<String>,
    /// Events with at least one detection of this rule.
    pub rule_id: Option<String>,
    /// Events whose actor IP is this address.
    pub ip: Option<IpAddr>,
    /// Events whose actor identity is exactly this.
    pub identity: Option<String>,
    pub endpoint_id: Option<String>,
    /// Observed at or after this instant.
    pub since: Option<Timestamp>,
    /// Observed strictly before this instant.
    pub until: Option<Timestamp>,
    /// At most this many events; `None` for all. `count_events` ignores it.
    pub limit: Option<u32>,
    /// Skip this many events first. `count_events` ignores it.
    pub offset: u32,
}
