//! HAR 1.2 (HTTP Archive, `har`): one JSON document, `log.entries[]` becomes one record each
//! with `source.capture = archive`.
//!
//! What real exports do and how it is read:
//! - A UTF-8 byte-order mark: removed by the driver before decoding.
//! - `content.encoding = "base64"` (binary responses, Chrome, mitmproxy): kept as base64,
//!   `captured` is the decoded length. Content declared base64 that is not is kept as text and
//!   flagged in `extra`.
//! - Fields browsers leave out (`headersSize`, `httpVersion`, `content.text`) or fill with
//!   `-1`, `""` or `0` (status `0` and `httpVersion ""` for requests that got no response):
//!   unknown, never zero. A `content.size` smaller than the content held (Safari writes 0) is
//!   unknown too.
//! - WebSocket (`_webSocketMessages`) and event-stream entries: the upgrade / stream request is
//!   the record; custom `_` members of an entry are kept in `extra` as `har._name`.
//! - Bodies are never decompressed: a `Content-Encoding: gzip` body that HAR tools stored raw
//!   (base64) stays as stored, so a corrupted gzip stream cannot fail the entry.
//!
//! A document that is not JSON, or has no `log.entries` array, is one reject naming the line
//! or member. An entry that lacks a required field (`startedDateTime`, `request.method`,
//! `request.url`) or has a wrongly typed one is rejected on its own as `log.entries[3]` with
//! the field; the other entries are still decoded.

use std::collections::BTreeMap;

use base64::Engine as _;
use gw_model::{Body, BodyEncoding, Capture, Exchange, Header, Name, Source, SourceKind};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::fields::{
    bad, forwarded_for, http_version, ip_port, kind_of, method_token, rfc3339, split_target,
    split_url, trace_id,
};
use crate::decoder::{line_of, offset_in};
use crate::{DecodeCtx, DecodeError, Decoder, Emit, Framing, RejectReason, Sample, Unit};

pub struct Har;

impl Decoder for Har {
    fn kind(&self) -> SourceKind {
        SourceKind::Har
    }

    fn framing(&self, _sample: &Sample<'_>) -> Framing {
        Framing::Document
    }

    fn sniff(&self, sample: &Sample<'_>) -> u8 {
        if let Some(obj) = sample.json.and_then(Value::as_object) {
            return match obj.get("log").and_then(Value::as_object) {
                Some(log) if log.get("entries").is_some_and(Value::is_array) => 100,
                Some(log) if log.contains_key("creator") || log.contains_key("version") => 90,
                _ => 0,
            };
        }
        // A document larger than the sample: HAR writers put `"log"` first and its
        // `version`/`creator`/`entries` right after.
        let head = &sample.head[..sample.head.len().min(4096)];
        let Some(rest) = strip_ws(head).strip_prefix(b"{") else {
            return 0;
        };
        if !strip_ws(rest).starts_with(b"\"log\"") {
            return 0;
        }
        let text = String::from_utf8_lossy(head);
        if ["\"entries\"", "\"creator\"", "\"version\""]
            .iter()
            .any(|k| text.contains(k))
        {
            90
        } else {
            50
        }
    }

    fn decode(&self, unit: Unit<'_>, ctx: &DecodeCtx, out: &mut dyn Emit) {
        let doc = unit.bytes;
        if doc.iter().all(u8::is_ascii_whitespace) {
            // An empty file holds no entries to get wrong.
            return;
        }
        let entries = match entries_of(doc) {
            Ok(e) => e,
            Err(err) => {
                let err = if err.line.is_some() {
                    err
                } else {
                    err.at_line(unit.line)
                };
                out.reject(err, doc);
                return;
            }
        };
        // Entries come in document order: count line breaks from the previous entry only.
        let (mut counted_to, mut line) = (0, unit.line);
        for (i, raw) in entries.into_iter().enumerate() {
            let bytes = raw.get().as_bytes();
            if let Some(o) = offset_in(doc, bytes).filter(|&o| o >= counted_to) {
                line += line_of(&doc[counted_to..o], o - counted_to) - 1;
                counted_to = o;
            }
            let entry_name = format!("log.entries[{i}]");
            let result = match serde_json::from_str::<Value>(raw.get()) {
                Ok(Value::Object(entry)) => record(&entry),
                Ok(other) => Err(DecodeError::new(
                    RejectReason::BadField,
                    format!("expected an entry object, found {}", kind_of(&other)),
                )),
                Err(e) => Err(DecodeError::new(RejectReason::InvalidJson, e.to_string())),
            };
            match result {
                Ok(mut x) => {
                    ctx.finish_record(&mut x, line, i, bytes);
                    out.record(x);
                }
                Err(err) => out.reject(err.at_entry(entry_name).at_line(line), bytes),
            }
        }
    }
}

fn strip_ws(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    &b[start..]
}

/// The raw entries of a HAR document, or the reason the document has none.
fn entries_of(doc: &[u8]) -> Result<Vec<&RawValue>, DecodeError> {
    let top: BTreeMap<String, &RawValue> = match serde_json::from_slice(doc) {
        Ok(t) => t,
        Err(e) if e.is_data() => {
            return Err(DecodeError::new(
                RejectReason::Malformed,
                "not a HAR document: expected a JSON object {\"log\": {\"entries\": [...]}}",
            ));
        }
        Err(e) => {
            let err = DecodeError::new(
                RejectReason::InvalidJson,
                format!("the HAR document is not valid JSON: {e}; no entry of it was read"),
            );
            return Err(err.at_line(e.line().max(1) as u64));
        }
    };
    let Some(log) = top.get("log") else {
        let found: Vec<&str> = top.keys().map(String::as_str).take(5).collect();
        return Err(DecodeError::field(
            RejectReason::MissingField,
            "log",
            format!(
                "not a HAR document: no top-level \"log\" member (found {})",
                if found.is_empty() {
                    "an empty object".to_string()
                } else {
                    found.join(", ")
                }
            ),
        ));
    };
    let log: BTreeMap<String, &RawValue> = serde_json::from_str(log.get()).map_err(|_| {
        DecodeError::field(
            RejectReason::BadField,
            "log",
            "expected an object with \"entries\"",
        )
    })?;
    let entries = log
        .get("entries")
        .ok_or_else(|| DecodeError::missing("log.entries"))?;
    serde_json::from_str(entries.get()).map_err(|_| {
        DecodeError::field(
            RejectReason::BadField,
            "log.entries",
            "expected an array of entries",
        )
    })
}

/// A member of an entry, `None` when absent or `null`.
fn member<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.get(key).filter(|v| !v.is_null())
}

fn object<'a>(
    obj: &'a Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<Option<&'a Map<String, Value>>, DecodeError> {
    match member(obj, key) {
        None => Ok(None),
        Some(Value::Object(m)) => Ok(Some(m)),
        Some(other) => Err(bad(path, "an object", other)),
    }
}

fn text<'a>(
    obj: &'a Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<Option<&'a str>, DecodeError> {
    match member(obj, key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(bad(path, "a string", other)),
    }
}

/// A HAR size or duration: a number, `-1` (or any negative) meaning not known.
fn size(obj: &Map<String, Value>, key: &str, path: &str) -> Result<Option<f64>, DecodeError> {
    match member(obj, key) {
        None => Ok(None),
        Some(Value::Number(n)) => Ok(n.as_f64().filter(|f| f.is_finite() && *f >= 0.0)),
        Some(other) => Err(bad(path, "a number", other)),
    }
}

fn headers(obj: &Map<String, Value>, path: &str) -> Result<Option<Vec<Header>>, DecodeError> {
    let list = match member(obj, "headers") {
        None => return Ok(None),
        Some(Value::Array(a)) => a,
        Some(other) => return Err(bad(&format!("{path}.headers"), "an array", other)),
    };
    let mut out = Vec::with_capacity(list.len());
    for (i, h) in list.iter().enumerate() {
        let at = format!("{path}.headers[{i}]");
        let Value::Object(h) = h else {
            return Err(bad(&at, "a {name, value} object", h));
        };
        let name = text(h, "name", &format!("{at}.name"))?
            .ok_or_else(|| DecodeError::missing(&format!("{at}.name")))?;
        let value = match member(h, "value") {
            None => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            Some(other) => return Err(bad(&format!("{at}.value"), "a string", other)),
        };
        out.push(Header::new(name, value));
    }
    Ok(Some(out))
}

/// A body from a HAR `text` (+ `encoding`) and the size the source claims.
fn body(
    content: Option<&str>,
    encoding: Option<&str>,
    claimed: Option<u64>,
    extra: &mut Map<String, Value>,
    path: &str,
) -> Option<Body> {
    let (content, encoding, captured) = match (content, encoding) {
        (None, _) => (None, BodyEncoding::Utf8, 0),
        (Some(t), Some(enc)) if enc.eq_ignore_ascii_case("base64") => {
            let compact: String = t.chars().filter(|c| !c.is_ascii_whitespace()).collect();
            match base64::engine::general_purpose::STANDARD.decode(&compact) {
                Ok(bytes) => (Some(compact), BodyEncoding::Base64, bytes.len() as u64),
                Err(e) => {
                    extra.insert(
                        format!("har.{path}.encoding_error"),
                        Value::from(format!("declared base64 but is not ({e}); kept as text")),
                    );
                    (Some(t.to_string()), BodyEncoding::Utf8, t.len() as u64)
                }
            }
        }
        (Some(t), enc) => {
            if let Some(enc) = enc.filter(|e| !e.is_empty()) {
                extra.insert(format!("har.{path}.encoding"), Value::from(enc));
            }
            (Some(t.to_string()), BodyEncoding::Utf8, t.len() as u64)
        }
    };
    if captured == 0 && claimed.unwrap_or(0) == 0 {
        return None;
    }
    let size = claimed.filter(|s| *s >= captured);
    Some(Body {
        size,
        captured,
        truncated: size.is_some_and(|s| captured < s),
        encoding,
        content,
        redacted: false,
    })
}

fn first_header(h: Option<&[Header]>, name: &str) -> Option<String> {
    gw_model::header_value(h, name)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}

/// `headersSize + bodySize` when both are known.
fn total_size(obj: &Map<String, Value>, path: &str) -> Result<Option<u64>, DecodeError> {
    let h = size(obj, "headersSize", &format!("{path}.headersSize"))?;
    let b = size(obj, "bodySize", &format!("{path}.bodySize"))?;
    Ok(h.zip(b).map(|(h, b)| (h + b) as u64))
}

fn record(entry: &Map<String, Value>) -> Result<Exchange, DecodeError> {
    let started =
        member(entry, "startedDateTime").ok_or_else(|| DecodeError::missing("startedDateTime"))?;
    let observed_at = rfc3339("startedDateTime", started)?;
    let req =
        object(entry, "request", "request")?.ok_or_else(|| DecodeError::missing("request"))?;
    let method = text(req, "method", "request.method")?
        .ok_or_else(|| DecodeError::missing("request.method"))?;
    let method = method_token("request.method", method)?;
    let url =
        text(req, "url", "request.url")?.ok_or_else(|| DecodeError::missing("request.url"))?;

    let source = Source {
        kind: SourceKind::Har,
        capture: Capture::Archive,
        gateway: None,
        raw_ref: None,
    };
    let mut x = match split_url(url) {
        Some(u) => {
            let mut x = Exchange::new(String::new(), observed_at, source, method, u.path);
            x.request.query = u.query.map(str::to_string);
            let scheme = u.scheme.unwrap_or_default().to_ascii_lowercase();
            x.server.port = u.port.or(match scheme.as_str() {
                "http" | "ws" => Some(80),
                "https" | "wss" => Some(443),
                _ => None,
            });
            x.request.scheme = Some(Name::from(scheme));
            x.server.host = Some(u.host.unwrap_or_default().to_string());
            x
        }
        // Some tools write origin-relative URLs; the path is still what was requested.
        None if url.starts_with('/') => {
            let (p, q) = split_target(url);
            let mut x = Exchange::new(String::new(), observed_at, source, method, p);
            x.request.query = q.map(str::to_string);
            x
        }
        None => {
            return Err(bad("request.url", "an absolute URL", &Value::from(url)));
        }
    };
    x.duration_ms = size(entry, "time", "time")?;
    x.request.http_version =
        text(req, "httpVersion", "request.httpVersion")?.and_then(http_version);
    x.request.headers = headers(req, "request")?;
    x.request.size = total_size(req, "request")?;
    let mut extra = Map::new();
    if let Some(post) = object(req, "postData", "request.postData")? {
        let t = text(post, "text", "request.postData.text")?;
        let enc = text(post, "encoding", "request.postData.encoding")?;
        let claimed = size(req, "bodySize", "request.bodySize")?.map(|s| s as u64);
        x.request.body = body(t, enc, claimed, &mut extra, "request.postData");
        let params = member(post, "params").filter(|p| p.as_array().is_some_and(|a| !a.is_empty()));
        if let (None, Some(params)) = (t, params) {
            extra.insert("har.request.postData.params".into(), params.clone());
        }
    }

    let reqh = x.request.headers.as_deref();
    x.client.user_agent = first_header(reqh, "user-agent");
    x.client.forwarded_for = first_header(reqh, "x-forwarded-for")
        .map(|s| forwarded_for(&s))
        .unwrap_or_default();
    x.request_id = first_header(reqh, "x-request-id");
    x.trace_id = first_header(reqh, "traceparent").and_then(|t| trace_id(&t));

    if let Some(resp) = object(entry, "response", "response")? {
        x.response.status = match member(resp, "status") {
            None => None,
            Some(v) => super::fields::status_code("response.status", v)
                .map_err(|_| bad("response.status", "an HTTP status code", v))?,
        };
        x.response.headers = headers(resp, "response")?;
        x.response.size = total_size(resp, "response")?;
        if let Some(content) = object(resp, "content", "response.content")? {
            let t = text(content, "text", "response.content.text")?;
            let enc = text(content, "encoding", "response.content.encoding")?;
            let claimed = size(content, "size", "response.content.size")?.map(|s| s as u64);
            x.response.body = body(t, enc, claimed, &mut extra, "response.content");
            x.response.content_type = text(content, "mimeType", "response.content.mimeType")?
                .filter(|m| !m.is_empty())
                .map(str::to_string);
        }
        if x.response.content_type.is_none() {
            x.response.content_type = first_header(x.response.headers.as_deref(), "content-type");
        }
        if let Some(redirect) =
            text(resp, "redirectURL", "response.redirectURL")?.filter(|r| !r.is_empty())
        {
            extra.insert("har.response.redirectURL".into(), Value::from(redirect));
        }
        for (k, v) in resp.iter().filter(|(k, _)| k.starts_with('_')) {
            extra.insert(format!("har.response.{k}"), v.clone());
        }
    }
    if x.response.status.is_none() && x.response.headers.as_ref().is_some_and(Vec::is_empty) {
        // No response was received (status 0, no headers): nothing about it is known.
        x.response.headers = None;
    }

    if let Some(ip) = text(entry, "serverIPAddress", "serverIPAddress")? {
        let ip = ip.trim_start_matches('[').trim_end_matches(']');
        x.server.ip = ip_port(ip).map(|(ip, _)| ip);
    }
    for (k, v) in entry {
        let keep = k.starts_with('_')
            || matches!(k.as_str(), "pageref" | "connection" | "comment" | "timings");
        if keep && !v.is_null() {
            extra.insert(format!("har.{k}"), v.clone());
        }
    }
    x.extra = extra;
    Ok(x)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample_of;

    const EXAMPLE: &str = r#"{"log":{"version":"1.2","creator":{"name":"apisec-capture","version":"0.1"},"entries":[{
 "startedDateTime":"2024-06-10T09:13:20.123Z","time":45,"serverIPAddress":"198.51.100.7",
 "request":{"method":"POST","url":"https://api.example.com/v1/orders","httpVersion":"HTTP/1.1",
   "cookies":[],"headers":[{"name":"Content-Type","value":"application/json"}],"queryString":[],
   "postData":{"mimeType":"application/json","text":"{\"sku\":\"A-1\",\"qty\":2}"},"headersSize":-1,"bodySize":27},
 "response":{"status":201,"statusText":"Created","httpVersion":"HTTP/1.1","cookies":[],
   "headers":[{"name":"Content-Type","value":"application/json"}],
   "content":{"size":11,"mimeType":"application/json","text":"{\"id\":1042}"},"redirectURL":"","headersSize":-1,"bodySize":11},
 "cache":{},"timings":{"send":0,"wait":41,"receive":4}}]}}"#;

    use crate::formats::testing::{Collect, decode_unit};

    fn decode(doc: &str) -> Collect {
        decode_unit(&Har, doc, 1, "t.har")
    }

    #[test]
    fn reference_example_maps_every_field() {
        let s = decode(EXAMPLE);
        assert!(s.1.is_empty(), "{:?}", s.1);
        let x = &s.0[0];
        assert_eq!(x.source.capture, Capture::Archive);
        assert_eq!(x.observed_at.to_string(), "2024-06-10T09:13:20.123Z");
        assert_eq!(x.duration_ms, Some(45.0));
        assert_eq!(x.request.scheme.as_deref(), Some("https"));
        assert_eq!(
            (x.server.host.as_deref(), x.server.port),
            (Some("api.example.com"), Some(443))
        );
        assert_eq!(x.server.ip, Some("198.51.100.7".parse().unwrap()));
        assert_eq!(x.request.path, "/v1/orders");
        assert_eq!(
            x.request.headers.as_ref().unwrap()[0],
            Header::new("content-type", "application/json")
        );
        // The example claims a 27-byte body for 21 bytes of text: kept as the source says.
        let body = x.request.body.as_ref().unwrap();
        assert_eq!(
            (body.size, body.captured, body.truncated),
            (Some(27), 21, true)
        );
        assert_eq!(x.request.size, None, "headersSize -1");
        assert_eq!(x.response.status, Some(201));
        assert_eq!(x.response.body, Some(Body::utf8(r#"{"id":1042}"#)));
        assert_eq!(x.response.content_type.as_deref(), Some("application/json"));
        assert_eq!(x.source.raw_ref.as_deref(), Some("t.har:1"));
    }

    #[test]
    fn base64_bodies_count_decoded_bytes() {
        let doc = EXAMPLE.replace(
            r#""content":{"size":11,"mimeType":"application/json","text":"{\"id\":1042}"}"#,
            r#""content":{"size":24,"mimeType":"text/html","text":"H4sIAAAAAAAAAyE+EjNBD/iT6u4EAAAA","encoding":"base64"}"#,
        );
        let s = decode(&doc);
        let b = s.0[0].response.body.clone().unwrap();
        assert_eq!(
            (b.encoding, b.captured, b.size, b.truncated),
            (BodyEncoding::Base64, 24, Some(24), false)
        );
    }

    #[test]
    fn a_bad_entry_is_rejected_alone_with_its_field() {
        let doc = format!(
            r#"{{"log":{{"entries":[{e},{{"startedDateTime":"2024-06-10T09:13:21Z","request":{{"method":"GET"}}}},{e},{{"startedDateTime":"2024-06-10T09:13:21Z","request":{{"method":"GET","url":"/x","headers":[{{"value":"v"}}]}}}}]}}}}"#,
            e = r#"{"startedDateTime":"2024-06-10T09:13:20Z","request":{"method":"GET","url":"http://h/"}}"#
        );
        let s = decode(&doc);
        assert_eq!(s.0.len(), 2);
        assert_eq!(s.1.len(), 2);
        assert_eq!(s.1[0].entry.as_deref(), Some("log.entries[1]"));
        assert_eq!(s.1[0].field.as_deref(), Some("request.url"));
        assert_eq!(s.1[1].entry.as_deref(), Some("log.entries[3]"));
        assert_eq!(s.1[1].field.as_deref(), Some("request.headers[0].name"));
    }

    #[test]
    fn broken_documents_are_one_clear_reject() {
        let s = decode("{\"log\":\n[\n    2,1,3\n]\n\"request:\"}");
        assert_eq!(s.1.len(), 1);
        assert_eq!(
            (s.1[0].reason, s.1[0].line),
            (RejectReason::InvalidJson, Some(5))
        );
        let s = decode(r#"{"headers": [["Content-Type"]]}"#);
        assert_eq!(
            (s.1[0].reason, s.1[0].field.as_deref()),
            (RejectReason::MissingField, Some("log"))
        );
        let s = decode(r#"{"log":{"version":"1.2"}}"#);
        assert_eq!(s.1[0].field.as_deref(), Some("log.entries"));
        let s = decode("[1,2]");
        assert_eq!(s.1[0].reason, RejectReason::Malformed);
    }

    #[test]
    fn sniff() {
        assert_eq!(sample_of(EXAMPLE.as_bytes(), |s| Har.sniff(s)), 100);
        let big = format!(
            "{{\n  \"log\": {{\n    \"version\": \"1.2\",\n    \"entries\": [{}",
            "x".repeat(100)
        );
        assert_eq!(sample_of(big.as_bytes(), |s| Har.sniff(s)), 90);
        assert_eq!(
            sample_of(br#"{"observed_at":"x","request":{}}"#, |s| Har.sniff(s)),
            0
        );
    }
}
