//! `gatewatch delivery`: the dead letters of the delivery sinks — `status` counts them per
//! sink, `replay` sends them again once the receiver is fixed — and the close of the sinks at
//! the end of the commands that deliver.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use gw_export::delivery::{
    DeadLetterScan, ReplayOptions, ReplayReport, dead_letter_files, replay_dead_letters,
    scan_dead_letters,
};

use crate::config::Config;

#[derive(Args, Debug)]
pub struct DeliveryArgs {
    #[command(subcommand)]
    command: DeliveryCommand,
}

#[derive(Subcommand, Debug)]
enum DeliveryCommand {
    /// Send dead-lettered findings again, through the same sink settings as live delivery
    /// (format, signature, credentials), one attempt each. Accepted entries leave the
    /// dead-letter file; entries that fail again stay with their attempt count and reason
    /// updated; malformed lines and entries of unknown sinks stay as they are. Exits 1 when
    /// the file still holds such entries.
    Replay(ReplayArgs),
    /// Dead-letter entries per configured sink.
    Status(StatusArgs),
}

#[derive(Args, Debug)]
struct ReplayArgs {
    /// Only entries of this sink; the others stay in the file.
    #[arg(long, value_name = "NAME")]
    sink: Option<String>,
    /// The dead-letter file to replay (default: the dead-letter files of the configured sinks).
    #[arg(long, value_name = "PATH")]
    dead_letters: Option<PathBuf>,
    /// Report what would be sent; send nothing and leave the files alone.
    #[arg(long)]
    dry_run: bool,
    /// Output format.
    #[arg(long, default_value = "table", value_parser = ["table", "json"])]
    format: String,
}

#[derive(Args, Debug)]
struct StatusArgs {
    /// Output format.
    #[arg(long, default_value = "table", value_parser = ["table", "json"])]
    format: String,
}

pub fn run(config: &Config, args: DeliveryArgs) -> Result<ExitCode> {
    match args.command {
        DeliveryCommand::Replay(args) => replay(config, &args),
        DeliveryCommand::Status(args) => status(config, &args),
    }
}

fn replay(config: &Config, args: &ReplayArgs) -> Result<ExitCode> {
    let delivery = &config.delivery;
    anyhow::ensure!(
        !delivery.sinks.is_empty(),
        "no delivery sinks are configured ([[delivery.sinks]]), so there is nowhere to replay to"
    );
    let paths = match &args.dead_letters {
        Some(path) => vec![path.clone()],
        None => dead_letter_files(delivery, args.sink.as_deref())?,
    };
    let producer = gw_export::Producer::new(env!("CARGO_PKG_VERSION"));
    let options = ReplayOptions {
        sink: args.sink.clone(),
        dry_run: args.dry_run,
    };
    let mut reports = Vec::with_capacity(paths.len());
    for path in &paths {
        let report = replay_dead_letters(delivery, &producer, path, &options)
            .with_context(|| format!("replaying {}", path.display()))?;
        reports.push(report);
    }
    if args.format == "json" {
        outln!("{}", serde_json::to_string_pretty(&reports)?)?;
    } else {
        for report in &reports {
            for line in replay_summary(report) {
                outln!("{line}")?;
            }
        }
    }
    Ok(if reports.iter().any(ReplayReport::needs_attention) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// A headline per file, then one line per entry that stays and needs a look.
fn replay_summary(r: &ReplayReport) -> Vec<String> {
    let mut head = format!("{}: ", r.path.display());
    if r.dry_run {
        head.push_str("dry run: ");
    }
    let verb = if r.dry_run { "to replay" } else { "replayed" };
    head.push_str(&format!("{} {verb}", r.replayed_total()));
    if !r.replayed.is_empty() {
        let by_sink: Vec<String> = r
            .replayed
            .iter()
            .map(|(sink, n)| format!("{sink} {n}"))
            .collect();
        head.push_str(&format!(" ({})", by_sink.join(", ")));
    }
    head.push_str(&format!(
        ", {} failed again, {} skipped (unknown sink), {} skipped (other sinks), {} malformed",
        r.failed.len(),
        r.unknown_sink.len(),
        r.other_sinks,
        r.malformed.len(),
    ));
    if r.appended_meanwhile > 0 {
        head.push_str(&format!(
            ", {} dead-lettered meanwhile (kept)",
            r.appended_meanwhile
        ));
    }
    let mut lines = vec![head];
    for e in &r.failed {
        lines.push(format!(
            "  line {}: sink {} finding {}: failed again (attempts {}): {}",
            e.line, e.sink, e.finding_id, e.attempts, e.reason
        ));
    }
    for e in &r.unknown_sink {
        lines.push(format!(
            "  line {}: sink {} finding {}: skipped, the sink is not configured",
            e.line, e.sink, e.finding_id
        ));
    }
    for m in &r.malformed {
        lines.push(format!("  line {}: malformed, kept: {}", m.line, m.reason));
    }
    lines
}

fn status(config: &Config, args: &StatusArgs) -> Result<ExitCode> {
    let delivery = &config.delivery;
    let mut scans: Vec<DeadLetterScan> = Vec::new();
    for path in dead_letter_files(delivery, None)? {
        scans.push(scan_dead_letters(&path)?);
    }
    let rows: Vec<StatusRow> = delivery
        .sinks
        .iter()
        .map(|sink| {
            let path = delivery.dead_letter_path(sink);
            let dead_letters = scans
                .iter()
                .filter(|s| s.path == path)
                .filter_map(|s| s.by_sink.get(&sink.name))
                .sum();
            StatusRow {
                sink: sink.name.clone(),
                kind: sink.transport.kind(),
                dead_letters,
                file: path,
            }
        })
        .collect();
    if args.format == "json" {
        let json = serde_json::json!({ "sinks": rows, "files": scans });
        outln!("{}", serde_json::to_string_pretty(&json)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    if rows.is_empty() {
        outln!("no delivery sinks are configured")?;
        return Ok(ExitCode::SUCCESS);
    }
    outln!("{:<24} {:<12} {:>12}  FILE", "SINK", "KIND", "DEAD LETTERS")?;
    for row in &rows {
        outln!(
            "{:<24} {:<12} {:>12}  {}",
            row.sink,
            row.kind,
            row.dead_letters,
            row.file.display()
        )?;
    }
    for scan in &scans {
        for (sink, n) in &scan.by_sink {
            if !rows.iter().any(|r| r.sink == *sink && r.file == scan.path) {
                outln!(
                    "{}: {n} entries of sink {sink}, which does not use this file",
                    scan.path.display()
                )?;
            }
        }
        if !scan.malformed.is_empty() {
            let at: Vec<String> = scan.malformed.iter().map(|m| m.line.to_string()).collect();
            outln!(
                "{}: malformed, at line(s) {}",
                scan.path.display(),
                at.join(", ")
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(serde::Serialize)]
struct StatusRow {
    sink: String,
    kind: &'static str,
    dead_letters: usize,
    file: PathBuf,
}
