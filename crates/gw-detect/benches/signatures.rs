//! Throughput of all signature detectors on realistic API traffic.
//!
//! Records are built deterministically (fixed-seed generator): REST paths with numeric and
//! UUID ids, query strings (paging, sorting, search words, emails), browser and client-library
//! user agents, and JSON bodies with ids, emails, names, free-text comments, tags and nested
//! objects. `benign` is all clean traffic; `mixed_1pct` replaces 1 % of the records with
//! attacks from every family. Prints records/s (criterion "elements") and, once, values/s.

use std::hint::black_box;
use std::time::Instant;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use gw_detect::json_walk::{JsonItem, walk_json};
use gw_detect::{Scanner, SignatureHit, build_all, scan_exchange};
use gw_model::{Body, Capture, Exchange, Header, Source, SourceKind};
use jiff::Timestamp;

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len())]
    }
}

const WORDS: &[&str] = &[
    "great",
    "product",
    "shipping",
    "fast",
    "would",
    "buy",
    "again",
    "the",
    "color",
    "is",
    "slightly",
    "different",
    "and",
    "or",
    "not",
    "as",
    "expected",
    "please",
    "leave",
    "at",
    "door",
    "thanks",
    "size",
    "fits",
    "well",
    "order",
    "from",
    "where",
    "like",
    "blue",
    "red",
    "gift",
    "don't",
    "it's",
    "(maybe)",
    "10%",
    "a/b",
    "50-50",
    "ok!",
    "C'est",
];
const NAMES: &[&str] = &[
    "Jane Doe",
    "John Smith",
    "María José",
    "O'Brien",
    "Li Wei",
    "Anne-Marie Dupont",
    "Ólafur",
    "Sam",
];
const UAS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1",
    "okhttp/4.12.0",
    "python-requests/2.31.0",
    "Go-http-client/1.1",
    "curl/8.5.0",
];
const ATTACKS: &[&str] = &[
    "1' OR '1'='1",
    "<img src=x onerror=alert(1)>",
    ";cat /etc/passwd",
    "../../../../etc/passwd",
    "http://169.254.169.254/latest/meta-data/",
    "${jndi:ldap://x.example/a}",
    "{{7*7}}",
    "*)(uid=*))(|(uid=*",
    "1 union select password from users--",
];

fn uuid(r: &mut Rng) -> String {
    let a = r.next();
    let b = r.next();
    format!(
        "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
        a >> 32,
        a & 0xffff,
        (a >> 16) & 0xfff,
        b & 0xfff,
        b >> 16
    )
}

fn sentence(r: &mut Rng, n: usize) -> String {
    (0..n).map(|_| r.pick(WORDS)).collect::<Vec<_>>().join(" ")
}

fn record(r: &mut Rng, i: usize, attack: Option<&str>) -> Exchange {
    let src = Source {
        kind: SourceKind::EnvoyJson,
        capture: Capture::Frontend,
        gateway: None,
        raw_ref: None,
    };
    let at = Timestamp::from_second(1_700_000_000 + i as i64).unwrap_or(Timestamp::UNIX_EPOCH);
    let (method, path) = match r.below(4) {
        0 => ("GET", format!("/v1/users/{}/orders", r.below(100_000))),
        1 => ("GET", format!("/v1/orders/{}", uuid(r))),
        2 => ("POST", "/v1/orders".to_string()),
        _ => ("PUT", format!("/v1/customers/{}/profile", r.below(100_000))),
    };
    let mut x = Exchange::new(format!("rec-{i}"), at, src, method, path);
    let email = format!(
        "{}.{}@example.com",
        r.pick(&["jane", "john", "li", "maria"]),
        r.below(1000)
    );
    let words = 1 + r.below(3);
    let search = sentence(r, words).replace(' ', "+");
    x.request.query = Some(format!(
        "page={}&limit=50&sort=-created_at&q={search}&email={}",
        r.below(20),
        email.replace('@', "%40")
    ));
    let ua = r.pick(UAS);
    x.client.user_agent = Some(ua.to_string());
    x.request.headers = Some(vec![
        Header::new("host", "api.example.com"),
        Header::new("user-agent", ua),
        Header::new("accept", "application/json"),
        Header::new("content-type", "application/json"),
        Header::new("authorization", "[REDACTED]"),
        Header::new("x-request-id", uuid(r)),
        Header::new("referer", "https://shop.example.com/cart"),
    ]);
    if method != "GET" {
        let words = 4 + r.below(10);
        let comment = attack.map_or_else(|| sentence(r, words), str::to_string);
        let body = serde_json::json!({
            "id": r.below(1_000_000),
            "customer": { "id": uuid(r), "email": email, "name": r.pick(NAMES) },
            "items": [ { "sku": format!("SKU-{}", r.below(9999)), "qty": 1 + r.below(5), "price": 19.99 },
                       { "sku": format!("SKU-{}", r.below(9999)), "qty": 1, "price": 5.0 } ],
            "comment": comment,
            "tags": [r.pick(WORDS), r.pick(WORDS)],
            "created_at": "2024-06-10T09:13:20Z",
            "gift": r.below(2) == 1,
        });
        x.request.body = Some(Body::utf8(body.to_string()));
    } else if let Some(a) = attack {
        x.request.query = Some(format!("page=1&q={}", a.replace(' ', "+")));
    }
    x
}

fn traffic(n: usize, attack_every: Option<usize>) -> Vec<Exchange> {
    let mut r = Rng(0x9e37_79b9_7f4a_7c15);
    (0..n)
        .map(|i| {
            let attack = attack_every
                .filter(|e| i % e == e / 2)
                .map(|_| ATTACKS[i % ATTACKS.len()]);
            record(&mut r, i, attack)
        })
        .collect()
}

fn count_values(batch: &[Exchange]) -> usize {
    let mut n = 0;
    for x in batch {
        n += x.request.path.split('/').filter(|s| !s.is_empty()).count() + 1;
        n += x
            .request
            .query
            .as_deref()
            .map_or(0, |q| q.split('&').count());
        n += 2; // user-agent, referer (other headers are skipped or take the fast path)
        if let Some(b) = x.request.body.as_ref().and_then(|b| b.text()) {
            walk_json(b, |item| {
                if let JsonItem::Str { .. } = item {
                    n += 1;
                }
            });
        }
    }
    n
}

/// Nanoseconds this thread has spent on a CPU (Linux `/proc/thread-self/schedstat`), so the
/// records-per-core figure is not skewed by other processes on a busy machine. `None` where
/// the file does not exist.
fn thread_cpu_ns() -> Option<u64> {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Time per rule over the decoded non-fast-path values of `batch` (a one-off profile line).
fn per_rule_profile(batch: &[Exchange]) {
    let mut values: Vec<String> = Vec::new();
    for x in batch {
        if let Some(q) = x.request.query.as_deref() {
            values.extend(
                q.split('&')
                    .filter_map(|p| p.split_once('='))
                    .map(|(_, v)| gw_detect::decode::canonicalize(v, true).into_owned()),
            );
        }
        values.extend(x.client.user_agent.clone());
        if let Some(b) = x.request.body.as_ref().and_then(|b| b.text()) {
            walk_json(b, |item| {
                if let JsonItem::Str { value, .. } = item {
                    values.push(value.into_owned());
                }
            });
        }
    }
    values.retain(|v| !gw_detect::is_safe_value(v));
    let lowers: Vec<String> = values.iter().map(|v| v.to_ascii_lowercase()).collect();
    print!(
        "per-rule cost (best of 3) over {} non-fast-path values:",
        values.len()
    );
    for rule in gw_detect::VALUE_RULES {
        let mut best = f64::MAX;
        let mut n = 0;
        for _ in 0..3 {
            n = 0;
            let start = Instant::now();
            for (v, l) in values.iter().zip(&lowers) {
                let sv = gw_detect::rules::ScanValue {
                    place: gw_detect::Place::JsonBody,
                    name: "comment",
                    text: v,
                    lower: l,
                    bytes: gw_detect::rules::byte_mask(l),
                };
                n += usize::from(rule.check(&sv).is_some());
            }
            best = best.min(start.elapsed().as_nanos() as f64 / values.len().max(1) as f64);
        }
        print!(
            " {}={best:.0}ns({n})",
            rule.meta().id.trim_start_matches("GW-T-")
        );
    }
    println!();
}

fn bench(c: &mut Criterion) {
    const N: usize = 10_000;
    per_rule_profile(&traffic(2_000, None));
    for (name, attack_every) in [("benign", None), ("mixed_1pct", Some(100))] {
        let batch = traffic(N, attack_every);
        let values = count_values(&batch);
        // One plain timing pass for the values/s line criterion does not print.
        let start = Instant::now();
        let cpu_start = thread_cpu_ns();
        let mut hits: Vec<SignatureHit> = Vec::new();
        let mut total_hits = 0;
        let mut scanner = Scanner::new();
        for _ in 0..5 {
            for x in &batch {
                hits.clear();
                scanner.scan_exchange(x, &mut hits);
                total_hits += hits.len();
            }
        }
        let secs = start.elapsed().as_secs_f64() / 5.0;
        let cpu_secs = cpu_start
            .zip(thread_cpu_ns())
            .map(|(a, b)| (b - a) as f64 / 1e9 / 5.0);
        if std::env::var_os("GW_BENCH_SHOW_HITS").is_some() {
            let mut shown = std::collections::BTreeMap::new();
            for x in &batch {
                hits.clear();
                scan_exchange(x, &mut hits);
                for h in &hits {
                    shown
                        .entry(h.rule.id)
                        .or_insert_with(Vec::new)
                        .push(format!("{} {} {}", h.location, h.reason, h.fragment));
                }
            }
            for (rule, v) in shown {
                println!("  {rule}: {} e.g. {:?}", v.len(), &v[..v.len().min(3)]);
            }
        }
        println!(
            "{name}: {N} records, {values} values, {} hits/pass: wall {:.0} records/s, {:.0} values/s",
            total_hits / 5,
            N as f64 / secs,
            values as f64 / secs
        );
        if let Some(cpu) = cpu_secs {
            println!(
                "{name}: per CPU-second of this thread: {:.0} records/s, {:.0} values/s",
                N as f64 / cpu,
                values as f64 / cpu
            );
        }

        let mut g = c.benchmark_group(format!("signatures/{name}"));
        g.throughput(Throughput::Elements(N as u64));
        g.bench_function("scanner_scan_exchange", |b| {
            let mut hits = Vec::new();
            let mut scanner = Scanner::new();
            b.iter(|| {
                for x in &batch {
                    hits.clear();
                    scanner.scan_exchange(black_box(x), &mut hits);
                }
                black_box(hits.len())
            })
        });
        g.bench_function("scan_exchange_uncached", |b| {
            let mut hits = Vec::new();
            b.iter(|| {
                for x in &batch {
                    hits.clear();
                    scan_exchange(black_box(x), &mut hits);
                }
                black_box(hits.len())
            })
        });
        g.bench_function("all_detectors", |b| {
            let mut detectors = build_all();
            let mut out = Vec::new();
            b.iter(|| {
                out.clear();
                for d in detectors.iter_mut() {
                    d.detect(black_box(&batch), &mut out);
                }
                black_box(out.len())
            })
        });
        g.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10).measurement_time(std::time::Duration::from_secs(4));
    targets = bench
}
criterion_main!(benches);
