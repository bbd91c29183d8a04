//! `gatewatch posture`: gateway configuration checks and OpenAPI spec audit, ranked, as a
//! table, JSON or SARIF for CI code scanning.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;
use gw_model::{Finding, Severity};
use gw_posture::GatewayKind;
use jiff::Timestamp;

use crate::config::{Config, store_path};

#[derive(Args, Debug, Clone)]
pub struct PostureArgs {
    /// Exported gateway configuration to check (APIM ARM JSON, Kong declarative YAML/JSON,
    /// nginx.conf); repeatable.
    #[arg(long, value_name = "FILE")]
    pub gateway_config: Vec<PathBuf>,
    /// Gateway kind of the configuration files (default: detected from the content).
    #[arg(long)]
    pub kind: Option<GatewayKind>,
    /// OpenAPI 3.x / Swagger 2.0 spec to audit; repeatable.
    #[arg(long, value_name = "FILE")]
    pub spec: Vec<PathBuf>,
    /// `table`, `json` (NDJSON gatewatch.finding/1) or `sarif` (SARIF 2.1.0).
    #[arg(long, default_value = "table", value_parser = ["table", "json", "sarif"])]
    pub format: String,
    /// Only findings of this severity or higher.
    #[arg(long, value_parser = |s: &str| Severity::from_name(s).ok_or_else(|| format!("\"{s}\": expected info, low, medium, high or critical")))]
    pub min_severity: Option<Severity>,
    /// Exit with status 1 when a finding of this severity or higher remains (for CI gates).
    #[arg(long, value_parser = |s: &str| Severity::from_name(s).ok_or_else(|| format!("\"{s}\": expected info, low, medium, high or critical")))]
    pub fail_on: Option<Severity>,
    /// Also store the findings (they then show in `gatewatch findings`).
    #[arg(long)]
    pub save: bool,
    #[arg(long)]
    pub db: Option<PathBuf>,
}

pub fn run(config: &Config, args: PostureArgs) -> Result<ExitCode> {
    if args.gateway_config.is_empty() && args.spec.is_empty() {
        anyhow::bail!("nothing to assess: pass --gateway-config FILE and/or --spec FILE");
    }
    let mut findings = Vec::new();
    for path in &args.gateway_config {
        findings.extend(
            gw_posture::check_gateway_config(path, args.kind)
                .with_context(|| format!("--gateway-config {}", path.display()))?,
        );
    }
    for path in &args.spec {
        findings.extend(
            gw_posture::audit_spec_file(path)
                .with_context(|| format!("--spec {}", path.display()))?,
        );
    }
    // Configuration findings are about files, not traffic: they are stamped when assessed.
    let now = Timestamp::now();
    for f in &mut findings {
        f.first_seen = now;
        f.last_seen = now;
    }
    if let Some(min) = args.min_severity {
        findings.retain(|f| f.severity >= min);
    }
    rank(&mut findings);
    match args.format.as_str() {
        "sarif" => outln!(
            "{}",
            serde_json::to_string_pretty(&gw_posture::to_sarif(
                &findings,
                env!("CARGO_PKG_VERSION")
            ))?
        )?,
        "json" => {
            for f in &findings {
                outln!("{}", serde_json::to_string(f)?)?;
            }
        }
        _ => print_table(&findings)?,
    }
    if args.save {
        let db = store_path(config, args.db.as_deref());
        let mut store = gw_store::open_store(&db.display().to_string())?;
        store.upsert_findings(&findings)?;
        eprintln!("{} findings stored in {}", findings.len(), db.display());
    }
    let failing = args.fail_on.map_or(0, |level| {
        findings.iter().filter(|f| f.severity >= level).count()
    });
    if failing > 0 {
        eprintln!("{failing} findings at or above --fail-on");
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

/// Most severe first, then by rule and place, so the order is stable.
pub fn rank(findings: &mut [Finding]) {
    findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.rule.id.cmp(&b.rule.id))
            .then_with(|| location(a).cmp(location(b)))
    });
}

fn location(f: &Finding) -> &str {
    f.evidence
        .samples
        .first()
        .and_then(|s| s.location.as_deref())
        .unwrap_or("")
}

fn print_table(findings: &[Finding]) -> Result<()> {
    outln!("{:<9} {:<22} {:<60} where", "severity", "rule", "finding")?;
    for f in findings {
        let title: String = f.title.chars().take(60).collect();
        outln!(
            "{:<9} {:<22} {:<60} {}",
            f.severity.as_str(),
            f.rule.id,
            title,
            location(f)
        )?;
    }
    let mut by_sev = [0usize; 5];
    for f in findings {
        by_sev[f.severity as usize] += 1;
    }
    outln!(
        "\n{} findings: {} critical, {} high, {} medium, {} low, {} info",
        findings.len(),
        by_sev[4],
        by_sev[3],
        by_sev[2],
        by_sev[1],
        by_sev[0]
    )?;
    Ok(())
}
