//! Crash durability: acknowledged batches survive a server that stops before the pipeline made
//! them durable, are replayed exactly once at the next start, and never again once committed.

mod common;

use std::sync::atomic::Ordering;

use common::*;

fn post_batches(addr: std::net::SocketAddr, n: usize) -> Vec<u64> {
    let body = golden("native/records.input");
    (0..n)
        .map(|i| {
            // Distinct bodies: a client's identical resend would (rightly) get the same ids.
            let mut b = body.clone();
            b.extend_from_slice(format!("\n{}\n", " ".repeat(i)).as_bytes());
            let r = ingest(addr, "/v1/ingest", "application/x-ndjson", &b);
            assert_eq!(r.status, 200, "{}", r.text());
            r.json()["batch"].as_u64().unwrap()
        })
        .collect()
}

#[test]
fn acknowledged_batches_the_pipeline_never_stored_are_replayed_exactly_once() {
    let (_tmp, spool) = spool_dir();
    // First life: the pipeline takes the batches but never makes them durable (it "crashes").
    let lost = RecordingSink::new(Durability::Never);
    let server = start(config(&spool), lost.clone());
    let acked = post_batches(server.addr, 3);
    assert_eq!(acked, vec![1, 2, 3]);
    eventually("the sink saw them", || lost.seqs() == acked);
    let first_ids = lost.record_ids();
    let report = server.stop();
    assert_eq!((report.committed, report.appended), (0, 3));

    // Second life: everything acknowledged and not committed comes back, same ids, in order.
    let sink = RecordingSink::new(Durability::Immediate);
    let server = start(config(&spool), sink.clone());
    eventually("replay", || sink.seqs() == acked);
    assert_eq!(sink.record_ids(), first_ids);
    let more = post_batches(server.addr, 1);
    assert_eq!(more, vec![4], "sequence numbers continue after a replay");
    eventually("the new batch", || sink.seqs().len() == 4);
    let report = server.stop();
    assert_eq!((report.replayed, report.committed), (3, 4));

    // Third life: nothing is replayed twice.
    let sink = RecordingSink::new(Durability::Immediate);
    let server = start(config(&spool), sink.clone());
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(sink.seqs().is_empty());
    assert_eq!(server.stop().replayed, 0);
}

#[test]
fn a_failing_pipeline_keeps_batches_in_the_spool_and_retries_them() {
    let (_tmp, spool) = spool_dir();
    let sink = RecordingSink::new(Durability::Immediate);
    sink.fail.store(true, Ordering::SeqCst);
    let server = start(config(&spool), sink.clone());
    let acked = post_batches(server.addr, 2);
    eventually("not ready while failing", || {
        request(server.addr, "GET", "/readyz", &[], b"").status == 503
    });
    sink.fail.store(false, Ordering::SeqCst);
    eventually("retried into the sink", || sink.seqs() == acked);
    eventually("ready again", || {
        request(server.addr, "GET", "/readyz", &[], b"").status == 200
    });
    assert_eq!(server.stop().committed, 2);
}

#[test]
fn stopping_with_a_failing_pipeline_leaves_the_batches_for_the_next_start() {
    let (_tmp, spool) = spool_dir();
    let sink = RecordingSink::new(Durability::Immediate);
    sink.fail.store(true, Ordering::SeqCst);
    let server = start(config(&spool), sink.clone());
    let acked = post_batches(server.addr, 2);
    let report = server.stop();
    assert_eq!(report.committed, 0);
    let sink = RecordingSink::new(Durability::Immediate);
    let server = start(config(&spool), sink.clone());
    eventually("replay", || sink.seqs() == acked);
    server.stop();
}

#[test]
fn a_full_spool_answers_503_with_retry_after() {
    let (_tmp, spool) = spool_dir();
    let sink = RecordingSink::new(Durability::Never);
    let mut cfg = config(&spool);
    cfg.spool_max_bytes = 8 * 1024;
    let server = start(cfg, sink.clone());
    let body = golden("native/records.input");
    let mut statuses = Vec::new();
    for i in 0..20 {
        let mut b = body.clone();
        b.extend_from_slice(" ".repeat(i).as_bytes());
        let r = ingest(server.addr, "/v1/ingest", "application/x-ndjson", &b);
        if r.status != 200 {
            assert_eq!(r.status, 503, "{}", r.text());
            assert_eq!(r.json()["code"], "spool_full");
            assert_eq!(r.header("retry-after"), Some("5"));
        }
        statuses.push(r.status);
    }
    assert!(
        statuses.contains(&200) && statuses.contains(&503),
        "{statuses:?}"
    );
    let accepted = statuses.iter().filter(|&&s| s == 200).count();
    eventually("every accepted batch reached the sink", || {
        sink.seqs().len() == accepted
    });
}
