//! JSON classification throughput per CPU-second of this thread, for machines shared with
//! other work where criterion's wall-clock numbers are inflated by contention.
//! Run: `cargo run --release -p gw-classify --example cpu_throughput` (Linux: reads
//! `/proc/thread-self/stat`). Same bodies as `benches/classify.rs`.

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
    let mut rng = Lcg(42);
    for (name, pii) in [("json_no_pii", false), ("json_with_pii", true)] {
        let bodies: Vec<String> = (0..64).map(|_| body(&mut rng, pii)).collect();
        let total: usize = bodies.iter().map(String::len).sum();
        let t0 = cpu_seconds();
        let mut rounds = 0u64;
        let mut n = 0usize;
        while cpu_seconds() - t0 < 4.0 {
            for b in &bodies {
                n += c
                    .scan_json(b, Location::ResponseBody, StatusClass::from_status(200))
                    .findings
                    .len();
            }
            rounds += 1;
        }
        let cpu = cpu_seconds() - t0;
        println!(
            "{name}: {:.1} MB/s per CPU-second ({n})",
            (total as f64 * rounds as f64) / cpu / 1e6
        );
    }
}
