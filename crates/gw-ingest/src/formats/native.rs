//! Native `gatewatch.exchange/1` records: NDJSON, or a JSON array of records.

use gw_model::{EXCHANGE_SCHEMA, Exchange, SourceKind};
use serde_json::value::RawValue;

use super::fields;
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
    let parsed = match serde_json::from_slice::<Exchange>(bytes) {
        Err(e) if e.to_string().starts_with("unknown field") => {
            parse_keeping_unknown_members(bytes)
        }
        Err(e) if e.is_data() => Err(DecodeError::from_json_with_path::<Exchange>(bytes)),
        other => other.map_err(|e| DecodeError::from_json(&e)),
    };
    let result = parsed.and_then(|x| validate(x).map_err(|e| e.at_line(line)));
    match result {
        Ok(mut x) => {
            ctx.finish_record(&mut x, line, index, bytes);
            out.record(x);
        }
        Err(mut err) => {
            err.line = Some(line);
            err.entry = entry;
            out.reject(err, bytes);
        }
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

fn validate(x: Exchange) -> Result<Exchange, DecodeError> {
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
    Ok(x)
}
