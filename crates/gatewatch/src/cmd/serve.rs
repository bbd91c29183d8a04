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
use gw_server::{Batch, RecordSink, Server, SinkFailure};

use crate::config::{Config, store_path};
use crate::session::{Session, SessionOptions};

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
    let sink = Arc::new(PipelineSink::start(
        config.clone(),
        store,
        Duration::from_secs(args.flush_seconds.max(1)),
    )?);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("gw-http")
        .build()
        .context("starting the async runtime")?;
    let report = runtime.block_on(async {
        let server = Server::bind(server_config, sink.clone()).await?;
        eprintln!(
            "gatewatch: serving on http://{} (store {})",
            server.local_addr(),
            db.display()
        );
        server.run(gw_server::shutdown_signal()).await
    })?;
    eprintln!(
        "gatewatch: stopped; {} batches replayed from the spool at start, spool committed through {} of {}; {} records stored, {} already stored, {} findings",
        report.replayed,
        report.committed,
        report.appended,
        sink.stats.written.load(Ordering::Relaxed),
        sink.stats.duplicates.load(Ordering::Relaxed),
        sink.stats.findings.load(Ordering::Relaxed),
    );
    Ok(ExitCode::SUCCESS)
}

#[derive(Default)]
struct PipelineStats {
    written: AtomicU64,
    duplicates: AtomicU64,
    findings: AtomicU64,
    flushes: AtomicU64,
    store_busy_micros: AtomicU64,
}

/// The binary's pipeline behind gw-server.
pub struct PipelineSink {
    tx: Mutex<Option<SyncSender<Batch>>>,
    worker: Mutex<Option<JoinHandle<Result<()>>>>,
    durable: Arc<AtomicU64>,
    stats: Arc<PipelineStats>,
}

impl PipelineSink {
    fn start(
        config: Config,
        store: Box<dyn gw_store::Store>,
        flush_every: Duration,
    ) -> Result<Self> {
        let (tx, rx) = sync_channel(config.ingest.queue_batches.max(1));
        let durable = Arc::new(AtomicU64::new(0));
        let stats = Arc::new(PipelineStats::default());
        let worker = {
            let durable = durable.clone();
            let stats = stats.clone();
            std::thread::Builder::new()
                .name("gw-serve-pipeline".into())
                .spawn(move || run_pipeline(&config, store, &rx, flush_every, &durable, &stats))
                .context("starting the pipeline thread")?
        };
        Ok(PipelineSink {
            tx: Mutex::new(Some(tx)),
            worker: Mutex::new(Some(worker)),
            durable,
            stats,
        })
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
        self.durable.load(Ordering::SeqCst)
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
        let s = &self.stats;
        let series = [
            (
                "gatewatch_store_records_written_total",
                "counter",
                "Records written to the store.",
                s.written.load(Ordering::Relaxed) as f64,
            ),
            (
                "gatewatch_store_records_duplicate_total",
                "counter",
                "Records the store already held (replays, client retries).",
                s.duplicates.load(Ordering::Relaxed) as f64,
            ),
            (
                "gatewatch_findings_raised_total",
                "counter",
                "Findings the pipeline raised.",
                s.findings.load(Ordering::Relaxed) as f64,
            ),
            (
                "gatewatch_pipeline_flushes_total",
                "counter",
                "Pipeline flushes into the store (durability points).",
                s.flushes.load(Ordering::Relaxed) as f64,
            ),
            (
                "gatewatch_store_busy_seconds_total",
                "counter",
                "Time the store writer spent in the store.",
                s.store_busy_micros.load(Ordering::Relaxed) as f64 / 1e6,
            ),
            (
                "gatewatch_pipeline_durable_batch",
                "gauge",
                "Highest spool batch durable in the store.",
                self.durable.load(Ordering::Relaxed) as f64,
            ),
        ];
        for (name, kind, help, value) in series {
            out.push_str(&format!(
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n"
            ));
        }
    }
}

/// The pipeline thread: pushes batches into a session and flushes it into the store every
/// `flush_every` while records arrive, then marks the last batch of the flush durable.
fn run_pipeline(
    config: &Config,
    store: Box<dyn gw_store::Store>,
    rx: &Receiver<Batch>,
    flush_every: Duration,
    durable: &AtomicU64,
    stats: &PipelineStats,
) -> Result<()> {
    let mut store = Some(store);
    let mut open: Option<(Session, Instant, u64)> = None;
    loop {
        let next = match &open {
            Some((_, since, _)) => rx.recv_timeout(flush_every.saturating_sub(since.elapsed())),
            None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        let closed = match next {
            Ok(batch) => {
                if open.is_none() {
                    let s = Session::start(
                        config,
                        store
                            .take()
                            .context("the store is held by a running session")?,
                        SessionOptions {
                            alerts_out: None,
                            specs: Vec::new(),
                        },
                    )?;
                    open = Some((s, Instant::now(), 0));
                }
                let (session, _, last) = open.as_mut().expect("a session was just started");
                for x in batch.records {
                    session.push(x);
                }
                *last = batch.seq;
                false
            }
            Err(RecvTimeoutError::Timeout) => false,
            Err(RecvTimeoutError::Disconnected) => true,
        };
        let due = open
            .as_ref()
            .is_some_and(|(_, since, _)| since.elapsed() >= flush_every);
        if (closed || due)
            && let Some((session, _, last)) = open.take()
        {
            let outcome = session.finish()?;
            stats.written.fetch_add(outcome.written, Ordering::Relaxed);
            stats
                .duplicates
                .fetch_add(outcome.duplicates, Ordering::Relaxed);
            stats
                .findings
                .fetch_add(outcome.findings, Ordering::Relaxed);
            stats.flushes.fetch_add(1, Ordering::Relaxed);
            stats
                .store_busy_micros
                .fetch_add(outcome.store_busy.as_micros() as u64, Ordering::Relaxed);
            store = Some(outcome.store);
            durable.store(last, Ordering::SeqCst);
        }
        if closed {
            return Ok(());
        }
    }
}
