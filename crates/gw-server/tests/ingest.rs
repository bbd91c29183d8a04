//! Every ingest endpoint over real loopback sockets: formats, counts, rejects, errors.

mod common;

use std::io::Write;
use std::sync::Arc;

use common::*;
use gw_server::ServerConfig;

/// A server on the test configuration as `configure` leaves it, with a sink that takes batches
/// at once. Bind the three in this order: the server then stops before its spool's temporary
/// directory is removed.
fn serve(
    configure: impl FnOnce(&mut ServerConfig),
) -> (tempfile::TempDir, Arc<RecordingSink>, Running) {
    let (tmp, spool) = spool_dir();
    let sink = RecordingSink::new(Durability::Immediate);
    let mut cfg = config(&spool);
    configure(&mut cfg);
    let server = start(cfg, sink.clone());
    (tmp, sink, server)
}

#[test]
fn every_endpoint_accepts_its_format_and_counts_records_and_rejects() {
    let (_tmp, sink, server) = serve(|_| {});
    let cases = [
        (
            "/v1/ingest",
            "application/x-ndjson",
            "native/records",
            "native",
        ),
        ("/v1/ingest", "application/json", "native/array", "native"),
        (
            "/v1/ingest/kong",
            "application/json",
            "kong.http_log/batch",
            "kong.http_log",
        ),
        (
            "/v1/ingest/kong",
            "application/json",
            "kong.http_log/lines",
            "kong.http_log",
        ),
        (
            "/v1/ingest/apim",
            "application/json",
            "azure.apim.policy/policy",
            "azure.apim.policy",
        ),
        (
            "/v1/ingest/apim",
            "application/json",
            "azure.apim.gatewaylogs/eventhub",
            "azure.apim.gatewaylogs",
        ),
        (
            "/v1/ingest/envoy",
            "application/x-ndjson",
            "envoy.json/istio",
            "envoy.json",
        ),
    ];
    let mut expected_records = 0;
    for (path, ctype, golden_name, format) in cases {
        let body = golden(&format!("{golden_name}.input"));
        let reply = ingest(server.addr, path, ctype, &body);
        assert_eq!(reply.status, 200, "{golden_name}: {}", reply.text());
        let j = reply.json();
        let accepted = golden_lines(&format!("{golden_name}.expected.ndjson"));
        let rejected = golden_lines(&format!("{golden_name}.rejects.ndjson"));
        assert_eq!(j["format"], format, "{golden_name}");
        assert_eq!(j["accepted"], accepted as u64, "{golden_name}: {j}");
        assert_eq!(j["rejected"], rejected as u64, "{golden_name}: {j}");
        let listed = j["rejects"].as_array().unwrap();
        assert_eq!(listed.len(), rejected, "{golden_name}");
        let by_reason: u64 = j["reasons"]
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_u64().unwrap())
            .sum();
        assert_eq!(by_reason, rejected as u64);
        for r in listed {
            assert!(r["reason"].is_string() && r["message"].is_string(), "{r}");
        }
        expected_records += accepted;
    }
    eventually("every batch reached the sink", || {
        sink.batches.lock().unwrap().len() == cases.len()
    });
    assert_eq!(sink.record_ids().len(), expected_records);
    assert_eq!(sink.seqs(), (1..=cases.len() as u64).collect::<Vec<_>>());
    let report = server.stop();
    assert_eq!(report.committed, cases.len() as u64);
}

#[test]
fn gzip_and_zstd_bodies_are_decompressed() {
    let (_tmp, _sink, server) = serve(|_| {});
    let body = golden("envoy.json/istio.input");
    let plain = ingest(
        server.addr,
        "/v1/ingest/envoy",
        "application/x-ndjson",
        &body,
    )
    .json();

    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&body).unwrap();
    let gz = gz.finish().unwrap();
    let zst =
        ruzstd::encoding::compress_to_vec(&body[..], ruzstd::encoding::CompressionLevel::Fastest);
    for (encoding, encoded) in [("gzip", gz), ("zstd", zst)] {
        let auth = format!("Bearer {INGEST_TOKEN}");
        let reply = request(
            server.addr,
            "POST",
            "/v1/ingest/envoy",
            &[
                ("Authorization", &auth),
                ("Content-Type", "application/x-ndjson"),
                ("Content-Encoding", encoding),
            ],
            &encoded,
        );
        assert_eq!(reply.status, 200, "{encoding}: {}", reply.text());
        assert_eq!(reply.json()["accepted"], plain["accepted"], "{encoding}");
    }
}

#[test]
fn a_resent_body_gets_the_same_record_ids() {
    let (_tmp, sink, server) = serve(|_| {});
    let body = golden("kong.http_log/lines.input");
    for _ in 0..2 {
        assert_eq!(
            ingest(server.addr, "/v1/ingest/kong", "application/json", &body).status,
            200
        );
    }
    eventually("both batches", || sink.batches.lock().unwrap().len() == 2);
    let b = sink.batches.lock().unwrap();
    let ids = |i: usize| {
        b[i].records
            .iter()
            .map(|r| r.id.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        ids(0),
        ids(1),
        "the store drops a client's retry as duplicates"
    );
}

/// Asserts a JSON error answer and that nothing reached the sink.
fn assert_error(reply: &Reply, status: u16, code: &str) {
    assert_eq!(reply.status, status, "{}", reply.text());
    let j = reply.json();
    assert_eq!(j["code"], code, "{j}");
    assert!(!j["error"].as_str().unwrap().is_empty());
}

#[test]
fn bad_requests_get_json_errors_on_every_endpoint_and_nothing_reaches_the_sink() {
    let (_tmp, sink, server) = serve(|cfg| {
        cfg.max_body_bytes = 4096;
        cfg.max_decompressed_bytes = 64 * 1024;
    });
    let ingest_auth = format!("Bearer {INGEST_TOKEN}");
    let read_auth = format!("Bearer {READ_TOKEN}");
    let mut bomb = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    bomb.write_all(&vec![b' '; 1 << 20]).unwrap();
    let bomb = bomb.finish().unwrap();
    assert!(bomb.len() < 4096);
    for endpoint in gw_server::Endpoint::ALL {
        let path = endpoint.path();
        let post = |headers: &[(&str, &str)], body: &[u8]| {
            request(server.addr, "POST", path, headers, body)
        };
        let json = ("Content-Type", "application/json");
        let auth = ("Authorization", ingest_auth.as_str());

        let r = post(&[json], b"{}");
        assert_error(&r, 401, "unauthorized");
        assert_eq!(r.header("www-authenticate"), Some("Bearer"));
        assert_error(
            &post(&[json, ("Authorization", "Bearer wrong")], b"{}"),
            401,
            "unauthorized",
        );
        assert_error(
            &post(&[json, ("Authorization", "Basic abc")], b"{}"),
            401,
            "unauthorized",
        );
        assert_error(
            &post(&[json, ("Authorization", &read_auth)], b"{}"),
            403,
            "forbidden",
        );
        assert_error(
            &post(&[auth, ("Content-Type", "text/html")], b"{}"),
            415,
            "unsupported_media_type",
        );
        assert_error(&post(&[auth], b"{}"), 415, "unsupported_media_type");
        assert_error(
            &post(&[auth, json, ("Content-Encoding", "br")], b"{}"),
            415,
            "unsupported_encoding",
        );
        let r = post(&[auth, json], b"{\"not\": json");
        assert_error(&r, 400, "no_valid_records");
        let j = r.json();
        assert_eq!(j["accepted"], 0);
        assert_eq!(j["rejected"], 1);
        assert_eq!(j["rejects"][0]["reason"], "invalid_json", "{j}");
        assert_error(&post(&[auth, json], b"   \n"), 400, "empty_body");
        assert_error(&post(&[auth, json], &[b'x'; 5000]), 413, "body_too_large");
        assert_error(
            &post(
                &[auth, json, ("Content-Encoding", "gzip")],
                b"\x1f\x8b\x08\x00garbage",
            ),
            400,
            "bad_encoding",
        );
        assert_error(
            &post(&[auth, json, ("Content-Encoding", "zstd")], b"garbage"),
            400,
            "bad_encoding",
        );
        assert_error(
            &post(&[auth, json, ("Content-Encoding", "gzip")], &bomb),
            413,
            "decompressed_too_large",
        );
        assert_error(
            &request(server.addr, "GET", path, &[auth], b""),
            405,
            "method_not_allowed",
        );
    }
    assert_error(
        &request(server.addr, "GET", "/v1/nothing", &[], b""),
        404,
        "not_found",
    );
    // The server is unaffected: a good request still goes through.
    let body = golden("native/records.input");
    assert_eq!(
        ingest(server.addr, "/v1/ingest", "application/x-ndjson", &body).status,
        200
    );
    eventually("the good batch", || sink.batches.lock().unwrap().len() == 1);
    assert_eq!(sink.seqs(), vec![1]);
}

struct Reopen(std::sync::Arc<RecordingSink>);

impl Drop for Reopen {
    fn drop(&mut self) {
        self.0.set_open(true);
    }
}

/// A server whose ingest queue (2 batches) is full: one batch held by the blocked sink, one
/// waiting behind it. The `Reopen` guard, dropped before the server, reopens the sink even when
/// an assertion fails. Returns the body that filled it.
fn full_queue(
    configure: impl FnOnce(&mut ServerConfig),
) -> (
    tempfile::TempDir,
    Arc<RecordingSink>,
    Running,
    Reopen,
    Vec<u8>,
) {
    let (tmp, sink, server) = serve(|cfg| {
        cfg.queue_batches = 2;
        configure(cfg);
    });
    sink.set_open(false);
    let reopen = Reopen(sink.clone());
    let body = golden("native/records.input");
    for _ in 0..2 {
        let r = ingest(server.addr, "/v1/ingest", "application/x-ndjson", &body);
        assert_eq!(r.status, 200, "{}", r.text());
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    (tmp, sink, server, reopen, body)
}

#[test]
fn a_saturated_pipeline_gets_429_with_retry_after_and_recovers() {
    let (_tmp, sink, server, _reopen, body) = full_queue(|_| {});
    let r = ingest(server.addr, "/v1/ingest", "application/x-ndjson", &body);
    assert_error(&r, 429, "saturated");
    assert_eq!(r.header("retry-after"), Some("1"));
    assert_error(&refused_with_a_large_body(server.addr), 429, "saturated");
    assert_eq!(request(server.addr, "GET", "/readyz", &[], b"").status, 503);
    sink.set_open(true);
    eventually("the queue drains", || {
        sink.batches.lock().unwrap().len() == 2
    });
    eventually("ready again", || {
        request(server.addr, "GET", "/readyz", &[], b"").status == 200
    });
    assert_eq!(
        ingest(server.addr, "/v1/ingest", "application/x-ndjson", &body).status,
        200
    );
}

#[test]
fn a_request_waits_for_room_in_a_full_queue_up_to_queue_wait_ms() {
    let (_tmp, sink, server, _reopen, body) = full_queue(|cfg| cfg.queue_wait_ms = 10_000);
    // The queue is full: this request waits instead of getting 429 ...
    let addr = server.addr;
    let waiting = {
        let body = body.clone();
        std::thread::spawn(move || ingest(addr, "/v1/ingest", "application/x-ndjson", &body))
    };
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(!waiting.is_finished(), "answered while the queue was full");
    // ... and is accepted once the pipeline takes batches again.
    sink.set_open(true);
    let r = waiting.join().unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    eventually("all three batches", || {
        sink.batches.lock().unwrap().len() == 3
    });
}

#[test]
fn a_token_over_its_rate_gets_429_with_retry_after() {
    let (_tmp, _sink, server) = serve(|cfg| {
        cfg.rate_per_second = 1;
        cfg.rate_burst = 2;
    });
    let body = golden("native/records.input");
    let statuses: Vec<u16> = (0..3)
        .map(|_| ingest(server.addr, "/v1/ingest", "application/x-ndjson", &body).status)
        .collect();
    assert_eq!(&statuses[..2], &[200, 200]);
    let r = ingest(server.addr, "/v1/ingest", "application/x-ndjson", &body);
    assert_error(&r, 429, "rate_limited");
    let wait: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=2).contains(&wait), "{wait}");
    assert_error(&refused_with_a_large_body(server.addr), 429, "rate_limited");
}

/// Sends a 12 MiB body (more than loopback's socket buffers hold, less than max_body_bytes)
/// the way log shippers do, the whole body before reading the answer, and returns the answer.
/// A 429 must not reset the connection under the client: the server reads the body first.
fn refused_with_a_large_body(addr: std::net::SocketAddr) -> common::Reply {
    use std::io::{Read, Write};
    let body = vec![b'x'; 12 * 1024 * 1024];
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    let head = format!(
        "POST /v1/ingest HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Authorization: Bearer {}\r\nContent-Type: application/x-ndjson\r\n\
         Content-Length: {}\r\n\r\n",
        common::INGEST_TOKEN,
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(&body)
        .expect("the server reads a refused body instead of resetting the connection");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    common::parse_reply(&raw)
}

#[test]
fn health_readiness_and_metrics() {
    let (_tmp, sink, server) = serve(|_| {});
    let h = request(server.addr, "GET", "/healthz", &[], b"");
    assert_eq!((h.status, h.json()["status"].as_str()), (200, Some("ok")));
    assert_eq!(request(server.addr, "GET", "/readyz", &[], b"").status, 200);
    let body = golden("kong.http_log/lines.input");
    assert_eq!(
        ingest(server.addr, "/v1/ingest/kong", "application/json", &body).status,
        200
    );
    assert_eq!(
        ingest(server.addr, "/v1/ingest/kong", "text/html", &body).status,
        415
    );
    eventually("the batch", || sink.batches.lock().unwrap().len() == 1);
    let m = request(server.addr, "GET", "/metrics", &[], b"");
    assert_eq!(m.status, 200);
    assert!(m.header("content-type").unwrap().starts_with("text/plain"));
    let text = m.text();
    for line in [
        "gatewatch_ingest_records_accepted_total{source=\"kong.http_log\"} 4",
        "gatewatch_ingest_requests_total{endpoint=\"/v1/ingest/kong\",code=\"200\"} 1",
        "gatewatch_ingest_requests_total{endpoint=\"/v1/ingest/kong\",code=\"415\"} 1",
        "gatewatch_sink_batches_total 1",
        "test_sink_batches 1",
    ] {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }
    let rejected = golden_lines("kong.http_log/lines.rejects.ndjson");
    let counted: f64 = text
        .lines()
        .filter(|l| {
            l.starts_with("gatewatch_ingest_records_rejected_total{source=\"kong.http_log\"")
        })
        .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
        .sum();
    assert_eq!(counted as usize, rejected);
    for gauge in [
        "gatewatch_ingest_queue_batches ",
        "gatewatch_pipeline_lag_batches ",
        "gatewatch_spool_pending_bytes ",
    ] {
        assert!(text.contains(gauge), "missing {gauge} in:\n{text}");
    }
}
