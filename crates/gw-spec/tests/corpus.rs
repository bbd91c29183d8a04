//! Imports every spec of the shared corpus: apis-guru (operation counts from its index), crAPI,
//! VAmPI, and the swagger-parser valid / invalid suite (expectations from its manifest).

use std::path::{Path, PathBuf};

use gw_spec::{declared_endpoints, load_spec};
use serde_json::Value;

fn specs_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/specs")
}

fn read_json(path: &Path) -> Value {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn distinct_paths(spec: &gw_spec::ApiSpec) -> usize {
    let mut paths: Vec<&str> = spec
        .operations
        .iter()
        .map(|o| o.path_template.as_str())
        .collect();
    paths.sort_unstable();
    paths.dedup();
    paths.len()
}

#[test]
fn apis_guru_specs_import_with_matching_operation_counts() {
    let dir = specs_dir().join("apis-guru");
    let index = read_json(&dir.join("index.json"));
    let entries = index["specs"].as_array().expect("index.json specs");
    let (mut imported, mut rejected, mut mismatches) = (0, 0, 0);
    let mut warnings: std::collections::BTreeMap<String, usize> = Default::default();
    let mut max_ratio = 0.0_f64;
    for entry in entries {
        let file = entry["file"].as_str().expect("file");
        let expected_ops = entry["operations"].as_u64().expect("operations") as usize;
        match load_spec(dir.join(file)) {
            Ok(spec) => {
                imported += 1;
                // The model must serialise; note how much larger than the source it gets.
                let serialised = serde_json::to_vec(&spec).expect("model serialises").len();
                let source = std::fs::metadata(dir.join(file)).map_or(1, |m| m.len().max(1));
                max_ratio = max_ratio.max(serialised as f64 / source as f64);
                for w in &spec.warnings {
                    // Group by the message with quoted names removed.
                    let kind: String = w
                        .message
                        .split('"')
                        .step_by(2)
                        .collect::<Vec<_>>()
                        .join("_");
                    *warnings.entry(kind).or_default() += 1;
                }
                if spec.operations.len() != expected_ops {
                    mismatches += 1;
                    eprintln!(
                        "MISMATCH {file}: {} operations, index says {expected_ops}",
                        spec.operations.len()
                    );
                }
                let endpoints: Vec<_> = declared_endpoints(&spec).collect();
                assert!(endpoints.len() >= spec.operations.len(), "{file}");
                assert!(
                    endpoints.iter().all(|e| e.full_template.starts_with('/')),
                    "{file}"
                );
            }
            Err(e) => {
                rejected += 1;
                eprintln!("REJECTED {e}");
            }
        }
    }
    println!(
        "apis-guru: {} specs, imported {imported}, rejected {rejected}, operation-count mismatches {mismatches}",
        entries.len()
    );
    println!("  serialised model / source size: at most {max_ratio:.1}x");
    for (kind, count) in &warnings {
        println!("  warning x{count}: {kind}");
    }
    assert_eq!(rejected, 0);
    assert_eq!(mismatches, 0);
    assert_eq!(imported, entries.len());
}

#[test]
fn crapi_has_44_operations_in_40_paths() {
    let spec = load_spec(specs_dir().join("crapi/crapi-openapi-spec.json")).expect("crAPI imports");
    assert_eq!(spec.operations.len(), 44);
    assert_eq!(distinct_paths(&spec), 40);
    // 34 operations name bearerAuth; the rest have `security: []` or nothing (no root security).
    assert_eq!(
        declared_endpoints(&spec)
            .filter(|e| e.requires_auth)
            .count(),
        34
    );
    assert_eq!(spec.servers[0].host.as_deref(), Some("localhost:8888"));
    println!(
        "crAPI: {} operations, {} warnings",
        spec.operations.len(),
        spec.warnings.len()
    );
    for w in &spec.warnings {
        println!("  {}: {}", w.pointer, w.message);
    }
}

#[test]
fn vampi_has_14_operations_in_12_paths() {
    let spec = load_spec(specs_dir().join("vampi/openapi3.yml")).expect("VAmPI imports");
    assert_eq!(spec.operations.len(), 14);
    assert_eq!(distinct_paths(&spec), 12);
    assert_eq!(
        declared_endpoints(&spec)
            .filter(|e| e.requires_auth)
            .count(),
        6
    );
    println!(
        "VAmPI: {} operations, {} warnings",
        spec.operations.len(),
        spec.warnings.len()
    );
}

/// Invalid specs are rejected with a pointer, or imported with at least one warning (the
/// manifest allows either). Valid ones import.
#[test]
fn swagger_parser_suite_meets_manifest_expectations() {
    let dir = specs_dir().join("swagger-parser");
    let manifest = read_json(&dir.join("manifest.json"));
    let entries = manifest["specs"].as_array().expect("manifest specs");
    let (mut valid_ok, mut rejected, mut warned, mut failures) = (0, 0, 0, Vec::new());
    for entry in entries {
        let file = entry["file"].as_str().expect("file");
        let expected_valid = entry["expected"] == "valid";
        let result = load_spec(dir.join(file));
        match (expected_valid, result) {
            (true, Ok(spec)) => {
                valid_ok += 1;
                for w in &spec.warnings {
                    eprintln!("note {file}: {}: {}", w.pointer, w.message);
                }
            }
            (true, Err(e)) => failures.push(format!("{file}: valid spec rejected: {e}")),
            (false, Err(e)) => {
                rejected += 1;
                eprintln!("rejected {file}: {e}");
                // Every rejection here is about the document's content: it must cite a pointer.
                if e.pointer().is_none() {
                    failures.push(format!("{file}: rejection without a pointer: {e}"));
                }
            }
            (false, Ok(spec)) => {
                if spec.warnings.is_empty() {
                    failures.push(format!("{file}: invalid spec imported without a warning"));
                } else if spec.warnings.iter().any(|w| !w.pointer.starts_with('/')) {
                    failures.push(format!("{file}: warning without a pointer"));
                } else {
                    warned += 1;
                    for w in &spec.warnings {
                        eprintln!("warned {file}: {}: {}", w.pointer, w.message);
                    }
                }
            }
        }
    }
    println!(
        "swagger-parser: {} specs: valid imported {valid_ok}, invalid rejected {rejected}, invalid imported with warnings {warned}, unmet {}",
        entries.len(),
        failures.len()
    );
    assert!(failures.is_empty(), "{failures:#?}");
}
