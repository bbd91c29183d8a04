//! One pipeline run: normalized records go through the partitioned operators, and a writer
//! thread stores what comes out (records, findings) and streams findings to `--alerts-out`.
//!
//! A batch job pushes everything and calls [`Session::finish`]. A long-running service calls
//! [`Session::barrier`] now and then instead: the writer reports (in [`LiveStats`]) the highest
//! barrier up to which everything pushed is stored, open alerts are stored while they grow, and
//! the inventory is saved — without restarting the session, so alert windows and behavioural
//! baselines carry on.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, Sender, SyncSender, channel, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use gw_detect::detectors::RecordMark;
use gw_detect::{AlertBook, Detector};
use gw_discover::Discovery;
use gw_ingest::normalize::Normalizer;
use gw_model::{Exchange, Finding, SensitiveLabel};
use gw_pipeline::{OperatorReport, PartitionOutput, PartitionedRuntime, RuntimeConfig};
use gw_store::{
    ExchangeStorage, RetentionPolicy, RetentionReport, SensitiveFieldObservation,
    SensitiveLocation, Store, StoredEndpoint,
};
use jiff::{SignedDuration, Timestamp};

use crate::config::Config;
use crate::events::{EventBudget, Mark, event_actor, event_endpoint, finding_context};
use crate::stages::Stages;

/// Distinct (kind, place) labels kept per endpoint for the inventory.
const MAX_LABELS_PER_ENDPOINT: usize = 256;

/// Per-field sensitive-data tallies the writer holds before merging them into the store (it
/// merges at every barrier, at the end, and early when this many are held).
const MAX_FIELD_TALLIES: usize = 50_000;

/// Detection events the writer holds before storing them in one transaction (it always stores
/// them at a barrier and at the end). A transaction of a few events cost as much as one of
/// hundreds: every commit rewrites the pages it touched in six b-trees (event rows and their
/// four indexes, detections, alert links); one per partition output made storing 0.7 % of
/// records' events 15 % of the writer's time.
const MAX_HELD_EVENTS: usize = 2_048;

/// Key of a per-field tally: endpoint id, label location (`response_body:$.a.b`), kind,
/// response status class.
type FieldKey = (String, String, String, Option<&'static str>);

/// Counts and event-time range of one kind of sensitive data in one field of one endpoint.
#[derive(Clone, Copy, Debug)]
struct FieldTally {
    count: u64,
    first: Timestamp,
    last: Timestamp,
}

/// Per endpoint and field: the kinds seen, counts, first/last seen and the highest
/// sensitivity — never the value — gathered by the writer and merged into the store.
#[derive(Default)]
struct SensitiveFields {
    tallies: std::collections::HashMap<FieldKey, FieldTally>,
}

impl SensitiveFields {
    fn observe(&mut self, x: &Exchange) {
        let Some(endpoint) = &x.endpoint else {
            return;
        };
        let class = x.response.status.map(status_class);
        for label in &x.sensitive {
            let key = (
                endpoint.id.clone(),
                label.location.clone(),
                label.kind.clone(),
                class,
            );
            let t = self.tallies.entry(key).or_insert(FieldTally {
                count: 0,
                first: x.observed_at,
                last: x.observed_at,
            });
            t.count += 1;
            t.first = t.first.min(x.observed_at);
            t.last = t.last.max(x.observed_at);
        }
    }

    fn is_full(&self) -> bool {
        self.tallies.len() >= MAX_FIELD_TALLIES
    }

    /// Merges what is held into the store and forgets it.
    fn merge_into(&mut self, store: &mut dyn Store) -> Result<()> {
        if self.tallies.is_empty() {
            return Ok(());
        }
        let mut obs: Vec<SensitiveFieldObservation> = self
            .tallies
            .drain()
            .filter_map(|((endpoint_id, place, kind, class), t)| {
                let (location, field) = place
                    .split_once(':')
                    .map_or((place.as_str(), ""), |(l, f)| (l, f));
                // Labels always name one of the five places (gw-classify's `Location`).
                let location = SensitiveLocation::from_name(location)?;
                let sensitivity = gw_classify::SensitiveKind::from_name(&kind)
                    .map_or(gw_classify::Sensitivity::Medium, |k| k.sensitivity());
                Some(SensitiveFieldObservation {
                    endpoint_id,
                    location,
                    field: field.to_string(),
                    kind,
                    status_class: class.map(str::to_string),
                    count: t.count,
                    first_seen: t.first,
                    last_seen: t.last,
                    sensitivity: sensitivity_rank(sensitivity),
                })
            })
            .collect();
        obs.sort_by(|a, b| {
            (&a.endpoint_id, a.location.as_str(), &a.field, &a.kind).cmp(&(
                &b.endpoint_id,
                b.location.as_str(),
                &b.field,
                &b.kind,
            ))
        });
        store
            .merge_sensitive_fields(&obs)
            .with_context(|| format!("{}: storing sensitive-field labels", store.location()))?;
        Ok(())
    }
}

fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        500..=599 => "5xx",
        _ => "other",
    }
}

/// 0 low .. 3 critical, as the store keeps it.
fn sensitivity_rank(s: gw_classify::Sensitivity) -> u8 {
    match s {
        gw_classify::Sensitivity::Low => 0,
        gw_classify::Sensitivity::Medium => 1,
        gw_classify::Sensitivity::High => 2,
        gw_classify::Sensitivity::Critical => 3,
    }
}

/// What a session needs beyond the config.
pub struct SessionOptions {
    /// Where every finding raised during the run is written as NDJSON.
    pub alerts_out: Option<PathBuf>,
    /// Where every detection event (`gatewatch.event/1`) is written as NDJSON.
    pub events_out: Option<PathBuf>,
    /// API specs the records are matched against (besides those in the config).
    pub specs: Vec<gw_spec::ApiSpec>,
    /// How often (wall time) a barrier also applies the retention policy; `None` = only when
    /// the session finishes (batch jobs).
    pub retention_every: Option<Duration>,
    /// Where findings are delivered once stored (webhooks, syslog, SIEMs); see [`Delivery`].
    pub delivery: Option<Arc<gw_export::delivery::Dispatcher>>,
}

/// The configured delivery sinks of one command, started once and closed at the end.
pub struct Delivery {
    dispatcher: Arc<gw_export::delivery::Dispatcher>,
}

impl Delivery {
    /// Starts the sinks of `config.delivery`; `None` when there are none.
    pub fn start(config: &Config) -> Result<Option<Delivery>> {
        if config.delivery.sinks.is_empty() {
            return Ok(None);
        }
        let producer = gw_export::Producer::new(env!("CARGO_PKG_VERSION"));
        let dispatcher = gw_export::delivery::Dispatcher::start(&config.delivery, &producer)
            .context("starting the delivery sinks")?;
        Ok(Some(Delivery {
            dispatcher: Arc::new(dispatcher),
        }))
    }

    pub fn dispatcher(&self) -> Arc<gw_export::delivery::Dispatcher> {
        self.dispatcher.clone()
    }

    /// Drains every sink (within the configured shutdown deadline) and reports what each did;
    /// sessions using it must have finished.
    ///
    /// An error if anything else still holds the dispatcher (closing it then could leave
    /// findings undelivered without saying so).
    pub fn close(self) -> Result<Vec<gw_export::delivery::SinkStats>> {
        gw_export::delivery::Dispatcher::close_shared(self.dispatcher)
            .context("closing the delivery sinks")
    }
}

/// One line per sink, for the end of a command.
pub fn delivery_summary(stats: &[gw_export::delivery::SinkStats]) -> Vec<String> {
    stats
        .iter()
        .map(|s| {
            format!(
                "delivery {} ({}): {} delivered, {} failed attempts, {} retried, {} dead-lettered{}",
                s.name,
                s.kind,
                s.delivered,
                s.failed,
                s.retried,
                s.dead_lettered,
                if s.lost > 0 {
                    format!(
                        ", {} LOST (the dead-letter file could not be written)",
                        s.lost
                    )
                } else {
                    String::new()
                }
            )
        })
        .collect()
}

/// Counters the writer and the session keep up to date while they run, for a service's
/// `/metrics` and durability acknowledgements.
#[derive(Debug, Default)]
pub struct LiveStats {
    pub written: AtomicU64,
    pub duplicates: AtomicU64,
    pub findings: AtomicU64,
    pub store_busy_micros: AtomicU64,
    /// Highest barrier token up to which everything pushed is stored.
    pub durable: AtomicU64,
    /// Barriers completed.
    pub barriers: AtomicU64,
    /// Latest event time pushed, in microseconds since the epoch (0 = none yet).
    pub latest_event_us: AtomicI64,
    /// Bodies the classify stage scanned, and skipped by sampling (`classify.sampling`).
    pub bodies_scanned: AtomicU64,
    pub bodies_skipped: AtomicU64,
    /// Findings raised, by rule id.
    pub by_rule: Mutex<BTreeMap<String, u64>>,
    /// Set when the writer stopped with an error (the session is then unusable).
    pub failure: Mutex<Option<String>>,
}

impl LiveStats {
    pub fn failure(&self) -> Option<String> {
        self.failure
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// What reaches the store writer.
enum WriterMsg {
    /// A partition's output (or the session thread's own findings, as partition `usize::MAX`).
    Output(PartitionOutput),
    /// Inventory rows changed since the last save.
    Inventory {
        upserts: Vec<StoredEndpoint>,
        removed: Vec<String>,
    },
    /// The session thread passed barrier `token` (after sending its findings and inventory).
    Barrier(u64),
    /// A behavioural detector's state, so its baselines survive a restart.
    DetectorState {
        name: String,
        state: Vec<u8>,
        watermark: Option<Timestamp>,
    },
}

impl From<PartitionOutput> for WriterMsg {
    fn from(out: PartitionOutput) -> Self {
        WriterMsg::Output(out)
    }
}

/// What the writer thread did.
pub struct WriterOutcome {
    pub store: Box<dyn Store>,
    pub written: u64,
    pub duplicates: u64,
    pub findings: u64,
    /// Detection events written (to the store and `--events-out`).
    pub events: u64,
    pub retention: Option<RetentionReport>,
    /// Time the writer spent in the store (records and findings).
    pub store_busy: Duration,
    /// Time the behavioural detectors took on the ingest thread.
    pub behavioral_busy: Duration,
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
    behavioral_busy: Duration,
    /// Records the behavioural detectors counted for an alert, as they hand them out.
    marks: Vec<RecordMark>,
    event_budget: EventBudget,
    alert_allowance: SignedDuration,
    watermark: Option<Timestamp>,
    pending: Vec<Exchange>,
    raw_findings: Vec<Finding>,
    batch_size: usize,
    /// Alerts raised on this thread go to the writer on the same channel as the partitions'.
    writer_tx: Option<SyncSender<WriterMsg>>,
    /// New sensitive-data labels per endpoint, from the writer (which sees classified records).
    labels_rx: Receiver<(String, Vec<SensitiveLabel>)>,
    runtime: PartitionedRuntime,
    writer: JoinHandle<Result<WriterOutcome>>,
    live: Arc<LiveStats>,
    enricher: Arc<gw_enrich::Enricher>,
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
            .map(|p| open_ndjson_out(p, "alerts"))
            .transpose()?;
        let events_out = options
            .events_out
            .as_deref()
            .map(|p| open_ndjson_out(p, "events"))
            .transpose()?;
        let live = Arc::new(LiveStats::default());
        let stages = Stages::from_config(config, live.clone())?;
        let mut behavioral =
            gw_detect::behavioral::build_behavioral(&config.behavioral).context("behavioral")?;
        restore_detectors(store.as_ref(), &mut behavioral)?;
        let behavioral_alerts = AlertBook::new(
            SignedDuration::from_mins(i64::from(config.detect.alert_window_minutes)),
            config.detect.max_evidence_ids,
        )
        .context("detect")?;
        let (tx, rx) = sync_channel::<WriterMsg>(config.ingest.queue_batches.max(1) * 2);
        let (labels_tx, labels_rx) = channel();
        let writer_state = WriterState {
            mode,
            alerts,
            events_out,
            policy,
            barrier_sources: config.partitions().max(1) + 1,
            retention_every: options.retention_every,
            live: live.clone(),
            labels_tx,
            delivery: options.delivery.clone(),
        };
        let writer = std::thread::Builder::new()
            .name("gw-store-writer".into())
            .spawn(move || write_outputs(store, rx, writer_state))
            .context("starting the store writer")?;
        let writer_tx = Some(tx.clone());
        let enricher = stages.enricher();
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
            behavioral_busy: Duration::ZERO,
            marks: Vec::new(),
            event_budget: EventBudget::new(config.detect.event_budget()),
            alert_allowance: SignedDuration::from_secs(i64::from(
                config.detect.out_of_order_seconds,
            )),
            watermark: None,
            pending: Vec::with_capacity(config.ingest.batch_size),
            raw_findings: Vec::new(),
            batch_size: config.ingest.batch_size,
            writer_tx,
            labels_rx,
            runtime,
            writer,
            live,
            enricher,
            accepted: 0,
            first_event: None,
            last_event: None,
        })
    }

    /// Normalizes one decoded record and hands it to the pipeline (blocks when the pipeline is
    /// saturated). Credentials are redacted here, before the record reaches any stage, the
    /// store or an output.
    pub fn push(&mut self, mut x: Exchange) {
        self.admit(&mut x);
        self.publish_latest_event();
        self.pending.push(x);
        if self.pending.len() >= self.batch_size {
            self.flush_pending();
        }
    }

    /// [`Session::push`] for a batch of decoded records (a service's request body). The
    /// batch is normalized where it lies and, when nothing is pending, becomes the pending
    /// batch as it is; records already pending are flushed first when the two together would
    /// pass the batch size. Records are large (≈ 1.5 KB): pushing them one by one moved each
    /// twice more on this thread.
    pub fn push_batch(&mut self, mut batch: Vec<Exchange>) {
        for x in &mut batch {
            self.admit(x);
        }
        self.publish_latest_event();
        if !self.pending.is_empty() && self.pending.len() + batch.len() > self.batch_size {
            self.flush_pending();
        }
        if self.pending.is_empty() {
            self.pending = batch;
        } else {
            self.pending.append(&mut batch);
        }
        if self.pending.len() >= self.batch_size {
            self.flush_pending();
        }
    }

    /// Normalization, discovery and the session's counters, for one record on its way in.
    fn admit(&mut self, x: &mut Exchange) {
        self.normalizer.normalize(x);
        self.discovery.observe(x);
        self.accepted += 1;
        let t = x.observed_at;
        self.first_event = Some(self.first_event.map_or(t, |f| f.min(t)));
        self.last_event = Some(self.last_event.map_or(t, |l| l.max(t)));
    }

    /// Shows the latest event time in the live counters (once per batch, not per record).
    fn publish_latest_event(&self) {
        if let Some(last) = self.last_event {
            self.live
                .latest_event_us
                .store(last.as_microsecond(), Ordering::Relaxed);
        }
    }

    /// Runs the behavioural detectors over the buffered batch, sends the alerts whose window
    /// closed, and hands the records to the partitions.
    fn flush_pending(&mut self) {
        let started = Instant::now();
        for d in self.behavioral.iter_mut() {
            d.detect(&self.pending, &mut self.raw_findings);
            d.take_marks(&mut self.marks);
        }
        self.behavioral_busy += started.elapsed();
        if !self.marks.is_empty() {
            let events = self.behavioral_events();
            if !events.is_empty() {
                self.send(WriterMsg::Output(PartitionOutput {
                    partition: usize::MAX,
                    events,
                    ..PartitionOutput::default()
                }));
            }
        }
        for f in self.raw_findings.drain(..) {
            self.behavioral_alerts.record(f);
        }
        if let Some(latest) = self.pending.iter().map(|x| x.observed_at).max() {
            let w = self.watermark.map_or(latest, |w| w.max(latest));
            self.watermark = Some(w);
            if let Ok(closing) = w.checked_sub(self.alert_allowance) {
                let mut closed = self.behavioral_alerts.close_until(closing);
                self.event_budget.annotate(&mut closed);
                self.event_budget.forget(&closed);
                self.send_findings(closed);
            }
        }
        for x in self.pending.drain(..) {
            self.runtime.push(x);
        }
    }

    /// Detection events of the records the behavioural detectors counted for their alerts.
    /// Endpoint and actor come from the record when it is in the current batch, else from the
    /// alert's own finding of this batch (records counted before an alert fired).
    fn behavioral_events(&mut self) -> Vec<gw_model::Event> {
        let by_id: std::collections::HashMap<&str, &Exchange> =
            self.pending.iter().map(|x| (x.id.as_str(), x)).collect();
        let by_fingerprint: std::collections::HashMap<&str, &Finding> = self
            .raw_findings
            .iter()
            .map(|f| (f.fingerprint.as_str(), f))
            .collect();
        let marks: Vec<Mark<'_>> = self
            .marks
            .iter()
            .map(|m| {
                let alert_id = self
                    .behavioral_alerts
                    .alert_id_for(&m.fingerprint, m.alert_at);
                let (endpoint, actor) = match by_id.get(m.exchange_id.as_str()) {
                    Some(x) => (event_endpoint(x), event_actor(x)),
                    None => by_fingerprint
                        .get(m.fingerprint.as_str())
                        .map(|f| finding_context(f))
                        .unwrap_or_default(),
                };
                Mark {
                    exchange_id: &m.exchange_id,
                    observed_at: m.observed_at,
                    alert_id,
                    detection: gw_model::Detection {
                        rule_id: m.rule_id.to_string(),
                        location: m.location.clone(),
                        fragment: m.fragment.clone(),
                        confidence: m.confidence,
                    },
                    endpoint,
                    actor,
                }
            })
            .collect();
        let mut events = Vec::new();
        self.event_budget.file(marks, &mut events);
        self.marks.clear();
        events
    }

    fn send_findings(&self, findings: Vec<Finding>) {
        if findings.is_empty() {
            return;
        }
        self.send(WriterMsg::Output(PartitionOutput {
            partition: usize::MAX,
            findings,
            ..PartitionOutput::default()
        }));
    }

    fn send(&self, msg: WriterMsg) {
        if let Some(tx) = &self.writer_tx {
            // The writer only goes away with an error, which `finish` and `LiveStats` report.
            let _ = tx.send(msg);
        }
    }

    /// Sends the behavioural detectors' state to the writer (a service does this now and then;
    /// `finish` always does).
    pub fn snapshot_detectors(&self) {
        for d in &self.behavioral {
            if let Some(state) = d.snapshot() {
                self.send(WriterMsg::DetectorState {
                    name: d.name().to_string(),
                    state,
                    watermark: self.watermark,
                });
            }
        }
    }

    /// The enrichment the partitions share: its threat-intel lists and GeoIP databases can be
    /// reloaded while the session runs.
    pub fn enricher(&self) -> Arc<gw_enrich::Enricher> {
        self.enricher.clone()
    }

    /// Counters shared with the writer (durability, stores, findings by rule).
    pub fn live(&self) -> Arc<LiveStats> {
        self.live.clone()
    }

    /// A durability point without stopping: everything pushed so far goes through the
    /// partitions, open alerts are handed to the store as they stand (later hits of the same
    /// alert merge into the stored one), the inventory changes are saved, and once the writer
    /// has stored all of it, `live().durable` becomes `token` (tokens must increase). Blocks
    /// only while the pipeline is saturated.
    pub fn barrier(&mut self, token: u64) -> Result<()> {
        if let Some(failure) = self.live.failure() {
            anyhow::bail!("the store writer stopped: {failure}");
        }
        self.flush_pending();
        let mut open = self.behavioral_alerts.drain();
        self.event_budget.annotate(&mut open);
        self.send_findings(open);
        self.runtime.barrier(token);
        while let Ok((endpoint, labels)) = self.labels_rx.try_recv() {
            self.discovery.note_sensitive(&endpoint, &labels);
        }
        let changes = self.discovery.changed_since_last_save();
        if !changes.is_empty() {
            let upserts = changes
                .upserts
                .iter()
                .map(gw_discover::to_stored)
                .collect::<Result<Vec<_>, _>>()
                .context("encoding the inventory")?;
            self.send(WriterMsg::Inventory {
                upserts,
                removed: changes.removed,
            });
        }
        self.send(WriterMsg::Barrier(token));
        Ok(())
    }

    /// Drains the pipeline, lets the writer store the rest, saves the inventory, applies
    /// retention.
    pub fn finish(mut self) -> Result<WriterOutcome> {
        self.flush_pending();
        let mut open = self.behavioral_alerts.drain();
        self.event_budget.annotate(&mut open);
        self.send_findings(open);
        self.snapshot_detectors();
        self.writer_tx = None;
        let reports = self.runtime.finish();
        for r in &reports {
            debug_assert!(r.metrics.is_balanced(), "{} lost records", r.operator);
        }
        let mut outcome = match self.writer.join() {
            Ok(outcome) => outcome?,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        outcome.operators = reports;
        outcome.behavioral_busy = self.behavioral_busy;
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

/// Continues the behavioural baselines stored by an earlier run. A state that cannot be read
/// (written by another version) is reported and the detector starts learning afresh: losing a
/// baseline must not stop ingestion.
fn restore_detectors(store: &dyn Store, detectors: &mut [Box<dyn Detector>]) -> Result<()> {
    for d in detectors.iter_mut() {
        let stored = store.load_detector_state(d.name()).with_context(|| {
            format!(
                "{}: reading the state of detector {}",
                store.location(),
                d.name()
            )
        })?;
        if let Some((state, _watermark)) = stored
            && let Err(e) = d.restore(&state)
        {
            eprintln!(
                "gatewatch: warning: the stored baselines of detector {} could not be restored ({e}); it learns afresh",
                d.name()
            );
        }
    }
    Ok(())
}

pub fn storage_mode(name: &str) -> ExchangeStorage {
    match name {
        "none" => ExchangeStorage::None,
        "metadata_and_bodies" => ExchangeStorage::MetadataAndBodies,
        _ => ExchangeStorage::Metadata,
    }
}

fn open_ndjson_out(path: &Path, what: &str) -> Result<(PathBuf, BufWriter<File>)> {
    let f = File::create(path)
        .with_context(|| format!("{}: cannot create the {what} file", path.display()))?;
    Ok((path.to_path_buf(), BufWriter::new(f)))
}

/// The writer's configuration and the channels it reports on.
struct WriterState {
    mode: ExchangeStorage,
    alerts: Option<(PathBuf, BufWriter<File>)>,
    events_out: Option<(PathBuf, BufWriter<File>)>,
    policy: RetentionPolicy,
    /// Barrier messages that complete one barrier: every partition plus the session thread.
    barrier_sources: usize,
    retention_every: Option<Duration>,
    live: Arc<LiveStats>,
    labels_tx: Sender<(String, Vec<SensitiveLabel>)>,
    delivery: Option<Arc<gw_export::delivery::Dispatcher>>,
}

fn write_outputs(
    store: Box<dyn Store>,
    rx: Receiver<WriterMsg>,
    state: WriterState,
) -> Result<WriterOutcome> {
    let live = state.live.clone();
    let outcome = write_loop(store, rx, state);
    if let Err(e) = &outcome {
        *live.failure.lock().unwrap_or_else(|p| p.into_inner()) = Some(format!("{e:#}"));
    }
    outcome
}

fn write_loop(
    mut store: Box<dyn Store>,
    rx: Receiver<WriterMsg>,
    mut st: WriterState,
) -> Result<WriterOutcome> {
    let mut written = 0;
    let mut duplicates = 0;
    let mut findings = 0;
    let mut events = 0;
    let mut store_busy = Duration::ZERO;
    let mut sensitive: BTreeMap<String, BTreeSet<SensitiveLabel>> = BTreeMap::new();
    let mut barriers: BTreeMap<u64, usize> = BTreeMap::new();
    let mut fields = SensitiveFields::default();
    let mut held_events: Vec<gw_model::Event> = Vec::new();
    let mut last_retention = Instant::now();
    let live = st.live.clone();
    for msg in rx {
        let started = Instant::now();
        let out = match msg {
            WriterMsg::Output(out) => out,
            WriterMsg::Inventory { upserts, removed } => {
                store
                    .save_endpoints(&upserts, &removed)
                    .with_context(|| format!("{}: saving the inventory", store.location()))?;
                store_busy += started.elapsed();
                continue;
            }
            WriterMsg::DetectorState {
                name,
                state,
                watermark,
            } => {
                store
                    .save_detector_state(&name, &state, watermark)
                    .with_context(|| {
                        format!("{}: saving the state of detector {name}", store.location())
                    })?;
                store_busy += started.elapsed();
                continue;
            }
            WriterMsg::Barrier(token) => PartitionOutput {
                barrier: Some(token),
                ..PartitionOutput::default()
            },
        };
        for x in &out.batch {
            if !x.sensitive.is_empty() {
                fields.observe(x);
            }
            if let (Some(e), false) = (&x.endpoint, x.sensitive.is_empty()) {
                let seen = sensitive.entry(e.id.clone()).or_default();
                let mut new = Vec::new();
                for label in &x.sensitive {
                    if seen.len() < MAX_LABELS_PER_ENDPOINT && seen.insert(label.clone()) {
                        new.push(label.clone());
                    }
                }
                if !new.is_empty() {
                    // The session may be gone already (finish); it then reads `sensitive`.
                    let _ = st.labels_tx.send((e.id.clone(), new));
                }
            }
        }
        if fields.is_full() {
            fields.merge_into(store.as_mut())?;
        }
        if !out.batch.is_empty() {
            let report = store
                .write_exchanges(&out.batch, st.mode)
                .with_context(|| format!("{}: storing records", store.location()))?;
            written += report.written;
            duplicates += report.duplicates;
            live.written.fetch_add(report.written, Ordering::Relaxed);
            live.duplicates
                .fetch_add(report.duplicates, Ordering::Relaxed);
        }
        if !out.findings.is_empty() {
            findings += out.findings.len() as u64;
            write_ndjson(&mut st.alerts, &out.findings)?;
            store
                .upsert_findings(&out.findings)
                .with_context(|| format!("{}: storing findings", store.location()))?;
            if let Some(d) = &st.delivery {
                // Blocks at most the configured enqueue timeout per sink, then dead-letters.
                d.dispatch_all(&out.findings);
            }
            live.findings
                .fetch_add(out.findings.len() as u64, Ordering::Relaxed);
            let mut by_rule = live.by_rule.lock().unwrap_or_else(|p| p.into_inner());
            for f in &out.findings {
                *by_rule.entry(f.rule.id.clone()).or_default() += f.count.max(1);
            }
        }
        if !out.events.is_empty() {
            events += out.events.len() as u64;
            write_ndjson(&mut st.events_out, &out.events)?;
            held_events.extend(out.events);
            if held_events.len() >= MAX_HELD_EVENTS {
                store_events(store.as_mut(), &mut held_events)?;
            }
        }
        if let Some(token) = out.barrier {
            let passed = barriers.entry(token).or_default();
            *passed += 1;
            if *passed >= st.barrier_sources {
                // Every source passed it: all records and findings before it are stored.
                barriers.retain(|&t, _| t > token);
                store_events(store.as_mut(), &mut held_events)?;
                fields.merge_into(store.as_mut())?;
                for (path, w) in [&mut st.alerts, &mut st.events_out].into_iter().flatten() {
                    w.flush()
                        .with_context(|| format!("{}: writing", path.display()))?;
                }
                if st
                    .retention_every
                    .is_some_and(|every| last_retention.elapsed() >= every)
                {
                    last_retention = Instant::now();
                    if let Some(now) = store.event_watermark()? {
                        store
                            .apply_retention(now, &st.policy)
                            .with_context(|| format!("{}: applying retention", store.location()))?;
                    }
                }
                live.durable.fetch_max(token, Ordering::SeqCst);
                live.barriers.fetch_add(1, Ordering::Relaxed);
            }
        }
        let busy = started.elapsed();
        store_busy += busy;
        live.store_busy_micros
            .fetch_add(busy.as_micros() as u64, Ordering::Relaxed);
    }
    for (path, w) in [&mut st.alerts, &mut st.events_out].into_iter().flatten() {
        w.flush()
            .with_context(|| format!("{}: writing", path.display()))?;
    }
    store_events(store.as_mut(), &mut held_events)?;
    fields.merge_into(store.as_mut())?;
    let retention = match store.event_watermark()? {
        Some(now) => Some(
            store
                .apply_retention(now, &st.policy)
                .with_context(|| format!("{}: applying retention", store.location()))?,
        ),
        None => None,
    };
    Ok(WriterOutcome {
        store,
        written,
        duplicates,
        findings,
        events,
        retention,
        store_busy,
        behavioral_busy: Duration::ZERO,
        operators: Vec::new(),
        endpoints: 0,
        endpoints_saved: 0,
        sensitive,
    })
}

/// Stores the held detection events in one transaction and empties `held`.
fn store_events(store: &mut dyn Store, held: &mut Vec<gw_model::Event>) -> Result<()> {
    if held.is_empty() {
        return Ok(());
    }
    store
        .write_events(held)
        .with_context(|| format!("{}: storing detection events", store.location()))?;
    held.clear();
    Ok(())
}

/// Appends one JSON line per item to an output file, if there is one.
fn write_ndjson<T: serde::Serialize>(
    out: &mut Option<(PathBuf, BufWriter<File>)>,
    items: &[T],
) -> Result<()> {
    if let Some((path, w)) = out {
        for item in items {
            serde_json::to_writer(&mut *w, item)
                .map_err(anyhow::Error::from)
                .and_then(|()| w.write_all(b"\n").map_err(anyhow::Error::from))
                .with_context(|| format!("{}: writing", path.display()))?;
        }
    }
    Ok(())
}
