//! Throughput of JSON body classification (~2 KB bodies, like typical API responses).
//! Run: `cargo bench -p gw-classify --bench classify`; criterion prints MB/s.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use gw_classify::{Classifier, Location, StatusClass};

#[path = "support/bodies.rs"]
mod bodies;
use bodies::{Lcg, body};

fn bench_json(c: &mut Criterion) {
    let classifier = Classifier::builtin();
    let mut rng = Lcg(42);
    for (name, with_pii) in [("json_2kb_no_pii", false), ("json_2kb_with_pii", true)] {
        let bodies: Vec<String> = (0..64).map(|_| body(&mut rng, with_pii)).collect();
        let total: usize = bodies.iter().map(String::len).sum();
        let mut group = c.benchmark_group("classify");
        group.throughput(Throughput::Bytes(total as u64));
        group.bench_function(name, |b| {
            b.iter(|| {
                for body in &bodies {
                    black_box(classifier.scan_json(
                        black_box(body),
                        Location::ResponseBody,
                        StatusClass::from_status(200),
                    ));
                }
            })
        });
        group.finish();
    }
    let text: Vec<String> = (0..64).map(|_| body(&mut rng, true)).collect();
    let total: usize = text.iter().map(String::len).sum();
    let mut group = c.benchmark_group("classify");
    group.throughput(Throughput::Bytes(total as u64));
    group.bench_function("scan_text_2kb_with_pii", |b| {
        b.iter(|| {
            for t in &text {
                black_box(classifier.scan_text(black_box(t)));
            }
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(std::time::Duration::from_secs(3));
    targets = bench_json
}
criterion_main!(benches);
