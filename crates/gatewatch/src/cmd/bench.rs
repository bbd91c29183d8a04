//! `gatewatch bench`: throughput of the real code on simulated traffic held in memory.
//!
//! Generation is not timed. `bench ingest` times parse + normalize of native NDJSON on one
//! thread next to serde_json alone on the same lines (the floor of that stage); `bench` (the
//! pipeline) times everything from bytes to the store with a per-stage breakdown.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Args;
use gw_ingest::formats::native::Native;
use gw_ingest::normalize::Normalizer;
use gw_ingest::{DecodeCtx, DecodeError, Decoder, Emit, Unit};
use gw_model::Exchange;
use gw_sim::{AttackSelection, SimConfig, Simulator};
use jiff::SignedDuration;

use crate::config::Config;
use crate::session::{Session, SessionOptions};

#[derive(Args, Debug, Clone)]
pub struct BenchArgs {
    /// What to time: `pipeline` (bytes to store, all stages) or `ingest` (parse + normalize).
    #[arg(default_value = "pipeline", value_parser = ["pipeline", "ingest"])]
    pub what: String,
    /// About this many records are generated (one simulated day, held in memory as NDJSON,
    /// about 2 KB each).
    #[arg(long, default_value_t = 200_000)]
    pub records: usize,
    /// Pipeline partitions (worker threads); default from config (one per core).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Rounds of `bench ingest`; the median is reported.
    #[arg(long, default_value_t = 5)]
    pub rounds: usize,
    /// Simulation seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

pub fn run(config: &Config, args: BenchArgs) -> Result<ExitCode> {
    let started = Instant::now();
    let lines = generate(args.records, args.seed)?;
    let bytes: usize = lines.iter().map(|l| l.len() + 1).sum();
    outln!(
        "generated {} records, {:.1} MB of NDJSON ({} bytes/record on average) in {:.1} s (not timed below)",
        lines.len(),
        bytes as f64 / 1e6,
        bytes / lines.len().max(1),
        started.elapsed().as_secs_f64()
    )?;
    match args.what.as_str() {
        "ingest" => bench_ingest(config, &lines, bytes, args.rounds.max(1))?,
        _ => bench_pipeline(config, &lines, bytes, args.threads)?,
    }
    outln!(
        "peak RSS {:.1} MB",
        peak_rss_bytes().unwrap_or(0) as f64 / 1e6
    )?;
    Ok(ExitCode::SUCCESS)
}

/// Simulated traffic (built-in APIs, every attack scenario) as NDJSON lines.
fn generate(records: usize, seed: u64) -> Result<Vec<Vec<u8>>> {
    // One whole simulated day at the rate that yields about `records` records (a weekday runs
    // ~1.2x the weekly mean), so the traffic has its daily curve and includes the attack
    // scenarios of the period's second half; the count is approximate.
    let sim = Simulator::new(SimConfig {
        duration: SignedDuration::from_hours(24),
        rps: (records as f64 / 86_400.0 / 1.2).max(0.5),
        clients: (records as u64 / 50).clamp(1_000, 1_000_000),
        attacks: AttackSelection::All,
        seed,
        ..SimConfig::default()
    })?;
    let mut lines = Vec::with_capacity(records);
    for x in sim {
        let mut line = Vec::with_capacity(2048);
        gw_sim::append_ndjson_line(&x, &mut line).context("serializing a simulated record")?;
        while line.last() == Some(&b'\n') {
            line.pop();
        }
        lines.push(line);
    }
    Ok(lines)
}

struct Normalizing<'a> {
    normalizer: &'a Normalizer,
    records: u64,
    rejected: u64,
}

impl Emit for Normalizing<'_> {
    fn record(&mut self, mut x: Exchange) {
        self.normalizer.normalize(&mut x);
        self.records += u64::from(!x.id.is_empty());
    }

    fn reject(&mut self, _err: DecodeError, _raw: &[u8]) {
        self.rejected += 1;
    }
}

fn bench_ingest(config: &Config, lines: &[Vec<u8>], bytes: usize, rounds: usize) -> Result<()> {
    let normalizer = Normalizer::new(&config.normalize, &[7; 32])?;
    let ctx = DecodeCtx::new("bench");
    let mut floor = Vec::new();
    let mut ours = Vec::new();
    for _ in 0..rounds {
        let t = Instant::now();
        let mut n = 0usize;
        for l in lines {
            let x: Exchange = serde_json::from_slice(l).context("serde_json baseline")?;
            n += x.request.path.len();
        }
        std::hint::black_box(n);
        floor.push(t.elapsed());

        let t = Instant::now();
        let mut emit = Normalizing {
            normalizer: &normalizer,
            records: 0,
            rejected: 0,
        };
        for (i, l) in lines.iter().enumerate() {
            Native.decode(
                Unit {
                    bytes: l,
                    line: i as u64 + 1,
                },
                &ctx,
                &mut emit,
            );
        }
        ours.push(t.elapsed());
        anyhow::ensure!(
            emit.rejected == 0 && emit.records == lines.len() as u64,
            "bench input was not decoded in full ({} rejected)",
            emit.rejected
        );
    }
    let (floor, ours) = (median(&mut floor), median(&mut ours));
    let rate = |d: Duration| lines.len() as f64 / d.as_secs_f64();
    outln!("ingest, one thread, median of {rounds} rounds:")?;
    outln!(
        "  serde_json alone (floor)   {:>10.0} records/s {:>7.1} MB/s",
        rate(floor),
        bytes as f64 / floor.as_secs_f64() / 1e6
    )?;
    outln!(
        "  decode + normalize         {:>10.0} records/s {:>7.1} MB/s  ({:.0}% of the floor)",
        rate(ours),
        bytes as f64 / ours.as_secs_f64() / 1e6,
        100.0 * floor.as_secs_f64() / ours.as_secs_f64()
    )?;
    Ok(())
}

/// Times the pushing of records separately from decoding them.
struct Pushing<'a> {
    session: &'a mut Session,
    push: Duration,
    rejected: u64,
}

impl Emit for Pushing<'_> {
    fn record(&mut self, x: Exchange) {
        let t = Instant::now();
        self.session.push(x);
        self.push += t.elapsed();
    }

    fn reject(&mut self, _err: DecodeError, _raw: &[u8]) {
        self.rejected += 1;
    }
}

fn bench_pipeline(
    config: &Config,
    lines: &[Vec<u8>],
    bytes: usize,
    threads: Option<usize>,
) -> Result<()> {
    let dir = tempfile::tempdir().context("temporary store directory")?;
    let db = dir.path().join("bench.db");
    let mut config = config.clone();
    if let Some(t) = threads {
        config.ingest.partitions = t.max(1);
    }
    let store = gw_store::open_store(&db.display().to_string())?;
    let ctx = DecodeCtx::new("bench");
    let started = Instant::now();
    let mut session = Session::start(
        &config,
        store,
        SessionOptions {
            alerts_out: None,
            events_out: None,
            specs: gw_sim::builtin_specs()?,
            retention_every: None,
            delivery: None,
        },
    )?;
    let mut emit = Pushing {
        session: &mut session,
        push: Duration::ZERO,
        rejected: 0,
    };
    for (i, l) in lines.iter().enumerate() {
        Native.decode(
            Unit {
                bytes: l,
                line: i as u64 + 1,
            },
            &ctx,
            &mut emit,
        );
    }
    let (push, rejected) = (emit.push, emit.rejected);
    let main_total = started.elapsed();
    let live = session.live();
    let outcome = session.finish()?;
    let total = started.elapsed();
    anyhow::ensure!(rejected == 0, "{rejected} bench records were rejected");
    let n = lines.len() as f64;
    outln!(
        "pipeline ({} partitions, store {}):",
        config.partitions(),
        config.store.exchanges
    )?;
    outln!(
        "  total                      {:>10.0} records/s {:>7.1} MB/s  ({} records in {:.2} s, {} findings)",
        n / total.as_secs_f64(),
        bytes as f64 / total.as_secs_f64() / 1e6,
        lines.len(),
        total.as_secs_f64(),
        outcome.findings
    )?;
    outln!("  per stage (busy time; stages run in parallel, so they do not add up to the total):")?;
    let us = |d: Duration| d.as_secs_f64() * 1e6 / n;
    let decode = main_total.saturating_sub(push);
    outln!(
        "    {:<24} {:>8.2} µs/record  (main thread)",
        "decode",
        us(decode)
    )?;
    outln!(
        "    {:<24} {:>8.2} µs/record  (main thread, includes waiting on full queues)",
        "normalize + route",
        us(push)
    )?;
    let mut per_op: BTreeMap<&str, Duration> = BTreeMap::new();
    for r in &outcome.operators {
        *per_op.entry(r.operator).or_default() += r.busy;
    }
    for (op, busy) in per_op {
        outln!(
            "    {op:<24} {:>8.2} µs/record  (partition threads)",
            us(busy)
        )?;
    }
    outln!(
        "    {:<24} {:>8.2} µs/record  (writer thread)",
        "store",
        us(outcome.store_busy)
    )?;
    let scanned = live.bodies_scanned.load(Ordering::Relaxed);
    let skipped = live.bodies_skipped.load(Ordering::Relaxed);
    outln!(
        "    classify scanned {scanned} bodies, skipped {skipped} by sampling ({:.1} %; classify.sampling)",
        100.0 * skipped as f64 / (scanned + skipped).max(1) as f64
    )?;
    outln!(
        "    {:<24} {:>8.2} µs/record  (main thread, part of normalize + route)",
        "behavioral detection",
        us(outcome.behavioral_busy)
    )?;
    // The rest, conservatively: decode, partition stages and store (normalize + route are left
    // out because that main-thread time also holds waits on full queues).
    let without: Duration =
        decode + outcome.operators.iter().map(|r| r.busy).sum::<Duration>() + outcome.store_busy;
    outln!(
        "  behavioral detection adds {:.1} % to the per-record cost of the rest of the pipeline (decode, stages, store)",
        100.0 * outcome.behavioral_busy.as_secs_f64() / without.as_secs_f64().max(1e-9)
    )?;
    Ok(())
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Peak resident set size of this process (Linux `VmHWM`).
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}
