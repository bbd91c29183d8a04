//! Routing + templating + inventory update on warm state, in records per second.
//!
//! Records come from gw-sim's built-in APIs (headers, queries, JSON bodies, identities). Two
//! cases: with the specs (most records routed to declared operations) and without (every
//! record templated by the learner). The batch is observed once to warm the state, then fresh
//! copies of it are timed (copying and dropping the records is not). Besides criterion's
//! wall-clock throughput, the on-CPU rate (from /proc/thread-self/schedstat) is printed, which
//! stays meaningful on a busy machine.

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use gw_discover::{Discovery, DiscoveryConfig};
use gw_model::Exchange;
use gw_sim::{AttackSelection, SimConfig, Simulator};
use jiff::SignedDuration;

const RECORDS: usize = 20_000;

fn records() -> Vec<Exchange> {
    let config = SimConfig {
        duration: SignedDuration::from_hours(2),
        rps: 5.0,
        attacks: AttackSelection::None,
        ..SimConfig::default()
    };
    Simulator::new(config)
        .expect("the built-in simulation")
        .take(RECORDS)
        .collect()
}

/// Nanoseconds this thread has spent on a CPU (0 where schedstat is unavailable).
fn on_cpu() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn bench(c: &mut Criterion) {
    let specs = gw_sim::builtin_specs().expect("built-in specs");
    let fresh = records();
    let mut group = c.benchmark_group("discover");
    group.throughput(Throughput::Elements(fresh.len() as u64));
    for (name, specs) in [("with_specs", specs), ("learned_only", Vec::new())] {
        let mut d = Discovery::new(DiscoveryConfig::default(), specs).expect("default config");
        // Warm state: the endpoints and templates exist, as after the first minutes of traffic.
        let mut warm = fresh.clone();
        d.observe_batch(&mut warm);
        drop(warm);
        // Timed on fresh records (no derived fields yet), as the pipeline hands them over;
        // cloning them and dropping them afterwards is not timed.
        let mut elapsed = std::time::Duration::ZERO;
        let mut on_cpu_ns = 0u64;
        const PASSES: usize = 10;
        for _ in 0..PASSES {
            let mut batch = fresh.clone();
            let cpu = on_cpu();
            let start = std::time::Instant::now();
            d.observe_batch(&mut batch);
            elapsed += start.elapsed();
            on_cpu_ns += on_cpu().saturating_sub(cpu);
        }
        let records = (PASSES * fresh.len()) as f64;
        println!(
            "discover/{name}: {:.0} records/s wall, {:.0} records/s on CPU (one core; {} endpoints, {} template nodes)",
            records / elapsed.as_secs_f64(),
            records / (on_cpu_ns.max(1) as f64 / 1e9),
            d.inventory().count(),
            d.template_nodes()
        );
        group.bench_function(name, |b| {
            b.iter_batched(
                || fresh.clone(),
                |mut batch| {
                    d.observe_batch(&mut batch);
                    batch
                },
                BatchSize::LargeInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
