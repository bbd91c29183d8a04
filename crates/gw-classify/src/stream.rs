//! The `gatewatch classify` protocol: NDJSON lines `{"id": ..., "text": ...}` (or plain text
//! lines) in, one NDJSON line per input out:
//! `{"id": ..., "findings": [{"kind", "start", "end", "confidence", "rule"}]}` with byte
//! offsets into the text. A bad line yields `{"line": N, "error": "..."}` and the stream goes
//! on.

use std::io::{self, BufRead, Write};

use serde::Serialize;
use serde_json::Value;

use crate::classifier::Classifier;

/// Counters of one run of the protocol.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ClassifyStats {
    /// Input lines read.
    pub lines: u64,
    /// Lines classified (JSON records and plain text lines).
    pub records: u64,
    /// Lines answered with an error line.
    pub errors: u64,
    /// Findings written.
    pub findings: u64,
    /// Bytes of text classified.
    pub bytes: u64,
}

#[derive(Serialize)]
struct OutFinding<'a> {
    kind: &'a str,
    start: usize,
    end: usize,
    confidence: f32,
    rule: &'a str,
}

#[derive(Serialize)]
struct OutRecord<'a> {
    id: &'a Value,
    findings: Vec<OutFinding<'a>>,
}

#[derive(Serialize)]
struct OutError<'a> {
    line: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a Value>,
    error: String,
}

/// Run the protocol from `input` to `output` with `classifier`. Only I/O errors end the run;
/// every malformed line gets an error line.
pub fn run_classify_stream(
    mut input: impl BufRead,
    mut output: impl Write,
    classifier: &Classifier,
) -> io::Result<ClassifyStats> {
    let mut stats = ClassifyStats::default();
    let mut buf = Vec::new();
    loop {
        buf.clear();
        if input.read_until(b'\n', &mut buf)? == 0 {
            break;
        }
        stats.lines += 1;
        let n = stats.lines;
        let raw = trim_newline(&buf);
        let line = match std::str::from_utf8(raw) {
            Ok(l) => l,
            Err(e) => {
                write_error(
                    &mut output,
                    &mut stats,
                    n,
                    None,
                    format!("line {n}: invalid UTF-8 at byte {}", e.valid_up_to()),
                )?;
                continue;
            }
        };
        if line.trim_start().starts_with('{') {
            let record: Value = match serde_json::from_str(line) {
                Ok(v) => v,
                Err(e) => {
                    write_error(
                        &mut output,
                        &mut stats,
                        n,
                        None,
                        format!("line {n}: invalid JSON: {e}"),
                    )?;
                    continue;
                }
            };
            let id = record.get("id").unwrap_or(&Value::Null);
            let Some(text) = record.get("text").and_then(Value::as_str) else {
                let found = match record.get("text") {
                    None => "nothing".to_string(),
                    Some(v) => json_type(v).to_string(),
                };
                write_error(
                    &mut output,
                    &mut stats,
                    n,
                    Some(id),
                    format!("line {n}: field \"text\": expected a string, found {found}"),
                )?;
                continue;
            };
            classify_one(&mut output, &mut stats, classifier, id, text)?;
        } else {
            let id = Value::from(n);
            classify_one(&mut output, &mut stats, classifier, &id, line)?;
        }
    }
    output.flush()?;
    Ok(stats)
}

fn classify_one(
    output: &mut impl Write,
    stats: &mut ClassifyStats,
    classifier: &Classifier,
    id: &Value,
    text: &str,
) -> io::Result<()> {
    let matches = classifier.scan_text(text);
    let findings = matches
        .iter()
        .map(|m| OutFinding {
            kind: classifier.label(m),
            start: m.start,
            end: m.end,
            confidence: (m.confidence * 100.0).round() / 100.0,
            rule: classifier.rule_id(m.rule),
        })
        .collect::<Vec<_>>();
    stats.records += 1;
    stats.findings += findings.len() as u64;
    stats.bytes += text.len() as u64;
    serde_json::to_writer(&mut *output, &OutRecord { id, findings }).map_err(io::Error::other)?;
    output.write_all(b"\n")
}

fn write_error(
    output: &mut impl Write,
    stats: &mut ClassifyStats,
    line: u64,
    id: Option<&Value>,
    error: String,
) -> io::Result<()> {
    stats.errors += 1;
    serde_json::to_writer(&mut *output, &OutError { line, id, error }).map_err(io::Error::other)?;
    output.write_all(b"\n")
}

fn trim_newline(b: &[u8]) -> &[u8] {
    let b = b.strip_suffix(b"\n").unwrap_or(b);
    b.strip_suffix(b"\r").unwrap_or(b)
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(input: &str) -> (Vec<Value>, ClassifyStats) {
        let mut out = Vec::new();
        let stats = run_classify_stream(input.as_bytes(), &mut out, Classifier::builtin()).unwrap();
        let lines = String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        (lines, stats)
    }

    #[test]
    fn ndjson_records_get_byte_offsets() {
        let (out, stats) = run("{\"id\":\"a\",\"text\":\"é mail ada@example.com\"}\n");
        assert_eq!(stats.records, 1);
        let f = &out[0]["findings"][0];
        assert_eq!(out[0]["id"], "a");
        assert_eq!(f["kind"], "email");
        // "é" is two bytes
        assert_eq!(f["start"], 8);
        assert_eq!(f["end"], 23);
    }

    #[test]
    fn plain_lines_are_numbered_and_bad_lines_do_not_stop_the_stream() {
        let (out, stats) =
            run("call +44 20 7946 0958\n{\"id\":7,\"text\":\n{\"id\":8}\n\nlast 10.1.2.3\r\n");
        assert_eq!(stats.lines, 5);
        assert_eq!(stats.errors, 2);
        assert_eq!(out[0]["id"], 1);
        assert_eq!(out[0]["findings"][0]["kind"], "phone");
        assert_eq!(out[1]["line"], 2);
        assert!(out[1]["error"].as_str().unwrap().contains("invalid JSON"));
        assert_eq!(out[2]["id"], 8);
        assert!(out[2]["error"].as_str().unwrap().contains("\"text\""));
        assert_eq!(out[3]["findings"].as_array().unwrap().len(), 0);
        assert_eq!(out[4]["findings"][0]["end"], 13);
    }

    #[test]
    fn invalid_utf8_is_an_error_line() {
        let mut out = Vec::new();
        let stats =
            run_classify_stream(&b"ok\n\xff\xfe\n"[..], &mut out, Classifier::builtin()).unwrap();
        assert_eq!(stats.errors, 1);
        assert!(String::from_utf8(out).unwrap().contains("invalid UTF-8"));
    }
}
