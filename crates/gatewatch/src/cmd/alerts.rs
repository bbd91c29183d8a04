//! `gatewatch alerts` / `gatewatch findings` (list, export formats, status changes) and
//! `gatewatch blocklist export`, all reading the same store.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use gw_export::{AlertFormat, BlocklistFormat, Producer};
use gw_model::{Finding, FindingKind, FindingStatus, Severity};
use gw_store::{FindingFilter, Store};
use jiff::{SignedDuration, Timestamp};

use crate::config::{Config, store_path};

#[derive(Args, Debug, Clone)]
pub struct FindingsArgs {
    #[command(subcommand)]
    pub action: Option<FindingsAction>,
    #[command(flatten)]
    pub list: ListArgs,
}

#[derive(Subcommand, Debug, Clone)]
pub enum FindingsAction {
    /// Show one finding in full, with the reason of its last status change.
    Show {
        id: String,
        #[arg(long)]
        db: Option<PathBuf>,
    },
    /// Mark a finding as seen and being handled.
    Ack(StatusArgs),
    /// Silence a finding (new hits are still counted into it); a reason is required.
    Suppress(StatusArgs),
    /// Close a finding; a new hit afterwards opens a new one.
    Resolve(StatusArgs),
    /// Open a suppressed, acknowledged or resolved finding again.
    Reopen(StatusArgs),
}

#[derive(Args, Debug, Clone)]
pub struct StatusArgs {
    pub id: String,
    /// Why (kept with the finding; required for suppress).
    #[arg(long)]
    pub reason: Option<String>,
    #[arg(long)]
    pub db: Option<PathBuf>,
}

#[derive(Args, Debug, Clone)]
pub struct ListArgs {
    /// Store location (default from config `store.url`).
    #[arg(long)]
    pub db: Option<PathBuf>,
    /// Output: `table`, or an export format: json (NDJSON gatewatch.finding/1), ocsf, cef,
    /// syslog-cef, syslog-json, splunk-hec, sentinel, ecs.
    #[arg(long, default_value = "table")]
    pub format: String,
    /// Only this severity or higher.
    #[arg(long, value_parser = parse_severity)]
    pub min_severity: Option<Severity>,
    /// Only this rule id (e.g. GW-T-SQLI).
    #[arg(long)]
    pub rule: Option<String>,
    /// Only this status: open, acknowledged, suppressed, resolved.
    #[arg(long, value_parser = parse_status)]
    pub status: Option<FindingStatus>,
    /// At most this many, newest first.
    #[arg(long, default_value_t = 100)]
    pub limit: u32,
    /// Skip this many first (pagination).
    #[arg(long, default_value_t = 0)]
    pub offset: u32,
}

pub(crate) fn parse_severity(s: &str) -> Result<Severity, String> {
    Severity::from_name(s)
        .ok_or_else(|| format!("\"{s}\": expected info, low, medium, high or critical"))
}

fn parse_status(s: &str) -> Result<FindingStatus, String> {
    serde_json::from_value(serde_json::Value::String(s.to_string()))
        .map_err(|_| format!("\"{s}\": expected open, acknowledged, suppressed or resolved"))
}

fn open(config: &Config, db: Option<&std::path::Path>) -> Result<Box<dyn Store>> {
    let path = store_path(config, db);
    if !path.exists() {
        bail!(
            "{}: no store here yet; run `gatewatch ingest` or `gatewatch demo` first, or pass --db",
            path.display()
        );
    }
    gw_store::open_store(&path.display().to_string())
        .with_context(|| format!("{}: cannot open the store", path.display()))
}

/// `kind`: `Some(Threat)` for `gatewatch alerts`, `None` for `gatewatch findings`.
pub fn run(config: &Config, args: FindingsArgs, kind: Option<FindingKind>) -> Result<ExitCode> {
    match args.action {
        None => list(config, &args.list, kind),
        Some(FindingsAction::Show { id, db }) => {
            let store = open(config, db.as_deref())?;
            let stored = store
                .get_finding(&id)?
                .with_context(|| format!("no finding with id {id}"))?;
            outln!("{}", serde_json::to_string_pretty(&stored.finding)?)?;
            if let Some(r) = stored.status_reason {
                outln!("status reason: {r}")?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Some(FindingsAction::Ack(a)) => change(config, a, FindingStatus::Acknowledged),
        Some(FindingsAction::Suppress(a)) => {
            if a.reason.as_deref().is_none_or(|r| r.trim().is_empty()) {
                bail!("suppress needs --reason: say why this finding is silenced");
            }
            change(config, a, FindingStatus::Suppressed)
        }
        Some(FindingsAction::Resolve(a)) => change(config, a, FindingStatus::Resolved),
        Some(FindingsAction::Reopen(a)) => change(config, a, FindingStatus::Open),
    }
}

fn change(config: &Config, a: StatusArgs, status: FindingStatus) -> Result<ExitCode> {
    let mut store = open(config, a.db.as_deref())?;
    store.set_finding_status(&a.id, status, a.reason.as_deref())?;
    outln!("{}: {}", a.id, status.as_str())?;
    Ok(ExitCode::SUCCESS)
}

fn list(config: &Config, args: &ListArgs, kind: Option<FindingKind>) -> Result<ExitCode> {
    let store = open(config, args.db.as_deref())?;
    let findings = store.list_findings(&FindingFilter {
        kind,
        min_severity: args.min_severity,
        rule_id: args.rule.clone(),
        status: args.status,
        limit: Some(args.limit),
        offset: args.offset,
    })?;
    let mut out = std::io::stdout().lock();
    if args.format == "table" {
        out.write_all(render_table(&findings).as_bytes())?;
    } else {
        let format: AlertFormat = args
            .format
            .parse()
            .map_err(|e| anyhow::anyhow!("--format: {e}"))?;
        let producer = Producer::new(env!("CARGO_PKG_VERSION"));
        out.write_all(&gw_export::render_alerts(&findings, format, &producer)?)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn render_table(findings: &[Finding]) -> String {
    let mut s = format!(
        "{:<34} {:<9} {:<12} {:<26} {:>7}  {:<20} {:<34} actor\n",
        "id", "severity", "status", "rule", "count", "last seen", "endpoint"
    );
    for f in findings {
        let endpoint = f.endpoint.as_ref().map_or_else(
            || "-".to_string(),
            |e| format!("{} {}", e.method, e.template),
        );
        let actor = f.actor.as_ref().map_or_else(
            || "-".to_string(),
            |a| {
                a.identity
                    .clone()
                    .or_else(|| a.ip.map(|ip| ip.to_string()))
                    .unwrap_or_else(|| "-".into())
            },
        );
        s.push_str(&format!(
            "{:<34} {:<9} {:<12} {:<26} {:>7}  {:<20} {:<34} {}\n",
            f.id,
            f.severity.as_str(),
            f.status.as_str(),
            f.rule.id,
            f.count,
            f.last_seen.strftime("%Y-%m-%d %H:%M:%S").to_string(),
            truncate(&endpoint, 34),
            actor
        ));
    }
    if findings.is_empty() {
        s.push_str("(none)\n");
    }
    s
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        return s.to_string();
    }
    let mut t: String = s.chars().take(n - 1).collect();
    t.push('…');
    t
}

#[derive(Args, Debug, Clone)]
pub struct BlocklistArgs {
    #[command(subcommand)]
    pub action: BlocklistAction,
}

#[derive(Subcommand, Debug, Clone)]
pub enum BlocklistAction {
    /// Write the IPs behind open threat alerts as a file a gateway can load.
    Export {
        /// nginx, envoy-rbac, apim-ip-filter, kong-ip-restriction or plain.
        #[arg(long)]
        format: String,
        /// Only alerts of this severity or higher.
        #[arg(long, default_value = "high", value_parser = parse_severity)]
        min_severity: Severity,
        /// How long an entry stays after the alert's last hit, e.g. 24h, 7d.
        #[arg(long, default_value = "24h", value_parser = crate::cmd::simulate::parse_duration)]
        ttl: SignedDuration,
        /// "Now" for expiry (RFC 3339); default: the latest event time in the store.
        #[arg(long)]
        now: Option<Timestamp>,
        /// Output file (default stdout).
        #[arg(long)]
        out: Option<PathBuf>,
        #[arg(long)]
        db: Option<PathBuf>,
    },
}

/// The blocklist of the open threat alerts in `store`, rendered for a gateway, and how many
/// entries it has. `now` (for expiry) defaults to the latest event time in the store.
pub fn render_store_blocklist(
    store: &dyn Store,
    format: BlocklistFormat,
    min_severity: Severity,
    ttl: SignedDuration,
    now: Option<Timestamp>,
) -> Result<(String, usize)> {
    let now = match now {
        Some(t) => t,
        None => store
            .event_watermark()?
            .context("the store has no events yet; pass --now")?,
    };
    let findings = store.list_findings(&FindingFilter {
        kind: Some(FindingKind::Threat),
        min_severity: Some(min_severity),
        ..FindingFilter::default()
    })?;
    let entries = gw_export::blocklist_from_findings(&findings, min_severity, ttl, now);
    let text = gw_export::render_blocklist(&entries, format, now)?;
    Ok((text, entries.len()))
}

/// Written next to the target and renamed, so a gateway never loads half a file.
pub fn write_atomically(path: &std::path::Path, text: &str) -> Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, text).with_context(|| format!("{}: cannot write", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("{}: cannot write", path.display()))?;
    Ok(())
}

pub fn run_blocklist(config: &Config, args: BlocklistArgs) -> Result<ExitCode> {
    let BlocklistAction::Export {
        format,
        min_severity,
        ttl,
        now,
        out,
        db,
    } = args.action;
    let format: BlocklistFormat = format
        .parse()
        .map_err(|e| anyhow::anyhow!("--format: {e}"))?;
    let store = open(config, db.as_deref())?;
    let (text, entries) = render_store_blocklist(store.as_ref(), format, min_severity, ttl, now)?;
    match out {
        Some(path) => {
            write_atomically(&path, &text)?;
            eprintln!("{entries} entries -> {}", path.display());
        }
        None => out!("{text}")?,
    }
    Ok(ExitCode::SUCCESS)
}
