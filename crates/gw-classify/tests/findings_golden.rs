//! Findings must not change when the scanning engine is reworked for speed: every finding
//! (kind, rule, location, field path, count, confidence, masked sample) on the benchmark
//! bodies, and a digest of every match on the shared corpora (each line scanned as text and
//! as a JSON body), are compared with `tests/golden/findings.txt`, recorded from the engine
//! of commit 7bda99d. Rewrite it only for an intended change in output:
//! `GW_BLESS_FINDINGS=1 cargo test -p gw-classify --test findings_golden`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use gw_classify::{Classifier, ClassifyConfig, FieldFinding, Location, StatusClass};

#[path = "../benches/support/bodies.rs"]
mod bodies;
use bodies::{Lcg, body};

fn golden_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/findings.txt")
}

fn corpus_lines(rel: &str) -> Option<Vec<String>> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data")
        .join(rel);
    let bytes = std::fs::read(path).ok()?;
    Some(
        String::from_utf8_lossy(&bytes)
            .lines()
            .map(str::to_string)
            .collect(),
    )
}

/// FNV-1a, 64 bits: a stable digest of a long listing.
fn fnv(hash: &mut u64, text: &str) {
    for b in text.bytes() {
        *hash ^= u64::from(b);
        *hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
}

fn render(findings: &[FieldFinding]) -> String {
    let mut out = String::new();
    for f in findings {
        let _ = write!(
            out,
            "{}|{}|{}|{:?}|{}|{:?}|{:.3}|{:?}|{}|{};",
            f.kind.as_str(),
            f.label,
            f.rule,
            f.location,
            f.field_path,
            f.status_class,
            f.confidence,
            f.sensitivity,
            f.count,
            f.masked_sample
        );
    }
    out
}

fn listing() -> Vec<String> {
    let c = Classifier::builtin();
    let capped = Classifier::new(&ClassifyConfig {
        max_body_bytes: 700,
        ..ClassifyConfig::default()
    })
    .unwrap();
    let mut out = Vec::new();
    let mut rng = Lcg(42);
    for (name, pii) in [("no_pii", false), ("with_pii", true)] {
        for i in 0..64 {
            let b = body(&mut rng, pii);
            let scan = c.scan_json(&b, Location::ResponseBody, StatusClass::from_status(200));
            out.push(format!(
                "{name}[{i}] {} {}",
                scan.truncated,
                render(&scan.findings)
            ));
            let scan = capped.scan_json(&b, Location::RequestBody, None);
            out.push(format!(
                "{name}[{i}]@700 {} {}",
                scan.truncated,
                render(&scan.findings)
            ));
        }
    }
    for file in [
        "pii/presidio-recognizer-cases.jsonl",
        "pii/detect-secrets-cases.jsonl",
        "pii/gitleaks-cases.jsonl",
        "injection/benign.txt",
    ] {
        let Some(lines) = corpus_lines(file) else {
            out.push(format!("{file} missing"));
            continue;
        };
        let (mut text_hash, mut json_hash) = (0xcbf2_9ce4_8422_2325u64, 0xcbf2_9ce4_8422_2325u64);
        let (mut text_n, mut json_n) = (0usize, 0usize);
        for line in &lines {
            for m in c.scan_text(line) {
                text_n += 1;
                fnv(
                    &mut text_hash,
                    &format!(
                        "{:?}|{}|{}|{}|{:.3};",
                        m.kind,
                        c.rule_id(m.rule),
                        m.start,
                        m.end,
                        m.confidence
                    ),
                );
            }
            fnv(&mut text_hash, "\n");
            let scan = c.scan_json(line, Location::RequestBody, None);
            json_n += scan.findings.len();
            fnv(&mut json_hash, &render(&scan.findings));
            fnv(&mut json_hash, "\n");
        }
        out.push(format!(
            "{file} lines {} text {text_n} {text_hash:016x} json {json_n} {json_hash:016x}",
            lines.len()
        ));
    }
    out
}

#[test]
fn findings_match_the_recorded_engine() {
    let got = listing();
    if std::env::var_os("GW_BLESS_FINDINGS").is_some() {
        std::fs::write(golden_path(), got.join("\n") + "\n").unwrap();
        return;
    }
    let want = std::fs::read_to_string(golden_path())
        .unwrap_or_else(|e| panic!("{}: {e}", golden_path().display()));
    let want: Vec<&str> = want.lines().collect();
    assert_eq!(got.len(), want.len(), "number of listing lines");
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(g, w, "findings differ from the recorded engine");
    }
}
