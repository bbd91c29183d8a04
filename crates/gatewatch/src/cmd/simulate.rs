//! `gatewatch simulate`: realistic labelled traffic from OpenAPI specs.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::Args;
use gw_sim::{AttackSelection, Profile, SimConfig, Simulator};
use jiff::{SignedDuration, Timestamp};

#[derive(Args, Debug, Clone)]
pub struct SimulateArgs {
    /// OpenAPI 3.x / Swagger 2.0 specs (JSON or YAML) to generate traffic for; default: the
    /// built-in e-commerce, banking and internal admin APIs.
    #[arg(long, value_name = "FILE", num_args = 1..)]
    pub spec: Vec<PathBuf>,
    /// Simulated period, e.g. `30m`, `24h`, `7d`, `4w`.
    #[arg(long, default_value = "24h", value_parser = parse_duration)]
    pub duration: SignedDuration,
    /// Mean background requests per second (daily and weekly seasonality move around it).
    #[arg(long, default_value_t = 20.0)]
    pub rps: f64,
    /// Size of the client population.
    #[arg(long, default_value_t = 2_000)]
    pub clients: u64,
    /// Attack scenarios to inject: `all`, `none`, or a comma-separated list of names.
    #[arg(long, default_value = "all")]
    pub attacks: String,
    /// Seed; the same arguments and seed give byte-identical output.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Start of the period (RFC 3339); default 2024-06-03T00:00:00Z, a Monday.
    #[arg(long, value_name = "RFC3339")]
    pub start: Option<Timestamp>,
    /// Scale profile reproducing a real deployment's shape (`defender-4w`); replaces
    /// --duration, --rps and --clients.
    #[arg(long)]
    pub profile: Option<String>,
    /// Fraction of the profile to generate (0 < scale <= 1).
    #[arg(long, default_value_t = 1.0)]
    pub scale: f64,
    /// Directory of attack payload lists (default: ../shared/data/injection when present,
    /// else a small built-in set).
    #[arg(long, value_name = "DIR")]
    pub payloads: Option<PathBuf>,
    /// Output NDJSON file (`.gz` = gzip; `-` = stdout).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Ground truth of the injected attacks, one JSON line per incident.
    #[arg(long, value_name = "FILE")]
    pub truth: Option<PathBuf>,
    /// Also write the intel lists (TOR exits, malicious IPs) the scenarios use into this directory.
    #[arg(long, value_name = "DIR")]
    pub intel_dir: Option<PathBuf>,
}

/// `30s`, `15m`, `24h`, `7d`, `4w` (clap value parser over the simulator's own parser).
pub fn parse_duration(s: &str) -> Result<SignedDuration, String> {
    gw_sim::parse_duration(s).map_err(|e| e.to_string())
}

/// The simulator configuration the arguments describe.
pub fn sim_config(args: &SimulateArgs) -> Result<SimConfig> {
    let mut specs = Vec::new();
    for path in &args.spec {
        specs.push(gw_spec::load_spec(path).with_context(|| format!("--spec {}", path.display()))?);
    }
    if !(args.rps > 0.0 && args.rps.is_finite()) {
        bail!("--rps: must be a positive number, found {}", args.rps);
    }
    if !(args.scale > 0.0 && args.scale <= 1.0) {
        bail!("--scale: must be in (0, 1], found {}", args.scale);
    }
    let defaults = SimConfig::default();
    Ok(SimConfig {
        specs,
        start: args.start.unwrap_or(defaults.start),
        duration: args.duration,
        rps: args.rps,
        clients: args.clients.max(1),
        attacks: AttackSelection::parse(&args.attacks).context("--attacks")?,
        seed: args.seed,
        profile: args
            .profile
            .as_deref()
            .map(Profile::parse)
            .transpose()
            .context("--profile")?,
        scale: args.scale,
        payload_dir: args.payloads.clone(),
    })
}

pub fn run(args: SimulateArgs) -> Result<ExitCode> {
    if args.profile.is_some() {
        eprintln!(
            "--profile sets the duration, rate and client count; --duration, --rps and --clients are ignored"
        );
    }
    let mut sim = Simulator::new(sim_config(&args)?)?;
    let started = Instant::now();
    let to_stdout = args.out.as_os_str() == "-";
    let stats = if to_stdout {
        let stdout = std::io::BufWriter::new(std::io::stdout().lock());
        let truth = args.truth.as_deref().map(gw_sim::open_output).transpose()?;
        let stats = gw_sim::write_ndjson(&mut sim, stdout, None::<std::io::Sink>)?;
        if let Some(mut t) = truth {
            gw_sim::write_truth(&sim, &mut t)?;
            t.finish()?;
        }
        stats
    } else {
        let mut out = gw_sim::open_output(&args.out)?;
        let mut truth = args.truth.as_deref().map(gw_sim::open_output).transpose()?;
        let stats = gw_sim::write_ndjson(&mut sim, &mut out, truth.as_mut())?;
        out.finish()?;
        if let Some(t) = truth {
            t.finish()?;
        }
        stats
    };
    if let Some(dir) = &args.intel_dir {
        for list in gw_sim::write_intel_lists(dir)? {
            eprintln!(
                "intel list {} ({} entries, category {}) -> {}",
                list.name,
                list.entries,
                list.category,
                list.path.display()
            );
        }
    }
    for s in sim.skipped() {
        eprintln!("scenario skipped: {s:?}");
    }
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "simulated {} records ({} attack records, {} incidents) in {:.2} s ({:.0} records/s), {:.1} MB of NDJSON describing {:.1} MB of traffic",
        stats.records,
        stats.attack_records,
        stats.truth_entries,
        secs,
        stats.records as f64 / secs.max(1e-9),
        stats.ndjson_bytes as f64 / 1e6,
        stats.traffic_bytes as f64 / 1e6
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_durations_are_explained() {
        assert_eq!(
            parse_duration("24h").unwrap(),
            SignedDuration::from_hours(24)
        );
        assert!(!parse_duration("ten").unwrap_err().is_empty());
    }
}
