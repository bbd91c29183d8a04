//! One pipeline run: normalized records go through the partitioned operators, and a writer
//! thread stores what comes out (records, findings) and streams findings to `--alerts-out`.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{SyncSender, sync_channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use gw_detect::{AlertBook, Detector};
use gw_discover::Discovery;
use gw_ingest::normalize::Normalizer;
use gw_model::{Exchange, Finding, SensitiveLabel};
use gw_pipeline::{OperatorReport, PartitionOutput, PartitionedRuntime, RuntimeConfig};
use gw_store::{ExchangeStorage, RetentionPolicy, RetentionReport, Store};
use jiff::{SignedDuration, Timestamp};

use crate::config::Config;
use crate::stages::Stages;

/// Distinct (kind, place) labels kept per endpoint for the inventory.
const MAX_LABELS_PER_ENDPOINT: usize = 256;

/// What a session needs beyond the config.
pub struct SessionOptions {
    /// Where every finding raised during the run is written as NDJSON.
    pub alerts_out: Option<PathBuf>,
    /// API specs the records are matched against (besides those in the config).
    pub specs: Vec<gw_spec::ApiSpec>,
}

/// What the writer thread did.
pub struct WriterOutcome {
    pub store: Box<dyn Store>,
    pub written: u64,
    pub duplicates: u64,
    pub findings: u64,
    pub retention: Option<RetentionReport>,
    /// Time the writer spent in the store (records and findings).
    pub store_busy: Duration,
    /// Counters and busy time of every operator of every partition.
    pub operators: Vec<OperatorReport>,
    /// Endpoints in the inventory, and how many of them this run changed.
    pub endpoints: u64,
    pub endpoints_saved: u64,
    /// Sensitive-data labels seen per endpoint id (kinds and places, bounded by endpoints
    /// and fields), for the inventory: classification runs after routing.
    sensitive: BTreeMap<String, BTreeSet<SensitiveLabel>>,
}

pub struct Session {
    normalizer: Normalizer,
    /// Routing and inventory run once, before partitioning: templates are learned per host,
    /// and one inventory avoids partitions overwriting each other's endpoint rows.
    discovery: Discovery,
    /// Behavioural detection also runs here, once: its baselines need every record of an
    /// endpoint *and* of an actor, which API partitions split.
    behavioral: Vec<Box<dyn Detector>>,
    behavioral_alerts: AlertBook,
    alert_allowance: SignedDuration,
    watermark: Option<Timestamp>,
    pending: Vec<Exchange>,
    raw_findings: Vec<Finding>,
    batch_size: usize,
    /// Alerts raised on this thread go to the writer on the same channel as the partitions'.
    findings_tx: Option<SyncSender<PartitionOutput>>,
    runtime: PartitionedRuntime,
    writer: JoinHandle<Result<WriterOutcome>>,
    pub accepted: u64,
    pub first_event: Option<Timestamp>,
    pub last_event: Option<Timestamp>,
}

impl Session {
    pub fn start(
        config: &Config,
        mut store: Box<dyn Store>,
        options: SessionOptions,
    ) -> Result<Session> {
        let key = store.install_key().context("reading the install key")?;
        let normalizer = Normalizer::new(&config.normalize, &key).context("normalize")?;
        let mut specs = crate::cmd::spec::active_specs(config, store.as_ref())?;
        specs.extend(options.specs);
        let discovery = Discovery::load(config.discovery.clone(), specs, store.as_ref(), None)
            .with_context(|| format!("{}: loading the inventory", store.location()))?;
        let mode = storage_mode(&config.store.exchanges);
        let policy =
            RetentionPolicy::new(config.retention.client_ip_days, config.retention.body_hours)
                .context("retention")?;
        let alerts = options
            .alerts_out
            .as_deref()
            .map(open_alerts_out)
            .transpose()?;
        let stages = Stages::from_config(config)?;
        let behavioral =
            gw_detect::behavioral::build_behavioral(&config.behavioral).context("behavioral")?;
        let behavioral_alerts = AlertBook::new(
            SignedDuration::from_mins(i64::from(config.detect.alert_window_minutes)),
            config.detect.max_evidence_ids,
        )
        .context("detect")?;
        let (tx, rx) = sync_channel::<PartitionOutput>(config.ingest.queue_batches.max(1) * 2);
        let writer = std::thread::Builder::new()
            .name("gw-store-writer".into())
            .spawn(move || write_outputs(store, rx, mode, alerts, policy))
            .context("starting the store writer")?;
        let findings_tx = Some(tx.clone());
        let runtime = PartitionedRuntime::start(
            RuntimeConfig {
                partitions: config.partitions(),
                batch_size: config.ingest.batch_size,
                queue_batches: config.ingest.queue_batches,
            },
            |p| stages.operators(p),
            tx,
        );
        Ok(Session {
            normalizer,
            discovery,
            behavioral,
            behavioral_alerts,
            alert_allowance: SignedDuration::from_secs(i64::from(
                config.detect.out_of_order_seconds,
            )),
            watermark: None,
            pending: Vec::with_capacity(config.ingest.batch_size),
            raw_findings: Vec::new(),
            batch_size: config.ingest.batch_size,
            findings_tx,
            runtime,
            writer,
            accepted: 0,
            first_event: None,
            last_event: None,
        })
    }

    /// Normalizes one decoded record and hands it to the pipeline (blocks when the pipeline is
    /// saturated). Credentials are redacted here, before the record reaches any stage, the
    /// store or an output.
    pub fn push(&mut self, mut x: Exchange) {
        self.normalizer.normalize(&mut x);
        self.discovery.observe(&mut x);
        self.accepted += 1;
        let t = x.observed_at;
        self.first_event = Some(self.first_event.map_or(t, |f| f.min(t)));
        self.last_event = Some(self.last_event.map_or(t, |l| l.max(t)));
        self.pending.push(x);
        if self.pending.len() >= self.batch_size {
            self.flush_pending();
        }
    }

    /// Runs the behavioural detectors over the buffered batch, sends the alerts whose window
    /// closed, and hands the records to the partitions.
    fn flush_pending(&mut self) {
        for d in self.behavioral.iter_mut() {
            d.detect(&self.pending, &mut self.raw_findings);
        }
        for f in self.raw_findings.drain(..) {
            self.behavioral_alerts.record(f);
        }
        if let Some(latest) = self.pending.iter().map(|x| x.observed_at).max() {
            let w = self.watermark.map_or(latest, |w| w.max(latest));
            self.watermark = Some(w);
            if let Ok(closing) = w.checked_sub(self.alert_allowance) {
                let closed = self.behavioral_alerts.close_until(closing);
                self.send_findings(closed);
            }
        }
        for x in self.pending.drain(..) {
            self.runtime.push(x);
        }
    }

    fn send_findings(&self, findings: Vec<Finding>) {
        if findings.is_empty() {
            return;
        }
        if let Some(tx) = &self.findings_tx {
            // The writer only goes away with an error, which `finish` reports.
            let _ = tx.send(PartitionOutput {
                partition: usize::MAX,
                batch: Vec::new(),
                findings,
            });
        }
    }

    /// Drains the pipeline, lets the writer store the rest, saves the inventory, applies
    /// retention.
    pub fn finish(mut self) -> Result<WriterOutcome> {
        self.flush_pending();
        let open = self.behavioral_alerts.drain();
        self.send_findings(open);
        self.findings_tx = None;
        let reports = self.runtime.finish();
        for r in &reports {
            debug_assert!(r.metrics.is_balanced(), "{} lost records", r.operator);
        }
        let mut outcome = match self.writer.join() {
            Ok(outcome) => outcome?,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        outcome.operators = reports;
        for (endpoint, labels) in std::mem::take(&mut outcome.sensitive) {
            let labels: Vec<SensitiveLabel> = labels.into_iter().collect();
            self.discovery.note_sensitive(&endpoint, &labels);
        }
        let saved = self
            .discovery
            .save(outcome.store.as_mut())
            .with_context(|| format!("{}: saving the inventory", outcome.store.location()))?;
        outcome.endpoints_saved = saved.upserted;
        outcome.endpoints = self.discovery.inventory().count() as u64;
        Ok(outcome)
    }
}

pub fn storage_mode(name: &str) -> ExchangeStorage {
    match name {
        "none" => ExchangeStorage::None,
        "metadata_and_bodies" => ExchangeStorage::MetadataAndBodies,
        _ => ExchangeStorage::Metadata,
    }
}

fn open_alerts_out(path: &Path) -> Result<(PathBuf, BufWriter<File>)> {
    let f = File::create(path)
        .with_context(|| format!("{}: cannot create alerts file", path.display()))?;
    Ok((path.to_path_buf(), BufWriter::new(f)))
}

fn write_outputs(
    mut store: Box<dyn Store>,
    rx: std::sync::mpsc::Receiver<PartitionOutput>,
    mode: ExchangeStorage,
    mut alerts: Option<(PathBuf, BufWriter<File>)>,
    policy: RetentionPolicy,
) -> Result<WriterOutcome> {
    let mut written = 0;
    let mut duplicates = 0;
    let mut findings = 0;
    let mut store_busy = Duration::ZERO;
    let mut sensitive: BTreeMap<String, BTreeSet<SensitiveLabel>> = BTreeMap::new();
    for out in rx {
        for x in &out.batch {
            if let (Some(e), false) = (&x.endpoint, x.sensitive.is_empty()) {
                let seen = sensitive.entry(e.id.clone()).or_default();
                for label in &x.sensitive {
                    if seen.len() < MAX_LABELS_PER_ENDPOINT {
                        seen.insert(label.clone());
                    }
                }
            }
        }
        let started = Instant::now();
        if !out.batch.is_empty() {
            let report = store
                .write_exchanges(&out.batch, mode)
                .with_context(|| format!("{}: storing records", store.location()))?;
            written += report.written;
            duplicates += report.duplicates;
        }
        if !out.findings.is_empty() {
            findings += out.findings.len() as u64;
            write_findings(&mut alerts, &out.findings)?;
            store
                .upsert_findings(&out.findings)
                .with_context(|| format!("{}: storing findings", store.location()))?;
        }
        store_busy += started.elapsed();
    }
    if let Some((path, w)) = &mut alerts {
        w.flush()
            .with_context(|| format!("{}: writing alerts", path.display()))?;
    }
    let retention = match store.event_watermark()? {
        Some(now) => Some(
            store
                .apply_retention(now, &policy)
                .with_context(|| format!("{}: applying retention", store.location()))?,
        ),
        None => None,
    };
    Ok(WriterOutcome {
        store,
        written,
        duplicates,
        findings,
        retention,
        store_busy,
        operators: Vec::new(),
        endpoints: 0,
        endpoints_saved: 0,
        sensitive,
    })
}

fn write_findings(
    alerts: &mut Option<(PathBuf, BufWriter<File>)>,
    findings: &[Finding],
) -> Result<()> {
    if let Some((path, w)) = alerts {
        for f in findings {
            serde_json::to_writer(&mut *w, f)?;
            w.write_all(b"\n")
                .with_context(|| format!("{}: writing alerts", path.display()))?;
        }
    }
    Ok(())
}
