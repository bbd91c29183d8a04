//! A fixed workload for the behavioural detectors, for instruction counts and for checking that
//! an optimisation kept their output identical.
//!
//! The records are the ones `benches/behavioral.rs` uses (seed 7, built-in specs, no attacks,
//! 3 rps): `--warm-hours` simulated hours warm every detector up untimed, then the following
//! `--timed` records are replayed `--rounds` times, each round shifted forward in time by the
//! span the records cover (as the bench does). Each detector runs the replays on its own, in
//! [`replay`], so a profiler attributes its cost to its own `detect`:
//!
//! ```text
//! valgrind --tool=callgrind --collect-atstart=no \
//!     --toggle-collect='*behavioral_workload::replay*' \
//!     target/release/examples/behavioral_workload
//! ```
//!
//! The program prints, per detector, the findings and marks of the replays and a SHA-256
//! digest of every finding and mark (warm-up included) and of the detector's final snapshot:
//! equal digests before and after a change mean the same findings, evidence, marks and
//! learned state. `--attacks all` mixes the simulator's attacks in, so there are findings to
//! compare.

use std::fmt::Write as _;
use std::hint::black_box;

use gw_detect::Detector;
use gw_detect::behavioral::{BehavioralConfig, build_behavioral};
use gw_model::{Exchange, Finding};
use gw_sim::AttackSelection;
use sha2::{Digest, Sha256};

#[path = "../benches/support/replay.rs"]
mod replay;
use replay::shifted;

/// The workload's size, from the command line.
struct Workload {
    warm_hours: i64,
    timed: usize,
    rounds: i64,
    /// `none` (the bench's records), `all` or a list of simulated attack scenarios.
    attacks: AttackSelection,
}

impl Workload {
    fn from_args() -> Workload {
        let mut w = Workload {
            warm_hours: 27,
            timed: 50_000,
            rounds: 1,
            attacks: AttackSelection::None,
        };
        let args: Vec<String> = std::env::args().skip(1).collect();
        for pair in args.chunks(2) {
            let value = pair.get(1).map(String::as_str).unwrap_or("");
            let bad = || -> ! {
                eprintln!(
                    "usage: behavioral_workload [--warm-hours H] [--timed N] [--rounds R] \
                     [--attacks none|all|LIST]; \
                     `{}` = `{value}` is not understood",
                    pair[0]
                );
                std::process::exit(2)
            };
            match pair[0].as_str() {
                "--warm-hours" => w.warm_hours = value.parse().unwrap_or_else(|_| bad()),
                "--timed" => w.timed = value.parse().unwrap_or_else(|_| bad()),
                "--rounds" => w.rounds = value.parse().unwrap_or_else(|_| bad()),
                "--attacks" => w.attacks = AttackSelection::parse(value).unwrap_or_else(|_| bad()),
                _ => bad(),
            }
        }
        w
    }

    /// The warm-up records and the records to replay.
    fn records(&self) -> (Vec<Exchange>, Vec<Exchange>) {
        let timed_hours = (self.timed as f64 / 3.0 / 3600.0).ceil() as i64 + 1;
        replay::warm_and_timed(
            self.warm_hours + timed_hours,
            self.timed,
            self.attacks.clone(),
        )
    }
}

/// Runs `d` over `records` in batches of 256, as the ingest thread does.
#[inline(never)]
fn replay(d: &mut dyn Detector, records: &[Exchange], out: &mut Vec<Finding>, marks: &mut String) {
    let mut taken = Vec::new();
    for chunk in records.chunks(256) {
        d.detect(chunk, out);
        d.take_marks(&mut taken);
    }
    for m in &taken {
        let _ = writeln!(marks, "{m:?}");
    }
    black_box(out.len());
}

fn main() {
    let w = Workload::from_args();
    let (warm, timed) = w.records();
    let rounds: Vec<Vec<Exchange>> = (1..=w.rounds).map(|r| shifted(&timed, r)).collect();
    println!(
        "{} warm-up records, {} rounds of {} records",
        warm.len(),
        w.rounds,
        timed.len()
    );
    let cfg = BehavioralConfig::default();
    let mut whole = Sha256::new();
    for mut d in build_behavioral(&cfg).expect("default config") {
        let mut sink = Vec::new();
        let mut marks = String::new();
        let mut h = Sha256::new();
        let mut warm_marks = Vec::new();
        for chunk in warm.chunks(256) {
            d.detect(chunk, &mut sink);
            d.take_marks(&mut warm_marks);
        }
        let warm_findings = sink.len();
        h.update(serde_json::to_vec(&sink).expect("findings serialise"));
        h.update(format!("{warm_marks:?}"));
        sink.clear();
        for records in &rounds {
            replay(d.as_mut(), records, &mut sink, &mut marks);
        }
        h.update(serde_json::to_vec(&sink).expect("findings serialise"));
        h.update(marks.as_bytes());
        h.update(d.snapshot().unwrap_or_default());
        let digest = h.finalize();
        whole.update(digest);
        println!(
            "{:<24} warm-up {:>5} findings {:>6} marks; replays {:>5} findings {:>6} marks  {}",
            d.name(),
            warm_findings,
            warm_marks.len(),
            sink.len(),
            marks.lines().count(),
            hex(&digest[..12])
        );
    }
    println!("all {}", hex(&whole.finalize()[..12]));
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}
