//! A fixed `write_exchanges` workload for instruction counts (valgrind --tool=callgrind), where
//! criterion's timing loop does not fit: the same records every run, built before the first
//! write, so that `--toggle-collect='*sqlite::exchanges::write*'` counts the store alone.
//!
//! ```text
//! cargo run --release -p gw-store --example write_workload -- [metadata|bodies] [ms|second] [batches] [again]
//! ```
//!
//! Records look like ingested traffic: UUIDv7 ids (36 characters) whose timestamp part is the
//! event time and whose other bits are pseudo-random, a browser user agent and a full-length
//! credential fingerprint. `ms` gives every record its own millisecond, so ids only grow;
//! `second` puts 1000 records in each second, as access logs with second resolution do, so ids
//! grow per second but arrive in random order within it. `again` writes every batch a second
//! time right after the first, as ingesting a file again does (all duplicates).

use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;

use gw_model::Exchange;
use gw_store::conformance::exchange;
use gw_store::{ExchangeStorage, SqliteStore, Store};

const BATCH: usize = 1000;
const USER_AGENT: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 \
                          (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36";

/// A deterministic 64-bit mix (splitmix64), for the random bits of the ids.
fn mix(n: u64) -> u64 {
    let mut z = n.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A UUIDv7 text for event time `ms` with random bits from `n`.
fn uuid_v7(ms: u64, n: u64) -> String {
    let (a, b) = (mix(n), mix(!n));
    format!(
        "{:08x}-{:04x}-7{:03x}-{:04x}-{:012x}",
        ms >> 16,
        ms & 0xFFFF,
        a & 0xFFF,
        0x8000 | ((a >> 12) & 0x3FFF),
        b & 0xFFFF_FFFF_FFFF
    )
}

fn record(n: u64, per_second: bool) -> Exchange {
    const START_MS: u64 = 1_717_000_000_000;
    let ms = if per_second {
        START_MS + (n / BATCH as u64) * 1000
    } else {
        START_MS + n
    };
    let mut x = exchange(
        &uuid_v7(ms, n),
        (ms / 1000) as i64,
        &Ipv4Addr::from(0xCB00_7100 + (n % 4096) as u32).to_string(),
    );
    x.observed_at = jiff::Timestamp::from_millisecond(ms as i64).expect("a valid time");
    x.client.ip = Some(IpAddr::V4(Ipv4Addr::new(10, 0, (n % 7) as u8, 12)));
    x.client.user_agent = Some(USER_AGENT.into());
    x.request.path = format!("/v1/orders/{}", n % 5000);
    if let Some(identity) = x.identity.as_mut() {
        identity.credential_fp = Some(format!("hmac-sha256:{:016x}{:048x}", mix(n), n));
    }
    x
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mode = match args.next().as_deref() {
        None | Some("metadata") => ExchangeStorage::Metadata,
        Some("bodies") => ExchangeStorage::MetadataAndBodies,
        Some(other) => panic!("mode {other:?}: expected `metadata` or `bodies`"),
    };
    let per_second = match args.next().as_deref() {
        None | Some("ms") => false,
        Some("second") => true,
        Some(other) => panic!("ids {other:?}: expected `ms` or `second`"),
    };
    let batches: u64 = args
        .next()
        .map_or(50, |s| s.parse().expect("a batch count"));
    let again = match args.next().as_deref() {
        None => false,
        Some("again") => true,
        Some(other) => panic!("{other:?}: expected `again` or nothing"),
    };

    let total = batches * BATCH as u64;
    let batches: Vec<Vec<Exchange>> = (0..total)
        .map(|n| record(n, per_second))
        .collect::<Vec<_>>()
        .chunks(BATCH)
        .map(<[Exchange]>::to_vec)
        .collect();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("workload.db");
    let mut store = SqliteStore::open(&path).expect("the store opens");
    let started = Instant::now();
    for batch in &batches {
        let report = store
            .write_exchanges(batch, mode)
            .expect("the batch is written");
        assert_eq!(report.written, batch.len() as u64);
        if again {
            let report = store
                .write_exchanges(batch, mode)
                .expect("the batch is written");
            assert_eq!(report.duplicates, batch.len() as u64);
        }
    }
    let elapsed = started.elapsed();
    drop(store);
    let size: u64 = std::fs::read_dir(dir.path())
        .expect("the directory lists")
        .map(|e| e.expect("an entry").metadata().expect("metadata").len())
        .sum();
    println!(
        "{total} records in {elapsed:.2?}: {:.0} records/s, {:.1} bytes/record on disk",
        total as f64 / elapsed.as_secs_f64(),
        size as f64 / total as f64
    );
}
