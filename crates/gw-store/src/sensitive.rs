//! Sensitive fields: per endpoint and field, the kinds of sensitive data seen, how often, when,
//! and the highest sensitivity. Never a value.

use std::fmt;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// The highest [`SensitiveFieldObservation::sensitivity`] (critical).
pub const MAX_SENSITIVITY: u8 = 3;

/// Where in the exchange a sensitive field was seen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SensitiveLocation {
    Path,
    Query,
    Header,
    RequestBody,
    ResponseBody,
}

impl SensitiveLocation {
    pub const ALL: [SensitiveLocation; 5] = [
        SensitiveLocation::Path,
        SensitiveLocation::Query,
        SensitiveLocation::Header,
        SensitiveLocation::RequestBody,
        SensitiveLocation::ResponseBody,
    ];

    /// The stored and wire name (`request_body`).
    pub fn as_str(self) -> &'static str {
        match self {
            SensitiveLocation::Path => "path",
            SensitiveLocation::Query => "query",
            SensitiveLocation::Header => "header",
            SensitiveLocation::RequestBody => "request_body",
            SensitiveLocation::ResponseBody => "response_body",
        }
    }

    pub fn from_name(name: &str) -> Option<SensitiveLocation> {
        SensitiveLocation::ALL
            .into_iter()
            .find(|l| l.as_str() == name)
    }
}

impl fmt::Display for SensitiveLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Sightings of one kind of sensitive data in one field of one endpoint, as a classifier
/// reports them (usually aggregated over a batch). The key is
/// `(endpoint_id, location, field, kind, status_class)`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SensitiveFieldObservation {
    pub endpoint_id: String,
    pub location: SensitiveLocation,
    /// A body field path (`$.customer.email`), or a parameter or header name; empty when the
    /// classifier could not name the field (somewhere in `location`).
    pub field: String,
    /// The kind, snake_case: `email`, `credit_card`, `iban`, ...
    pub kind: String,
    /// The response status class (`2xx`) for response-side sightings; `None` otherwise.
    #[serde(default)]
    pub status_class: Option<String>,
    /// Sightings; at least 1.
    pub count: u64,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    /// 0 low, 1 medium, 2 high, 3 critical.
    pub sensitivity: u8,
}

/// A sensitive field as stored: the sum of every observation merged under its key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredSensitiveField {
    pub endpoint_id: String,
    pub location: SensitiveLocation,
    pub field: String,
    pub kind: String,
    pub status_class: Option<String>,
    /// Sum of the merged counts.
    pub count: u64,
    /// Earliest `first_seen` merged.
    pub first_seen: Timestamp,
    /// Latest `last_seen` merged.
    pub last_seen: Timestamp,
    /// Highest sensitivity merged.
    pub sensitivity: u8,
}

impl SensitiveFieldObservation {
    /// Why the store refuses this observation, if it does.
    pub fn problem(&self) -> Option<String> {
        let key = || {
            format!(
                "sensitive field {:?} {} {:?} ({})",
                self.endpoint_id, self.location, self.field, self.kind
            )
        };
        if self.endpoint_id.is_empty() || self.kind.is_empty() {
            return Some(format!("{}: endpoint_id and kind must not be empty", key()));
        }
        if let Some(class) = &self.status_class
            && !is_status_class(class)
        {
            return Some(format!(
                "{}: status_class {class:?} is not one of 1xx, 2xx, 3xx, 4xx, 5xx",
                key()
            ));
        }
        if self.sensitivity > MAX_SENSITIVITY {
            return Some(format!(
                "{}: sensitivity {} is above the maximum {MAX_SENSITIVITY} (critical)",
                key(),
                self.sensitivity
            ));
        }
        if self.count == 0 {
            return Some(format!("{}: count is 0", key()));
        }
        if self.first_seen > self.last_seen {
            return Some(format!(
                "{}: first_seen {} is after last_seen {}",
                key(),
                self.first_seen,
                self.last_seen
            ));
        }
        None
    }
}

fn is_status_class(class: &str) -> bool {
    matches!(class.as_bytes(), [b'1'..=b'5', b'x', b'x'])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs() -> SensitiveFieldObservation {
        SensitiveFieldObservation {
            endpoint_id: "ep_1".into(),
            location: SensitiveLocation::ResponseBody,
            field: "$.email".into(),
            kind: "email".into(),
            status_class: Some("2xx".into()),
            count: 1,
            first_seen: Timestamp::from_second(10).unwrap(),
            last_seen: Timestamp::from_second(10).unwrap(),
            sensitivity: 2,
        }
    }

    #[test]
    fn location_names_match_serde() {
        for l in SensitiveLocation::ALL {
            assert_eq!(serde_json::to_value(l).unwrap(), l.as_str());
            assert_eq!(SensitiveLocation::from_name(l.as_str()), Some(l));
        }
    }

    #[test]
    fn bad_observations_name_their_problem() {
        assert_eq!(obs().problem(), None);
        let mut o = obs();
        o.status_class = Some("200".into());
        assert!(o.problem().unwrap().contains("status_class \"200\""));
        let mut o = obs();
        o.sensitivity = 4;
        assert!(o.problem().unwrap().contains("sensitivity 4"));
        let mut o = obs();
        o.first_seen = Timestamp::from_second(11).unwrap();
        assert!(o.problem().unwrap().contains("after last_seen"));
        let mut o = obs();
        o.kind.clear();
        assert!(o.problem().unwrap().contains("must not be empty"));
        let mut o = obs();
        o.field.clear();
        assert_eq!(o.problem(), None, "an unnamed field is allowed");
        let mut o = obs();
        o.count = 0;
        assert!(o.problem().unwrap().contains("count is 0"));
    }
}
