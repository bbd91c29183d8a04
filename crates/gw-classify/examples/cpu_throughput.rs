//! JSON classification throughput per CPU-second of this thread, for machines shared with
//! other work where criterion's wall-clock numbers are inflated by contention.
//! Run: `cargo run --release -p gw-classify --example cpu_throughput` (Linux: reads
//! `/proc/thread-self/stat`). Same bodies as `benches/classify.rs`.

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
