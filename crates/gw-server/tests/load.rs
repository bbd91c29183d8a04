//! Concurrent clients over loopback: every acknowledged record reaches the sink exactly once.

mod common;

use std::collections::HashSet;
use std::sync::Arc;

use common::*;

fn ndjson_batch(client: usize, batch: usize, records: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for r in 0..records {
        let line = serde_json::json!({
            "schema": "gatewatch.exchange/1",
            "id": format!("0190f0e0-0000-7000-8000-{client:04x}{batch:04x}{r:04x}"),
            "observed_at": "2024-06-10T09:13:20Z",
            "source": {"kind": "native", "capture": "access_log"},
            "client": {"ip": "192.0.2.10"},
            "server": {"host": "api.example.com"},
            "request": {"method": "GET", "scheme": "https", "path": format!("/v1/items/{r}")},
            "response": {"status": 200}
        });
        out.extend_from_slice(line.to_string().as_bytes());
        out.push(b'\n');
    }
    out
}

fn run_load(clients: usize, batches: usize, records: usize) -> (usize, std::time::Duration) {
    let (_tmp, spool) = spool_dir();
    let sink = RecordingSink::new(Durability::Immediate);
    let mut cfg = config(&spool);
    cfg.queue_batches = 8;
    let server = start(cfg, sink.clone());
    let addr = server.addr;
    let started = std::time::Instant::now();
    let acked: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..clients)
            .map(|c| {
                s.spawn(move || {
                    let mut acked = Vec::new();
                    for b in 0..batches {
                        let body = ndjson_batch(c, b, records);
                        loop {
                            let r = ingest(addr, "/v1/ingest", "application/x-ndjson", &body);
                            match r.status {
                                200 => break,
                                429 => std::thread::sleep(std::time::Duration::from_millis(5)),
                                s => panic!("status {s}: {}", r.text()),
                            }
                        }
                        acked.extend(
                            (0..records)
                                .map(|r| format!("0190f0e0-0000-7000-8000-{c:04x}{b:04x}{r:04x}")),
                        );
                    }
                    acked
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    let report = server.stop();
    let elapsed = started.elapsed();
    let got = sink.record_ids();
    let unique: HashSet<&String> = got.iter().collect();
    assert_eq!(got.len(), unique.len(), "no record reached the sink twice");
    let expected: HashSet<&String> = acked.iter().collect();
    assert_eq!(
        unique, expected,
        "every acknowledged record reached the sink"
    );
    assert_eq!(report.committed, report.appended);
    let seqs = sink.seqs();
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "batches reach the sink in order"
    );
    drop(Arc::clone(&sink));
    (acked.len(), elapsed)
}

#[test]
fn concurrent_clients_lose_nothing() {
    run_load(8, 10, 50);
}

/// Throughput over loopback (run with `--ignored --nocapture`, ideally `--release`).
#[test]
#[ignore]
fn loopback_throughput() {
    let (records, elapsed) = run_load(8, 50, 1000);
    println!(
        "{records} records in {:.2}s: {:.0} records/s (8 clients, 1000-record NDJSON batches, fsync per batch)",
        elapsed.as_secs_f64(),
        records as f64 / elapsed.as_secs_f64()
    );
}
