//! The detection event record `gatewatch.event/1`: one per record on which at least one
//! per-record detector fired, pointing at the alerts it fed.
//!
//! Findings summarise (one alert absorbs many hits); events keep the per-record detail an
//! analyst drills into: which record, which rule, where in the record, a masked fragment.
//! Events hold a client IP, so they live exactly as long as client IPs do.

use std::net::IpAddr;

use jiff::Timestamp;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The `schema` value of every detection event.
pub const EVENT_SCHEMA: &str = "gatewatch.event/1";

/// Per-record detections on one exchange, and the alerts (finding ids) they fed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Event {
    /// Always `gatewatch.event/1` (assumed when absent on input).
    #[serde(default = "event_schema")]
    pub schema: String,
    /// The `id` of the `gatewatch.exchange/1` record the detections fired on; one event per
    /// exchange.
    pub exchange_id: String,
    /// The record's `observed_at` (event time).
    pub observed_at: Timestamp,
    #[serde(default)]
    pub endpoint: Option<EventEndpoint>,
    #[serde(default)]
    pub actor: EventActor,
    /// Sorted by `(rule_id, location)`, at most one per pair.
    #[serde(default)]
    pub detections: Vec<Detection>,
    /// Ids of the findings (alerts) these detections were absorbed into; sorted, no duplicates.
    #[serde(default)]
    pub alert_ids: Vec<String>,
}

fn event_schema() -> String {
    EVENT_SCHEMA.to_string()
}

/// The inventory endpoint the record was routed to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EventEndpoint {
    pub id: String,
    pub host: String,
    pub method: String,
    pub template: String,
}

/// Who sent the record.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EventActor {
    /// The actor IP: the resolved client IP, else the direct peer.
    #[serde(default)]
    pub ip: Option<IpAddr>,
    /// Principal, consumer or credential fingerprint, as on the finding's actor.
    #[serde(default)]
    pub identity: Option<String>,
    #[serde(default)]
    pub user_agent: Option<String>,
}

/// One rule that fired at one place of the record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Detection {
    /// Stable rule id, e.g. `GW-T-SQLI`.
    pub rule_id: String,
    /// Where in the record: `query:id`, `body:$.comment`, `header:user-agent`, `path`.
    pub location: String,
    /// The matching fragment, masked; never a raw credential.
    #[serde(default)]
    pub fragment: Option<String>,
    /// The detector's confidence, 0.0 to 1.0.
    pub confidence: f64,
}

impl Event {
    /// An event for `exchange_id` with no endpoint, actor, detections or alerts yet.
    pub fn new(exchange_id: impl Into<String>, observed_at: Timestamp) -> Self {
        Event {
            schema: EVENT_SCHEMA.to_string(),
            exchange_id: exchange_id.into(),
            observed_at,
            endpoint: None,
            actor: EventActor::default(),
            detections: Vec::new(),
            alert_ids: Vec::new(),
        }
    }

    /// Folds another event of the same exchange into this one (records reach the store from
    /// more than one detector thread). Detections are united by `(rule_id, location)`: for a
    /// pair both sides have, the higher confidence wins and a fragment is kept if either side
    /// has one. Alert ids are united. Known endpoint and actor fields are kept; unknown ones
    /// are taken from `other`. The earlier `observed_at` is kept.
    ///
    /// The result is the same whatever order the events arrive in, except for which fragment
    /// survives when both sides carry a different one (this side's).
    pub fn merge(&mut self, other: Event) {
        debug_assert_eq!(
            self.exchange_id, other.exchange_id,
            "merging different exchanges"
        );
        self.observed_at = self.observed_at.min(other.observed_at);
        if self.endpoint.is_none() {
            self.endpoint = other.endpoint;
        }
        let actor = &mut self.actor;
        actor.ip = actor.ip.or(other.actor.ip);
        actor.identity = actor.identity.take().or(other.actor.identity);
        actor.user_agent = actor.user_agent.take().or(other.actor.user_agent);
        self.detections.extend(other.detections);
        self.alert_ids.extend(other.alert_ids);
        self.normalize();
    }

    /// Sorts detections by `(rule_id, location)` and alert ids, folding duplicates as
    /// [`Event::merge`] does. Producers may push in any order and call this once.
    pub fn normalize(&mut self) {
        self.detections.sort_by(|a, b| {
            (a.rule_id.as_str(), a.location.as_str())
                .cmp(&(b.rule_id.as_str(), b.location.as_str()))
        });
        self.detections.dedup_by(|later, kept| {
            if later.rule_id != kept.rule_id || later.location != kept.location {
                return false;
            }
            kept.confidence = kept.confidence.max(later.confidence);
            if kept.fragment.is_none() {
                kept.fragment = later.fragment.take();
            }
            true
        });
        self.alert_ids.sort_unstable();
        self.alert_ids.dedup();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detection(rule: &str, location: &str, fragment: Option<&str>, confidence: f64) -> Detection {
        Detection {
            rule_id: rule.into(),
            location: location.into(),
            fragment: fragment.map(str::to_string),
            confidence,
        }
    }

    fn event(at: i64) -> Event {
        Event::new("x1", Timestamp::from_second(at).unwrap())
    }

    #[test]
    fn merge_unites_detections_by_rule_and_location() {
        let mut a = event(10);
        a.detections = vec![
            detection("GW-T-XSS", "body:$.comment", None, 0.6),
            detection("GW-T-SQLI", "query:id", Some("1' OR '1'='1"), 0.9),
        ];
        a.alert_ids = vec!["f2".into()];
        let mut b = event(5);
        b.endpoint = Some(EventEndpoint {
            id: "ep_1".into(),
            host: "api.example.com".into(),
            method: "GET".into(),
            template: "/orders".into(),
        });
        b.actor.ip = Some("203.0.113.7".parse().unwrap());
        b.detections = vec![
            detection("GW-T-XSS", "body:$.comment", Some("<script>…"), 0.8),
            detection("GW-T-SQLI", "query:q", None, 0.5),
        ];
        b.alert_ids = vec!["f1".into(), "f2".into()];
        a.merge(b);

        assert_eq!(a.observed_at, Timestamp::from_second(5).unwrap());
        assert_eq!(a.endpoint.as_ref().map(|e| e.id.as_str()), Some("ep_1"));
        assert_eq!(a.actor.ip, Some("203.0.113.7".parse().unwrap()));
        assert_eq!(
            a.detections,
            vec![
                detection("GW-T-SQLI", "query:id", Some("1' OR '1'='1"), 0.9),
                detection("GW-T-SQLI", "query:q", None, 0.5),
                detection("GW-T-XSS", "body:$.comment", Some("<script>…"), 0.8),
            ]
        );
        assert_eq!(a.alert_ids, ["f1", "f2"]);
    }

    #[test]
    fn merge_keeps_known_fields_and_is_idempotent() {
        let mut a = event(10);
        a.actor.identity = Some("alice".into());
        a.detections = vec![detection("GW-T-SQLI", "query:id", Some("x"), 0.9)];
        let mut b = a.clone();
        b.actor.identity = Some("mallory".into());
        b.detections[0].confidence = 0.1;
        let before = a.clone();
        a.merge(b);
        assert_eq!(a.actor.identity.as_deref(), Some("alice"));
        assert_eq!(
            a.detections, before.detections,
            "the higher confidence stays"
        );
        let again = a.clone();
        a.merge(again);
        assert_eq!(a, before);
    }

    #[test]
    fn event_round_trips_and_defaults_its_schema() {
        let mut e = event(0);
        e.detections = vec![detection("GW-T-SQLI", "query:id", None, 1.0)];
        e.alert_ids = vec!["f1".into()];
        let text = serde_json::to_string(&e).unwrap();
        assert!(
            text.starts_with(r#"{"schema":"gatewatch.event/1","exchange_id":"x1""#),
            "{text}"
        );
        assert_eq!(serde_json::from_str::<Event>(&text).unwrap(), e);
        let minimal: Event =
            serde_json::from_str(r#"{"exchange_id":"x1","observed_at":"1970-01-01T00:00:00Z"}"#)
                .unwrap();
        assert_eq!(minimal, event(0));
        let err = serde_json::from_str::<Event>(
            r#"{"exchange_id":"x1","observed_at":"1970-01-01T00:00:00Z","extra":1}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("unknown field `extra`"), "{err}");
    }
}
