//! Detection quality on the shared PII corpora, with per-kind thresholds.
//!
//! How it is scored (printed as a table by `cargo test -p gw-classify --test corpus_quality
//! -- --nocapture`):
//!
//! * Presidio recognizer cases (`pii/presidio-recognizer-cases.jsonl`) are ground truth only
//!   for their own kind. For a case of kind K, the findings of kind K are compared with the
//!   expected spans by byte overlap: a finding that overlaps an expected span is a true
//!   positive, one that overlaps none a false positive, and an expected span that no finding
//!   overlaps a false negative. Cases whose spans are not listed (`spans_complete: false`)
//!   are scored per case: any finding of K counts as one true positive, none as one false
//!   negative.
//! * detect-secrets and gitleaks cases are line-level: a line is predicted positive when it
//!   has a `secret` or `jwt` finding. detect-secrets' `ip_public` plugin is left out of the
//!   secret score (a public IP address is `ip_address` in this taxonomy, not a credential).
//! * `jwt` is scored line-level on the detect-secrets `jwt` plugin lines and the gitleaks
//!   `jwt*` rule lines, predicted positive when the line has a `jwt` finding.
//! * `iban` has no case in the visible corpora, so it is scored on deterministic synthetic
//!   cases: valid IBANs of 20 countries built with this file's own mod-97 (electronic and
//!   paper format, in sentences) and the same strings with one character changed.
//! * Benign values (`injection/benign.txt`, the union of the libinjection and
//!   HttpParamsDataset benign lists) are whole form values from normal traffic. Many of them
//!   are personal data on purpose (e-mail and card fields of CSIC 2010), so a finding is
//!   counted as a false positive unless it covers the whole value and that value is an
//!   instance of its kind by this file's own reference check (e-mail shape, Luhn, DNI letter).
//!   Any finding inside a longer value, and any finding of another kind, is a false positive.
//!   The raw rate of values with any finding is printed as well.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use gw_classify::{Classifier, SensitiveKind};
use serde_json::Value;

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data")
}

fn read_lines(rel: &str) -> Option<Vec<String>> {
    let path = data_dir().join(rel);
    let text = std::fs::read(&path).ok()?;
    Some(
        String::from_utf8_lossy(&text)
            .lines()
            .map(str::to_string)
            .collect(),
    )
}

#[derive(Default, Clone, Copy)]
struct Score {
    tp: u32,
    fp: u32,
    fn_: u32,
}

impl Score {
    fn precision(self) -> f64 {
        if self.tp + self.fp == 0 {
            1.0
        } else {
            f64::from(self.tp) / f64::from(self.tp + self.fp)
        }
    }
    fn recall(self) -> f64 {
        if self.tp + self.fn_ == 0 {
            1.0
        } else {
            f64::from(self.tp) / f64::from(self.tp + self.fn_)
        }
    }
}

fn labels_in(c: &Classifier, text: &str, wanted: &[&str]) -> Vec<(usize, usize)> {
    c.scan_text(text)
        .iter()
        .filter(|m| wanted.contains(&c.label(m)))
        .map(|m| (m.start, m.end))
        .collect()
}

fn overlaps(a: (usize, usize), b: (usize, usize)) -> bool {
    a.0 < b.1 && b.0 < a.1
}

fn score_spans(score: &mut Score, predicted: &[(usize, usize)], expected: &[(usize, usize)]) {
    for p in predicted {
        if expected.iter().any(|e| overlaps(*p, *e)) {
            score.tp += 1;
        } else {
            score.fp += 1;
        }
    }
    for e in expected {
        if !predicted.iter().any(|p| overlaps(*p, *e)) {
            score.fn_ += 1;
        }
    }
}

fn score_line(score: &mut Score, predicted: bool, positive: bool) {
    match (predicted, positive) {
        (true, true) => score.tp += 1,
        (true, false) => score.fp += 1,
        (false, true) => score.fn_ += 1,
        (false, false) => {}
    }
}

fn presidio(c: &Classifier, scores: &mut BTreeMap<&'static str, Score>, misses: &mut Vec<String>) {
    let Some(lines) = read_lines("pii/presidio-recognizer-cases.jsonl") else {
        return;
    };
    for line in lines {
        let case: Value = serde_json::from_str(&line).expect("corpus line is JSON");
        let kind = case["kind"].as_str().unwrap_or("");
        let Some(key) = ["email", "credit_card", "ssn", "ip_address", "phone", "iban"]
            .into_iter()
            .find(|k| *k == kind)
        else {
            continue;
        };
        let text = case["text"].as_str().unwrap_or("");
        let predicted = labels_in(c, text, &[key]);
        let score = scores.entry(key).or_default();
        let before = *score;
        if case["spans_complete"].as_bool() == Some(false)
            || case["spans"].as_array().is_none_or(|s| s.is_empty())
                && case["expected_count"].as_u64().unwrap_or(0) > 0
        {
            score_line(score, !predicted.is_empty(), true);
        } else {
            let expected: Vec<(usize, usize)> = case["spans"]
                .as_array()
                .map(|spans| {
                    spans
                        .iter()
                        .filter(|s| s["kind"].as_str() == Some(kind))
                        .map(|s| {
                            (
                                s["start_byte"].as_u64().unwrap_or(0) as usize,
                                s["end_byte"].as_u64().unwrap_or(0) as usize,
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            score_spans(score, &predicted, &expected);
        }
        if score.fp != before.fp || score.fn_ != before.fn_ {
            misses.push(format!("{key}: {text:?} -> {predicted:?}"));
        }
    }
}

fn secrets(c: &Classifier, scores: &mut BTreeMap<&'static str, Score>, misses: &mut Vec<String>) {
    for (file, group_field) in [
        ("pii/detect-secrets-cases.jsonl", "plugin"),
        ("pii/gitleaks-cases.jsonl", "rule"),
    ] {
        let Some(lines) = read_lines(file) else {
            continue;
        };
        for line in lines {
            let case: Value = serde_json::from_str(&line).expect("corpus line is JSON");
            let group = case[group_field].as_str().unwrap_or("");
            let text = case["text"].as_str().unwrap_or("");
            let positive = case["positive"].as_bool().unwrap_or(false);
            let found = c.scan_text(text);
            let has = |labels: &[&str]| found.iter().any(|m| labels.contains(&c.label(m)));
            if group == "ip_public" {
                continue;
            }
            let predicted = has(&["secret", "jwt"]);
            score_line(scores.entry("secret").or_default(), predicted, positive);
            if predicted != positive {
                misses.push(format!(
                    "secret [{group}] expected {positive}: {:?}",
                    truncate(text)
                ));
            }
            if group.starts_with("jwt") {
                let predicted = has(&["jwt"]);
                score_line(scores.entry("jwt").or_default(), predicted, positive);
                if predicted != positive {
                    misses.push(format!(
                        "jwt [{group}] expected {positive}: {:?}",
                        truncate(text)
                    ));
                }
            }
        }
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(110).collect()
}

/// Deterministic generator (64-bit LCG, fixed seed).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Reference IBAN check digits, independent of the crate under test.
fn iban_check_digits(country: &str, bban: &str) -> String {
    let rearranged = format!("{bban}{country}00");
    let mut rem: u64 = 0;
    for ch in rearranged.chars() {
        let v = ch.to_digit(36).expect("alphanumeric") as u64;
        rem = if v >= 10 {
            (rem * 100 + v) % 97
        } else {
            (rem * 10 + v) % 97
        };
    }
    format!("{:02}", 98 - rem)
}

fn synthetic_iban(
    scores: &mut BTreeMap<&'static str, Score>,
    c: &Classifier,
    misses: &mut Vec<String>,
) {
    // Country, BBAN layout (n = digit, a = upper letter, c = alphanumeric), per the IBAN registry.
    const FORMATS: [(&str, &str); 20] = [
        ("DE", "nnnnnnnnnnnnnnnnnn"),
        ("GB", "aaaannnnnnnnnnnnnn"),
        ("FR", "nnnnnnnnnncccccccccccnn"),
        ("ES", "nnnnnnnnnnnnnnnnnnnn"),
        ("IT", "annnnnnnnnncccccccccccc"),
        ("NL", "aaaannnnnnnnnn"),
        ("BE", "nnnnnnnnnnnn"),
        ("CH", "nnnnncccccccccccc"),
        ("AT", "nnnnnnnnnnnnnnnn"),
        ("PL", "nnnnnnnnnnnnnnnnnnnnnnnn"),
        ("SE", "nnnnnnnnnnnnnnnnnnnn"),
        ("NO", "nnnnnnnnnnn"),
        ("DK", "nnnnnnnnnnnnnn"),
        ("FI", "nnnnnnnnnnnnnn"),
        ("PT", "nnnnnnnnnnnnnnnnnnnnn"),
        ("IE", "aaaannnnnnnnnnnnnn"),
        ("LU", "nnnccccccccccccc"),
        ("CZ", "nnnnnnnnnnnnnnnnnnnn"),
        ("GR", "nnnnnnncccccccccccccccc"),
        ("RO", "aaaacccccccccccccccc"),
    ];
    let templates = [
        "{}",
        "Please transfer to {} by Friday.",
        "IBAN: {}",
        "{\"iban\":\"{}\",\"amount\":12.5}",
        "account {}, ref 4471",
    ];
    let mut rng = Lcg(0x1BA4);
    let alnum = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    for round in 0..10 {
        for (country, layout) in FORMATS {
            let bban: String = layout
                .bytes()
                .map(|t| match t {
                    b'n' => char::from(b'0' + rng.below(10) as u8),
                    b'a' => char::from(b'A' + rng.below(26) as u8),
                    _ => char::from(alnum[rng.below(36) as usize]),
                })
                .collect();
            let iban = format!("{country}{}{bban}", iban_check_digits(country, &bban));
            let shown = if round % 2 == 0 {
                iban.clone()
            } else {
                iban.as_bytes()
                    .chunks(4)
                    .map(|ch| String::from_utf8_lossy(ch).into_owned())
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            let template = templates[round % templates.len()];
            let at = template.find("{}").unwrap_or(0);
            let text = template.replacen("{}", &shown, 1);
            let expected = [(at, at + shown.len())];
            let score = scores.entry("iban").or_default();
            let before = *score;
            let predicted = labels_in(c, &text, &["iban"]);
            score_spans(score, &predicted, &expected);
            // Negative: one digit of the account number changed breaks mod-97.
            let mut broken = shown.clone().into_bytes();
            let pos = broken.len()
                - 1
                - broken
                    .iter()
                    .rev()
                    .position(u8::is_ascii_digit)
                    .unwrap_or(0);
            broken[pos] = if broken[pos] == b'9' {
                b'0'
            } else {
                broken[pos] + 1
            };
            let broken = String::from_utf8(broken).unwrap_or_default();
            let bad_text = template.replacen("{}", &broken, 1);
            let predicted_bad = labels_in(c, &bad_text, &["iban"]);
            score_spans(score, &predicted_bad, &[]);
            if score.fp != before.fp || score.fn_ != before.fn_ {
                misses.push(format!("iban: {text:?} / {bad_text:?}"));
            }
        }
    }
}

fn luhn(digits: &str) -> bool {
    let mut sum = 0;
    for (i, ch) in digits.chars().rev().enumerate() {
        let Some(mut d) = ch.to_digit(10) else {
            return false;
        };
        if i % 2 == 1 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    sum % 10 == 0
}

fn dni_letter_ok(v: &str) -> bool {
    let v = v.to_ascii_uppercase();
    let (num, letter) = v.split_at(v.len().saturating_sub(1));
    let num = num.trim_end_matches('-');
    let n: Option<u64> = match num.as_bytes().first() {
        Some(b'X') => num[1..].parse().ok(),
        Some(b'Y') => num[1..].parse::<u64>().ok().map(|n| n + 10_000_000),
        Some(b'Z') => num[1..].parse::<u64>().ok().map(|n| n + 20_000_000),
        _ => num.parse().ok(),
    };
    n.is_some_and(|n| {
        letter.as_bytes().first() == Some(&b"TRWAGMYFPDXBNJZSQVHLCKE"[(n % 23) as usize])
    })
}

/// Whether a whole benign value is an instance of `kind` by an independent reference check.
fn whole_value_is(kind: SensitiveKind, v: &str) -> bool {
    match kind {
        SensitiveKind::Email => {
            let mut parts = v.split('@');
            matches!((parts.next(), parts.next(), parts.next()), (Some(l), Some(d), None) if !l.is_empty() && d.contains('.'))
        }
        SensitiveKind::CreditCard => {
            let digits: String = v.chars().filter(char::is_ascii_digit).collect();
            (12..=19).contains(&digits.len()) && luhn(&digits)
        }
        SensitiveKind::NationalId => dni_letter_ok(v),
        _ => false,
    }
}

fn benign(c: &Classifier) -> (u32, u32, u32, BTreeMap<String, u32>, Vec<String>) {
    let Some(lines) = read_lines("injection/benign.txt") else {
        return (0, 0, 0, BTreeMap::new(), Vec::new());
    };
    let (mut total, mut any, mut fp) = (0u32, 0u32, 0u32);
    let mut by_kind = BTreeMap::new();
    let mut examples = Vec::new();
    for line in lines {
        total += 1;
        let found = c.scan_text(&line);
        if found.is_empty() {
            continue;
        }
        any += 1;
        let trimmed_start = line.len() - line.trim_start().len();
        let trimmed_end = line.trim_end().len();
        let false_hit = found.iter().find(|m| {
            !(m.start == trimmed_start
                && m.end == trimmed_end
                && whole_value_is(m.kind, &line[m.start..m.end]))
        });
        if let Some(m) = false_hit {
            fp += 1;
            *by_kind.entry(c.label(m).to_string()).or_default() += 1;
            if examples.len() < 40 {
                examples.push(format!("{}: {:?}", c.label(m), truncate(&line)));
            }
        }
    }
    (total, any, fp, by_kind, examples)
}

#[test]
fn per_kind_precision_and_recall_meet_the_thresholds() {
    if !data_dir().join("pii").is_dir() {
        eprintln!("shared/data/pii not found beside the repository; skipping corpus scoring");
        return;
    }
    let c = Classifier::builtin();
    let mut scores: BTreeMap<&'static str, Score> = BTreeMap::new();
    let mut misses = Vec::new();
    presidio(c, &mut scores, &mut misses);
    secrets(c, &mut scores, &mut misses);
    synthetic_iban(&mut scores, c, &mut misses);

    println!(
        "{:<12} {:>5} {:>5} {:>5} {:>9} {:>9} {:>9}",
        "kind", "tp", "fp", "fn", "precision", "recall", "threshold"
    );
    let mut failures = Vec::new();
    for (kind, s) in &scores {
        let threshold = if matches!(*kind, "phone" | "secret") {
            0.90
        } else {
            0.95
        };
        println!(
            "{:<12} {:>5} {:>5} {:>5} {:>9.3} {:>9.3} {:>9.2}",
            kind,
            s.tp,
            s.fp,
            s.fn_,
            s.precision(),
            s.recall(),
            threshold
        );
        if s.precision() < threshold || s.recall() < threshold {
            failures.push(*kind);
        }
    }
    for m in &misses {
        println!("  miss: {m}");
    }
    let (total, any, fp, by_kind, examples) = benign(c);
    let rate = f64::from(fp) / f64::from(total.max(1));
    println!(
        "benign: {total} values, {any} with any finding ({:.2}%), {fp} false positives ({:.3}%) {by_kind:?}",
        100.0 * f64::from(any) / f64::from(total.max(1)),
        100.0 * rate
    );
    for e in &examples {
        println!("  benign hit: {e}");
    }
    for kind in [
        "email",
        "credit_card",
        "iban",
        "ssn",
        "ip_address",
        "jwt",
        "phone",
        "secret",
    ] {
        assert!(scores.contains_key(kind), "no cases scored for {kind}");
    }
    assert!(failures.is_empty(), "below threshold: {failures:?}");
    assert!(rate < 0.005, "benign false-positive rate {rate:.4} >= 0.5%");
}
