//! Spec audit over the real specs of the shared corpus: the deliberately vulnerable crAPI and
//! VAmPI APIs (their known weak parts must be found) and every apis-guru spec (no panic).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use gw_model::Finding;
use gw_posture::spec_audit::count_by_rule;
use gw_posture::{SPEC_RULES, audit_spec_file, split_location};

fn specs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/specs")
}

fn pointer(f: &Finding) -> &str {
    split_location(f.evidence.samples[0].location.as_deref().unwrap_or("")).1
}

fn has(findings: &[Finding], rule: &str, pointer_part: &str) -> bool {
    findings
        .iter()
        .any(|f| f.rule.id == rule && pointer(f).contains(pointer_part))
}

fn print_table(name: &str, findings: &[Finding]) {
    println!("{name}: {} findings", findings.len());
    for (id, n) in count_by_rule(findings) {
        let meta = &SPEC_RULES.iter().find(|r| r.meta.id == id).unwrap().meta;
        println!(
            "  {id}  {n:>4}  {:<8} {}",
            meta.severity.as_str(),
            meta.name
        );
    }
}

#[test]
fn crapi_weak_parts_are_found() {
    let findings = audit_spec_file(specs().join("crapi/crapi-openapi-spec.json")).unwrap();
    print_table("crAPI", &findings);
    // endpoints with `security: []`
    assert!(has(
        &findings,
        "GW-S-001",
        "/paths/~1workshop~1api~1mechanic~1receive_report/get"
    ));
    assert!(has(
        &findings,
        "GW-S-002",
        "/paths/~1identity~1api~1auth~1login/post/security"
    ));
    // the `{}` anonymous alternative on the QR code endpoint
    assert!(has(
        &findings,
        "GW-S-003",
        "/paths/~1workshop~1api~1shop~1return_qr_code/get/security"
    ));
    // plain-HTTP server
    assert!(has(&findings, "GW-S-014", "/servers/0"));
    // unbounded strings, e.g. credentials at login
    assert!(findings.iter().filter(|f| f.rule.id == "GW-S-017").count() >= 10);
    // the mechanic callback URL (the known SSRF), found from the body example
    assert!(
        findings
            .iter()
            .any(|f| f.rule.id == "GW-S-029" && f.title.contains("mechanic_api"))
    );
    // admin functions reached with an ordinary user token
    assert!(has(
        &findings,
        "GW-S-039",
        "/paths/~1identity~1api~1v2~1admin~1videos~1{video_id}/delete"
    ));
    assert!(has(
        &findings,
        "GW-S-039",
        "/paths/~1workshop~1api~1management~1users~1all/get"
    ));
    // every finding carries a source line
    assert!(findings.iter().all(|f| {
        f.evidence
            .metrics
            .extra
            .contains_key(gw_posture::EXTRA_SOURCE_LINE)
    }));
}

#[test]
fn vampi_weak_parts_are_found() {
    let findings = audit_spec_file(specs().join("vampi/openapi3.yml")).unwrap();
    print_table("VAmPI", &findings);
    // unauthenticated user listing and the debug listing with passwords
    assert!(has(&findings, "GW-S-001", "/paths/~1users~1v1/get"));
    assert!(has(&findings, "GW-S-001", "/paths/~1users~1v1~1_debug/get"));
    // database setup endpoint without credentials
    assert!(has(&findings, "GW-S-038", "/paths/~1createdb/get"));
    // passwords returned by the debug endpoint
    assert!(
        findings
            .iter()
            .any(|f| f.rule.id == "GW-S-026" && f.title.contains("password"))
    );
    // the `_debug` listing is recognised as a debug endpoint too
    assert!(has(&findings, "GW-S-038", "/paths/~1users~1v1~1_debug/get"));
    assert!(has(&findings, "GW-S-014", "/servers/0"));
}

#[test]
fn apis_guru_specs_audit_without_panic() {
    let mut files = Vec::new();
    let mut stack = vec![specs().join("apis-guru")];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("json" | "yaml" | "yml")
            ) && p.file_name().is_some_and(|n| n != "index.json")
            {
                files.push(p);
            }
        }
    }
    files.sort();
    let mut totals: BTreeMap<String, usize> = BTreeMap::new();
    let (mut audited, mut rejected, mut total) = (0, 0, 0);
    for f in &files {
        match audit_spec_file(f) {
            Ok(findings) => {
                audited += 1;
                total += findings.len();
                for x in &findings {
                    *totals.entry(x.rule.id.clone()).or_default() += 1;
                }
            }
            Err(e) => {
                rejected += 1;
                println!("not a spec / rejected: {e}");
            }
        }
    }
    println!(
        "apis-guru: {} files, {audited} audited, {rejected} rejected, {total} findings",
        files.len()
    );
    for (id, n) in &totals {
        println!("  {id}  {n:>6}");
    }
    assert!(audited >= 80, "{audited}");
}

fn golden_ids(name: &str) -> std::collections::BTreeSet<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    let findings = audit_spec_file(&path).unwrap_or_else(|e| panic!("{e}"));
    print_table(name, &findings);
    findings.into_iter().map(|f| f.rule.id).collect()
}

#[test]
fn every_spec_rule_fires_on_the_golden_specs() {
    let sink = golden_ids("spec-insecure.yaml");
    let all: std::collections::BTreeSet<String> =
        SPEC_RULES.iter().map(|r| r.meta.id.to_owned()).collect();
    let only_elsewhere = ["GW-S-004", "GW-S-016", "GW-S-042"];
    let expected: std::collections::BTreeSet<String> = all
        .iter()
        .filter(|id| !only_elsewhere.contains(&id.as_str()))
        .cloned()
        .collect();
    assert_eq!(sink, expected, "kitchen-sink spec");
    let legacy = golden_ids("swagger2-no-security.json");
    let want: std::collections::BTreeSet<String> =
        ["GW-S-001", "GW-S-004", "GW-S-016", "GW-S-033", "GW-S-042"]
            .iter()
            .map(|s| s.to_string())
            .collect();
    assert_eq!(legacy, want, "swagger 2.0 spec");
}
