//! JSON classification throughput per CPU-second of this thread, for machines shared with
//! other work where criterion's wall-clock numbers are inflated by contention.
//! Run: `cargo run --release -p gw-classify --example cpu_throughput` (Linux: reads
//! `/proc/thread-self/stat`). Same bodies as `benches/classify.rs`.
//! Optional arguments: `no_pii` or `with_pii` to run one body set only (for profiling), and
//! the CPU-seconds per set (default 4). `rounds=N` runs N rounds over each set instead
//! (fixed work, for `perf stat -e instructions` or callgrind on a noisy machine).

use gw_classify::{Classifier, Location, StatusClass};
#[path = "../benches/support/bodies.rs"]
mod bodies;
use bodies::{Lcg, body};

fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = after.split(' ').collect();
    let ticks: f64 = f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap();
    ticks / 100.0
}

fn main() {
    let c = Classifier::builtin();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let only = args
        .first()
        .map(String::as_str)
        .filter(|a| a.parse::<f64>().is_err() && !a.starts_with("rounds="));
    let fixed_rounds: Option<u64> = args
        .iter()
        .find_map(|a| a.strip_prefix("rounds=").and_then(|n| n.parse().ok()));
    let seconds = args
        .iter()
        .find_map(|a| a.parse::<f64>().ok())
        .unwrap_or(4.0);
    let mut rng = Lcg(42);
    for (name, pii) in [("json_no_pii", false), ("json_with_pii", true)] {
        let bodies: Vec<String> = (0..64).map(|_| body(&mut rng, pii)).collect();
        if only.is_some_and(|o| !name.ends_with(o)) {
            continue;
        }
        let total: usize = bodies.iter().map(String::len).sum();
        let t0 = cpu_seconds();
        let mut rounds = 0u64;
        let mut n = 0usize;
        while fixed_rounds.map_or(cpu_seconds() - t0 < seconds, |r| rounds < r) {
            for b in &bodies {
                n += c
                    .scan_json(b, Location::ResponseBody, StatusClass::from_status(200))
                    .findings
                    .len();
            }
            rounds += 1;
        }
        let cpu = (cpu_seconds() - t0).max(0.01);
        if fixed_rounds.is_some() {
            println!("{name}: {} bytes in {rounds} rounds", total as u64 * rounds);
        }
        println!(
            "{name}: {:.1} MB/s per CPU-second ({n})",
            (total as f64 * rounds as f64) / cpu / 1e6
        );
    }
}
