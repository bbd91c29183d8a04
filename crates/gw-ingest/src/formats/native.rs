//! Native `gatewatch.exchange/1` records: NDJSON, or a JSON array of records.

use gw_model::{EXCHANGE_SCHEMA, Exchange, SourceKind};
use serde_json::value::RawValue;

use super::{fast_json, fields};
use crate::decoder::{line_of, offset_in};
use crate::{DecodeCtx, DecodeError, Decoder, Emit, Framing, RejectReason, Sample, Unit};

/// Top-level members of the canonical record; anything else is kept in `extra` as `native.<name>`.
const MEMBERS: &[&str] = &[
    "schema",
    "id",
    "observed_at",
    "duration_ms",
    "upstream_duration_ms",
    "source",
    "request_id",
    "trace_id",
    "client",
    "server",
    "request",
    "response",
    "upstream",
    "api",
    "identity",
    "gateway",
    "labels",
    "extra",
    "endpoint",
    "params",
    "enrich",
    "sensitive",
];

pub struct Native;

impl Decoder for Native {
    fn kind(&self) -> SourceKind {
        SourceKind::Native
    }

    fn framing(&self, sample: &Sample<'_>) -> Framing {
        fields::json_framing(sample)
    }

    fn sniff(&self, sample: &Sample<'_>) -> u8 {
        let Some(obj) = fields::first_object(sample.json) else {
            // A JSON array too large for the sample still names its schema early.
            let head = String::from_utf8_lossy(&sample.head[..sample.head.len().min(4096)]);
            return if head.contains("\"gatewatch.exchange/1\"") {
                90
            } else {
                0
            };
        };
        match obj.get("schema").and_then(|s| s.as_str()) {
            Some(EXCHANGE_SCHEMA) => 100,
            Some(_) => 0,
            None if obj.contains_key("observed_at") && obj.contains_key("request") => 70,
            None => 0,
        }
    }

    fn decode(&self, unit: Unit<'_>, ctx: &DecodeCtx, out: &mut dyn Emit) {
        if fields::first_byte(unit.bytes) != Some(b'[') {
            decode_record(unit.bytes, unit.line, None, 0, ctx, out);
            return;
        }
        let entries: Vec<&RawValue> = match serde_json::from_slice(unit.bytes) {
            Ok(v) => v,
            Err(e) => {
                let line = unit.line + e.line().saturating_sub(1) as u64;
                let err = DecodeError::new(
                    RejectReason::InvalidJson,
                    format!(
                        "the JSON array cannot be read: {e}; no record of this document was accepted"
                    ),
                );
                out.reject(err.at_line(line), unit.bytes);
                return;
            }
        };
        // Lines are counted incrementally from one entry to the next: linear in the document.
        let (mut counted_to, mut line) = (0usize, unit.line);
        for (i, raw) in entries.into_iter().enumerate() {
            let bytes = raw.get().as_bytes();
            if let Some(o) = offset_in(unit.bytes, bytes) {
                line += line_of(&unit.bytes[counted_to..o], o - counted_to) - 1;
                counted_to = o;
            }
            decode_record(bytes, line, Some(format!("[{i}]")), i, ctx, out);
        }
    }
}

fn decode_record(
    bytes: &[u8],
    line: u64,
    entry: Option<String>,
    index: usize,
    ctx: &DecodeCtx,
    out: &mut dyn Emit,
) {
    // The record is checked and finished where the fast path wrote it and moved only into
    // `out`: an `Exchange` is large enough that each move is a `memcpy` call (≈170
    // instructions), and passing it through `Option`, `Result::map_err`, `Result::and_then`
    // and a by-value `validate` cost ≈1,200 instructions per record (ten moves, now four).
    let mut fast = std::str::from_utf8(bytes)
        .map_err(|_| fast_json::GiveUp)
        .and_then(fast_json::from_str::<Exchange>);
    if let Ok(x) = &mut fast
        && let Err(e) = finish(x, bytes, line, index, ctx)
    {
        return reject(e, bytes, line, entry, out);
    }
    match fast {
        Ok(x) => out.record(x),
        Err(fast_json::GiveUp) => decode_slowly(bytes, line, entry, index, ctx, out),
    }
}

/// [`decode_record`] for a record the fast path gave up on: serde_json decides, and explains.
#[cold]
fn decode_slowly(
    bytes: &[u8],
    line: u64,
    entry: Option<String>,
    index: usize,
    ctx: &DecodeCtx,
    out: &mut dyn Emit,
) {
    let parsed = match parse_exchange(bytes) {
        Ok(x) => Ok(x),
        Err(e) if e.to_string().starts_with("unknown field") => {
            parse_keeping_unknown_members(bytes)
        }
        Err(e) if e.is_data() => Err(DecodeError::from_json_with_path::<Exchange>(bytes)),
        Err(e) => Err(DecodeError::from_json(&e)),
    };
    match parsed.and_then(|mut x| finish(&mut x, bytes, line, index, ctx).map(|()| x)) {
        Ok(x) => out.record(x),
        Err(err) => reject(err, bytes, line, entry, out),
    }
}

/// Validates a parsed record and fills in its id and raw reference, where it lies.
fn finish(
    x: &mut Exchange,
    bytes: &[u8],
    line: u64,
    index: usize,
    ctx: &DecodeCtx,
) -> Result<(), DecodeError> {
    validate(x)?;
    ctx.finish_record(x, line, index, bytes);
    Ok(())
}

/// Emits `err` for the record at `line` (and at `entry` of a document).
fn reject(
    mut err: DecodeError,
    bytes: &[u8],
    line: u64,
    entry: Option<String>,
    out: &mut dyn Emit,
) {
    err.line = Some(line);
    err.entry = entry;
    out.reject(err, bytes);
}

/// Parses a record the fast path gave up on with serde_json: with `from_str` when it is valid
/// UTF-8 as a whole (which skips the per-string UTF-8 check `from_slice` makes), with
/// `from_slice` otherwise, so that every record reports the same errors at the same positions.
/// The fast path ([`fast_json`]) yields exactly what serde_json would, or gives up.
fn parse_exchange(bytes: &[u8]) -> Result<Exchange, serde_json::Error> {
    match std::str::from_utf8(bytes) {
        Ok(text) => serde_json::from_str(text),
        Err(_) => serde_json::from_slice(bytes),
    }
}

/// Slow path for records that carry members the schema does not know (e.g. a `label` added by
/// a labelling tool): they are kept in `extra` as `native.<name>` instead of refusing the record.
fn parse_keeping_unknown_members(bytes: &[u8]) -> Result<Exchange, DecodeError> {
    let mut value: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(bytes).map_err(|e| DecodeError::from_json(&e))?;
    let unknown: Vec<String> = value
        .keys()
        .filter(|k| !MEMBERS.contains(&k.as_str()))
        .cloned()
        .collect();
    let mut moved = serde_json::Map::new();
    for k in unknown {
        if let Some(v) = value.remove(&k) {
            moved.insert(format!("native.{k}"), v);
        }
    }
    let value = serde_json::Value::Object(value);
    let mut x: Exchange = match serde_json::from_value(value.clone()) {
        Ok(x) => x,
        Err(_) => {
            let bytes = serde_json::to_vec(&value).unwrap_or_default();
            return Err(DecodeError::from_json_with_path::<Exchange>(&bytes));
        }
    };
    x.extra.extend(moved);
    Ok(x)
}

fn validate(x: &Exchange) -> Result<(), DecodeError> {
    if x.schema != EXCHANGE_SCHEMA {
        return Err(DecodeError::field(
            RejectReason::BadField,
            "schema",
            format!("expected \"{EXCHANGE_SCHEMA}\", found \"{}\"", x.schema),
        ));
    }
    if x.request.method.is_empty() || !x.request.method.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(DecodeError::field(
            RejectReason::BadField,
            "request.method",
            format!(
                "expected an HTTP method token, found {:?}",
                x.request.method
            ),
        ));
    }
    if x.request.path.is_empty() {
        return Err(DecodeError::field(
            RejectReason::BadField,
            "request.path",
            "must not be empty",
        ));
    }
    if let Some(s) = x.response.status
        && !(100..=599).contains(&s)
    {
        return Err(DecodeError::field(
            RejectReason::BadField,
            "response.status",
            format!("expected an HTTP status between 100 and 599, found {s}"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    /// The fast path may give up on anything, but whatever it returns must be exactly what
    /// serde_json returns; returns whether it took the input.
    fn fast_path_agrees(text: &str) -> bool {
        let slow = serde_json::from_str::<Exchange>(text);
        match fast_json::from_str::<Exchange>(text) {
            Ok(fast) => {
                match slow {
                    Ok(slow) => assert_eq!(fast, slow, "{text}"),
                    Err(e) => panic!("fast path accepted what serde_json refuses ({e}): {text}"),
                }
                true
            }
            Err(fast_json::GiveUp) => false,
        }
    }

    fn golden(name: &str) -> String {
        let path = format!("{}/tests/golden/native/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(path).expect("golden input is readable")
    }

    /// A record shaped like the simulator's: escaped JSON bodies, a bearer token, a few headers.
    fn simulated(i: usize) -> serde_json::Value {
        let body = json!([{"amount": 164.44 + i as f64, "counterpartyName": "Kitchen \"Chair\"",
            "note": "line\nbreak\ttab \u{1} ctl", "city": "Zürich ✓", "id": format!("c7340cd1-{i}")}]);
        let body = body.to_string();
        json!({
            "schema": "gatewatch.exchange/1", "id": format!("018fdb65-4cf4-7e19-b82b-{i:012}"),
            "observed_at": "2024-06-03T00:00:00.244299Z", "duration_ms": 194.947,
            "upstream_duration_ms": 181.301 * i as f64,
            "source": {"kind": "native", "capture": "frontend", "gateway": "gw-sim-edge", "raw_ref": null},
            "request_id": null, "trace_id": null,
            "client": {"ip": format!("124.0.{}.174", i % 250), "port": 34554, "forwarded_for": ["203.0.113.9", "2001:db8::7"],
                       "resolved_ip": null, "user_agent": "Dart/3.3 (dart:io)", "tls": {"version": "TLSv1.3", "sni": "api"}},
            "server": {"host": "api.bank.example.com", "ip": null, "port": 443},
            "request": {"method": "POST", "scheme": "https", "path": format!("/v2/accounts/{i}/transactions"),
                        "query": "limit=126", "http_version": "1.1",
                        "headers": [{"name": "host", "value": "api.bank.example.com"},
                                    {"name": "authorization", "value": "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIyM2UyNGQyMiJ9.-i9IlHvwDPqP9uHvEO7Cv_c1w3VcbjU6B"}],
                        "body": {"size": body.len(), "captured": body.len(), "truncated": false, "encoding": "utf8", "content": body, "redacted": false},
                        "size": 504},
            "response": {"status": 200, "headers": [{"name": "content-type", "value": "application/json"}],
                         "body": {"size": 3, "captured": 3, "truncated": true, "encoding": "base64", "content": "AAEC", "redacted": false},
                         "size": 518, "content_type": "application/json"},
            "upstream": {"address": "10.1.4.17:8080", "status": 201, "cluster": "outbound|8080||orders"},
            "api": null,
            "identity": {"consumer_id": null, "auth_type": "bearer_jwt", "principal": "23e24d22@https://auth.bank.example.com", "credential_fp": null},
            "gateway": {"error": {"source": "upstream", "reason": null}, "cache": null, "retries": 0},
            "labels": {"env": "prod", "team": "payments"},
            "extra": {"envoy.flags": "-", "n": [1, -2, 3.5e3, {"deep": [null, true, "x\\y"]}]}
        })
    }

    #[test]
    fn fast_path_reads_simulator_shaped_records_exactly_as_serde_json() {
        for i in 0..50 {
            let record = simulated(i);
            assert!(
                fast_path_agrees(&record.to_string()),
                "record {i} took the slow path"
            );
            assert!(
                fast_path_agrees(&serde_json::to_string_pretty(&record).unwrap()),
                "pretty record {i} took the slow path"
            );
        }
    }

    #[test]
    fn fast_path_reads_the_golden_records_exactly_as_serde_json() {
        let records = golden("records.input");
        let taken = records.lines().filter(|l| fast_path_agrees(l)).count();
        // Every valid record without unknown members; the others are rejects or carry `label`.
        assert_eq!(taken, 4);
        let array: Vec<serde_json::Value> = serde_json::from_str(&golden("array.input")).unwrap();
        for entry in array {
            fast_path_agrees(&entry.to_string());
        }
    }

    #[test]
    fn fast_path_gives_up_on_what_it_does_not_handle() {
        let base = simulated(1).to_string();
        let cases = [
            // An unknown member (kept in `extra` by the slow path).
            base.replacen("\"trace_id\"", "\"trace\"", 1),
            // A duplicate member.
            base.replacen(
                "\"trace_id\":null",
                "\"trace_id\":null,\"trace_id\":\"t\"",
                1,
            ),
            // A surrogate pair escape, and a lone surrogate serde_json refuses.
            base.replacen("Dart/3.3", "Dart \\ud83d\\ude00", 1),
            base.replacen("Dart/3.3", "Dart \\ud83d", 1),
            // Wrong types, a trailing comma, a struct written as an array, trailing data.
            base.replacen("\"port\":443", "\"port\":\"443\"", 1),
            base.replacen("\"port\":443", "\"port\":443,", 1),
            base.replacen("\"port\":443", "\"port\":443.0", 1),
            base.replacen("\"port\":443", "\"port\":-443", 1),
            format!("{base} x"),
        ];
        for case in &cases {
            assert!(!fast_path_agrees(case), "{case}");
        }
    }

    #[test]
    fn decoding_takes_the_same_ids_and_rejects_on_both_paths() {
        let ctx = DecodeCtx::new("sample.ndjson");
        let mut fast = crate::formats::testing::Collect::default();
        let mut slow = crate::formats::testing::Collect::default();
        for (i, line) in golden("records.input").lines().enumerate() {
            decode_record(line.as_bytes(), i as u64 + 1, None, 0, &ctx, &mut fast);
            // What the decoder did before the fast path.
            match serde_json::from_str::<Exchange>(line) {
                Ok(mut x) => match validate(&x) {
                    Ok(()) => {
                        ctx.finish_record(&mut x, i as u64 + 1, 0, line.as_bytes());
                        slow.0.push(x);
                    }
                    Err(e) => slow.1.push(e),
                },
                Err(_) => slow.1.push(DecodeError::new(RejectReason::InvalidJson, "")),
            }
        }
        // `label` is an unknown member: accepted by the slow path of both, refused by serde.
        assert_eq!(fast.0.len(), slow.0.len() + 1);
        let ids: Vec<_> = fast.0.iter().map(|x| x.id.clone()).collect();
        assert!(slow.0.iter().all(|x| fast.0.contains(x)), "{ids:?}");
    }

    /// Records the fast path reads but `validate` refuses are rejected in place, with the
    /// field, the line and the entry, exactly as on the slow path.
    #[test]
    fn invalid_records_read_by_the_fast_path_are_rejected_with_their_field() {
        let ctx = DecodeCtx::new("sample.ndjson");
        let base = simulated(2).to_string();
        let cases = [
            (
                base.replacen("\"status\":200", "\"status\":700", 1),
                "response.status",
            ),
            (
                base.replacen("\"method\":\"POST\"", "\"method\":\"\"", 1),
                "request.method",
            ),
            (
                base.replacen("\"/v2/accounts/2/transactions\"", "\"\"", 1),
                "request.path",
            ),
            (
                base.replacen("gatewatch.exchange/1", "gatewatch.exchange/2", 1),
                "schema",
            ),
        ];
        for (text, field) in &cases {
            let mut out = crate::formats::testing::Collect::default();
            assert!(fast_path_agrees(text), "{field}: the fast path reads it");
            decode_record(text.as_bytes(), 7, Some("[3]".into()), 3, &ctx, &mut out);
            assert!(out.0.is_empty(), "{field}");
            let [err] = &out.1[..] else {
                panic!("{field}: one reject, got {:?}", out.1)
            };
            assert_eq!(err.reason, RejectReason::BadField, "{err:?}");
            assert_eq!(err.field.as_deref(), Some(*field));
            assert_eq!((err.line, err.entry.as_deref()), (Some(7), Some("[3]")));
        }
        // The record itself is accepted, with the id it carries.
        let mut out = crate::formats::testing::Collect::default();
        decode_record(base.as_bytes(), 7, None, 0, &ctx, &mut out);
        assert_eq!(out.0.len(), 1);
        assert_eq!(out.0[0].id, "018fdb65-4cf4-7e19-b82b-000000000002");
        assert_eq!(out.0[0].source.raw_ref.as_deref(), Some("sample.ndjson:7"));
    }

    /// Edits that break a record in the places a JSON reader can go wrong.
    fn mutate(text: &str, at: usize, edit: u8, piece: &str) -> String {
        let mut s = text.to_string();
        let mut at = at % (s.len() + 1);
        while !s.is_char_boundary(at) {
            at -= 1;
        }
        match edit % 3 {
            0 => s.insert_str(at, piece),
            1 => {
                let mut end = (at + piece.len()).min(s.len());
                while !s.is_char_boundary(end) {
                    end -= 1;
                }
                s.replace_range(at..end, "");
            }
            _ => s.truncate(at),
        }
        s
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 512,
            failure_persistence: None,
            rng_seed: proptest::test_runner::RngSeed::Fixed(0x6661_7374),
            ..ProptestConfig::default()
        })]

        #[test]
        fn fast_path_never_disagrees_with_serde_json_on_broken_records(
            pick in 0usize..4,
            edits in prop::collection::vec(
                (any::<usize>(), any::<u8>(), prop::sample::select(vec![
                    "\"", "\\", "\\u00", "\\ud800", ",", ":", "{", "}", "[", "]", "null", "true",
                    "0", "-1", "1e9", " ", "\n", "\u{1}", "é", "\"x\":1,", "{\"a\":\"b\"}",
                ])),
                1..4,
            ),
        ) {
            let base = match pick {
                0 => simulated(7).to_string(),
                1 => serde_json::to_string_pretty(&simulated(3)).unwrap(),
                _ => golden("records.input").lines().nth(pick - 2).unwrap().to_string(),
            };
            let text = edits
                .iter()
                .fold(base, |t, (at, edit, piece)| mutate(&t, *at, *edit, piece));
            fast_path_agrees(&text);
        }
    }

    /// Checks a whole NDJSON file, such as `gatewatch simulate` output:
    /// `GW_NATIVE_SAMPLE=/tmp/ingest-sample.ndjson cargo test -p gw-ingest --release -- --ignored`.
    #[test]
    #[ignore = "needs a sample file named by GW_NATIVE_SAMPLE"]
    fn fast_path_reads_a_sample_file_exactly_as_serde_json() {
        let path = std::env::var("GW_NATIVE_SAMPLE").expect("GW_NATIVE_SAMPLE names a file");
        let text = std::fs::read_to_string(path).expect("sample is readable UTF-8");
        let (mut lines, mut taken) = (0, 0);
        for line in text.lines().filter(|l| !l.is_empty()) {
            lines += 1;
            taken += usize::from(fast_path_agrees(line));
        }
        assert_eq!(taken, lines, "every sample record takes the fast path");
    }
}
