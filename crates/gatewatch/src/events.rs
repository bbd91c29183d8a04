//! Detection events (`gatewatch.event/1`): one per record a per-record detector fired on,
//! pointing at the alerts it fed, with a per-alert budget so that a flood is counted and
//! sampled — and the sampling stated on the alert — instead of stored without bound.

use std::collections::BTreeMap;

use gw_model::{Confidence, Detection, Event, EventActor, EventEndpoint, Exchange, Finding};
use jiff::Timestamp;

/// Confidence of a finding as the number an event carries.
pub fn confidence_value(c: Confidence) -> f64 {
    match c {
        Confidence::Low => 0.4,
        Confidence::Medium => 0.7,
        Confidence::High => 0.95,
    }
}

/// The endpoint a record was routed to, as an event names it.
pub fn event_endpoint(x: &Exchange) -> Option<EventEndpoint> {
    x.endpoint.as_ref().map(|e| EventEndpoint {
        id: e.id.clone(),
        host: e.host.clone(),
        method: e.method.clone(),
        template: e.template.clone(),
    })
}

/// Who sent a record, as an event names it (the same actor a finding names).
pub fn event_actor(x: &Exchange) -> EventActor {
    EventActor {
        ip: x.client.resolved_ip.or(x.client.ip),
        identity: x
            .identity
            .as_ref()
            .and_then(|i| i.actor_key())
            .map(str::to_string),
        user_agent: x.client.user_agent.clone(),
    }
}

/// Endpoint and actor of a finding, for events of records no longer at hand.
pub fn finding_context(f: &Finding) -> (Option<EventEndpoint>, EventActor) {
    let endpoint = f.endpoint.as_ref().map(|e| EventEndpoint {
        id: e.id.clone(),
        host: e.host.clone(),
        method: e.method.clone(),
        template: e.template.clone(),
    });
    let actor = f
        .actor
        .as_ref()
        .map(|a| EventActor {
            ip: a.ip,
            identity: a.identity.clone(),
            user_agent: a.user_agent.clone(),
        })
        .unwrap_or_default();
    (endpoint, actor)
}

/// One detection on one record, whatever detector family produced it.
pub struct Mark<'a> {
    pub exchange_id: &'a str,
    pub observed_at: Timestamp,
    pub alert_id: String,
    pub detection: Detection,
    pub endpoint: Option<EventEndpoint>,
    pub actor: EventActor,
}

impl<'a> Mark<'a> {
    /// The mark of a per-record finding (signature and reputation detectors emit one finding
    /// per record and rule): the record is its first evidence id, the place and masked
    /// fragment its first sample.
    pub fn of_finding(f: &'a Finding, alert_id: String) -> Option<Mark<'a>> {
        let exchange_id = f.evidence.exchange_ids.first()?;
        let sample = f.evidence.samples.first();
        let (endpoint, actor) = finding_context(f);
        Some(Mark {
            exchange_id,
            observed_at: f.first_seen,
            alert_id,
            detection: Detection {
                rule_id: f.rule.id.clone(),
                location: sample
                    .and_then(|s| s.location.clone())
                    .unwrap_or_else(|| "record".to_string()),
                fragment: sample.map(|s| s.text.clone()),
                confidence: confidence_value(f.confidence),
            },
            endpoint,
            actor,
        })
    }
}

/// How many events one alert may produce before they are sampled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EventBudgetConfig {
    /// Events kept in full per alert.
    pub per_alert: u64,
    /// Beyond `per_alert`, one event in this many is kept.
    pub sample_every: u64,
}

#[derive(Clone, Copy, Debug, Default)]
struct AlertTally {
    seen: u64,
    kept: u64,
}

/// Per-alert event counters: decides which marks become stored events, and tells an alert
/// whether (and how much) its events were sampled.
#[derive(Debug)]
pub struct EventBudget {
    config: EventBudgetConfig,
    tally: BTreeMap<String, AlertTally>,
}

/// Alert tallies kept at most; the oldest are forgotten first (alerts close by window).
const MAX_TRACKED_ALERTS: usize = 100_000;

impl EventBudget {
    pub fn new(config: EventBudgetConfig) -> Self {
        EventBudget {
            config: EventBudgetConfig {
                per_alert: config.per_alert.max(1),
                sample_every: config.sample_every.max(1),
            },
            tally: BTreeMap::new(),
        }
    }

    /// Files marks as events (merged per record) into `out`, skipping the marks beyond the
    /// per-alert budget that the sampling leaves out.
    pub fn file(&mut self, marks: Vec<Mark<'_>>, out: &mut Vec<Event>) {
        let mut by_record: BTreeMap<&str, Event> = BTreeMap::new();
        for m in marks {
            if self.tally.len() >= MAX_TRACKED_ALERTS && !self.tally.contains_key(&m.alert_id) {
                self.tally.pop_first();
            }
            let t = self.tally.entry(m.alert_id.clone()).or_default();
            t.seen += 1;
            let over = t.seen.saturating_sub(self.config.per_alert);
            if over > 0 && !over.is_multiple_of(self.config.sample_every) {
                continue;
            }
            t.kept += 1;
            let event = by_record.entry(m.exchange_id).or_insert_with(|| {
                let mut e = Event::new(m.exchange_id, m.observed_at);
                e.endpoint = m.endpoint.clone();
                e.actor = m.actor.clone();
                e
            });
            event.detections.push(m.detection);
            event.alert_ids.push(m.alert_id);
        }
        for (_, mut e) in by_record {
            e.detections
                .sort_by(|a, b| (&a.rule_id, &a.location).cmp(&(&b.rule_id, &b.location)));
            e.detections
                .dedup_by(|a, b| a.rule_id == b.rule_id && a.location == b.location);
            e.alert_ids.sort();
            e.alert_ids.dedup();
            out.push(e);
        }
    }

    /// States the sampling on alerts whose events were sampled: `events_seen` and
    /// `events_kept` in the evidence metrics (cumulative, so later parts of the same alert
    /// carry the newer totals).
    pub fn annotate(&self, alerts: &mut [Finding]) {
        for a in alerts {
            if let Some(t) = self.tally.get(&a.id)
                && t.kept < t.seen
            {
                let extra = &mut a.evidence.metrics.extra;
                extra.insert("events_seen".into(), t.seen as f64);
                extra.insert("events_kept".into(), t.kept as f64);
            }
        }
    }

    /// Forgets the tallies of alerts that closed for good.
    pub fn forget(&mut self, closed: &[Finding]) {
        for a in closed {
            self.tally.remove(&a.id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mark(record: &str, alert: &str, rule: &str) -> Mark<'static> {
        Mark {
            exchange_id: Box::leak(record.to_string().into_boxed_str()),
            observed_at: Timestamp::UNIX_EPOCH,
            alert_id: alert.into(),
            detection: Detection {
                rule_id: rule.into(),
                location: "query:id".into(),
                fragment: Some("1' OR 1=1".into()),
                confidence: 0.95,
            },
            endpoint: None,
            actor: EventActor::default(),
        }
    }

    #[test]
    fn marks_of_one_record_merge_into_one_event() {
        let mut budget = EventBudget::new(EventBudgetConfig {
            per_alert: 10,
            sample_every: 2,
        });
        let mut out = Vec::new();
        budget.file(
            vec![
                mark("r1", "a1", "GW-T-SQLI"),
                mark("r1", "a2", "GW-T-XSS"),
                mark("r2", "a1", "GW-T-SQLI"),
            ],
            &mut out,
        );
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].exchange_id, "r1");
        assert_eq!(out[0].detections.len(), 2);
        assert_eq!(out[0].alert_ids, vec!["a1", "a2"]);
    }

    #[test]
    fn a_flood_is_sampled_beyond_the_budget_and_the_alert_says_so() {
        let mut budget = EventBudget::new(EventBudgetConfig {
            per_alert: 100,
            sample_every: 10,
        });
        let mut out = Vec::new();
        let marks = (0..1000)
            .map(|i| mark(&format!("r{i}"), "a1", "GW-T-SQLI"))
            .collect();
        budget.file(marks, &mut out);
        // 100 in full, then one in ten of the remaining 900.
        assert_eq!(out.len(), 190);
        let mut alert: Finding = serde_json::from_value(serde_json::json!({
            "schema": "gatewatch.finding/1", "id": "a1", "fingerprint": "a1",
            "kind": "threat", "title": "t", "description": "d",
            "rule": {"id": "GW-T-SQLI", "name": "r", "version": 1, "analytic": "signature"},
            "severity": "high", "confidence": "high", "status": "open",
            "first_seen": "2026-01-01T00:00:00Z", "last_seen": "2026-01-01T00:00:00Z",
            "count": 1000,
        }))
        .unwrap();
        budget.annotate(std::slice::from_mut(&mut alert));
        assert_eq!(alert.evidence.metrics.extra["events_seen"], 1000.0);
        assert_eq!(alert.evidence.metrics.extra["events_kept"], 190.0);
        budget.forget(std::slice::from_ref(&alert));
        let mut again = alert.clone();
        again.evidence.metrics.extra.clear();
        budget.annotate(std::slice::from_mut(&mut again));
        assert!(again.evidence.metrics.extra.is_empty());
    }

    #[test]
    fn within_the_budget_nothing_is_sampled_or_stated() {
        let mut budget = EventBudget::new(EventBudgetConfig {
            per_alert: 5000,
            sample_every: 100,
        });
        let mut out = Vec::new();
        let marks = (0..5000)
            .map(|i| mark(&format!("r{i}"), "a1", "GW-T-SQLI"))
            .collect();
        budget.file(marks, &mut out);
        assert_eq!(out.len(), 5000);
    }
}
