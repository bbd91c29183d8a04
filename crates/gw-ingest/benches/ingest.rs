//! Parse + normalize throughput of native NDJSON records (~1 KB each, small JSON bodies),
//! against serde_json alone deserializing the same records into the same structs (the floor).
//!
//! `cargo bench -p gw-ingest --bench ingest`

mod support;

use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use gw_ingest::normalize::{NormalizeConfig, Normalizer};
use gw_ingest::{DecodeCtx, DecodeError, Emit, formats::native::Native};
use gw_model::Exchange;
use support::{Collect, Sink, decode_lines};

fn sample_lines(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            format!(
                concat!(
                    r#"{{"schema":"gatewatch.exchange/1","id":"0190-{i}","observed_at":"2024-06-10T09:{m:02}:{s:02}.123Z","#,
                    r#""duration_ms":38.5,"upstream_duration_ms":35.0,"source":{{"kind":"native","capture":"frontend","gateway":"gw-1","raw_ref":null}},"#,
                    r#""request_id":"req-{i}","trace_id":null,"client":{{"ip":"10.0.{a}.{b}","port":51544,"forwarded_for":["203.0.113.{b}"],"resolved_ip":null,"user_agent":"okhttp/4.12.0","tls":null}},"#,
                    r#""server":{{"host":"api.example.com","ip":null,"port":443}},"#,
                    r#""request":{{"method":"POST","scheme":"https","path":"/v1/users/{i}/orders","query":"page=2&size=50","http_version":"1.1","#,
                    r#""headers":[{{"name":"content-type","value":"application/json"}},{{"name":"authorization","value":"Bearer abc.def.ghi"}},{{"name":"x-forwarded-for","value":"203.0.113.{b}"}}],"#,
                    r#""body":{{"size":52,"captured":52,"truncated":false,"encoding":"utf8","content":"{{\"sku\":\"A-{i}\",\"qty\":2,\"note\":\"leave at the door\"}}","redacted":false}},"size":412}},"#,
                    r#""response":{{"status":201,"headers":[{{"name":"content-type","value":"application/json"}}],"#,
                    r#""body":{{"size":40,"captured":40,"truncated":false,"encoding":"utf8","content":"{{\"id\":{i},\"status\":\"created\",\"eta\":3}}","redacted":false}},"size":301,"content_type":"application/json"}},"#,
                    r#""upstream":null,"api":null,"identity":null,"gateway":null,"labels":{{"env":"prod"}},"extra":{{}}}}"#
                ),
                i = i,
                m = (i / 60) % 60,
                s = i % 60,
                a = (i / 250) % 250,
                b = i % 250,
            )
        })
        .collect()
}

/// Normalizes every record the way the pipeline does before storing it.
struct NormalizingSink<'a> {
    normalizer: &'a Normalizer,
    n: u64,
}

impl Emit for NormalizingSink<'_> {
    fn record(&mut self, mut x: Exchange) {
        self.normalizer.normalize(&mut x);
        self.n += x.actor_ip().is_some() as u64 + x.request.path.len() as u64;
    }
    fn reject(&mut self, err: DecodeError, _raw: &[u8]) {
        panic!("bench input rejected: {err}");
    }
}

fn bench(c: &mut Criterion) {
    let lines = sample_lines(10_000);
    let bytes: usize = lines.iter().map(|l| l.len() + 1).sum();
    println!(
        "records: {}  average record: {} bytes",
        lines.len(),
        bytes / lines.len()
    );
    let mut g = c.benchmark_group("ingest_native_ndjson");
    g.throughput(Throughput::Elements(lines.len() as u64));
    g.bench_function("serde_json_only", |b| {
        b.iter(|| {
            let mut n = 0;
            for l in &lines {
                let x: Exchange = serde_json::from_str(l).unwrap();
                n += x.request.path.len();
            }
            black_box(n)
        })
    });
    let ctx = DecodeCtx::new("bench.ndjson");
    g.bench_function("decode", |b| {
        b.iter(|| {
            let mut sink = Sink(0);
            decode_lines(&Native, &lines, &ctx, &mut sink);
            black_box(sink.0)
        })
    });
    let config = NormalizeConfig {
        trusted_proxies: vec!["10.0.0.0/8".parse().expect("valid CIDR")],
        ..NormalizeConfig::default()
    };
    let normalizer = Normalizer::new(&config, &[42; 32]).expect("valid config");
    g.bench_function("decode+normalize", |b| {
        b.iter(|| {
            let mut sink = NormalizingSink {
                normalizer: &normalizer,
                n: 0,
            };
            decode_lines(&Native, &lines, &ctx, &mut sink);
            black_box(sink.n)
        })
    });
    // Normalization alone, on records decoded once (cloning them is setup, not measured).
    let mut decoded = Collect(Vec::with_capacity(lines.len()));
    decode_lines(&Native, &lines, &ctx, &mut decoded);
    g.bench_function("normalize", |b| {
        b.iter_batched(
            || decoded.0.clone(),
            |mut records| {
                for x in &mut records {
                    normalizer.normalize(x);
                }
                black_box(records)
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
