//! Body sampling once an endpoint's sensitive-data labels are stable.
//!
//! Scanning bodies is the largest part of classification and about a third of the whole
//! pipeline's cost per record, while an endpoint's bodies carry the same fields call after
//! call. Per endpoint and direction (request or response body), every body is scanned until
//! `learn_bodies` have been scanned **and** the last `stable_bodies` scans found no (kind, field,
//! status class) label that had not been seen before; from then on one body in `every` is
//! scanned. A scanned body that shows a new label puts the endpoint back to scanning every body
//! until it is stable again. Paths, query strings and headers are always classified: they are
//! cheap and vary per call.
//!
//! Which bodies are scanned in the sampled state is decided by a stable hash of the record id,
//! so replaying the same records scans the same bodies. Records without an endpoint, and
//! endpoints beyond `max_endpoints` or with more than [`MAX_LABELS_PER_KEY`] distinct labels,
//! are always scanned in full. What sampling costs: per-field counts in the inventory count
//! scanned bodies only, and a label that only ever appears in bodies that were not scanned is
//! found later (on average after `every` such bodies) rather than on its first appearance.

use std::collections::{HashMap, HashSet};

use foldhash::fast::RandomState;

use gw_model::Exchange;
use gw_sketch::{stable_hash, stable_hash_parts};
use serde::{Deserialize, Serialize};

use crate::classifier::Classifier;
use crate::config::ConfigError;
use crate::context::{FieldFinding, Location};
use crate::exchange::{BodyParts, classify_exchange_parts};

/// Distinct labels remembered per endpoint and direction; beyond it the key is never sampled.
pub const MAX_LABELS_PER_KEY: usize = 512;

/// `[classify.sampling]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BodySamplingConfig {
    /// Sample bodies of endpoints whose labels are stable. Default: true.
    pub enabled: bool,
    /// Bodies scanned per endpoint and direction before sampling may start. Default 1,000.
    pub learn_bodies: u32,
    /// Consecutive scans without a new label before sampling starts. Default 1,000.
    pub stable_bodies: u32,
    /// In the sampled state, one body in `every` is scanned. Default 10.
    pub every: u32,
    /// Endpoint × direction keys tracked; bodies of further endpoints are always scanned.
    /// Default 100,000.
    pub max_endpoints: usize,
}

impl Default for BodySamplingConfig {
    fn default() -> Self {
        BodySamplingConfig {
            enabled: true,
            learn_bodies: 1_000,
            stable_bodies: 1_000,
            every: 10,
            max_endpoints: 100_000,
        }
    }
}

impl BodySamplingConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.every == 0 {
            return Err(ConfigError::BadSampling(
                "field \"every\": expected at least 1, found 0",
            ));
        }
        if self.stable_bodies == 0 {
            return Err(ConfigError::BadSampling(
                "field \"stable_bodies\": expected at least 1, found 0",
            ));
        }
        Ok(())
    }
}

/// Bodies scanned and skipped by a [`BodySampler`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SamplingStats {
    pub bodies_scanned: u64,
    pub bodies_skipped: u64,
}

/// Learning state of one endpoint and direction.
#[derive(Default)]
struct KeyState {
    scanned: u64,
    since_new: u32,
    labels: HashSet<u64, RandomState>,
}

impl KeyState {
    fn sampled(&self, cfg: &BodySamplingConfig) -> bool {
        self.scanned >= u64::from(cfg.learn_bodies)
            && self.since_new >= cfg.stable_bodies
            && self.labels.len() < MAX_LABELS_PER_KEY
    }

    /// Notes one scanned body and the label hashes it showed.
    fn learn(&mut self, labels: impl Iterator<Item = u64>) {
        self.scanned += 1;
        let mut new = false;
        for h in labels {
            if self.labels.len() < MAX_LABELS_PER_KEY && self.labels.insert(h) {
                new = true;
            }
        }
        self.since_new = if new {
            0
        } else {
            self.since_new.saturating_add(1)
        };
    }
}

/// Classifies records like [`crate::classify_exchange`], scanning only a sample of the bodies
/// of endpoints whose labels are stable (see the module documentation). One sampler per
/// pipeline partition: an endpoint's records all pass through the same one.
pub struct BodySampler {
    cfg: BodySamplingConfig,
    /// Keyed by stable hashes of endpoint ids; hashed again with a per-process seed
    /// (`foldhash`, cheaper than SipHash on every record).
    keys: HashMap<(u64, bool), KeyState, RandomState>,
    stats: SamplingStats,
}

impl BodySampler {
    pub fn new(cfg: &BodySamplingConfig) -> Result<BodySampler, ConfigError> {
        cfg.validate()?;
        Ok(BodySampler {
            cfg: cfg.clone(),
            keys: HashMap::default(),
            stats: SamplingStats::default(),
        })
    }

    pub fn stats(&self) -> SamplingStats {
        self.stats
    }

    /// The counts since the last call (for callers that add them to shared totals).
    pub fn take_stats(&mut self) -> SamplingStats {
        std::mem::take(&mut self.stats)
    }

    /// Every sensitive value of `x` in the places that were scanned.
    pub fn classify(&mut self, classifier: &Classifier, x: &Exchange) -> Vec<FieldFinding> {
        // None: every body is scanned and nothing learned (no endpoint, or sampling off).
        let endpoint = (x.endpoint.as_ref())
            .filter(|_| self.cfg.enabled)
            .map(|e| stable_hash(e.id.as_bytes()));
        let has_request = x.request.body.is_some();
        let has_response = x.response.body.is_some();
        // Whether the record is one of the sampled ones, computed at most once.
        let mut picked = None;
        let parts = BodyParts {
            request: has_request && self.scan(endpoint, false, &x.id, &mut picked),
            response: has_response && self.scan(endpoint, true, &x.id, &mut picked),
        };
        let findings = classify_exchange_parts(classifier, x, parts);
        for (scanned, present, response) in [
            (parts.request, has_request, false),
            (parts.response, has_response, true),
        ] {
            if !present {
                continue;
            }
            if !scanned {
                self.stats.bodies_skipped += 1;
                continue;
            }
            self.stats.bodies_scanned += 1;
            self.learn(endpoint, response, &findings);
        }
        findings
    }

    /// Whether the body of `endpoint` in this direction is scanned.
    fn scan(
        &self,
        endpoint: Option<u64>,
        response: bool,
        record_id: &str,
        picked: &mut Option<bool>,
    ) -> bool {
        let Some(endpoint) = endpoint else {
            return true;
        };
        match self.keys.get(&(endpoint, response)) {
            Some(state) if state.sampled(&self.cfg) => *picked.get_or_insert_with(|| {
                stable_hash(record_id.as_bytes()).is_multiple_of(u64::from(self.cfg.every))
            }),
            _ => true,
        }
    }

    fn learn(&mut self, endpoint: Option<u64>, response: bool, findings: &[FieldFinding]) {
        let Some(endpoint) = endpoint else {
            return;
        };
        let key = (endpoint, response);
        if !self.keys.contains_key(&key) && self.keys.len() >= self.cfg.max_endpoints {
            return;
        }
        let location = if response {
            Location::ResponseBody
        } else {
            Location::RequestBody
        };
        let labels = findings
            .iter()
            .filter(|f| f.location == location)
            .map(label_hash);
        self.keys.entry(key).or_default().learn(labels);
    }
}

/// Identity of a label: kind (or custom name), field path and status class.
fn label_hash(f: &FieldFinding) -> u64 {
    let status = f.status_class.map_or(0, |s| s as u8 + 1);
    stable_hash_parts(&[f.label.as_bytes(), f.field_path.as_bytes(), &[status]])
}

#[cfg(test)]
mod tests {
    use super::*;
    use gw_model::{Body, Capture, EndpointMatch, EndpointRef, Source, SourceKind};
    use jiff::Timestamp;

    fn record(i: usize, endpoint: &str, body: &str) -> Exchange {
        let source = Source {
            kind: SourceKind::Native,
            capture: Capture::Frontend,
            gateway: None,
            raw_ref: None,
        };
        let mut x = Exchange::new(
            format!("rec-{i}"),
            Timestamp::UNIX_EPOCH,
            source,
            "GET",
            "/v1/customers/1",
        );
        x.response.status = Some(200);
        x.response.content_type = Some("application/json".into());
        x.response.body = Some(Body::utf8(body));
        x.endpoint = Some(std::sync::Arc::new(EndpointRef {
            id: endpoint.into(),
            host: "api.example.com".into(),
            method: "GET".into(),
            template: "/v1/customers/{id}".into(),
            spec_operation_id: None,
            matched_by: EndpointMatch::Learned,
        }));
        x
    }

    fn small() -> BodySamplingConfig {
        BodySamplingConfig {
            enabled: true,
            learn_bodies: 20,
            stable_bodies: 10,
            every: 4,
            max_endpoints: 8,
        }
    }

    const CUSTOMER: &str = r#"{"id":7,"email":"jane.doe@example.com","name":"x"}"#;

    #[test]
    fn stable_endpoint_is_sampled_and_new_label_restores_full_scans() {
        let classifier = Classifier::builtin();
        let classifier = &classifier;
        let mut s = BodySampler::new(&small()).unwrap();
        for i in 0..20 {
            let f = s.classify(classifier, &record(i, "e1", CUSTOMER));
            assert!(f.iter().any(|f| f.label == "email"), "learning scans all");
        }
        assert_eq!(s.stats().bodies_scanned, 20);
        assert_eq!(s.stats().bodies_skipped, 0);
        for i in 20..420 {
            s.classify(classifier, &record(i, "e1", CUSTOMER));
        }
        let st = s.stats();
        assert_eq!(st.bodies_scanned + st.bodies_skipped, 420);
        // One in four of the 400 sampled-state bodies, by record-id hash.
        assert!(
            (70..=130).contains(&(st.bodies_scanned - 20)),
            "scanned {} of 400",
            st.bodies_scanned - 20
        );
        // A new field appears in every body: found at the next scanned body, then every body
        // is scanned again until it is stable.
        let card = r#"{"id":7,"email":"jane.doe@example.com","card":"4111 1111 1111 1111"}"#;
        let mut first_seen = None;
        for i in 420..520 {
            let f = s.classify(classifier, &record(i, "e1", card));
            if f.iter().any(|f| f.label == "credit_card") {
                first_seen = Some(i);
                break;
            }
        }
        let first = first_seen.expect("a sampled scan finds the new label");
        let before = s.stats().bodies_skipped;
        for i in first + 1..first + 11 {
            let f = s.classify(classifier, &record(i, "e1", card));
            assert!(f.iter().any(|f| f.label == "credit_card"));
        }
        assert_eq!(
            s.stats().bodies_skipped,
            before,
            "full scans after a new label"
        );
    }

    #[test]
    fn paths_and_other_endpoints_are_unaffected() {
        let classifier = Classifier::builtin();
        let classifier = &classifier;
        let mut s = BodySampler::new(&small()).unwrap();
        for i in 0..200 {
            s.classify(classifier, &record(i, "e1", CUSTOMER));
        }
        // A different endpoint starts learning from scratch.
        for i in 0..20 {
            let f = s.classify(classifier, &record(1000 + i, "e2", CUSTOMER));
            assert!(f.iter().any(|f| f.label == "email"));
        }
        // Records without an endpoint are always scanned.
        for i in 0..50 {
            let mut x = record(2000 + i, "e1", CUSTOMER);
            x.endpoint = None;
            assert!(
                s.classify(classifier, &x)
                    .iter()
                    .any(|f| f.label == "email")
            );
        }
    }

    #[test]
    fn sample_choice_replays_identically_and_disabled_scans_all() {
        let classifier = Classifier::builtin();
        let classifier = &classifier;
        let run = |cfg: &BodySamplingConfig| {
            let mut s = BodySampler::new(cfg).unwrap();
            (0..300)
                .map(|i| {
                    !s.classify(classifier, &record(i, "e1", CUSTOMER))
                        .is_empty()
                })
                .collect::<Vec<bool>>()
        };
        assert_eq!(run(&small()), run(&small()));
        let off = BodySamplingConfig {
            enabled: false,
            ..small()
        };
        assert!(run(&off).iter().all(|scanned| *scanned));
    }

    #[test]
    fn endpoints_beyond_the_bound_are_scanned_in_full() {
        let classifier = Classifier::builtin();
        let classifier = &classifier;
        let cfg = BodySamplingConfig {
            max_endpoints: 1,
            ..small()
        };
        let mut s = BodySampler::new(&cfg).unwrap();
        for i in 0..100 {
            s.classify(classifier, &record(i, "e1", CUSTOMER));
        }
        let skipped = s.stats().bodies_skipped;
        assert!(skipped > 0);
        for i in 0..100 {
            let f = s.classify(classifier, &record(100 + i, "e2", CUSTOMER));
            assert!(f.iter().any(|f| f.label == "email"));
        }
        assert_eq!(s.stats().bodies_skipped, skipped);
    }

    #[test]
    fn zero_every_is_refused() {
        let cfg = BodySamplingConfig {
            every: 0,
            ..BodySamplingConfig::default()
        };
        let err = BodySampler::new(&cfg).err().expect("refused").to_string();
        assert!(
            err.contains("classify.sampling") && err.contains("every"),
            "{err}"
        );
    }
}
