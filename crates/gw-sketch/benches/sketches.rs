//! Throughput of the gw-sketch primitives (operations per second).

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use gw_sketch::{
    BoundedMap, CountMinSketch, DdSketch, Ewma, HyperLogLog, Season, SeasonalBaseline,
    SlidingCounter, SpaceSaving, ThresholdRule, stable_hash,
};

const N: u64 = 100_000;

fn keys() -> Vec<u64> {
    (0..N)
        .map(|i| stable_hash(&(i % 5_000).to_le_bytes()))
        .collect()
}

fn benches(c: &mut Criterion) {
    let keys = keys();
    let mut g = c.benchmark_group("gw-sketch");
    g.throughput(Throughput::Elements(N));
    g.bench_function("hll_insert_p12", |b| {
        b.iter(|| {
            let mut h = HyperLogLog::new(12).unwrap();
            for &k in &keys {
                h.insert_hash(k);
            }
            black_box(h.count())
        })
    });
    g.bench_function("cms_add_2719x5", |b| {
        let mut s = CountMinSketch::with_error(0.001, 0.01).unwrap();
        b.iter(|| {
            for &k in &keys {
                s.add_hash(k, 1);
            }
            black_box(s.total())
        })
    });
    g.bench_function("space_saving_add_cap64", |b| {
        let mut s = SpaceSaving::new(64).unwrap();
        b.iter(|| {
            for &k in &keys {
                s.add(&(k % 100), 1);
            }
            black_box(s.total())
        })
    });
    g.bench_function("ddsketch_add", |b| {
        let mut s = DdSketch::new(0.01, 2048).unwrap();
        b.iter(|| {
            for &k in &keys {
                s.add((k % 10_000) as f64 + 1.0).unwrap();
            }
            black_box(s.count())
        })
    });
    g.bench_function("ewma_update", |b| {
        let mut e = Ewma::new(0.05).unwrap();
        b.iter(|| {
            for &k in &keys {
                e.update((k % 1000) as f64);
            }
            black_box(e.mean())
        })
    });
    g.bench_function("sliding_counter_add", |b| {
        let mut s = SlidingCounter::new(60, 20).unwrap();
        b.iter(|| {
            for (t, _) in keys.iter().enumerate() {
                s.add(t as i64 / 10, 1);
            }
            black_box(s.sum())
        })
    });
    g.bench_function("bounded_map_entry_cap4096", |b| {
        let mut m: BoundedMap<u64, u64> = BoundedMap::new(4096).unwrap();
        b.iter(|| {
            for (t, &k) in keys.iter().enumerate() {
                *m.entry(&k, t as i64, || 0).0 += 1;
            }
            black_box(m.len())
        })
    });
    g.finish();

    let mut g = c.benchmark_group("gw-sketch-baseline");
    g.throughput(Throughput::Elements(1));
    let mut base = SeasonalBaseline::new(Season::HourOfDayWeekpart, 90, 720, 6).unwrap();
    for i in 0..(30 * 72) {
        base.observe(i * 1200, (i % 17) as f64 * 10.0);
    }
    let rule = ThresholdRule::default();
    let mut scratch = Vec::new();
    g.bench_function("seasonal_threshold_90_samples", |b| {
        b.iter(|| black_box(base.threshold_at(black_box(86_400 * 31), &rule, &mut scratch)))
    });
    g.finish();
}

criterion_group!(sketch_benches, benches);
criterion_main!(sketch_benches);
