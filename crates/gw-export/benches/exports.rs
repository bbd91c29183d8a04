//! Throughput of the finding exports (findings per second) and of blocklist rendering
//! (entries per second).

#[path = "../src/test_support.rs"]
mod fixtures;

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use gw_export::{
    AlertFormat, BlockEntry, BlockReason, BlocklistFormat, Producer, render_alerts,
    render_blocklist, sentinel,
};
use gw_model::Finding;
use jiff::Timestamp;

const N: usize = 1_000;

fn findings() -> Vec<Finding> {
    (0..N)
        .map(|i| {
            let mut f = fixtures::all()[i % 3].clone();
            f.id = format!("{}-{i}", f.id);
            f
        })
        .collect()
}

fn entries() -> Vec<BlockEntry> {
    let expires: Timestamp = "2030-01-01T00:00:00Z".parse().unwrap();
    (0..10_000u32)
        .map(|i| BlockEntry {
            net: std::net::IpAddr::from(
                (0xCB00_7100u32 ^ i.wrapping_mul(2_654_435_761)).to_be_bytes(),
            )
            .into(),
            identity: None,
            reason: BlockReason {
                rule_id: "GW-T-SQLI".into(),
                finding_id: format!("f-{i}"),
            },
            expires_at: expires,
        })
        .collect()
}

fn benches(c: &mut Criterion) {
    let findings = findings();
    let producer = Producer::new("0.1.0").with_hostname("gw-01");
    let mut g = c.benchmark_group("gw-export");
    g.throughput(Throughput::Elements(N as u64));
    for format in [
        AlertFormat::Json,
        AlertFormat::Ocsf,
        AlertFormat::Cef,
        AlertFormat::SyslogCef,
        AlertFormat::SplunkHec,
        AlertFormat::Ecs,
    ] {
        g.bench_function(format.as_str(), |b| {
            b.iter(|| black_box(render_alerts(&findings, format, &producer).unwrap()))
        });
    }
    g.bench_function("sentinel_bodies_1mb", |b| {
        b.iter(|| {
            black_box(sentinel::ingestion_bodies(&findings, sentinel::MAX_BODY_BYTES).unwrap())
        })
    });
    let entries = entries();
    let now: Timestamp = "2024-06-10T12:00:00Z".parse().unwrap();
    g.throughput(Throughput::Elements(entries.len() as u64));
    g.bench_function("blocklist_nginx_10k", |b| {
        b.iter(|| black_box(render_blocklist(&entries, BlocklistFormat::Nginx, now).unwrap()))
    });
    g.finish();
}

criterion_group!(exports, benches);
criterion_main!(exports);
