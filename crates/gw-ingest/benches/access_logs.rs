//! Decode throughput of the access-log and HAR decoders (records/s and MB/s), one unit at a
//! time as the driver hands them over, plus the real Apache combined log through the whole
//! driver.
//!
//! `cargo bench -p gw-ingest --bench access_logs`

mod support;

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use gw_ingest::formats::{
    envoy::EnvoyJson, har::Har, nginx_combined::NginxCombined, nginx_json::NginxJson,
    traefik::TraefikJson,
};
use gw_ingest::{DecodeCtx, Decoder, FormatChoice, Input, Limits, Unit, decode_input};
use support::{Sink, decode_lines};

fn lines(n: usize, f: impl Fn(usize) -> String) -> Vec<String> {
    (0..n).map(f).collect()
}

fn bench_lines(c: &mut Criterion, name: &str, decoder: &dyn Decoder, lines: &[String]) {
    let bytes: usize = lines.iter().map(|l| l.len() + 1).sum();
    let mut g = c.benchmark_group(name);
    g.throughput(Throughput::Elements(lines.len() as u64));
    let ctx = DecodeCtx::new("bench.log");
    let run = || {
        let mut sink = Sink(0);
        decode_lines(decoder, lines, &ctx, &mut sink);
        black_box(sink.0)
    };
    g.bench_function("records", |b| b.iter(run));
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function("bytes", |b| b.iter(run));
    g.finish();
}

fn bench(c: &mut Criterion) {
    let n = 5_000;
    let combined = lines(n, |i| {
        format!(
            r#"203.0.113.{} - - [10/Jun/2024:09:{:02}:{:02} +0000] "GET /v1/orders/{i}?expand=items HTTP/1.1" 200 {} "https://app.example.com/" "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36""#,
            i % 250,
            (i / 60) % 60,
            i % 60,
            1000 + i
        )
    });
    bench_lines(c, "nginx_combined", &NginxCombined, &combined);
    let nginx_json = lines(n, |i| {
        format!(
            r#"{{"time":"2024-06-10T09:13:20+00:00","msec":"1718010800.{:03}","request_id":"7f1c2d3e4b5a6978{i:016x}","remote_addr":"10.0.0.12","remote_port":"51544","xff":"203.0.113.{}","method":"GET","scheme":"https","host":"api.example.com","request_uri":"/v1/orders/{i}?expand=items","protocol":"HTTP/1.1","status":200,"request_length":412,"bytes_sent":2101,"body_bytes_sent":1877,"request_time":0.045,"upstream_addr":"10.1.4.17:8080","upstream_status":"200","upstream_response_time":"0.041","user_agent":"okhttp/4.12.0","referer":"","content_type":"","ssl_protocol":"TLSv1.3","ssl_cipher":"TLS_AES_128_GCM_SHA256"}}"#,
            i % 1000,
            i % 250
        )
    });
    bench_lines(c, "nginx_json", &NginxJson, &nginx_json);
    let envoy = lines(n, |i| {
        format!(
            r#"{{"start_time":"2024-06-10T09:13:20.123Z","route_name":"orders","method":"POST","path":"/v1/orders/{i}","protocol":"HTTP/1.1","response_code":201,"response_flags":"-","response_code_details":"via_upstream","bytes_received":27,"bytes_sent":96,"duration":38,"upstream_service_time":"35","x_forwarded_for":"203.0.113.{}","user_agent":"okhttp/4.12.0","request_id":"b2f5e0c4-6d0e-4d1b-9f58-{i:012x}","authority":"api.example.com","upstream_host":"10.1.4.17:8080","upstream_cluster":"outbound|8080||orders.prod.svc.cluster.local","downstream_remote_address":"203.0.113.45:51544","requested_server_name":"api.example.com","upstream_transport_failure_reason":null}}"#,
            i % 250
        )
    });
    bench_lines(c, "envoy_json", &EnvoyJson, &envoy);
    let traefik = lines(n, |i| {
        format!(
            r#"{{"ClientAddr":"203.0.113.45:51544","ClientHost":"203.0.113.{}","ClientPort":"51544","ClientUsername":"-","DownstreamContentSize":1877,"DownstreamStatus":200,"Duration":45123000,"OriginContentSize":1877,"OriginDuration":41007000,"OriginStatus":200,"Overhead":4116000,"RequestAddr":"api.example.com","RequestContentSize":0,"RequestCount":{i},"RequestHost":"api.example.com","RequestMethod":"GET","RequestPath":"/v1/orders/{i}?expand=items","RequestPort":"-","RequestProtocol":"HTTP/2.0","RequestScheme":"https","RetryAttempts":0,"RouterName":"orders@kubernetescrd","ServiceAddr":"10.1.4.17:8080","ServiceName":"orders@kubernetescrd","ServiceURL":"http://10.1.4.17:8080","StartUTC":"2024-06-10T09:13:20.123456789Z","TLSCipher":"TLS_AES_128_GCM_SHA256","TLSVersion":"1.3","entryPointName":"websecure","request_User-Agent":"okhttp/4.12.0","level":"info","msg":"","time":"2024-06-10T09:13:20Z"}}"#,
            i % 250
        )
    });
    bench_lines(c, "traefik_json", &TraefikJson, &traefik);

    let entry = r#"{"startedDateTime":"2024-06-10T09:13:20.123Z","time":45,"serverIPAddress":"198.51.100.7","request":{"method":"POST","url":"https://api.example.com/v1/orders","httpVersion":"HTTP/1.1","cookies":[],"headers":[{"name":"Content-Type","value":"application/json"},{"name":"User-Agent","value":"okhttp/4.12.0"}],"queryString":[],"postData":{"mimeType":"application/json","text":"{\"sku\":\"A-1\",\"qty\":2}"},"headersSize":-1,"bodySize":21},"response":{"status":201,"statusText":"Created","httpVersion":"HTTP/1.1","cookies":[],"headers":[{"name":"Content-Type","value":"application/json"}],"content":{"size":11,"mimeType":"application/json","text":"{\"id\":1042}"},"redirectURL":"","headersSize":-1,"bodySize":11},"cache":{},"timings":{"send":0,"wait":41,"receive":4}}"#;
    let har = format!(
        r#"{{"log":{{"version":"1.2","creator":{{"name":"bench","version":"1"}},"entries":[{}]}}}}"#,
        vec![entry; n].join(",\n")
    );
    let mut g = c.benchmark_group("har");
    g.throughput(Throughput::Elements(n as u64));
    let ctx = DecodeCtx::new("bench.har");
    let run = || {
        let mut sink = Sink(0);
        Har.decode(
            Unit {
                bytes: har.as_bytes(),
                line: 1,
            },
            &ctx,
            &mut sink,
        );
        black_box(sink.0)
    };
    g.bench_function("entries", |b| b.iter(run));
    g.throughput(Throughput::Bytes(har.len() as u64));
    g.bench_function("bytes", |b| b.iter(run));
    g.finish();

    let apache = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/traffic/apache_logs/apache_logs.first2000.log");
    if let Ok(data) = std::fs::read(&apache) {
        let mut g = c.benchmark_group("apache_logs_first2000_auto");
        g.throughput(Throughput::Bytes(data.len() as u64));
        g.bench_function("decode_input", |b| {
            b.iter(|| {
                let input =
                    Input::from_reader("apache.log", std::io::Cursor::new(data.clone())).unwrap();
                let mut sink = Sink(0);
                let stats =
                    decode_input(input, FormatChoice::Auto, &Limits::default(), &mut sink).unwrap();
                black_box((stats.records, sink.0))
            })
        });
        g.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(std::time::Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
