//! Throughput of JSON body classification (~2 KB bodies, like typical API responses).
//! Run: `cargo bench -p gw-classify --bench classify`; criterion prints MB/s.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use gw_classify::{Classifier, Location, StatusClass};

/// Deterministic pseudo-random numbers (fixed seed) for varied bodies.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
}

/// An order-list response of about 2 KB; `with_pii` adds contact and payment fields.
fn body(rng: &mut Lcg, with_pii: bool) -> String {
    let mut items = Vec::new();
    let mut len = 0;
    let mut i = 0;
    while len < 1900 {
        let id = rng.next() % 1_000_000;
        let price = rng.next() % 10_000;
        let item = if with_pii && i % 3 == 0 {
            format!(
                r#"{{"id":{id},"sku":"SKU-{:05}","name":"Stainless steel bottle 750 ml","price":{}.{:02},"currency":"EUR","created_at":"2024-06-1{}T09:13:20Z","customer":{{"email":"user{id}@example.com","phone":"+44 20 7946 {:04}","card_last4":"{:04}"}},"status":"shipped"}}"#,
                rng.next() % 100_000,
                price / 100,
                price % 100,
                rng.next() % 10,
                rng.next() % 10_000,
                rng.next() % 10_000
            )
        } else {
            format!(
                r#"{{"id":{id},"sku":"SKU-{:05}","name":"Organic cotton t-shirt, size M","price":{}.{:02},"currency":"EUR","created_at":"2024-06-1{}T09:13:20Z","tags":["summer","sale"],"quantity":{},"status":"shipped"}}"#,
                rng.next() % 100_000,
                price / 100,
                price % 100,
                rng.next() % 10,
                rng.next() % 5 + 1
            )
        };
        len += item.len() + 1;
        items.push(item);
        i += 1;
    }
    format!(
        r#"{{"page":1,"page_size":{},"next":"/v1/orders?page=2","orders":[{}]}}"#,
        items.len(),
        items.join(",")
    )
}

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
