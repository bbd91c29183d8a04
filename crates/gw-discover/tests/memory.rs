//! Memory is bounded by endpoints, not records: 10 million records (ids, user names, a
//! scanner's random paths) through one discovery, printing peak RSS (VmHWM). Ignored by
//! default; run with `cargo test --release -p gw-discover --test memory -- --ignored --nocapture`.

use gw_discover::{Discovery, DiscoveryConfig};
use gw_model::{Capture, Exchange, Source, SourceKind};
use jiff::{SignedDuration, Timestamp};

const RECORDS: u64 = 10_000_000;
const BATCH: u64 = 4_096;

fn vm_hwm_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Lower-case letters spelling `n` in base 26 (word-like: never classified as an id).
fn letters(mut n: u64, out: &mut String) {
    loop {
        out.push(char::from(b'a' + (n % 26) as u8));
        n /= 26;
        if n == 0 {
            break;
        }
    }
}

/// A deterministic path for record `i`: API calls with numeric ids and UUIDs, word-like user
/// names (a parameter only by cardinality), and one record in 20 from a scanner guessing
/// random word-like files.
fn path(i: u64, out: &mut String) {
    use std::fmt::Write as _;
    out.clear();
    let h = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 20;
    match h % 20 {
        0 => {
            out.push('/');
            letters(h % 1_000_003, out);
            out.push('/');
            letters((h >> 24) % 7_919, out);
            out.push_str(".php");
        }
        1..=3 => {
            out.push_str("/api/v1/users/");
            letters(h % 50_000, out);
            out.push_str("/repos");
        }
        4..=9 => {
            let _ = write!(out, "/api/v1/orders/{}/items/{}", h % 1_000_000, h % 50);
        }
        10..=12 => {
            let _ = write!(
                out,
                "/api/v1/products/{:08x}-aaaa-bbbb-cccc-{:012x}",
                h % 99_991,
                h
            );
        }
        13 => out.push_str("/api/v1/users/me"),
        _ => {
            let _ = write!(
                out,
                "/api/v1/catalog/{}",
                ["shoes", "hats", "bags", "coats"][(h % 4) as usize]
            );
        }
    }
}

#[test]
#[ignore = "10M records: run explicitly in release mode"]
fn ten_million_records_stay_within_endpoint_bounded_memory() {
    let mut d = Discovery::new(DiscoveryConfig::default(), Vec::new()).unwrap();
    let t0: Timestamp = "2024-06-03T00:00:00Z".parse().unwrap();
    let source = Source {
        kind: SourceKind::Native,
        capture: Capture::Frontend,
        gateway: None,
        raw_ref: None,
    };
    let mut batch: Vec<Exchange> = (0..BATCH)
        .map(|i| {
            let mut x = Exchange::new(format!("r{i}"), t0, source.clone(), "GET", "/");
            x.server.host = Some("api.example.com".into());
            x.response.status = Some(200);
            x.client.ip = Some("203.0.113.9".parse().unwrap());
            x
        })
        .collect();
    let start = std::time::Instant::now();
    let mut done = 0u64;
    let mut checkpoints = Vec::new();
    while done < RECORDS {
        for (k, x) in batch.iter_mut().enumerate() {
            let i = done + k as u64;
            path(i, &mut x.request.path);
            x.observed_at = t0 + SignedDuration::from_millis(i as i64);
        }
        d.observe_batch(&mut batch);
        done += BATCH;
        if done.is_multiple_of(BATCH * 500) {
            checkpoints.push((done, vm_hwm_kib().unwrap_or(0), d.inventory().count()));
        }
    }
    let secs = start.elapsed().as_secs_f64();
    for (n, kib, endpoints) in &checkpoints {
        println!("after {n:>9} records: VmHWM {kib:>7} KiB, {endpoints} endpoints");
    }
    let hwm = vm_hwm_kib().unwrap_or(0);
    println!(
        "{done} records in {secs:.1} s ({:.0} records/s), {} endpoints, {} template nodes, peak RSS (VmHWM) {} KiB",
        done as f64 / secs,
        d.inventory().count(),
        d.template_nodes(),
        hwm
    );
    let mut templates: Vec<(String, u64)> = d
        .inventory()
        .map(|e| (e.template.clone(), e.calls))
        .collect();
    templates.sort();
    for (t, calls) in templates.iter().take(20) {
        println!("  {t}  ({calls} calls)");
    }
    assert!(d.learned_endpoints() <= DiscoveryConfig::default().max_endpoints);
    // The second half of the run must not have grown memory much: bounded by endpoints.
    let mid = checkpoints[checkpoints.len() / 2].1;
    assert!(
        hwm <= mid + mid / 4,
        "peak RSS grew from {mid} KiB to {hwm} KiB in the second half"
    );
}
