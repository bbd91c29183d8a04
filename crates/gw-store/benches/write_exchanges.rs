//! Throughput of `write_exchanges` into a SQLite file: records/s for batches of 1000.
//!
//! Every iteration writes new record ids, so the measured path is the real insert (one
//! transaction, cached statements, WAL), not the duplicate check.

use std::cell::Cell;
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use gw_model::Exchange;
use gw_store::conformance::exchange;
use gw_store::{ExchangeStorage, SqliteStore, Store};

const BATCH: usize = 1000;

/// A batch of distinct records: ids never repeat across calls, clients and paths vary.
fn batch(next_id: &Cell<u64>) -> Vec<Exchange> {
    (0..BATCH)
        .map(|_| {
            let n = next_id.get();
            next_id.set(n + 1);
            let mut x = exchange(&format!("0190{n:028x}"), (n / 10) as i64, "203.0.113.45");
            x.client.resolved_ip =
                Some(IpAddr::V4(Ipv4Addr::from(0xCB00_7100 + (n % 4096) as u32)));
            x.request.path = format!("/v1/orders/{}", n % 5000);
            x
        })
        .collect()
}

fn write_exchanges(c: &mut Criterion) {
    let mut group = c.benchmark_group("write_exchanges");
    group.throughput(Throughput::Elements(BATCH as u64));
    for (name, mode) in [
        ("metadata/1000", ExchangeStorage::Metadata),
        (
            "metadata_and_bodies/1000",
            ExchangeStorage::MetadataAndBodies,
        ),
    ] {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mut store = SqliteStore::open(dir.path().join("bench.db")).expect("the store opens");
        let next_id = Cell::new(0);
        group.bench_function(name, |b| {
            b.iter_batched(
                || batch(&next_id),
                |records| {
                    let report = store
                        .write_exchanges(&records, mode)
                        .expect("the batch is written");
                    black_box(report)
                },
                BatchSize::PerIteration,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, write_exchanges);
criterion_main!(benches);
