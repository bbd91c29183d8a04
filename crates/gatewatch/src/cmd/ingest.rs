//! `gatewatch ingest FILE...`: decode, normalize and store gateway logs.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;
use gw_ingest::{DecodeError, Emit, FormatChoice};
use gw_model::Exchange;
use gw_pipeline::RejectSink;
use gw_store::{RunStart, RunSummary};
use jiff::Timestamp;

use crate::config::{Config, store_path};
use crate::progress::Progress;
use crate::session::{Delivery, Session, SessionOptions, delivery_summary};

#[derive(Args, Debug, Clone)]
pub struct IngestArgs {
    /// Input files (`-` for stdin). Gzip is detected automatically.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<String>,
    /// Input format: `auto` (detect from the first records) or one of the format names.
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<String>,
    /// Store location (SQLite file); default from config `store.url` (./gatewatch.db).
    #[arg(long, value_name = "PATH")]
    pub db: Option<PathBuf>,
    /// Write every rejected record (file:line, field, reason, masked input) to this NDJSON file.
    #[arg(long, value_name = "FILE")]
    pub rejects: Option<PathBuf>,
    /// Write every finding raised during the run as NDJSON gatewatch.finding/1.
    #[arg(long, value_name = "FILE")]
    pub alerts_out: Option<PathBuf>,
    /// Write every detection event (one per record a per-record detector fired on, with the
    /// alert ids it fed) as NDJSON gatewatch.event/1.
    #[arg(long, value_name = "FILE")]
    pub events_out: Option<PathBuf>,
    /// OpenAPI / Swagger spec of an API behind the gateway (repeatable; adds to config `specs`).
    #[arg(long, value_name = "FILE")]
    pub spec: Vec<PathBuf>,
    /// Print the summary as JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// No progress output.
    #[arg(long, short)]
    pub quiet: bool,
}

/// What one ingest run did, as printed at the end.
#[derive(Debug, serde::Serialize)]
pub struct IngestReport {
    pub store: String,
    pub inputs: Vec<InputReport>,
    pub records_read: u64,
    pub accepted: u64,
    pub rejected: u64,
    pub rejected_by_reason: std::collections::BTreeMap<String, u64>,
    pub stored: u64,
    pub already_stored: u64,
    pub findings: u64,
    /// Detection events stored (and written to `--events-out`).
    pub events: u64,
    /// Endpoints in the inventory after the run, and how many this run added or changed.
    pub endpoints: u64,
    pub endpoints_changed: u64,
    pub bytes: u64,
    pub elapsed_ms: u64,
    pub records_per_second: f64,
    pub first_event: Option<Timestamp>,
    pub last_event: Option<Timestamp>,
    pub rejects_file: Option<String>,
    pub alerts_file: Option<String>,
    pub events_file: Option<String>,
    /// What each delivery sink did with the findings (delivered, retried, dead-lettered).
    pub delivery: Vec<String>,
    /// What the retention job removed at the end of the run (event time).
    pub retention: Option<gw_store::RetentionReport>,
}

#[derive(Debug, serde::Serialize)]
pub struct InputReport {
    pub name: String,
    pub format: String,
    pub gzip: bool,
    pub records: u64,
    pub rejected: u64,
    pub bytes: u64,
}

pub fn run(config: &Config, args: IngestArgs) -> Result<ExitCode> {
    let report = ingest(config, &args)?;
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&report)?)?;
    } else {
        print_summary(&report)?;
    }
    Ok(ExitCode::SUCCESS)
}

pub fn ingest(config: &Config, args: &IngestArgs) -> Result<IngestReport> {
    let choice: FormatChoice = args
        .format
        .as_deref()
        .unwrap_or(&config.ingest.format)
        .parse()
        .map_err(|e: String| anyhow::anyhow!("--format: {e}"))?;
    let db = store_path(config, args.db.as_deref());
    let mut store = gw_store::open_store(&db.display().to_string())
        .with_context(|| format!("{}: cannot open the store", db.display()))?;
    let run_id = store.begin_run(&RunStart {
        command: "ingest".into(),
        inputs: args.files.clone(),
        started_at: Timestamp::now(),
    })?;
    let mut rejects = match &args.rejects {
        Some(p) => RejectSink::to_file(p)
            .with_context(|| format!("{}: cannot create rejects file", p.display()))?
            .with_masker(mask_raw_input(config)?),
        None => RejectSink::counting_only(),
    };
    let started = Instant::now();
    let delivery = Delivery::start(config)?;
    let mut session = Session::start(
        config,
        store,
        SessionOptions {
            alerts_out: args.alerts_out.clone(),
            events_out: args.events_out.clone(),
            specs: crate::config::load_spec_files(&args.spec)?,
            retention_every: None,
            delivery: delivery.as_ref().map(Delivery::dispatcher),
        },
    )?;
    let limits = config.limits();
    let mut inputs = Vec::new();
    let mut bytes = 0;
    for name in &args.files {
        let input = gw_ingest::open_input(name)?;
        let gzip = input.gzip;
        let progress = Progress::new(name, input.size, input.progress(), args.quiet);
        let mut emit = IngestEmit {
            session: &mut session,
            rejects: &mut rejects,
            progress,
            records: 0,
            io_error: None,
        };
        let stats = gw_ingest::decode_input(input, choice, &limits, &mut emit)?;
        let IngestEmit {
            progress, io_error, ..
        } = emit;
        progress.finish();
        if let Some(e) = io_error {
            return Err(e).context("writing the rejects file");
        }
        bytes += stats.bytes;
        inputs.push(InputReport {
            name: name.clone(),
            format: stats.format.to_string(),
            gzip,
            records: stats.records,
            rejected: stats.rejected,
            bytes: stats.bytes,
        });
    }
    rejects.flush().context("writing the rejects file")?;
    let (accepted, first_event, last_event) =
        (session.accepted, session.first_event, session.last_event);
    let outcome = session.finish()?;
    let delivered = delivery
        .map(Delivery::close)
        .transpose()?
        .unwrap_or_default();
    let elapsed = started.elapsed();
    let mut store = outcome.store;
    let summary = RunSummary {
        finished_at: Timestamp::now(),
        records_read: accepted + rejects.total(),
        accepted,
        rejected_by_reason: rejects.counts().clone(),
        bytes,
        elapsed_ms: elapsed.as_millis() as u64,
        findings: outcome.findings,
        first_event,
        last_event,
    };
    store.finish_run(run_id, &summary)?;
    Ok(IngestReport {
        store: db.display().to_string(),
        inputs,
        records_read: summary.records_read,
        accepted,
        rejected: rejects.total(),
        rejected_by_reason: summary.rejected_by_reason,
        stored: outcome.written,
        already_stored: outcome.duplicates,
        findings: outcome.findings,
        events: outcome.events,
        endpoints: outcome.endpoints,
        endpoints_changed: outcome.endpoints_saved,
        bytes,
        elapsed_ms: summary.elapsed_ms,
        records_per_second: summary.records_read as f64 / elapsed.as_secs_f64().max(1e-9),
        first_event,
        last_event,
        rejects_file: rejects.path().map(|p| p.display().to_string()),
        alerts_file: args.alerts_out.as_ref().map(|p| p.display().to_string()),
        events_file: args.events_out.as_ref().map(|p| p.display().to_string()),
        delivery: delivery_summary(&delivered),
        retention: outcome.retention,
    })
}

/// Rejected input is kept for inspection, but never with credentials or sensitive values in
/// clear: the shared masking function runs over it with the configured classifiers.
fn mask_raw_input(config: &Config) -> Result<gw_pipeline::RawMasker> {
    let classifier = gw_classify::Classifier::new(&config.classify)?;
    Ok(Box::new(move |raw: &str| classifier.mask_text(raw)))
}

struct IngestEmit<'a> {
    session: &'a mut Session,
    rejects: &'a mut RejectSink,
    progress: Progress,
    records: u64,
    io_error: Option<std::io::Error>,
}

impl Emit for IngestEmit<'_> {
    fn record(&mut self, x: Exchange) {
        self.records += 1;
        if self.records.is_multiple_of(4096) {
            self.progress.tick(self.records);
        }
        self.session.push(x);
    }

    fn reject(&mut self, err: DecodeError, raw: &[u8]) {
        let file = self.progress_name();
        let line = err.line.unwrap_or(0);
        let result = self.rejects.reject_raw(
            &file,
            line,
            err.entry.clone(),
            err.field.clone(),
            err.reason.as_str(),
            err.message.clone(),
            raw,
        );
        if let Err(e) = result
            && self.io_error.is_none()
        {
            self.io_error = Some(e);
        }
    }
}

impl IngestEmit<'_> {
    fn progress_name(&self) -> String {
        self.progress.name().to_string()
    }
}

pub fn print_summary(r: &IngestReport) -> Result<()> {
    outln!("Ingest summary ({})", r.store)?;
    for i in &r.inputs {
        outln!(
            "  {:<40} {:<24} {:>10} records {:>8} rejected{}",
            i.name,
            i.format,
            i.records,
            i.rejected,
            if i.gzip { "  (gzip)" } else { "" }
        )?;
    }
    outln!("  records read     {}", r.records_read)?;
    outln!("  accepted         {}", r.accepted)?;
    outln!("  rejected         {}", r.rejected)?;
    for (reason, n) in &r.rejected_by_reason {
        outln!("    {reason:<20} {n}")?;
    }
    if r.already_stored > 0 {
        outln!(
            "  already stored   {} (same record ids ingested before)",
            r.already_stored
        )?;
    }
    outln!("  findings         {}", r.findings)?;
    outln!("  detection events {} (`gatewatch events`)", r.events)?;
    outln!(
        "  endpoints        {} in the inventory, {} added or changed (`gatewatch inventory`)",
        r.endpoints,
        r.endpoints_changed
    )?;
    if let (Some(a), Some(b)) = (r.first_event, r.last_event) {
        outln!("  event time       {a} .. {b}")?;
    }
    outln!(
        "  elapsed          {:.2} s, {:.0} records/s, {:.1} MB read",
        r.elapsed_ms as f64 / 1000.0,
        r.records_per_second,
        r.bytes as f64 / 1e6
    )?;
    if let Some(ret) = &r.retention
        && ret.bodies_deleted + ret.exchanges_deleted + ret.finding_ips_cleared > 0
    {
        outln!(
            "  retention        {} bodies and {} records past their retention removed, {} finding IPs cleared",
            ret.bodies_deleted,
            ret.exchanges_deleted,
            ret.finding_ips_cleared
        )?;
    }
    if let Some(p) = &r.rejects_file {
        outln!("  rejects written to {p}")?;
    } else if r.rejected > 0 {
        outln!("  (pass --rejects FILE to keep the rejected records with their reasons)")?;
    }
    if let Some(p) = &r.alerts_file {
        outln!("  findings written to {p}")?;
    }
    if let Some(p) = &r.events_file {
        outln!("  detection events written to {p}")?;
    }
    for line in &r.delivery {
        outln!("  {line}")?;
    }
    Ok(())
}
