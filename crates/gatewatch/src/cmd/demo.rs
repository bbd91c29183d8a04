//! `gatewatch demo`: a compressed day of simulated traffic with every attack scenario, through
//! the full pipeline into the store, then what a user wants to see first.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;
use gw_enrich::{IntelListConfig, ListCategory};
use gw_model::{FindingKind, Severity};
use gw_sim::{AttackSelection, SimConfig, Simulator};
use gw_store::FindingFilter;
use jiff::SignedDuration;

use crate::cmd::simulate::parse_duration;
use crate::config::{Config, store_path};
use crate::session::{Session, SessionOptions};

#[derive(Args, Debug, Clone)]
pub struct DemoArgs {
    /// Store to fill (default from config `store.url`: ./gatewatch.db).
    #[arg(long, value_name = "PATH")]
    pub db: Option<PathBuf>,
    /// Simulated period.
    #[arg(long, default_value = "24h", value_parser = parse_duration)]
    pub duration: SignedDuration,
    /// Mean background requests per second.
    #[arg(long, default_value_t = 5.0)]
    pub rps: f64,
    /// Simulation seed.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Also write every finding as NDJSON here.
    #[arg(long, value_name = "FILE")]
    pub alerts_out: Option<PathBuf>,
}

pub fn run(config: &Config, args: DemoArgs) -> Result<ExitCode> {
    let db = store_path(config, args.db.as_deref());
    let intel_dir = db
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."))
        .join("gatewatch-demo-intel");
    let mut config = config.clone();
    // A compressed day: the attacks come in its second half, so baselines may start judging
    // after 6 hours of learning instead of the production default of 24.
    config.behavioral.min_learning_secs = config.behavioral.min_learning_secs.min(6 * 3600);
    for list in gw_sim::write_intel_lists(&intel_dir)? {
        let category = if list.category == "tor" {
            ListCategory::Tor
        } else {
            ListCategory::Malicious
        };
        config
            .enrich
            .lists
            .push(IntelListConfig::new(list.name, list.path, category));
    }

    let mut sim = Simulator::new(SimConfig {
        duration: args.duration,
        rps: args.rps,
        seed: args.seed,
        attacks: AttackSelection::All,
        ..SimConfig::default()
    })?;
    outln!(
        "Gatewatch demo: simulating {} of traffic to 3 sample APIs (e-commerce, banking, internal admin) with {} attack scenarios",
        show_duration(args.duration),
        gw_sim::Scenario::ALL.len()
    )?;
    let mut store = gw_store::open_store(&db.display().to_string())
        .with_context(|| format!("{}: cannot open the store", db.display()))?;
    // The sample APIs' specs are imported like a user's would be, so the inventory and every
    // later command match traffic against them.
    for (name, text) in gw_sim::builtin_documents() {
        crate::cmd::spec::import_text(store.as_mut(), name, name, text)?;
    }
    let started = Instant::now();
    let mut session = Session::start(
        &config,
        store,
        SessionOptions {
            alerts_out: args.alerts_out.clone(),
            events_out: None,
            specs: Vec::new(),
            retention_every: None,
            delivery: None,
        },
    )?;
    for x in sim.by_ref() {
        session.push(x);
    }
    let accepted = session.accepted;
    let outcome = session.finish()?;
    let elapsed = started.elapsed().as_secs_f64();
    let (emitted, attacks) = sim.emitted();
    let background = emitted - attacks;
    outln!(
        "\nPipeline: {accepted} records ({background} background, {attacks} attack) in {elapsed:.1} s ({:.0} records/s) -> {}",
        accepted as f64 / elapsed.max(1e-9),
        db.display()
    )?;
    if outcome.duplicates > 0 {
        outln!(
            "  ({} records were already in the store from an earlier demo run with the same seed)",
            outcome.duplicates
        )?;
    }
    outln!(
        "  {} incidents injected; their ground truth: `gatewatch simulate --seed {} --rps {} --duration {} --truth truth.jsonl --out traffic.ndjson`",
        sim.truth().len(),
        args.seed,
        args.rps,
        show_duration(args.duration)
    )?;
    let mut store = outcome.store;
    print_inventory(&config, store.as_ref())?;
    let (_, end_us) = sim.period_us();
    let period_end = jiff::Timestamp::from_microsecond(end_us).context("simulated period end")?;
    let posture = audit_sample_specs(period_end)?;
    store.upsert_findings(&posture)?;
    let (risks, scores, apis) = crate::cmd::posture::assess_inventory(&config, Some(&db))?;
    store.upsert_findings(&risks)?;
    print_findings(store.as_ref())?;
    print_inventory_risks(&risks, &scores, &apis)?;
    print_posture(&posture)?;
    outln!(
        "\nEverything is in {}: `gatewatch alerts --db {0}`, `gatewatch findings --db {0} --format ocsf`, `gatewatch blocklist export --format nginx --db {0}`.",
        db.display()
    )?;
    Ok(ExitCode::SUCCESS)
}

/// The spec audit of the three sample APIs the traffic was generated from, stamped with the end
/// of the simulated period.
fn audit_sample_specs(at: jiff::Timestamp) -> Result<Vec<gw_model::Finding>> {
    let mut findings = Vec::new();
    for (name, text) in gw_sim::builtin_documents() {
        let spec = gw_spec::parse_spec(text.as_bytes(), name)
            .with_context(|| format!("built-in spec {name}"))?;
        findings.extend(gw_posture::audit_spec(&spec, Some(text)));
    }
    for f in &mut findings {
        f.first_seen = at;
        f.last_seen = at;
    }
    crate::cmd::posture::rank(&mut findings);
    Ok(findings)
}

/// The riskiest APIs and inventory findings of the observed traffic (`gatewatch posture`).
fn print_inventory_risks(
    findings: &[gw_model::Finding],
    scores: &[Option<u8>],
    apis: &[gw_posture::ApiRisk],
) -> Result<()> {
    outln!(
        "\nInventory risks from the observed traffic ({} findings; `gatewatch posture` ranks them all):",
        findings.len()
    )?;
    for a in apis.iter().take(3) {
        outln!(
            "  API {:<28} risk {:>3}/100 over {} endpoints",
            a.api,
            a.risk.score,
            a.endpoints
        )?;
    }
    for (f, score) in findings.iter().zip(scores).take(8) {
        let place = f
            .endpoint
            .as_ref()
            .map(|e| format!("{} {}{}", e.method, e.host, e.template))
            .unwrap_or_default();
        outln!(
            "  [{}] risk {:>3} {} {}",
            f.severity.as_str(),
            score.map_or("-".into(), |s| s.to_string()),
            f.rule.id,
            place
        )?;
    }
    Ok(())
}

fn print_posture(findings: &[gw_model::Finding]) -> Result<()> {
    outln!(
        "\nTop posture findings of the sample APIs' specs ({} in all; `gatewatch findings` lists them):",
        findings.len()
    )?;
    for f in findings.iter().take(8) {
        outln!("  [{}] {} {}", f.severity.as_str(), f.rule.id, f.title)?;
    }
    Ok(())
}

fn print_inventory(config: &Config, store: &dyn gw_store::Store) -> Result<()> {
    let specs = crate::cmd::spec::active_specs(config, store)?;
    let mut discovery = gw_discover::Discovery::load(config.discovery.clone(), specs, store, None)?;
    let now = store
        .event_watermark()?
        .unwrap_or_else(jiff::Timestamp::now);
    let rows = discovery.finish(now);
    let count =
        |f: &dyn Fn(&gw_discover::InventoryRow) -> bool| rows.iter().filter(|r| f(r)).count();
    let mut by_status: BTreeMap<&str, usize> = BTreeMap::new();
    for r in &rows {
        *by_status.entry(r.spec_status.as_str()).or_default() += 1;
    }
    let statuses: Vec<String> = by_status.iter().map(|(s, n)| format!("{n} {s}")).collect();
    outln!(
        "\nInventory: {} endpoints ({}); {} called from the internet, {} with unauthenticated successful calls, {} carrying sensitive data",
        rows.len(),
        statuses.join(", "),
        count(&|r| r.external),
        count(&|r| r.auth.iter().any(|a| a == "unauthenticated")),
        count(&|r| !r.sensitive.is_empty()),
    )?;
    for r in rows
        .iter()
        .filter(|r| r.spec_status.as_str() != "declared")
        .take(5)
    {
        outln!(
            "  {:<8} {} {} {}",
            r.spec_status.as_str(),
            r.method,
            r.host,
            r.template
        )?;
    }
    Ok(())
}

/// `6h`, `1d`, `90m`: the form `--duration` takes.
fn show_duration(d: SignedDuration) -> String {
    let s = d.as_secs();
    for (unit, n) in [("w", 604_800), ("d", 86_400), ("h", 3_600), ("m", 60)] {
        if s % n == 0 {
            return format!("{}{unit}", s / n);
        }
    }
    format!("{s}s")
}

fn print_findings(store: &dyn gw_store::Store) -> Result<()> {
    let findings = store.list_findings(&FindingFilter::default())?;
    let threats: Vec<_> = findings
        .iter()
        .filter(|f| f.kind == FindingKind::Threat)
        .collect();
    outln!(
        "\nAlerts by severity ({} open threat alerts):",
        threats.len()
    )?;
    for sev in Severity::ALL.iter().rev() {
        let n = threats.iter().filter(|f| f.severity == *sev).count();
        if n > 0 {
            outln!("  {:<9} {n}", sev.as_str())?;
        }
    }
    let mut by_rule: BTreeMap<&str, (u64, u64, Severity)> = BTreeMap::new();
    for f in &threats {
        let e = by_rule
            .entry(f.rule.id.as_str())
            .or_insert((0, 0, f.severity));
        e.0 += 1;
        e.1 += f.count;
        e.2 = e.2.max(f.severity);
    }
    let mut rules: Vec<_> = by_rule.into_iter().collect();
    rules.sort_by(|a, b| b.1.2.cmp(&a.1.2).then(b.1.1.cmp(&a.1.1)).then(a.0.cmp(b.0)));
    if !rules.is_empty() {
        outln!("\nAlerts by rule:")?;
        outln!(
            "  {:<28} {:>7} {:>9}  severity",
            "rule",
            "alerts",
            "requests"
        )?;
        for (rule, (alerts, requests, sev)) in rules {
            outln!("  {rule:<28} {alerts:>7} {requests:>9}  {}", sev.as_str())?;
        }
    }
    if let Some(top) = threats.iter().max_by_key(|f| (f.severity, f.count)) {
        outln!("\nExample alert: [{}] {}", top.severity.as_str(), top.title)?;
        outln!("  {}", top.description)?;
        for s in top.evidence.samples.iter().take(3) {
            outln!("  evidence: {}", s.text)?;
        }
    }
    Ok(())
}
