//! The finding / alert record `gatewatch.finding/1`.

use std::collections::BTreeMap;
use std::net::IpAddr;

use jiff::Timestamp;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{MitreRef, OwaspApi2023};

/// The `schema` value of every finding record.
pub const FINDING_SCHEMA: &str = "gatewatch.finding/1";

/// At most this many masked samples travel with a finding.
pub const MAX_EVIDENCE_SAMPLES: usize = 5;

/// A threat alert, a posture finding or an inventory finding.
///
/// Repeated hits of the same `fingerprint` (rule + endpoint + actor + window) update `count` and
/// `last_seen` of one finding instead of creating new ones.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Finding {
    /// Always `gatewatch.finding/1`.
    pub schema: String,
    pub id: String,
    pub fingerprint: String,
    pub kind: FindingKind,
    pub rule: RuleRef,
    pub title: String,
    pub description: String,
    pub severity: Severity,
    pub confidence: Confidence,
    pub status: FindingStatus,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    pub count: u64,
    #[serde(default)]
    pub endpoint: Option<FindingEndpoint>,
    #[serde(default)]
    pub actor: Option<Actor>,
    #[serde(default)]
    pub owasp: Vec<OwaspApi2023>,
    #[serde(default)]
    pub mitre: Vec<MitreRef>,
    #[serde(default)]
    pub evidence: Evidence,
    #[serde(default)]
    pub remediation: Option<String>,
    #[serde(default)]
    pub references: Vec<String>,
}

impl Finding {
    /// Folds a repeated hit of the same fingerprint into this finding: the count grows, the time
    /// range widens, and evidence ids/samples are kept up to their bounds.
    pub fn absorb(&mut self, other: Finding, max_ids: usize) {
        self.count += other.count;
        self.first_seen = self.first_seen.min(other.first_seen);
        self.last_seen = self.last_seen.max(other.last_seen);
        for id in other.evidence.exchange_ids {
            if self.evidence.exchange_ids.len() >= max_ids {
                break;
            }
            if !self.evidence.exchange_ids.contains(&id) {
                self.evidence.exchange_ids.push(id);
            }
        }
        for s in other.evidence.samples {
            if self.evidence.samples.len() >= MAX_EVIDENCE_SAMPLES {
                break;
            }
            self.evidence.samples.push(s);
        }
        if other.severity > self.severity {
            self.severity = other.severity;
        }
        if other.evidence.metrics.observed.is_some() {
            self.evidence.metrics = other.evidence.metrics;
        } else {
            // Named numbers of a later part of the same finding are cumulative (event counts,
            // distinct values): the larger one is the newer.
            for (k, v) in other.evidence.metrics.extra {
                let slot = self.evidence.metrics.extra.entry(k).or_insert(v);
                *slot = slot.max(v);
            }
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    Threat,
    Posture,
    Inventory,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleRef {
    /// Stable id, e.g. `GW-T-SQLI`, `GW-P-UNAUTHENTICATED`.
    pub id: String,
    pub name: String,
    pub version: u32,
    pub analytic: Analytic,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Analytic {
    Signature,
    Statistical,
    Behavioral,
    Config,
}

#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 5] = [
        Severity::Info,
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    pub fn from_name(s: &str) -> Option<Severity> {
        Severity::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Confidence {
    Low,
    Medium,
    High,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FindingStatus {
    #[default]
    Open,
    Acknowledged,
    Suppressed,
    Resolved,
}

impl FindingStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            FindingStatus::Open => "open",
            FindingStatus::Acknowledged => "acknowledged",
            FindingStatus::Suppressed => "suppressed",
            FindingStatus::Resolved => "resolved",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FindingEndpoint {
    pub id: String,
    pub host: String,
    pub method: String,
    pub template: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Actor {
    #[serde(default)]
    pub ip: Option<IpAddr>,
    #[serde(default)]
    pub identity: Option<String>,
    #[serde(default)]
    pub user_agent: Option<String>,
    #[serde(default)]
    pub country: Option<String>,
    #[serde(default)]
    pub asn: Option<u32>,
    #[serde(default)]
    pub tor_exit: Option<bool>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Evidence {
    /// Ids of the records that triggered the finding (bounded, first N).
    #[serde(default)]
    pub exchange_ids: Vec<String>,
    /// At most [`MAX_EVIDENCE_SAMPLES`] masked samples.
    #[serde(default)]
    pub samples: Vec<EvidenceSample>,
    #[serde(default)]
    pub metrics: EvidenceMetrics,
}

/// A masked excerpt of one record: enough for a human to check the verdict, no raw values.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EvidenceSample {
    #[serde(default)]
    pub exchange_id: Option<String>,
    #[serde(default)]
    pub observed_at: Option<Timestamp>,
    /// e.g. `query:id`, `body:$.comment`, `header:user-agent`, or a spec JSON pointer.
    #[serde(default)]
    pub location: Option<String>,
    /// The masked fragment or request line.
    pub text: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EvidenceMetrics {
    #[serde(default)]
    pub baseline: Option<f64>,
    #[serde(default)]
    pub observed: Option<f64>,
    #[serde(default)]
    pub threshold: Option<f64>,
    /// e.g. `20m`.
    #[serde(default)]
    pub window: Option<String>,
    /// Further named numbers (`p99`, `distinct_values`, ...), sorted for stable output.
    #[serde(default)]
    pub extra: BTreeMap<String, f64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(count: u64, at: i64, ids: &[&str]) -> Finding {
        let t = Timestamp::from_second(at).unwrap();
        Finding {
            schema: FINDING_SCHEMA.into(),
            id: "f1".into(),
            fingerprint: "fp".into(),
            kind: FindingKind::Threat,
            rule: RuleRef {
                id: "GW-T-SQLI".into(),
                name: "SQL injection".into(),
                version: 1,
                analytic: Analytic::Signature,
            },
            title: "t".into(),
            description: "d".into(),
            severity: Severity::High,
            confidence: Confidence::High,
            status: FindingStatus::Open,
            first_seen: t,
            last_seen: t,
            count,
            endpoint: None,
            actor: None,
            owasp: vec![OwaspApi2023::Api8],
            mitre: vec![MitreRef::new("TA0001", "T1190")],
            evidence: Evidence {
                exchange_ids: ids.iter().map(|s| s.to_string()).collect(),
                ..Evidence::default()
            },
            remediation: None,
            references: vec![],
        }
    }

    #[test]
    fn absorb_counts_widens_and_bounds_ids() {
        let mut a = finding(1, 100, &["a"]);
        a.absorb(finding(2, 50, &["b", "c"]), 2);
        assert_eq!(a.count, 3);
        assert_eq!(a.first_seen.as_second(), 50);
        assert_eq!(a.last_seen.as_second(), 100);
        assert_eq!(a.evidence.exchange_ids, vec!["a", "b"]);
    }

    #[test]
    fn finding_round_trips_and_severity_orders() {
        let f = finding(1, 0, &["x"]);
        let s = serde_json::to_string(&f).unwrap();
        assert!(s.contains("\"owasp\":[\"API8:2023\"]"), "{s}");
        assert_eq!(serde_json::from_str::<Finding>(&s).unwrap(), f);
        assert!(Severity::Critical > Severity::High && Severity::Low > Severity::Info);
    }
}
