//! `gatewatch serve`: the HTTP ingest server in front of the pipeline.
//!
//! gw-server acknowledges a batch once it is fsynced to its spool and hands it to
//! [`PipelineSink`], which feeds a [`Session`] on a dedicated thread through a bounded channel
//! (a full channel blocks the server's forwarder, its queue fills and clients get 429). The
//! pipeline is flushed into the store every `--flush-seconds` while records arrive; only then is
//! the spool committed up to the last batch of that flush, so a crash replays at most the
//! batches since the last flush, and the store drops the replayed record ids it already holds.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use gw_export::delivery::{DeliveryMonitor, SinkStats};
use gw_server::{Batch, RecordSink, Server, SinkFailure};

use crate::config::{Config, store_path};
use crate::session::{Delivery, LiveStats, Session, SessionOptions, delivery_summary};

#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ServeArgs {
    #[command(subcommand)]
    command: Option<ServeCommand>,
    /// Listen address (overrides `server.listen`).
    #[arg(long, value_name = "ADDR")]
    listen: Option<String>,
    /// Store location (SQLite file); default from config `store.url`.
    #[arg(long, value_name = "FILE")]
    db: Option<PathBuf>,
    /// Seconds between pipeline flushes into the store while records arrive: the most a crash
    /// can make the server replay from its spool.
    #[arg(long, default_value_t = 2, value_name = "SECONDS")]
    flush_seconds: u64,
    /// Keep this gateway blocklist file up to date with the IPs behind open threat alerts
    /// (rewritten atomically when it changes).
    #[arg(long, value_name = "FILE")]
    blocklist: Option<PathBuf>,
    /// Format of --blocklist: nginx, envoy-rbac, apim-ip-filter, kong-ip-restriction or plain.
    #[arg(long, default_value = "plain", value_name = "FORMAT")]
    blocklist_format: String,
    /// Only alerts of this severity or higher go on --blocklist.
    #[arg(long, default_value = "high", value_parser = crate::cmd::alerts::parse_severity)]
    blocklist_min_severity: gw_model::Severity,
    /// How long an entry stays after its alert's last hit, e.g. 24h, 7d.
    #[arg(long, default_value = "24h", value_parser = crate::cmd::simulate::parse_duration)]
    blocklist_ttl: jiff::SignedDuration,
    /// Seconds between --blocklist refreshes.
    #[arg(long, default_value_t = 10, value_name = "SECONDS")]
    blocklist_every: u64,
}

#[derive(Subcommand, Debug)]
enum ServeCommand {
    /// Print the SHA-256 to put in `server.tokens[].sha256` for a token secret (read from the
    /// argument, or from the first line of stdin).
    HashToken { secret: Option<String> },
}

pub fn run(config: &Config, args: ServeArgs) -> Result<ExitCode> {
    if let Some(ServeCommand::HashToken { secret }) = args.command {
        let secret = match secret {
            Some(s) => s,
            None => {
                let mut line = String::new();
                std::io::stdin()
                    .read_line(&mut line)
                    .context("reading the token secret from stdin")?;
                line.trim_end_matches(['\r', '\n']).to_string()
            }
        };
        anyhow::ensure!(!secret.is_empty(), "the token secret is empty");
        println!("{}", gw_server::hash_token(&secret));
        return Ok(ExitCode::SUCCESS);
    }
    let mut server_config = config.server.clone();
    if let Some(listen) = args.listen {
        server_config.listen = listen;
    }
    let db = store_path(config, args.db.as_deref());
    let store = gw_store::open_store(&db.display().to_string())
        .with_context(|| format!("{}: cannot open the store", db.display()))?;
    fetch_missing_intel_lists(config)?;
    let delivery = Delivery::start(config)?;
    let sink = Arc::new(PipelineSink::start(
        config.clone(),
        store,
        Duration::from_secs(args.flush_seconds.max(1)),
        delivery.as_ref().map(Delivery::dispatcher),
    )?);
    let blocklist = match &args.blocklist {
        Some(path) => Some(BlocklistRefresher::start(
            BlocklistJob {
                path: path.clone(),
                db: db.display().to_string(),
                format: args
                    .blocklist_format
                    .parse()
                    .map_err(|e| anyhow::anyhow!("--blocklist-format: {e}"))?,
                min_severity: args.blocklist_min_severity,
                ttl: args.blocklist_ttl,
            },
            Duration::from_secs(args.blocklist_every.max(1)),
        )?),
        None => None,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("gw-http")
        .build()
        .context("starting the async runtime")?;
    // The read API has its own connection to the same file: SQLite's WAL lets it read while
    // the pipeline writes.
    let read_store = gw_store::open_store(&db.display().to_string())
        .with_context(|| format!("{}: cannot open the store for the read API", db.display()))?;
    let read: Arc<dyn gw_server::ReadStore> = Arc::new(Mutex::new(read_store));
    let report = runtime.block_on(async {
        let server = Server::bind_with_read_store(server_config, sink.clone(), Some(read)).await?;
        let shutdown = gw_server::shutdown_signal();
        if let Err(e) = spawn_reload_on_sighup(sink.reloader.clone()) {
            eprintln!("gatewatch: warning: {e:#}; lists still reload when their files change");
        }
        eprintln!(
            "gatewatch: serving on {}://{} (store {})",
            if server.is_tls() { "https" } else { "http" },
            server.local_addr(),
            db.display()
        );
        server.run(shutdown).await
    })?;
    if let Some(b) = blocklist {
        b.stop()?;
    }
    if let Some(d) = delivery {
        for line in delivery_summary(&d.close()?) {
            eprintln!("gatewatch: {line}");
        }
    }
    let live = sink.live();
    let count =
        |f: fn(&LiveStats) -> &AtomicU64| live.as_ref().map_or(0, |l| f(l).load(Ordering::Relaxed));
    eprintln!(
        "gatewatch: stopped; {} batches replayed from the spool at start, spool committed through {} of {}; {} records stored, {} already stored, {} findings",
        report.replayed,
        report.committed,
        report.appended,
        count(|l| &l.written),
        count(|l| &l.duplicates),
        count(|l| &l.findings),
    );
    Ok(ExitCode::SUCCESS)
}

/// Lists with a download URL whose file is not there yet are fetched before the pipeline
/// starts (it needs a list to load); a failure is an error naming the list.
fn fetch_missing_intel_lists(config: &Config) -> Result<()> {
    for list in &config.enrich.lists {
        if list.url.is_some() && !list.path.exists() {
            let report = gw_enrich::download_list(list, gw_enrich::DOWNLOAD_TIMEOUT)
                .with_context(|| format!("enrich list {}: initial download", list.name))?;
            eprintln!("gatewatch: intel list {} downloaded: {report:?}", list.name);
        }
    }
    Ok(())
}

/// How often the intel reloader checks list files (and due downloads).
const INTEL_POLL: Duration = Duration::from_secs(30);

/// The slot the pipeline thread publishes its intel reloader in, for the SIGHUP handler.
type ReloaderSlot = Arc<Mutex<Option<Arc<gw_enrich::ReloaderHandle>>>>;

/// SIGHUP reloads the threat-intel lists and GeoIP databases now (they are also reloaded when
/// their files change), without stopping ingestion.
fn spawn_reload_on_sighup(slot: ReloaderSlot) -> Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut hup = signal(SignalKind::hangup()).context("installing the SIGHUP handler")?;
        tokio::spawn(async move {
            while hup.recv().await.is_some() {
                let reloader = slot.lock().unwrap_or_else(|p| p.into_inner()).clone();
                match reloader {
                    Some(r) => {
                        r.trigger();
                        eprintln!("gatewatch: SIGHUP: reloading threat-intel lists");
                    }
                    None => eprintln!("gatewatch: SIGHUP: no threat-intel lists configured"),
                }
            }
        });
    }
    #[cfg(not(unix))]
    let _ = slot;
    Ok(())
}

/// What `--blocklist` keeps current.
struct BlocklistJob {
    path: PathBuf,
    db: String,
    format: gw_export::BlocklistFormat,
    min_severity: gw_model::Severity,
    ttl: jiff::SignedDuration,
}

impl BlocklistJob {
    /// Renders the blocklist from the store and rewrites the file when it changed; returns the
    /// number of entries when it wrote.
    fn refresh(
        &self,
        store: &dyn gw_store::Store,
        last: &mut Option<String>,
    ) -> Result<Option<usize>> {
        if store.event_watermark()?.is_none() {
            return Ok(None);
        }
        let (text, entries) = crate::cmd::alerts::render_store_blocklist(
            store,
            self.format,
            self.min_severity,
            self.ttl,
            None,
        )?;
        if last.as_deref() == Some(text.as_str()) {
            return Ok(None);
        }
        crate::cmd::alerts::write_atomically(&self.path, &text)?;
        *last = Some(text);
        Ok(Some(entries))
    }
}

/// A thread that refreshes the blocklist file every `every` until stopped (and once more at
/// the end, after the pipeline drained).
struct BlocklistRefresher {
    stop: Arc<std::sync::atomic::AtomicBool>,
    thread: JoinHandle<Result<()>>,
}

impl BlocklistRefresher {
    fn start(job: BlocklistJob, every: Duration) -> Result<Self> {
        let store = gw_store::open_store(&job.db)
            .with_context(|| format!("{}: cannot open the store for the blocklist", job.db))?;
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("gw-blocklist".into())
            .spawn(move || {
                let mut last = None;
                let mut next = Instant::now();
                loop {
                    let stopping = flag.load(Ordering::SeqCst);
                    if stopping || Instant::now() >= next {
                        next = Instant::now() + every;
                        match job.refresh(store.as_ref(), &mut last) {
                            Ok(Some(n)) => eprintln!(
                                "gatewatch: blocklist {} updated ({n} entries)",
                                job.path.display()
                            ),
                            Ok(None) => {}
                            // A failed refresh keeps the previous file; the next one retries.
                            Err(e) => eprintln!(
                                "gatewatch: warning: blocklist {} not updated: {e:#}",
                                job.path.display()
                            ),
                        }
                    }
                    if stopping {
                        return Ok(());
                    }
                    std::thread::sleep(Duration::from_millis(200));
                }
            })
            .context("starting the blocklist thread")?;
        Ok(BlocklistRefresher { stop, thread })
    }

    fn stop(self) -> Result<()> {
        self.stop.store(true, Ordering::SeqCst);
        match self.thread.join() {
            Ok(r) => r,
            Err(_) => anyhow::bail!("the blocklist thread panicked"),
        }
    }
}

/// How often (wall time) the running service applies the retention policy.
const RETENTION_EVERY: Duration = Duration::from_secs(600);

/// How often (wall time) the running service stores the behavioural baselines (and always at
/// shutdown), so that a restart continues them instead of learning afresh.
const SNAPSHOT_EVERY: Duration = Duration::from_secs(300);

/// The binary's pipeline behind gw-server.
pub struct PipelineSink {
    tx: Mutex<Option<SyncSender<Batch>>>,
    worker: Mutex<Option<JoinHandle<Result<()>>>>,
    /// The session's live counters, once the pipeline thread has started it.
    live: Arc<Mutex<Option<Arc<LiveStats>>>>,
    /// The intel reloader of the session, once started (when lists are configured).
    reloader: ReloaderSlot,
    /// The delivery counters, for `/metrics`; it does not keep the sinks open.
    delivery: Option<DeliveryMonitor>,
}

impl PipelineSink {
    fn start(
        config: Config,
        store: Box<dyn gw_store::Store>,
        flush_every: Duration,
        delivery: Option<Arc<gw_export::delivery::Dispatcher>>,
    ) -> Result<Self> {
        let (tx, rx) = sync_channel(config.ingest.queue_batches.max(1));
        let live = Arc::new(Mutex::new(None));
        let reloader: ReloaderSlot = Arc::new(Mutex::new(None));
        let monitor = delivery.as_ref().map(|d| d.monitor());
        let worker = {
            let live = live.clone();
            let slots = Slots {
                live: live.clone(),
                reloader: reloader.clone(),
            };
            std::thread::Builder::new()
                .name("gw-serve-pipeline".into())
                .spawn(move || run_pipeline(&config, store, &rx, flush_every, &slots, delivery))
                .context("starting the pipeline thread")?
        };
        Ok(PipelineSink {
            tx: Mutex::new(Some(tx)),
            worker: Mutex::new(Some(worker)),
            live,
            reloader,
            delivery: monitor,
        })
    }

    fn live(&self) -> Option<Arc<LiveStats>> {
        self.live.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl RecordSink for PipelineSink {
    fn submit(&self, batch: Batch) -> Result<(), SinkFailure> {
        let tx = self.tx.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let Some(tx) = tx else {
            return Err(SinkFailure {
                batch,
                reason: "the pipeline is shut down".into(),
            });
        };
        // Blocks while the pipeline is saturated; the server answers 429 meanwhile.
        tx.send(batch).map_err(|e| SinkFailure {
            batch: e.0,
            reason: "the pipeline thread stopped (see the error it logged)".into(),
        })
    }

    fn durable_through(&self) -> u64 {
        self.live().map_or(0, |l| l.durable.load(Ordering::SeqCst))
    }

    fn drain(&self) -> Result<(), String> {
        drop(self.tx.lock().unwrap_or_else(|p| p.into_inner()).take());
        let worker = self.worker.lock().unwrap_or_else(|p| p.into_inner()).take();
        match worker.map(JoinHandle::join) {
            None | Some(Ok(Ok(()))) => Ok(()),
            Some(Ok(Err(e))) => Err(format!("{e:#}")),
            Some(Err(_)) => Err("the pipeline thread panicked".into()),
        }
    }

    fn render_metrics(&self, out: &mut String) {
        if let Some(live) = self.live() {
            render_live_metrics(&live, jiff::Timestamp::now(), out);
        }
        if let Some(delivery) = &self.delivery {
            render_delivery_metrics(&delivery.stats(), out);
        }
    }
}

/// The pipeline's Prometheus series: store counters, durability, findings by rule and the
/// event-time lag (wall clock minus the latest event time pushed).
fn render_live_metrics(live: &LiveStats, now: jiff::Timestamp, out: &mut String) {
    use std::fmt::Write as _;
    let load = |a: &AtomicU64| a.load(Ordering::Relaxed) as f64;
    let latest = live.latest_event_us.load(Ordering::Relaxed);
    let lag = if latest == 0 {
        0.0
    } else {
        ((now.as_microsecond() - latest) as f64 / 1e6).max(0.0)
    };
    let series = [
        (
            "gatewatch_store_records_written_total",
            "counter",
            "Records written to the store.",
            load(&live.written),
        ),
        (
            "gatewatch_store_records_duplicate_total",
            "counter",
            "Records the store already held (replays, client retries).",
            load(&live.duplicates),
        ),
        (
            "gatewatch_findings_raised_total",
            "counter",
            "Finding updates the pipeline stored (an alert growing across flushes counts once per flush).",
            load(&live.findings),
        ),
        (
            "gatewatch_pipeline_flushes_total",
            "counter",
            "Durability barriers completed (records and open alerts stored).",
            load(&live.barriers),
        ),
        (
            "gatewatch_store_busy_seconds_total",
            "counter",
            "Time the store writer spent in the store.",
            load(&live.store_busy_micros) / 1e6,
        ),
        (
            "gatewatch_pipeline_durable_batch",
            "gauge",
            "Highest spool batch durable in the store.",
            load(&live.durable),
        ),
        (
            "gatewatch_pipeline_event_lag_seconds",
            "gauge",
            "Wall clock minus the latest event time pushed into the pipeline.",
            lag,
        ),
    ];
    for (name, kind, help, value) in series {
        let _ = write!(
            out,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n"
        );
    }
    let name = "gatewatch_classify_bodies_total";
    let _ = write!(
        out,
        "# HELP {name} Bodies the classify stage scanned, or skipped by sampling once an endpoint's labels were stable.\n# TYPE {name} counter\n"
    );
    for (result, value) in [
        ("scanned", &live.bodies_scanned),
        ("skipped", &live.bodies_skipped),
    ] {
        let _ = writeln!(
            out,
            "{} {}",
            gw_server::metrics::series(name, &[("result", result)]),
            load(value)
        );
    }
    let by_rule = live.by_rule.lock().unwrap_or_else(|p| p.into_inner());
    let name = "gatewatch_detections_total";
    let _ = write!(
        out,
        "# HELP {name} Detections folded into findings, by rule.\n# TYPE {name} counter\n"
    );
    for (rule, n) in by_rule.iter() {
        let _ = writeln!(
            out,
            "{}",
            format_args!(
                "{} {n}",
                gw_server::metrics::series(name, &[("rule", rule)])
            )
        );
    }
}

/// A delivery series: name, type, help and the value of a sink (`None`: no sample).
type DeliverySeries = (
    &'static str,
    &'static str,
    &'static str,
    fn(&SinkStats) -> Option<f64>,
);

/// The delivery sinks' Prometheus series, labelled with the sink's `sink` name and `kind`.
const DELIVERY_SERIES: &[DeliverySeries] = &[
    (
        "gatewatch_delivery_findings_delivered_total",
        "counter",
        "Findings the sink's receiver accepted (written, for file and stdout sinks).",
        |s| Some(s.delivered as f64),
    ),
    (
        "gatewatch_delivery_failed_attempts_total",
        "counter",
        "Failed delivery attempts, once per finding per attempt.",
        |s| Some(s.failed as f64),
    ),
    (
        "gatewatch_delivery_findings_retried_total",
        "counter",
        "Findings sent again after a retryable failure, once per retry.",
        |s| Some(s.retried as f64),
    ),
    (
        "gatewatch_delivery_findings_dead_lettered_total",
        "counter",
        "Findings written to the sink's dead-letter file (failed, queue full, or pending at shutdown).",
        |s| Some(s.dead_lettered as f64),
    ),
    (
        "gatewatch_delivery_findings_queue_full_total",
        "counter",
        "Of the dead-lettered findings, those whose sink queue stayed full.",
        |s| Some(s.queue_full as f64),
    ),
    (
        "gatewatch_delivery_findings_lost_total",
        "counter",
        "Findings neither delivered nor dead-lettered because the dead-letter file could not be written.",
        |s| Some(s.lost as f64),
    ),
    (
        "gatewatch_delivery_queue_findings",
        "gauge",
        "Findings waiting in the sink's queue.",
        |s| Some(s.queued as f64),
    ),
    (
        "gatewatch_delivery_queue_capacity_findings",
        "gauge",
        "Findings the sink's queue holds at most.",
        |s| Some(s.queue_capacity as f64),
    ),
    (
        "gatewatch_delivery_last_success_timestamp_seconds",
        "gauge",
        "Unix time the sink's receiver last accepted a batch; absent before the first.",
        |s| s.last_delivered_at.map(|t| t.as_millisecond() as f64 / 1e3),
    ),
];

fn render_delivery_metrics(stats: &[SinkStats], out: &mut String) {
    use std::fmt::Write as _;
    for (name, kind, help, value) in DELIVERY_SERIES {
        let _ = write!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n");
        for sink in stats {
            if let Some(v) = value(sink) {
                let labels = [("sink", sink.name.as_str()), ("kind", sink.kind)];
                let _ = writeln!(out, "{} {v}", gw_server::metrics::series(name, &labels));
            }
        }
    }
}

/// Where the pipeline thread publishes what other threads need from its session.
struct Slots {
    live: Arc<Mutex<Option<Arc<LiveStats>>>>,
    reloader: ReloaderSlot,
}

/// The pipeline thread: pushes batches into one long-lived session and passes a barrier every
/// `flush_every` while records arrive; the writer marks the barrier's last batch durable once
/// everything before it is stored. Alert windows and behavioural baselines carry on across
/// barriers.
fn run_pipeline(
    config: &Config,
    store: Box<dyn gw_store::Store>,
    rx: &Receiver<Batch>,
    flush_every: Duration,
    slots: &Slots,
    delivery: Option<Arc<gw_export::delivery::Dispatcher>>,
) -> Result<()> {
    let mut session = Session::start(
        config,
        store,
        SessionOptions {
            alerts_out: None,
            events_out: None,
            specs: Vec::new(),
            retention_every: Some(RETENTION_EVERY),
            delivery,
        },
    )?;
    *slots.live.lock().unwrap_or_else(|p| p.into_inner()) = Some(session.live());
    let reloader = if config.enrich.lists.is_empty() {
        None
    } else {
        let handle = gw_enrich::spawn_reloader(session.enricher().intel().clone(), INTEL_POLL)
            .context("starting the threat-intel reloader")?;
        Some(Arc::new(handle))
    };
    slots
        .reloader
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone_from(&reloader);
    let mut last_seq = 0;
    let mut barrier_seq = 0;
    let mut since = Instant::now();
    let mut last_snapshot = Instant::now();
    loop {
        let wait = flush_every.saturating_sub(since.elapsed());
        let closed = match rx.recv_timeout(wait) {
            Ok(batch) => {
                session.push_batch(batch.records);
                last_seq = batch.seq;
                false
            }
            Err(RecvTimeoutError::Timeout) => false,
            Err(RecvTimeoutError::Disconnected) => true,
        };
        if closed {
            break;
        }
        if since.elapsed() >= flush_every {
            since = Instant::now();
            if last_seq > barrier_seq {
                if last_snapshot.elapsed() >= SNAPSHOT_EVERY {
                    last_snapshot = Instant::now();
                    session.snapshot_detectors();
                }
                session.barrier(last_seq)?;
                barrier_seq = last_seq;
            }
        }
    }
    let live = session.live();
    session.finish()?;
    live.durable.fetch_max(last_seq, Ordering::SeqCst);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sink(name: &str, kind: &'static str) -> SinkStats {
        SinkStats {
            name: name.to_string(),
            kind,
            queue_capacity: 10_000,
            ..SinkStats::default()
        }
    }

    /// The samples of `name` in Prometheus text, as (labels, value).
    fn samples<'a>(page: &'a str, name: &str) -> Vec<(&'a str, &'a str)> {
        page.lines()
            .filter_map(|l| l.strip_prefix(name)?.strip_prefix('{'))
            .filter_map(|l| l.split_once("} "))
            .collect()
    }

    #[test]
    fn live_metrics_count_scanned_and_sampled_bodies() {
        let live = LiveStats::default();
        live.bodies_scanned.store(1200, Ordering::Relaxed);
        live.bodies_skipped.store(9000, Ordering::Relaxed);
        let mut page = String::new();
        render_live_metrics(&live, jiff::Timestamp::UNIX_EPOCH, &mut page);
        let name = "gatewatch_classify_bodies_total";
        assert!(page.contains(&format!("# TYPE {name} counter\n")), "{page}");
        assert_eq!(
            samples(&page, name),
            [
                (r#"result="scanned""#, "1200"),
                (r#"result="skipped""#, "9000")
            ]
        );
    }

    #[test]
    fn delivery_metrics_have_help_type_and_one_labelled_sample_per_sink() {
        let mut soc = sink("soc-webhook", "webhook");
        soc.delivered = 7;
        soc.failed = 3;
        soc.retried = 2;
        soc.dead_lettered = 1;
        soc.queued = 4;
        soc.last_delivered_at = Some(jiff::Timestamp::from_millisecond(1_767_607_200_250).unwrap());
        let mut splunk = sink("splunk", "splunk_hec");
        splunk.queue_full = 5;
        splunk.dead_lettered = 5;
        splunk.lost = 2;
        let mut page = String::new();
        render_delivery_metrics(&[soc, splunk], &mut page);

        for (name, kind, _, _) in DELIVERY_SERIES {
            assert!(page.contains(&format!("# HELP {name} ")), "{name}\n{page}");
            assert!(
                page.contains(&format!("# TYPE {name} {kind}\n")),
                "{name}\n{page}"
            );
        }
        let soc = r#"sink="soc-webhook",kind="webhook""#;
        let splunk = r#"sink="splunk",kind="splunk_hec""#;
        let expect = |name: &str, want: &[(&str, &str)]| {
            assert_eq!(samples(&page, name), want, "{name}\n{page}");
        };
        expect(
            "gatewatch_delivery_findings_delivered_total",
            &[(soc, "7"), (splunk, "0")],
        );
        expect(
            "gatewatch_delivery_failed_attempts_total",
            &[(soc, "3"), (splunk, "0")],
        );
        expect(
            "gatewatch_delivery_findings_retried_total",
            &[(soc, "2"), (splunk, "0")],
        );
        expect(
            "gatewatch_delivery_findings_dead_lettered_total",
            &[(soc, "1"), (splunk, "5")],
        );
        expect(
            "gatewatch_delivery_findings_queue_full_total",
            &[(soc, "0"), (splunk, "5")],
        );
        expect(
            "gatewatch_delivery_findings_lost_total",
            &[(soc, "0"), (splunk, "2")],
        );
        expect(
            "gatewatch_delivery_queue_findings",
            &[(soc, "4"), (splunk, "0")],
        );
        expect(
            "gatewatch_delivery_queue_capacity_findings",
            &[(soc, "10000"), (splunk, "10000")],
        );
        // A sink that never delivered has no last-success sample rather than a fake 1970.
        expect(
            "gatewatch_delivery_last_success_timestamp_seconds",
            &[(soc, "1767607200.25")],
        );
    }

    #[test]
    fn delivery_label_values_are_escaped() {
        let mut page = String::new();
        render_delivery_metrics(&[sink("a\"b", "webhook")], &mut page);
        assert!(
            page.contains(r#"gatewatch_delivery_queue_findings{sink="a\"b",kind="webhook"} 0"#),
            "{page}"
        );
    }
}
