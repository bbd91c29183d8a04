//! SARIF 2.1.0 output: the required members are present and every result is located.

use std::path::Path;

use gw_posture::{audit_spec_file, check_gateway_config, to_sarif};
use serde_json::Value;

fn str_at<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("missing string at {pointer}"))
}

#[test]
fn sarif_log_has_required_fields_and_located_results() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut findings =
        audit_spec_file(root.join("../../../shared/data/specs/vampi/openapi3.yml")).unwrap();
    findings.extend(
        check_gateway_config(&root.join("tests/golden/nginx-insecure.conf"), None).unwrap(),
    );
    findings
        .extend(check_gateway_config(&root.join("tests/golden/apim-insecure.json"), None).unwrap());
    let log = to_sarif(&findings, "0.1.0");

    assert_eq!(str_at(&log, "/version"), "2.1.0");
    assert!(str_at(&log, "/$schema").contains("sarif-2.1.0"));
    let runs = log["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(str_at(&log, "/runs/0/tool/driver/name"), "gatewatch");
    let rules = log
        .pointer("/runs/0/tool/driver/rules")
        .and_then(Value::as_array)
        .unwrap();
    let rule_ids: Vec<&str> = rules.iter().map(|r| r["id"].as_str().unwrap()).collect();
    let mut sorted = rule_ids.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(rule_ids, sorted, "rules listed once each, sorted");
    for r in rules {
        assert!(
            r.pointer("/shortDescription/text")
                .and_then(Value::as_str)
                .is_some_and(|t| !t.is_empty())
        );
        let sev: f64 = r
            .pointer("/properties/security-severity")
            .and_then(Value::as_str)
            .unwrap()
            .parse()
            .unwrap();
        assert!((0.0..=10.0).contains(&sev));
    }

    let results = log
        .pointer("/runs/0/results")
        .and_then(Value::as_array)
        .unwrap();
    assert_eq!(results.len(), findings.len());
    for (res, f) in results.iter().zip(&findings) {
        assert_eq!(str_at(res, "/ruleId"), f.rule.id);
        let idx = res["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rule_ids[idx], f.rule.id);
        assert!(matches!(
            str_at(res, "/level"),
            "error" | "warning" | "note"
        ));
        assert!(!str_at(res, "/message/text").is_empty());
        let uri = str_at(res, "/locations/0/physicalLocation/artifactLocation/uri");
        assert!(
            uri.ends_with("openapi3.yml") || uri.ends_with(".conf") || uri.ends_with(".json"),
            "{uri}"
        );
        let line = res
            .pointer("/locations/0/physicalLocation/region/startLine")
            .and_then(Value::as_u64)
            .unwrap();
        assert!(line >= 1);
        assert!(
            res.pointer("/locations/0/logicalLocations/0/fullyQualifiedName")
                .is_some()
        );
        assert_eq!(
            str_at(res, "/partialFingerprints/gatewatchFingerprint~1v1"),
            f.fingerprint
        );
    }
    // a known location: VAmPI's plain-HTTP server is on line 7
    let server = results.iter().find(|r| r["ruleId"] == "GW-S-014").unwrap();
    assert_eq!(
        server.pointer("/locations/0/physicalLocation/region/startLine"),
        Some(&Value::from(7))
    );
    assert_eq!(
        server["level"], "note",
        "loopback dev server is downgraded to low"
    );
}

#[test]
fn empty_finding_list_is_a_valid_log() {
    let log = to_sarif(&[], "0.1.0");
    assert_eq!(log["runs"][0]["results"], Value::Array(vec![]));
    assert_eq!(
        log["runs"][0]["tool"]["driver"]["rules"],
        Value::Array(vec![])
    );
}

#[test]
fn rule_ids_are_unique_across_all_registries() {
    let mut ids: Vec<&str> = gw_posture::all_rule_metas().map(|m| m.id).collect();
    let n = ids.len();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), n);
    assert!(gw_posture::all_rule_metas().all(|m| {
        ["GW-S-", "GW-C-", "GW-P-"]
            .iter()
            .any(|p| m.id.starts_with(p))
    }));
}
