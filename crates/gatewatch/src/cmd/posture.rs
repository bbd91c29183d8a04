//! `gatewatch posture`: risks of the observed API inventory (unauthenticated, dormant, zombie,
//! shadow, exposed sensitive data, weak auth, attack paths...), gateway configuration checks
//! and OpenAPI spec audit, ranked by risk, as a table, JSON or SARIF for CI code scanning.

use std::collections::BTreeMap;
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
    /// Assess the API inventory in the store (the default when no --gateway-config or --spec
    /// is given).
    #[arg(long)]
    pub inventory: bool,
    /// Also store the findings (they then show in `gatewatch findings`).
    #[arg(long)]
    pub save: bool,
    #[arg(long)]
    pub db: Option<PathBuf>,
}

pub fn run(config: &Config, args: PostureArgs) -> Result<ExitCode> {
    let inventory = args.inventory || (args.gateway_config.is_empty() && args.spec.is_empty());
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
    rank(&mut findings);
    let mut risks = vec![None; findings.len()];
    let mut api_risks = Vec::new();
    if inventory {
        let (assessed, risk, apis) = assess_inventory(config, args.db.as_deref())?;
        api_risks = apis;
        // Inventory findings first, riskiest endpoint first; files after, most severe first.
        findings.splice(0..0, assessed);
        risks.splice(0..0, risk);
    }
    if let Some(min) = args.min_severity {
        let keep: Vec<bool> = findings.iter().map(|f| f.severity >= min).collect();
        let mut k = keep.iter();
        findings.retain(|_| *k.next().unwrap_or(&false));
        let mut k = keep.iter();
        risks.retain(|_| *k.next().unwrap_or(&false));
    }
    match args.format.as_str() {
        // SARIF points into files: the spec and configuration findings.
        "sarif" => outln!(
            "{}",
            serde_json::to_string_pretty(&gw_posture::to_sarif(
                &findings
                    .iter()
                    .filter(|f| !is_inventory(f))
                    .cloned()
                    .collect::<Vec<_>>(),
                env!("CARGO_PKG_VERSION")
            ))?
        )?,
        "json" => {
            for f in &findings {
                outln!("{}", serde_json::to_string(f)?)?;
            }
        }
        _ => {
            print_api_risks(&api_risks)?;
            print_table(&findings, &risks)?;
        }
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

/// Whether a finding is about the observed inventory (not a file).
fn is_inventory(f: &Finding) -> bool {
    location(f).starts_with(gw_posture::INVENTORY_FILE)
}

/// The inventory rules over the stored inventory, ranked by endpoint risk (exposure,
/// authentication, data sensitivity, open alerts), with each finding's risk score.
pub(crate) type Assessed = (Vec<Finding>, Vec<Option<u8>>, Vec<gw_posture::ApiRisk>);

pub(crate) fn assess_inventory(config: &Config, db: Option<&std::path::Path>) -> Result<Assessed> {
    let (discovery, now) = crate::cmd::inventory::load(config, db)?;
    let path = store_path(config, db);
    let store = gw_store::open_store(&path.display().to_string())?;
    let mut open_alerts: BTreeMap<String, u32> = BTreeMap::new();
    let alerts = store.list_findings(&gw_store::FindingFilter {
        kind: Some(gw_model::FindingKind::Threat),
        status: Some(gw_model::FindingStatus::Open),
        ..gw_store::FindingFilter::default()
    })?;
    for a in &alerts {
        if let Some(e) = &a.endpoint {
            *open_alerts.entry(e.id.clone()).or_default() += 1;
        }
    }
    let endpoints: Vec<gw_discover::EndpointState> = discovery.inventory().cloned().collect();
    let ctx = gw_posture::InventoryContext {
        now,
        dormant_after: jiff::SignedDuration::from_hours(
            24 * i64::from(config.discovery.dormant_after_days),
        ),
        specs_imported: !crate::cmd::spec::active_specs(config, store.as_ref())?.is_empty(),
        open_alerts: open_alerts.clone(),
        ..gw_posture::InventoryContext::at(now)
    };
    let findings = gw_posture::assess_inventory(&endpoints, &ctx);
    let apis = gw_posture::score_apis(&endpoints, &open_alerts);
    let ranked = gw_posture::rank(findings, &endpoints, &open_alerts);
    let (findings, risks) = ranked
        .into_iter()
        .map(|r| (r.finding, r.risk.map(|s| s.score)))
        .unzip();
    Ok((findings, risks, apis))
}

/// Risk per API (0–100) with the factors that made it, riskiest first.
fn print_api_risks(apis: &[gw_posture::ApiRisk]) -> Result<()> {
    if apis.is_empty() {
        return Ok(());
    }
    outln!("API risk (exposure, authentication, data sensitivity, open alerts):")?;
    for a in apis {
        let factors: Vec<String> = a
            .risk
            .factors
            .iter()
            .filter(|f| f.weight > 0)
            .map(|f| format!("{} +{} ({})", f.name, f.weight, f.detail))
            .collect();
        outln!(
            "  {:>3}  {:<28} {:>4} endpoints  {}",
            a.risk.score,
            a.api,
            a.endpoints,
            factors.join(", ")
        )?;
    }
    outln!()?;
    Ok(())
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

fn print_table(findings: &[Finding], risks: &[Option<u8>]) -> Result<()> {
    outln!(
        "{:<9} {:>4} {:<26} {:<60} where",
        "severity",
        "risk",
        "rule",
        "finding"
    )?;
    for (f, risk) in findings.iter().zip(risks) {
        let title: String = f.title.chars().take(60).collect();
        let place = match &f.endpoint {
            Some(e) if is_inventory(f) => format!("{} {}{}", e.method, e.host, e.template),
            _ => location(f).to_string(),
        };
        outln!(
            "{:<9} {:>4} {:<26} {:<60} {}",
            f.severity.as_str(),
            risk.map_or("-".to_string(), |r| r.to_string()),
            f.rule.id,
            title,
            place
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
