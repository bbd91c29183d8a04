//! Golden tests: every `tests/golden/<format>/<name>.input` is decoded twice, once with
//! `--format auto` and once with the format named by its directory (a `SourceKind` wire name
//! such as `nginx.combined`), and both runs must pick that format and produce exactly
//! `<name>.expected.ndjson` (one record per line) and `<name>.rejects.ndjson` (one
//! `{line, entry, field, reason, message}` per reject).
//!
//! A case whose input cannot be recognised from its first records on purpose (say, it starts
//! with a broken record) carries a `<name>.noauto` file saying why; it is decoded with the
//! explicit format only.
//!
//! Regenerate the expectations after a deliberate change with
//! `UPDATE_GOLDEN=1 cargo test -p gw-ingest --test golden`, then review the diff.

use std::fs;
use std::path::{Path, PathBuf};

use gw_ingest::{DecodeError, Emit, FormatChoice, Input, Limits, decode_input};
use gw_model::{Exchange, SourceKind};

#[derive(Default)]
struct Collected {
    records: Vec<String>,
    rejects: Vec<String>,
}

impl Emit for Collected {
    fn record(&mut self, x: Exchange) {
        self.records
            .push(serde_json::to_string(&x).expect("records serialize"));
    }

    fn reject(&mut self, err: DecodeError, _raw: &[u8]) {
        let v = serde_json::json!({
            "line": err.line,
            "entry": err.entry,
            "field": err.field,
            "reason": err.reason.as_str(),
            "message": err.message,
        });
        self.rejects.push(v.to_string());
    }
}

fn golden_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

/// Every `(format, input path)` under `tests/golden`, sorted.
fn cases() -> Vec<(SourceKind, PathBuf)> {
    let mut out = Vec::new();
    let mut dirs: Vec<PathBuf> = fs::read_dir(golden_root())
        .expect("tests/golden exists")
        .map(|e| e.expect("readable dir entry").path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    for dir in dirs {
        let name = dir
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        let kind = SourceKind::from_name(&name).unwrap_or_else(|| {
            panic!("tests/golden/{name}: directory name is not a source kind wire name")
        });
        let mut inputs: Vec<PathBuf> = fs::read_dir(&dir)
            .expect("readable format dir")
            .map(|e| e.expect("readable dir entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "input"))
            .collect();
        inputs.sort();
        out.extend(inputs.into_iter().map(|p| (kind, p)));
    }
    out
}

fn decode(path: &Path, choice: FormatChoice) -> (SourceKind, Collected) {
    let bytes = fs::read(path).expect("readable input");
    // The input name is the bare file name so `raw_ref` and the derived ids do not depend on
    // where the repository is checked out.
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .expect("utf-8 name")
        .to_string();
    let input = Input::from_reader(name, std::io::Cursor::new(bytes)).expect("in-memory input");
    let mut out = Collected::default();
    let stats = decode_input(input, choice, &Limits::default(), &mut out)
        .unwrap_or_else(|e| panic!("{}: {choice:?}: {e}", path.display()));
    assert_eq!(stats.records as usize, out.records.len());
    assert_eq!(stats.rejected as usize, out.rejects.len());
    (stats.format, out)
}

fn with_suffix(input: &Path, suffix: &str) -> PathBuf {
    let stem = input
        .file_stem()
        .and_then(|s| s.to_str())
        .expect("utf-8 stem");
    input.with_file_name(format!("{stem}{suffix}"))
}

fn read_lines(path: &Path) -> Vec<String> {
    match fs::read_to_string(path) {
        Ok(s) => s
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect(),
        Err(_) => Vec::new(),
    }
}

fn write_lines(path: &Path, lines: &[String]) {
    if lines.is_empty() {
        let _ = fs::remove_file(path);
        return;
    }
    let mut text = lines.join("\n");
    text.push('\n');
    fs::write(path, text).expect("writable golden file");
}

/// First differing line, shown so a failure reads as a diff.
fn compare(case: &Path, what: &str, expected: &[String], actual: &[String]) -> Result<(), String> {
    for (i, (e, a)) in expected.iter().zip(actual).enumerate() {
        if e != a {
            return Err(format!(
                "{}: {what} line {} differs\n  expected: {e}\n  actual:   {a}",
                case.display(),
                i + 1
            ));
        }
    }
    if expected.len() != actual.len() {
        return Err(format!(
            "{}: {what}: expected {} lines, got {}",
            case.display(),
            expected.len(),
            actual.len()
        ));
    }
    Ok(())
}

#[test]
fn golden_cases_decode_as_recorded() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let cases = cases();
    assert!(!cases.is_empty(), "no golden cases found");
    let mut failures = Vec::new();
    for (kind, input) in &cases {
        let (format, explicit) = decode(input, FormatChoice::Kind(*kind));
        assert_eq!(format, *kind);
        if !with_suffix(input, ".noauto").exists() {
            let (detected, auto) = decode(input, FormatChoice::Auto);
            if detected != *kind {
                failures.push(format!(
                    "{}: auto-detected as {detected}, expected {kind}",
                    input.display()
                ));
            } else if auto.records != explicit.records || auto.rejects != explicit.rejects {
                failures.push(format!(
                    "{}: auto and explicit decoding differ",
                    input.display()
                ));
            }
        }
        let expected_path = with_suffix(input, ".expected.ndjson");
        let rejects_path = with_suffix(input, ".rejects.ndjson");
        if update {
            write_lines(&expected_path, &explicit.records);
            write_lines(&rejects_path, &explicit.rejects);
            continue;
        }
        if !expected_path.exists() && !rejects_path.exists() {
            failures.push(format!(
                "{}: no expectations; run with UPDATE_GOLDEN=1 and review them",
                input.display()
            ));
            continue;
        }
        for (what, path, actual) in [
            ("records", &expected_path, &explicit.records),
            ("rejects", &rejects_path, &explicit.rejects),
        ] {
            if let Err(e) = compare(input, what, &read_lines(path), actual) {
                failures.push(e);
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} golden failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Every format directory names a registered decoder, so a case cannot silently test nothing.
#[test]
fn golden_directories_name_registered_decoders() {
    for (kind, input) in cases() {
        assert!(
            gw_ingest::decoder_for(kind).is_some(),
            "{}: no decoder registered for {kind}",
            input.display()
        );
    }
}
