//! `context.reputation`: calls from TOR exit nodes (`GW-T-TOR-EXIT`) and from addresses on a
//! threat-intelligence list (`GW-T-MALICIOUS-IP`), Defender's context alerts.
//!
//! The lookups themselves happen in the enrichment stage (`gw-enrich`), which leaves
//! `record.enrich.tor_exit` and `record.enrich.intel_lists` behind; this detector only decides
//! which list memberships are alerts. It is built from the configured lists (which ones are
//! threat intel and how severe), so it is constructed by the caller rather than the registry.

use gw_model::{Confidence, EvidenceSample, Exchange, Finding, OwaspApi2023, Severity};

use super::{Detector, DetectorStats, dedup_key, finding_from_hits};
use crate::rules::RuleMeta;
use crate::scan::SignatureHit;

pub static TOR_EXIT: RuleMeta = RuleMeta {
    id: "GW-T-TOR-EXIT",
    name: "Access from a TOR exit node",
    version: 1,
    severity: Severity::Medium,
    owasp: &[OwaspApi2023::Api2, OwaspApi2023::Api8],
    mitre: &[("TA0005", "T1090.003")],
    description: "The API was called from a known TOR exit node, which hides the caller's origin.",
    remediation: "Review the calls; if the API has no reason to serve anonymised clients, block TOR exit nodes at the gateway (gatewatch blocklist export) and require authentication.",
};

pub static MALICIOUS_IP: RuleMeta = RuleMeta {
    id: "GW-T-MALICIOUS-IP",
    name: "Access from a known-malicious IP address",
    version: 1,
    severity: Severity::High,
    owasp: &[OwaspApi2023::Api8],
    mitre: &[("TA0001", "T1190"), ("TA0011", "T1071")],
    description: "The API was called from an address listed in a configured threat-intelligence feed.",
    remediation: "Block the address at the gateway (gatewatch blocklist export), review what the calls accessed, and rotate credentials the caller used.",
};

static RULES: [&RuleMeta; 2] = [&TOR_EXIT, &MALICIOUS_IP];

/// A threat-intelligence list whose members are alerts, with the severity to raise.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ThreatList {
    pub name: String,
    pub severity: Severity,
}

pub struct ReputationDetector {
    threat_lists: Vec<ThreatList>,
    stats: DetectorStats,
}

impl ReputationDetector {
    /// `threat_lists`: the intel lists (by name, as in `record.enrich.intel_lists`) that mean
    /// "malicious"; TOR membership comes from `record.enrich.tor_exit`.
    pub fn new(threat_lists: Vec<ThreatList>) -> Self {
        ReputationDetector {
            threat_lists,
            stats: DetectorStats::default(),
        }
    }

    fn hit(rule: &'static RuleMeta, x: &Exchange, reason: String) -> SignatureHit {
        SignatureHit {
            rule,
            location: "client:ip".to_string(),
            confidence: Confidence::High,
            reason,
            fragment: x.actor_ip().map_or_else(String::new, |ip| ip.to_string()),
        }
    }
}

impl Detector for ReputationDetector {
    fn name(&self) -> &'static str {
        "context.reputation"
    }

    fn rules(&self) -> &'static [&'static RuleMeta] {
        &RULES
    }

    fn detect(&mut self, batch: &[Exchange], out: &mut Vec<Finding>) {
        for x in batch {
            self.stats.received += 1;
            let Some(enrich) = &x.enrich else { continue };
            if enrich.tor_exit {
                let hit = Self::hit(&TOR_EXIT, x, "client address is a TOR exit node".into());
                out.push(finding_from_hits(x, &TOR_EXIT, &[&hit]));
                self.stats.findings += 1;
            }
            let listed: Vec<&ThreatList> = self
                .threat_lists
                .iter()
                .filter(|l| enrich.intel_lists.iter().any(|n| n == &l.name))
                .collect();
            if let Some(worst) = listed.iter().map(|l| l.severity).max() {
                let names: Vec<&str> = listed.iter().map(|l| l.name.as_str()).collect();
                let reason = format!("client address is listed in {}", names.join(", "));
                let hit = Self::hit(&MALICIOUS_IP, x, reason);
                let mut f = finding_from_hits(x, &MALICIOUS_IP, &[&hit]);
                f.severity = worst;
                // One alert per actor and list set, whatever endpoint it touched.
                f.fingerprint = dedup_key(MALICIOUS_IP.id, &without_endpoint(x));
                if let Some(s) = f.evidence.samples.first_mut() {
                    *s = EvidenceSample {
                        text: format!("{} {}: {}", x.request.method, endpoint_label(x), s.text),
                        ..s.clone()
                    };
                }
                out.push(f);
                self.stats.findings += 1;
            }
        }
    }

    fn stats(&self) -> DetectorStats {
        self.stats
    }
}

fn endpoint_label(x: &Exchange) -> &str {
    x.endpoint
        .as_ref()
        .map_or(x.request.path.as_str(), |e| e.template.as_str())
}

/// The record as seen by the actor-level fingerprint: same actor, no endpoint.
fn without_endpoint(x: &Exchange) -> Exchange {
    let mut y = Exchange::new(String::new(), x.observed_at, x.source.clone(), "", "");
    y.client = x.client.clone();
    y.identity = x.identity.clone();
    y
}

#[cfg(test)]
mod tests {
    use super::*;
    use gw_model::{Capture, Enrichment, Source, SourceKind};
    use jiff::Timestamp;

    fn record(ip: &str, path: &str, enrich: Enrichment) -> Exchange {
        let source = Source {
            kind: SourceKind::Native,
            capture: Capture::Frontend,
            gateway: None,
            raw_ref: None,
        };
        let mut x = Exchange::new(
            format!("r-{path}"),
            Timestamp::UNIX_EPOCH,
            source,
            "GET",
            path,
        );
        x.client.ip = Some(ip.parse().unwrap());
        x.enrich = Some(enrich);
        x
    }

    fn lists() -> Vec<ThreatList> {
        vec![
            ThreatList {
                name: "feodo".into(),
                severity: Severity::High,
            },
            ThreatList {
                name: "abuse_critical".into(),
                severity: Severity::Critical,
            },
        ]
    }

    #[test]
    fn tor_and_threat_lists_raise_their_rules_and_other_lists_do_not() {
        let mut d = ReputationDetector::new(lists());
        let tor = Enrichment {
            tor_exit: true,
            intel_lists: vec!["tor_exits".into()],
            ..Enrichment::default()
        };
        let bad = Enrichment {
            intel_lists: vec!["feodo".into(), "abuse_critical".into()],
            ..Enrichment::default()
        };
        let bogon_only = Enrichment {
            intel_lists: vec!["bogons".into()],
            ..Enrichment::default()
        };
        let mut out = Vec::new();
        d.detect(
            &[
                record("198.51.100.1", "/a", tor),
                record("203.0.113.9", "/a", bad.clone()),
                record("203.0.113.9", "/b", bad),
                record("192.0.2.1", "/a", bogon_only),
                record("192.0.2.2", "/a", Enrichment::default()),
            ],
            &mut out,
        );
        let rules: Vec<&str> = out.iter().map(|f| f.rule.id.as_str()).collect();
        assert_eq!(
            rules,
            vec!["GW-T-TOR-EXIT", "GW-T-MALICIOUS-IP", "GW-T-MALICIOUS-IP"]
        );
        assert_eq!(
            out[1].severity,
            Severity::Critical,
            "the worst list decides"
        );
        assert_eq!(
            out[1].fingerprint, out[2].fingerprint,
            "one malicious-IP alert per actor across endpoints"
        );
        assert!(
            out[1].evidence.samples[0]
                .text
                .contains("feodo, abuse_critical")
        );
        assert_eq!(d.stats().received, 5);
        assert_eq!(d.stats().findings, 3);
    }
}
