//! Alert dedup: one open alert per (rule, endpoint, actor) and event-time window.
//!
//! Detectors emit one finding per record and rule; an attack run of 10,000 requests must
//! become one alert with `count = 10000`, the first N record ids and a few masked samples.
//! Windows are tumbling and aligned to the Unix epoch in *event time* (`observed_at`), so
//! replaying a log file gives the same alerts as watching it live.

use std::collections::BTreeMap;

use gw_model::Finding;
use jiff::{SignedDuration, Timestamp};

use crate::detectors::hex_digest;

/// Default number of record ids kept in an alert's evidence.
pub const DEFAULT_MAX_EVIDENCE_IDS: usize = 20;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DedupError {
    #[error("alert book: window must be a positive whole number of seconds, got {0:?}")]
    BadWindow(SignedDuration),
    #[error("alert book: max evidence ids must be at least 1, got 0")]
    NoEvidenceIds,
}

/// What [`AlertBook::record`] did with a finding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recorded {
    /// A new alert was opened for this key and window.
    Opened,
    /// The finding was folded into an open alert.
    Absorbed,
}

/// Open alerts keyed by the detector's fingerprint (rule + endpoint + actor) and window.
#[derive(Debug)]
pub struct AlertBook {
    window_secs: i64,
    max_ids: usize,
    open: BTreeMap<(i64, String), Finding>,
}

impl AlertBook {
    pub fn new(window: SignedDuration, max_ids: usize) -> Result<Self, DedupError> {
        let secs = window.as_secs();
        if secs <= 0 || window.subsec_nanos() != 0 {
            return Err(DedupError::BadWindow(window));
        }
        if max_ids == 0 {
            return Err(DedupError::NoEvidenceIds);
        }
        Ok(AlertBook {
            window_secs: secs,
            max_ids,
            open: BTreeMap::new(),
        })
    }

    fn window_index(&self, at: Timestamp) -> i64 {
        at.as_second().div_euclid(self.window_secs)
    }

    fn window_label(&self) -> String {
        let s = self.window_secs;
        if s % 3600 == 0 {
            format!("{}h", s / 3600)
        } else if s % 60 == 0 {
            format!("{}m", s / 60)
        } else {
            format!("{s}s")
        }
    }

    /// The id an alert for `fingerprint` (a detector's un-windowed dedup key) opened at event
    /// time `at` has, or will have once a finding opens it: the id [`AlertBook::record`] gives.
    pub fn alert_id_for(&self, fingerprint: &str, at: Timestamp) -> String {
        let window = self.window_index(at);
        hex_digest(&[fingerprint, &window.to_string()])
    }

    /// Files one finding. Its `fingerprint` is read as the dedup key; an opened alert gets a
    /// fingerprint and id that also name the window.
    pub fn record(&mut self, mut finding: Finding) -> Recorded {
        let window = self.window_index(finding.first_seen);
        let key = (window, finding.fingerprint.clone());
        if let Some(open) = self.open.get_mut(&key) {
            open.absorb(finding, self.max_ids);
            return Recorded::Absorbed;
        }
        let windowed = hex_digest(&[&finding.fingerprint, &window.to_string()]);
        finding.id = windowed.clone();
        finding.fingerprint = windowed;
        finding.evidence.exchange_ids.truncate(self.max_ids);
        finding.evidence.metrics.window = Some(self.window_label());
        self.open.insert(key, finding);
        Recorded::Opened
    }

    /// Closes and returns every alert whose window ended at or before `watermark` (event
    /// time), oldest window first.
    pub fn close_until(&mut self, watermark: Timestamp) -> Vec<Finding> {
        let current = self.window_index(watermark);
        let still_open = self.open.split_off(&(current, String::new()));
        let closed = std::mem::replace(&mut self.open, still_open);
        closed.into_values().collect()
    }

    /// Closes and returns every alert.
    pub fn drain(&mut self) -> Vec<Finding> {
        std::mem::take(&mut self.open).into_values().collect()
    }

    /// The open alerts, oldest window first.
    pub fn open_alerts(&self) -> impl Iterator<Item = &Finding> {
        self.open.values()
    }

    pub fn len(&self) -> usize {
        self.open.len()
    }

    pub fn is_empty(&self) -> bool {
        self.open.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gw_model::{
        Analytic, Confidence, Evidence, EvidenceSample, FINDING_SCHEMA, FindingKind, FindingStatus,
        RuleRef, Severity,
    };

    fn hit(key: &str, at: i64, id: &str) -> Finding {
        let t = Timestamp::from_second(at).unwrap();
        Finding {
            schema: FINDING_SCHEMA.into(),
            id: id.into(),
            fingerprint: key.into(),
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
            count: 1,
            endpoint: None,
            actor: None,
            owasp: vec![],
            mitre: vec![],
            evidence: Evidence {
                exchange_ids: vec![id.into()],
                samples: vec![EvidenceSample {
                    exchange_id: Some(id.into()),
                    observed_at: Some(t),
                    location: Some("query:id".into()),
                    text: "x".into(),
                }],
                ..Evidence::default()
            },
            remediation: None,
            references: vec![],
        }
    }

    #[test]
    fn repeats_fold_into_one_alert_per_window() {
        let mut book = AlertBook::new(SignedDuration::from_mins(10), 3).unwrap();
        assert_eq!(book.record(hit("k", 0, "r1")), Recorded::Opened);
        for i in 2..=10 {
            assert_eq!(
                book.record(hit("k", i, &format!("r{i}"))),
                Recorded::Absorbed
            );
        }
        assert_eq!(book.record(hit("other", 5, "o1")), Recorded::Opened);
        assert_eq!(
            book.record(hit("k", 600, "late")),
            Recorded::Opened,
            "next window"
        );
        assert_eq!(book.len(), 3);
        let closed = book.close_until(Timestamp::from_second(601).unwrap());
        assert_eq!(closed.len(), 2);
        let k = closed.iter().find(|f| f.count == 10).unwrap();
        assert_eq!(k.evidence.exchange_ids, vec!["r1", "r2", "r3"]);
        assert_eq!(k.evidence.samples.len(), gw_model::MAX_EVIDENCE_SAMPLES);
        assert_eq!(k.last_seen.as_second(), 10);
        assert_eq!(k.evidence.metrics.window.as_deref(), Some("10m"));
        assert_eq!(book.drain().len(), 1);
    }

    #[test]
    fn windowed_fingerprints_are_stable_and_distinct() {
        let mut a = AlertBook::new(SignedDuration::from_secs(60), 5).unwrap();
        let mut b = AlertBook::new(SignedDuration::from_secs(60), 5).unwrap();
        a.record(hit("k", 0, "x"));
        b.record(hit("k", 30, "y"));
        a.record(hit("k", 60, "z"));
        let fa: Vec<_> = a.drain().into_iter().map(|f| f.fingerprint).collect();
        let fb: Vec<_> = b.drain().into_iter().map(|f| f.fingerprint).collect();
        assert_eq!(fa[0], fb[0]);
        assert_ne!(fa[0], fa[1]);
    }

    #[test]
    fn alert_id_for_names_the_alert_record_opens() {
        let mut book = AlertBook::new(SignedDuration::from_secs(60), 5).unwrap();
        let at = |s| Timestamp::from_second(s).unwrap();
        let before = book.alert_id_for("k", at(70));
        book.record(hit("k", 65, "x"));
        let opened = book.open_alerts().next().unwrap().id.clone();
        assert_eq!(before, opened);
        assert_eq!(book.alert_id_for("k", at(119)), opened);
        assert_ne!(book.alert_id_for("k", at(120)), opened);
        assert_ne!(book.alert_id_for("other", at(65)), opened);
    }

    #[test]
    fn bad_configuration_is_rejected() {
        assert!(AlertBook::new(SignedDuration::ZERO, 5).is_err());
        assert!(AlertBook::new(SignedDuration::from_millis(1500), 5).is_err());
        assert_eq!(
            AlertBook::new(SignedDuration::from_secs(5), 0).unwrap_err(),
            DedupError::NoEvidenceIds
        );
    }
}
