//! Generation throughput: records/s for building records alone and for building + NDJSON
//! serialization (what `gatewatch simulate` does), over the built-in APIs with all attacks.

use std::hint::black_box;
use std::io::Write;
use std::time::Instant;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use gw_sim::{SimConfig, Simulator};
use jiff::SignedDuration;

const BATCH: u64 = 20_000;

fn simulator() -> Simulator {
    // A long period at a high rate: the stream never ends during the benchmark.
    let cfg = SimConfig {
        duration: SignedDuration::from_hours(24 * 28),
        rps: 2_000.0,
        clients: 1_000_000,
        ..SimConfig::default()
    };
    Simulator::new(cfg).expect("the built-in configuration is valid")
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("simulate");
    group.throughput(Throughput::Elements(BATCH));
    let mut sim = simulator();
    group.bench_function("generate", |b| {
        b.iter(|| {
            for x in sim.by_ref().take(BATCH as usize) {
                black_box(x);
            }
        })
    });
    let mut sim = simulator();
    let mut line = Vec::with_capacity(8192);
    let mut sink = std::io::sink();
    group.bench_function("generate+ndjson", |b| {
        b.iter(|| {
            for x in sim.by_ref().take(BATCH as usize) {
                line.clear();
                gw_sim::append_ndjson_line(&x, &mut line).expect("records serialize");
                sink.write_all(&line).expect("sink accepts everything");
            }
        })
    });
    let mut sim = simulator();
    group.bench_function("generate+serde_json", |b| {
        b.iter(|| {
            for x in sim.by_ref().take(BATCH as usize) {
                line.clear();
                serde_json::to_writer(&mut line, &x).expect("records serialize");
                line.push(b'\n');
                sink.write_all(&line).expect("sink accepts everything");
            }
        })
    });
    group.finish();

    // Plain measurements over a longer stretch, printed for the record.
    let mut sim = simulator();
    let n = 400_000;
    let cpu_started = thread_cpu_seconds();
    for x in sim.by_ref().take(n) {
        black_box(x);
    }
    if let (Some(a), Some(b)) = (cpu_started, thread_cpu_seconds()) {
        println!(
            "gw-sim: generation only: {:.0} records/s per core (CPU time)",
            n as f64 / (b - a)
        );
    }
    let mut sim = simulator();
    let n = 400_000;
    let cpu_started = thread_cpu_seconds();
    let started = Instant::now();
    let mut bytes = 0usize;
    for x in sim.by_ref().take(n) {
        line.clear();
        gw_sim::append_ndjson_line(&x, &mut line).expect("records serialize");
        bytes += line.len();
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "gw-sim: {n} records in {secs:.2}s wall = {:.0} records/s, {:.1} MB/s NDJSON ({:.0} bytes/record)",
        n as f64 / secs,
        bytes as f64 / secs / 1e6,
        bytes as f64 / n as f64
    );
    // On a shared machine wall time includes waiting for the CPU; thread CPU time does not.
    if let (Some(a), Some(b)) = (cpu_started, thread_cpu_seconds()) {
        let cpu = b - a;
        println!(
            "gw-sim: {cpu:.2}s CPU on one core = {:.0} records/s per core",
            n as f64 / cpu
        );
    }
    let mut sim = simulator();
    let cpu_started = thread_cpu_seconds();
    for x in sim.by_ref().take(n) {
        line.clear();
        serde_json::to_writer(&mut line, &x).expect("records serialize");
        line.push(b'\n');
        black_box(&line);
    }
    if let (Some(a), Some(b)) = (cpu_started, thread_cpu_seconds()) {
        println!(
            "gw-sim: with serde_json instead: {:.0} records/s per core (CPU time)",
            n as f64 / (b - a)
        );
    }
}

/// User + system CPU time of the calling thread (Linux `/proc/thread-self/stat`, 100 Hz ticks).
fn thread_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    let after_name = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after_name.split(' ').collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = bench
}
criterion_main!(benches);
