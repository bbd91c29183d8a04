//! Per-record cost of the behavioural detectors on warm state (findings and record marks taken
//! after every batch), next to the signature
//! detectors on the same records (records/s).
//!
//! Warm-up: 27 simulated hours at 3 rps (past the 24 h learning period) go through every
//! detector untimed. Each timed iteration then replays the following 50,000 records shifted
//! forward in time by the span they cover, so event time keeps advancing as in a live stream
//! (replaying them unshifted would make every record late and pile counts into one window).
//! Shifting the copy and dropping it are setup and are not timed. The replayed hours land at
//! other hours of the day, so a few population alerts in the replays are an artifact of the
//! bench, not of live traffic.

use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use gw_detect::Detector;
use gw_detect::behavioral::{BehavioralConfig, build_behavioral};
use gw_model::Exchange;
use gw_sim::AttackSelection;

#[path = "support/replay.rs"]
mod replay;
use replay::shifted;

const TIMED: usize = 50_000;

fn records() -> (Vec<Exchange>, Vec<Exchange>) {
    replay::warm_and_timed(32, TIMED, AttackSelection::None)
}

fn bench_set(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    mut detectors: Vec<Box<dyn Detector>>,
    warm: &[Exchange],
    timed: &[Exchange],
) {
    let mut sink = Vec::new();
    let mut marks = Vec::new();
    for chunk in warm.chunks(256) {
        for d in &mut detectors {
            d.detect(chunk, &mut sink);
            d.take_marks(&mut marks);
        }
    }
    sink.clear();
    marks.clear();
    let mut round = 0;
    let mut findings = 0usize;
    let mut rounds = 0usize;
    g.bench_function(name, |b| {
        b.iter_batched_ref(
            || {
                round += 1;
                shifted(timed, round)
            },
            |batch: &mut Vec<Exchange>| {
                sink.clear();
                marks.clear();
                for chunk in batch.chunks(256) {
                    for d in &mut detectors {
                        d.detect(chunk, &mut sink);
                        d.take_marks(&mut marks);
                    }
                }
                findings += sink.len();
                rounds += 1;
                black_box(sink.len())
            },
            BatchSize::PerIteration,
        )
    });
    println!("{name}: {findings} findings over {rounds} replays of {TIMED} attack-free records");
}

fn benches(c: &mut Criterion) {
    let (warm, timed) = records();
    let mut g = c.benchmark_group("behavioral");
    g.throughput(Throughput::Elements(TIMED as u64));
    g.sample_size(10);
    let cfg = BehavioralConfig::default();
    bench_set(
        &mut g,
        "all_behavioral_detectors",
        build_behavioral(&cfg).expect("default config"),
        &warm,
        &timed,
    );
    for d in build_behavioral(&cfg).expect("default config") {
        let name = d.name();
        bench_set(&mut g, name, vec![d], &warm, &timed);
    }
    let signature: Vec<_> = gw_detect::DETECTORS
        .iter()
        .filter(|f| !f.name().starts_with("behavioral."))
        .map(|f| f.build())
        .collect();
    bench_set(
        &mut g,
        "signature_detectors_for_comparison",
        signature,
        &warm,
        &timed,
    );
    g.finish();
}

criterion_group!(behavioral_benches, benches);
criterion_main!(behavioral_benches);
