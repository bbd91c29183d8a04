//! Throughput of the spec audit (on an already imported spec, with line mapping) and of gateway
//! configuration checks (parse + rules), in MB/s of source text.

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use gw_posture::{ConfigSource, audit_spec, check_gateway_config};

fn bench(c: &mut Criterion) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let spec_path = root.join("../../../shared/data/specs/crapi/crapi-openapi-spec.json");
    let text = std::fs::read_to_string(&spec_path).expect("crAPI spec in shared/data");
    let spec =
        gw_spec::parse_spec(text.as_bytes(), "crapi-openapi-spec.json").expect("crAPI parses");
    let mut g = c.benchmark_group("posture");
    g.throughput(Throughput::Bytes(text.len() as u64));
    g.bench_function("spec_audit_crapi", |b| {
        b.iter(|| black_box(audit_spec(&spec, Some(&text))))
    });
    for name in [
        "kong-insecure.yml",
        "nginx-insecure.conf",
        "apim-insecure.json",
    ] {
        let bytes = std::fs::read(root.join("tests/golden").join(name)).expect("golden file");
        g.throughput(Throughput::Bytes(bytes.len() as u64));
        g.bench_function(format!("gateway_config_{name}"), |b| {
            b.iter(|| {
                black_box(check_gateway_config(
                    ConfigSource::Bytes {
                        bytes: &bytes,
                        file_name: name,
                    },
                    None,
                ))
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
