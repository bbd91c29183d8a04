//! Import throughput on the largest apis-guru spec of the shared corpus, as JSON and as YAML.

use std::path::{Path, PathBuf};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use gw_spec::parse_spec;

/// The largest spec listed in apis-guru/index.json.
fn largest_apis_guru_spec() -> (String, Vec<u8>) {
    let dir: PathBuf =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/specs/apis-guru");
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("index.json")).expect("index.json"))
            .expect("index json");
    let largest = index["specs"]
        .as_array()
        .expect("specs")
        .iter()
        .max_by_key(|s| s["bytes"].as_u64().unwrap_or(0))
        .expect("at least one spec");
    let file = largest["file"].as_str().expect("file").to_owned();
    let bytes = std::fs::read(dir.join(&file)).expect("spec file");
    (file, bytes)
}

fn bench_import(c: &mut Criterion) {
    let (file, json) = largest_apis_guru_spec();
    let value: serde_json::Value = serde_json::from_slice(&json).expect("json");
    let yaml = yaml_serde::to_string(&value).expect("yaml").into_bytes();
    let mut group = c.benchmark_group("spec_import");
    group.throughput(Throughput::Bytes(json.len() as u64));
    group.bench_function(format!("json/{file}"), |b| {
        b.iter(|| parse_spec(&json, &file).expect("imports"))
    });
    // Baseline: parsing the same bytes into a serde_json::Value, the floor of any import.
    group.bench_function(format!("json_value_only/{file}"), |b| {
        b.iter(|| serde_json::from_slice::<serde_json::Value>(&json).expect("json"))
    });
    group.throughput(Throughput::Bytes(yaml.len() as u64));
    group.bench_function(format!("yaml/{file}"), |b| {
        b.iter(|| parse_spec(&yaml, "largest.yaml").expect("imports"))
    });
    group.finish();
}

criterion_group!(benches, bench_import);
criterion_main!(benches);
