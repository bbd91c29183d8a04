//! The [`Detector`] trait every detector implements (signature now, behavioural later) and the
//! static registry of detectors. A new detector is one file here plus one line in
//! [`DETECTORS`]; the pipeline only sees the trait.

use std::collections::BTreeMap;

use gw_model::{
    Actor, Analytic, Confidence, Evidence, EvidenceSample, Exchange, FINDING_SCHEMA, Finding,
    FindingEndpoint, FindingKind, FindingStatus, MAX_EVIDENCE_SAMPLES, RuleRef,
};
use jiff::Timestamp;
use sha2::{Digest, Sha256};

use crate::rules::RuleMeta;
use crate::scan::SignatureHit;

mod injection;
mod reputation;
mod suspicious_ua;

pub use injection::InjectionDetector;
pub use reputation::{MALICIOUS_IP, ReputationDetector, TOR_EXIT, ThreatList};
pub use suspicious_ua::SuspiciousUserAgentDetector;

/// Counters every detector keeps, with the same meaning everywhere.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DetectorStats {
    /// Records seen.
    pub received: u64,
    /// Findings emitted (one per record and rule, before dedup).
    pub findings: u64,
    /// Records that could not be examined (none for signature detectors today).
    pub errors: u64,
}

/// One record a detector counted towards an alert: the pipeline emits one detection event
/// per mark.
///
/// Signature detectors need no marks (each of their findings is about one record). Behavioural
/// detectors mark every record they counted for an alert: records counted before the alert
/// fired (kept in a bounded per-key buffer; the alert's evidence metrics state
/// `events_sampled = 1` and `events_dropped = N` when some were not kept) when it fires, and
/// later records of the same window as they arrive.
#[derive(Clone, Debug, PartialEq)]
pub struct RecordMark {
    /// The record's `Exchange::id`.
    pub exchange_id: String,
    /// The rule whose alert the record belongs to.
    pub rule_id: &'static str,
    /// What of the record was counted, e.g. `path:id`, `query:userId`, `response:status`,
    /// `request:body`, `endpoint`.
    pub location: String,
    /// A masked excerpt of the counted value, when there is one worth showing.
    pub fragment: Option<String>,
    /// Confidence of the alert in [0, 1] (low 0.3, medium 0.6, high 0.9).
    pub confidence: f64,
    /// The dedup fingerprint of the alert's findings (`Finding::fingerprint` as the detector
    /// emitted it, before [`crate::AlertBook`] windows it).
    pub fingerprint: String,
    /// The record's event time.
    pub observed_at: Timestamp,
    /// Event time of the alert's first finding: [`crate::AlertBook::alert_id_for`] with
    /// `fingerprint` and this time gives the id of the alert the record belongs to (records
    /// counted before the alert fired may lie in an earlier alert-book window).
    pub alert_at: Timestamp,
}

/// Format version of detector snapshots written by this build (see [`Detector::snapshot`]).
pub const SNAPSHOT_VERSION: u16 = 1;

/// Why [`Detector::restore`] refused a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnapshotError {
    #[error(
        "{detector}: snapshot rejected: not a Gatewatch detector snapshot (missing `GWDS` header)"
    )]
    BadMagic { detector: &'static str },
    #[error(
        "{detector}: snapshot rejected: format version {found} is unknown (this build reads version {supported})"
    )]
    UnknownVersion {
        detector: &'static str,
        found: u16,
        supported: u16,
    },
    #[error("{detector}: snapshot rejected: it was taken from detector `{found}`")]
    WrongDetector {
        detector: &'static str,
        found: String,
    },
    #[error(
        "{detector}: snapshot rejected: taken with {field} = {found}, this detector runs with {expected}"
    )]
    ConfigMismatch {
        detector: &'static str,
        field: &'static str,
        found: String,
        expected: String,
    },
    #[error("{detector}: snapshot rejected: cannot decode its state: {reason}")]
    Decode {
        detector: &'static str,
        reason: String,
    },
}

/// A detector: looks at batches of records and emits one finding per record and rule.
///
/// Findings leave with `count = 1`; folding repeats into one open alert per
/// (rule, endpoint, actor, window) is the job of [`crate::AlertBook`]. The finding's
/// `fingerprint` is the stable dedup key without the window.
pub trait Detector: Send {
    /// Stable detector name, e.g. `signature.injection`.
    fn name(&self) -> &'static str;
    /// The rules this detector can emit.
    fn rules(&self) -> &'static [&'static RuleMeta];
    /// Examines `batch` and appends findings to `out`.
    fn detect(&mut self, batch: &[Exchange], out: &mut Vec<Finding>);
    fn stats(&self) -> DetectorStats;

    /// The detector's learned state (baselines, open windows) as versioned bytes, for the
    /// `Store`; `None` for detectors without learned state. Take it between batches, after
    /// [`Detector::take_marks`]: marks not yet taken are not part of it.
    fn snapshot(&self) -> Option<Vec<u8>> {
        None
    }

    /// Replaces the learned state with one [`Detector::snapshot`] produced (by this build or
    /// one writing the same [`SNAPSHOT_VERSION`]). The configuration and counters stay this
    /// detector's. On error the detector is unchanged.
    fn restore(&mut self, bytes: &[u8]) -> Result<(), SnapshotError> {
        let _ = bytes;
        Ok(())
    }

    /// Moves the record marks produced since the last call to `out` (see [`RecordMark`]).
    fn take_marks(&mut self, out: &mut Vec<RecordMark>) {
        let _ = out;
    }
}

/// Builds a detector; the registry holds factories so each pipeline worker gets its own state.
pub trait DetectorFactory: Sync {
    fn name(&self) -> &'static str;
    fn build(&self) -> Box<dyn Detector>;
}

/// Every detector of this crate.
pub static DETECTORS: &[&dyn DetectorFactory] = &[
    &injection::InjectionDetectorFactory,
    &suspicious_ua::SuspiciousUserAgentFactory,
];

/// Builds one instance of every registered detector.
pub fn build_all() -> Vec<Box<dyn Detector>> {
    DETECTORS.iter().map(|f| f.build()).collect()
}

/// The dedup key of a hit on a record: rule + endpoint + actor, hashed to 32 hex digits.
pub fn dedup_key(rule_id: &str, x: &Exchange) -> String {
    let endpoint = match &x.endpoint {
        Some(e) => e.id.clone(),
        None => format!(
            "{} {}{}",
            x.request.method,
            x.server.host.as_deref().unwrap_or(""),
            x.request.path
        ),
    };
    let actor = actor_key(x);
    hex_digest(&[rule_id, &endpoint, &actor])
}

fn actor_key(x: &Exchange) -> String {
    if let Some(id) = x.identity.as_ref().and_then(|i| i.actor_key()) {
        return format!("id:{id}");
    }
    x.actor_ip()
        .map_or_else(|| "unknown".to_string(), |ip| format!("ip:{ip}"))
}

pub(crate) fn hex_digest(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0x1f]);
    }
    h.finalize()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Groups the hits of one record by rule and turns each group into a finding.
pub fn findings_for_exchange(x: &Exchange, hits: &[SignatureHit], out: &mut Vec<Finding>) {
    let mut by_rule: BTreeMap<&'static str, Vec<&SignatureHit>> = BTreeMap::new();
    for h in hits {
        by_rule.entry(h.rule.id).or_default().push(h);
    }
    // Sorted by rule id: deterministic output.
    for g in by_rule.into_values() {
        out.push(finding_from_hits(x, g[0].rule, &g));
    }
}

/// One finding for the hits of one rule on one record.
pub fn finding_from_hits(x: &Exchange, rule: &'static RuleMeta, hits: &[&SignatureHit]) -> Finding {
    let fingerprint = dedup_key(rule.id, x);
    let confidence = hits
        .iter()
        .map(|h| h.confidence)
        .max()
        .unwrap_or(Confidence::Low);
    let endpoint = x.endpoint.as_ref().map(|e| FindingEndpoint {
        id: e.id.clone(),
        host: e.host.clone(),
        method: e.method.clone(),
        template: e.template.clone(),
    });
    let where_ = match &endpoint {
        Some(e) => format!("{} {}", e.method, e.template),
        None => format!("{} {}", x.request.method, x.request.path),
    };
    let first_reason = hits.first().map_or("", |h| h.reason.as_str());
    let samples = hits
        .iter()
        .take(MAX_EVIDENCE_SAMPLES)
        .map(|h| EvidenceSample {
            exchange_id: Some(x.id.clone()),
            observed_at: Some(x.observed_at),
            location: Some(h.location.clone()),
            text: format!("{}: {}", h.reason, h.fragment),
        })
        .collect();
    Finding {
        schema: FINDING_SCHEMA.to_string(),
        id: format!("{fingerprint}:{}", x.id),
        fingerprint,
        kind: FindingKind::Threat,
        rule: RuleRef {
            id: rule.id.to_string(),
            name: rule.name.to_string(),
            version: rule.version,
            analytic: Analytic::Signature,
        },
        title: format!("{} on {where_}", rule.name),
        description: format!("{} First sign: {first_reason}.", rule.description),
        severity: rule.severity,
        confidence,
        status: FindingStatus::Open,
        first_seen: x.observed_at,
        last_seen: x.observed_at,
        count: 1,
        endpoint,
        actor: Some(Actor {
            ip: x.actor_ip(),
            identity: x
                .identity
                .as_ref()
                .and_then(|i| i.actor_key())
                .map(str::to_string),
            user_agent: x
                .client
                .user_agent
                .clone()
                .or_else(|| x.request.header("user-agent").map(str::to_string)),
            ..Actor::default()
        }),
        owasp: rule.owasp.to_vec(),
        mitre: rule.mitre_refs(),
        evidence: Evidence {
            exchange_ids: vec![x.id.clone()],
            samples,
            ..Evidence::default()
        },
        remediation: Some(rule.remediation.to_string()),
        references: rule
            .mitre
            .iter()
            .map(|(_, t)| {
                format!(
                    "https://attack.mitre.org/techniques/{}/",
                    t.replace('.', "/")
                )
            })
            .collect(),
    }
}
