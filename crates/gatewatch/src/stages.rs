//! The pipeline stages of one install, built once from the config and shared by every
//! partition: each partition gets its own operator chain over the shared, read-only parts.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use anyhow::{Context, Result};
use gw_classify::{BodySampler, BodySamplingConfig, Classifier};
use gw_detect::{AlertBook, Detector, ReputationDetector, ThreatList};
use gw_enrich::{Enricher, ListCategory};
use gw_model::Finding;
use gw_pipeline::{Batch, ComponentMetrics, OpContext, Operator};
use jiff::{SignedDuration, Timestamp};

use crate::config::Config;
use crate::events::{EventBudget, Mark};
use crate::session::LiveStats;

/// Read-only parts shared by every partition.
pub struct Stages {
    enricher: Arc<Enricher>,
    classifier: Arc<Classifier>,
    sampling: BodySamplingConfig,
    /// Where the classify stages count scanned and skipped bodies.
    live: Arc<LiveStats>,
    threat_lists: Vec<ThreatList>,
    detect: crate::config::DetectConfig,
}

impl Stages {
    pub fn from_config(config: &Config, live: Arc<LiveStats>) -> Result<Stages> {
        let enricher = Enricher::from_config(&config.enrich).context("enrich")?;
        let classifier = Classifier::new(&config.classify).context("classify")?;
        let threat_lists = config
            .enrich
            .lists
            .iter()
            .filter(|l| l.category == ListCategory::Malicious)
            .map(|l| ThreatList {
                name: l.name.clone(),
                severity: l.effective_severity(),
            })
            .collect();
        Ok(Stages {
            enricher: Arc::new(enricher),
            classifier: Arc::new(classifier),
            sampling: config.classify.sampling.clone(),
            live,
            threat_lists,
            detect: config.detect.clone(),
        })
    }

    /// The enrichment shared by every partition (its intel lists can be reloaded in place).
    pub fn enricher(&self) -> Arc<Enricher> {
        self.enricher.clone()
    }

    /// The operator chain of one partition, in pipeline order.
    pub fn operators(&self, _partition: usize) -> Vec<Box<dyn Operator>> {
        let mut detectors = gw_detect::build_all();
        detectors.push(Box::new(ReputationDetector::new(self.threat_lists.clone())));
        let window = SignedDuration::from_mins(i64::from(self.detect.alert_window_minutes));
        let alerts = AlertBook::new(window, self.detect.max_evidence_ids)
            .expect("the config validated the window and evidence bound");
        vec![
            Box::new(EnrichStage {
                enricher: self.enricher.clone(),
                metrics: ComponentMetrics::default(),
            }),
            Box::new(ClassifyStage {
                classifier: self.classifier.clone(),
                sampler: BodySampler::new(&self.sampling)
                    .expect("the config validated the body sampling"),
                live: self.live.clone(),
                metrics: ComponentMetrics::default(),
            }),
            Box::new(DetectStage {
                detectors,
                alerts,
                budget: EventBudget::new(self.detect.event_budget()),
                allowance: SignedDuration::from_secs(i64::from(self.detect.out_of_order_seconds)),
                watermark: None,
                raw: Vec::new(),
                metrics: ComponentMetrics::default(),
            }),
        ]
    }
}

/// Geo/ASN, threat intel, TOR and IP class onto `record.enrich`.
struct EnrichStage {
    enricher: Arc<Enricher>,
    metrics: ComponentMetrics,
}

impl Operator for EnrichStage {
    fn name(&self) -> &'static str {
        "enrich"
    }

    fn process(&mut self, batch: &mut Batch, _ctx: &mut OpContext) {
        self.enricher.enrich_batch(batch);
        let n = batch.len() as u64;
        self.metrics.received += n;
        self.metrics.sent += n;
    }

    fn metrics(&self) -> ComponentMetrics {
        self.metrics
    }
}

/// Sensitive data labels onto `record.sensitive` (kinds and places, never values).
/// Bodies are scanned in full until an endpoint's labels are stable, then sampled (see
/// [`BodySampler`]); paths, queries and headers always.
struct ClassifyStage {
    classifier: Arc<Classifier>,
    sampler: BodySampler,
    live: Arc<LiveStats>,
    metrics: ComponentMetrics,
}

impl Operator for ClassifyStage {
    fn name(&self) -> &'static str {
        "classify"
    }

    fn process(&mut self, batch: &mut Batch, _ctx: &mut OpContext) {
        for x in batch.iter_mut() {
            let findings = self.sampler.classify(&self.classifier, x);
            x.sensitive = gw_classify::sensitive_labels(&findings);
        }
        let counts = self.sampler.take_stats();
        (self.live.bodies_scanned).fetch_add(counts.bodies_scanned, Ordering::Relaxed);
        (self.live.bodies_skipped).fetch_add(counts.bodies_skipped, Ordering::Relaxed);
        let n = batch.len() as u64;
        self.metrics.received += n;
        self.metrics.sent += n;
    }

    fn metrics(&self) -> ComponentMetrics {
        self.metrics
    }
}

/// Runs every detector on the batch and folds their per-record findings into alerts (one per
/// rule, endpoint, actor and window). Alerts leave the stage when their window closes in event
/// time (the watermark passes its end plus the out-of-order allowance) or at the end of input.
struct DetectStage {
    detectors: Vec<Box<dyn Detector>>,
    alerts: AlertBook,
    /// Turns per-record findings into detection events, sampled per alert beyond a budget.
    budget: EventBudget,
    allowance: SignedDuration,
    watermark: Option<Timestamp>,
    raw: Vec<Finding>,
    metrics: ComponentMetrics,
}

impl Operator for DetectStage {
    fn name(&self) -> &'static str {
        "detect"
    }

    fn process(&mut self, batch: &mut Batch, ctx: &mut OpContext) {
        for d in self.detectors.iter_mut() {
            d.detect(batch, &mut self.raw);
        }
        if !self.raw.is_empty() {
            let marks = self
                .raw
                .iter()
                .filter_map(|f| {
                    Mark::of_finding(f, self.alerts.alert_id_for(&f.fingerprint, f.first_seen))
                })
                .collect();
            self.budget.file(marks, &mut ctx.events);
        }
        for f in self.raw.drain(..) {
            self.alerts.record(f);
        }
        if let Some(latest) = batch.iter().map(|x| x.observed_at).max() {
            let w = self.watermark.map_or(latest, |w| w.max(latest));
            self.watermark = Some(w);
            if let Ok(closing) = w.checked_sub(self.allowance) {
                let mut closed = self.alerts.close_until(closing);
                self.budget.annotate(&mut closed);
                self.budget.forget(&closed);
                ctx.findings.extend(closed);
            }
        }
        let n = batch.len() as u64;
        self.metrics.received += n;
        self.metrics.sent += n;
    }

    fn finish(&mut self, ctx: &mut OpContext) {
        let mut open = self.alerts.drain();
        self.budget.annotate(&mut open);
        ctx.findings.extend(open);
    }

    /// Hands out the open alerts as they stand: the store merges the next part of the same
    /// alert (same windowed id and fingerprint) into it, so a service shows alerts while they
    /// grow instead of when their window closes.
    fn on_barrier(&mut self, ctx: &mut OpContext) {
        let mut open = self.alerts.drain();
        self.budget.annotate(&mut open);
        ctx.findings.extend(open);
    }

    fn metrics(&self) -> ComponentMetrics {
        self.metrics
    }
}
