//! Lenient readers for the JSON and text fields gateways write, shared by the gateway-log
//! decoders (Kong, Azure APIM, AWS API Gateway, AWS ALB).
//!
//! Gateway logs are loosely typed: numbers arrive as strings, unknown values as `null`, `""` or
//! `"-"`, times in several notations. These helpers read a value the way a log means it and
//! turn a value that cannot mean anything into a reject naming the field, never a panic.

use std::net::IpAddr;

use gw_model::{Body, Header};
use jiff::Timestamp;
use serde_json::Value;
use serde_json::value::RawValue;

use crate::decoder::{line_of, offset_in};
use crate::{DecodeError, Emit, RejectReason, Unit};

pub(crate) type Object = serde_json::Map<String, Value>;

/// `null`, `""` and `"-"` all mean "the gateway did not know".
pub(crate) fn is_unknown(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty() || s == "-",
        _ => false,
    }
}

/// A field as text: strings as they are, numbers and booleans printed; unknown is `None`.
pub(crate) fn text(v: &Value) -> Option<String> {
    match v {
        _ if is_unknown(v) => None,
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn bad(field: &str, expected: &str, found: &Value) -> DecodeError {
    let mut shown = found.to_string();
    if shown.len() > 80 {
        let mut cut = 80;
        while !shown.is_char_boundary(cut) {
            cut -= 1;
        }
        shown.truncate(cut);
        shown.push('…');
    }
    DecodeError::field(
        RejectReason::BadField,
        field,
        format!("expected {expected}, found {shown}"),
    )
}

/// A number written as a JSON number or as a string.
pub(crate) fn number(v: &Value, field: &str) -> Result<Option<f64>, DecodeError> {
    let n = match v {
        _ if is_unknown(v) => return Ok(None),
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    };
    match n {
        Some(n) if n.is_finite() => Ok(Some(n)),
        _ => Err(bad(field, "a number", v)),
    }
}

/// A duration in milliseconds; negative values (`-1`) mean "not measured".
pub(crate) fn millis(v: &Value, field: &str) -> Result<Option<f64>, DecodeError> {
    Ok(number(v, field)?.filter(|n| *n >= 0.0))
}

/// A byte count or other non-negative integer, as a number or a string.
pub(crate) fn unsigned(v: &Value, field: &str) -> Result<Option<u64>, DecodeError> {
    let n = match v {
        _ if is_unknown(v) => return Ok(None),
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse::<u64>().ok(),
        _ => None,
    };
    n.map(Some)
        .ok_or_else(|| bad(field, "a non-negative integer", v))
}

/// An HTTP status; `0` (no response was sent) is unknown.
pub(crate) fn status(v: &Value, field: &str) -> Result<Option<u16>, DecodeError> {
    match unsigned(v, field).map_err(|_| bad(field, "an HTTP status", v))? {
        None | Some(0) => Ok(None),
        Some(s @ 100..=599) => Ok(Some(s as u16)),
        Some(_) => Err(bad(field, "an HTTP status between 100 and 599", v)),
    }
}

/// An IP address, tolerating `[v6]` brackets.
pub(crate) fn ip_text(s: &str) -> Option<IpAddr> {
    let s = s.trim();
    let s = s
        .strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .unwrap_or(s);
    s.parse().ok()
}

pub(crate) fn ip(v: &Value, field: &str) -> Result<Option<IpAddr>, DecodeError> {
    match v {
        _ if is_unknown(v) => Ok(None),
        Value::String(s) => ip_text(s)
            .map(Some)
            .ok_or_else(|| bad(field, "an IP address", v)),
        _ => Err(bad(field, "an IP address", v)),
    }
}

/// An `ip:port` pair as gateways log it (`203.0.113.45:51544`, `[2001:db8::1]:443`, or a bare IP).
pub(crate) fn ip_port(s: &str) -> Option<(IpAddr, Option<u16>)> {
    if let Some(ip) = ip_text(s) {
        return Some((ip, None));
    }
    let (host, port) = s.rsplit_once(':')?;
    Some((ip_text(host)?, Some(port.parse().ok()?)))
}

/// Milliseconds since the Unix epoch, as a number or a string of digits.
pub(crate) fn epoch_millis(v: &Value, field: &str) -> Result<Option<Timestamp>, DecodeError> {
    let expected = "milliseconds since 1970";
    let Some(ms) = number(v, field).map_err(|_| bad(field, expected, v))? else {
        return Ok(None);
    };
    Timestamp::from_millisecond(ms as i64)
        .map(Some)
        .map_err(|_| bad(field, expected, v))
}

/// A time as text: RFC 3339 (any fraction, any offset), RFC 3339 without an offset (read as
/// UTC, as Log Analytics exports write it), or the common log format `10/Jun/2024:09:13:20 +0000`.
pub(crate) fn timestamp_text(s: &str) -> Option<Timestamp> {
    let s = s.trim();
    if let Ok(t) = s.parse::<Timestamp>() {
        return Some(t);
    }
    if let Ok(dt) = s.parse::<jiff::civil::DateTime>() {
        return dt
            .to_zoned(jiff::tz::TimeZone::UTC)
            .ok()
            .map(|z| z.timestamp());
    }
    jiff::fmt::strtime::parse("%d/%b/%Y:%H:%M:%S %z", s)
        .ok()?
        .to_timestamp()
        .ok()
}

/// A time field that may be text or epoch milliseconds.
pub(crate) fn timestamp(v: &Value, field: &str) -> Result<Option<Timestamp>, DecodeError> {
    match v {
        _ if is_unknown(v) => Ok(None),
        Value::Number(_) => epoch_millis(v, field),
        Value::String(s) if s.bytes().all(|b| b.is_ascii_digit()) => epoch_millis(v, field),
        Value::String(s) => timestamp_text(s)
            .map(Some)
            .ok_or_else(|| bad(field, "an RFC 3339 or common-log-format time", v)),
        _ => Err(bad(field, "a time", v)),
    }
}

/// `HTTP/1.1` → `1.1`, `HTTP/2.0` → `2`; anything else is kept as written.
pub(crate) fn http_version(protocol: &str) -> Option<String> {
    let p = protocol.trim();
    let v = p
        .strip_prefix("HTTP/")
        .or_else(|| p.strip_prefix("http/"))
        .unwrap_or(p);
    match v {
        "" | "-" => None,
        "2.0" => Some("2".into()),
        "3.0" => Some("3".into()),
        v => Some(v.to_string()),
    }
}

/// A bare TLS version number (`1.3`, as APIM writes it) becomes `TLSv1.3` like the other sources.
pub(crate) fn tls_version(v: &str) -> String {
    if v.bytes().next().is_some_and(|b| b.is_ascii_digit()) {
        format!("TLSv{v}")
    } else {
        v.to_string()
    }
}

/// The parts of an absolute URL or of an origin-form request target, borrowed from it.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct UrlParts<'a> {
    pub scheme: Option<&'a str>,
    pub host: Option<&'a str>,
    pub port: Option<u16>,
    /// Raw path, percent-encoding kept; `/` when the URL has none.
    pub path: &'a str,
    /// Raw query without `?`; `None` when absent or empty.
    pub query: Option<&'a str>,
}

pub(crate) fn split_url(url: &str) -> UrlParts<'_> {
    let url = url.split_once('#').map_or(url, |(u, _)| u);
    let (scheme, rest) = match url.split_once("://") {
        Some((s, r))
            if !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'+') =>
        {
            (Some(s), r)
        }
        _ => (None, url),
    };
    let (authority, target) = if scheme.is_some() {
        let end = rest.find(['/', '?']).unwrap_or(rest.len());
        (Some(&rest[..end]), &rest[end..])
    } else {
        (None, rest)
    };
    let (host, port) = authority.map_or((None, None), split_authority);
    let (path, query) = split_target(target);
    UrlParts {
        scheme,
        host,
        port,
        path,
        query,
    }
}

fn split_authority(authority: &str) -> (Option<&str>, Option<u16>) {
    let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if let Some(rest) = hostport.strip_prefix('[') {
        let (host, after) = rest.split_once(']').unwrap_or((rest, ""));
        let port = after.strip_prefix(':').and_then(|p| p.parse().ok());
        return (Some(host).filter(|h| !h.is_empty()), port);
    }
    match hostport.rsplit_once(':') {
        Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) => {
            (Some(h).filter(|h| !h.is_empty()), p.parse().ok())
        }
        _ => (Some(hostport).filter(|h| !h.is_empty()), None),
    }
}

/// `/a/b?x=1` → (`/a/b`, `x=1`); an empty path is `/`.
pub(crate) fn split_target(target: &str) -> (&str, Option<&str>) {
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p, Some(q).filter(|q| !q.is_empty())),
        None => (target, None),
    };
    (if path.is_empty() { "/" } else { path }, query)
}

/// Headers written as an object (`{"name": "v"}` or `{"name": ["v1", "v2"]}`), as a list of
/// `{name, value}` objects, or as a JSON string holding either (Log Analytics `dynamic`).
pub(crate) fn headers(v: &Value, field: &str) -> Result<Option<Vec<Header>>, DecodeError> {
    let mut out = Vec::new();
    match v {
        _ if is_unknown(v) => return Ok(None),
        Value::String(s) => {
            let inner: Value =
                serde_json::from_str(s).map_err(|_| bad(field, "headers as a JSON object", v))?;
            let mut out = headers(&inner, field)?;
            if let Some(h) = out.as_mut() {
                restore_order(h, &object_key_order(s));
            }
            return Ok(out);
        }
        Value::Object(map) => {
            for (name, value) in map {
                match value {
                    Value::Array(items) => {
                        for item in items {
                            if let Some(t) = header_text(item) {
                                out.push(Header::new(name.as_str(), t));
                            }
                        }
                    }
                    other => {
                        if let Some(t) = header_text(other) {
                            out.push(Header::new(name.as_str(), t));
                        }
                    }
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                let name = item
                    .get("name")
                    .or_else(|| item.get("Name"))
                    .and_then(Value::as_str);
                let value = item
                    .get("value")
                    .or_else(|| item.get("Value"))
                    .and_then(header_text);
                match (name, value) {
                    (Some(n), Some(val)) => out.push(Header::new(n, val)),
                    (Some(n), None) => out.push(Header::new(n, "")),
                    _ => return Err(bad(field, "a list of {name, value} headers", item)),
                }
            }
        }
        _ => return Err(bad(field, "headers as an object or a list", v)),
    }
    Ok(Some(out))
}

/// Puts headers decoded from a JSON object back in the order the source wrote them
/// (`serde_json::Map` sorts its keys; the record contract keeps header order). Values of one
/// name given as an array stay together in their order.
pub(crate) fn restore_order(headers: &mut [Header], order: &[String]) {
    if order.len() < 2 {
        return;
    }
    headers.sort_by_key(|h| {
        order
            .iter()
            .position(|n| n.eq_ignore_ascii_case(&h.name))
            .unwrap_or(usize::MAX)
    });
}

/// The member order of every object named `…headers` (case-insensitive) in a JSON document,
/// keyed by its dotted path (`request.headers`, `properties.requestHeaders`), searched three
/// levels deep. A document that does not parse has no orders.
pub(crate) fn header_orders(bytes: &[u8]) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let walk = order_walk::Walk {
        path: String::new(),
        depth: 0,
        out: &mut out,
    };
    let _ = serde::de::DeserializeSeed::deserialize(walk, &mut de);
    out
}

/// The member order of a JSON object held in a string (Log Analytics `dynamic` columns).
pub(crate) fn object_key_order(text: &str) -> Vec<String> {
    let mut keys = Vec::new();
    let mut de = serde_json::Deserializer::from_str(text);
    let _ = serde::de::DeserializeSeed::deserialize(order_walk::Keys(&mut keys), &mut de);
    keys
}

/// Looks up the order recorded for a path, case-insensitively.
pub(crate) fn order_of<'a>(orders: &'a [(String, Vec<String>)], path: &str) -> &'a [String] {
    orders
        .iter()
        .find(|(p, _)| p.eq_ignore_ascii_case(path))
        .map_or(&[], |(_, o)| o.as_slice())
}

mod order_walk {
    use std::fmt;

    use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

    pub(super) struct Walk<'a> {
        pub path: String,
        pub depth: u8,
        pub out: &'a mut Vec<(String, Vec<String>)>,
    }

    macro_rules! accept_scalars {
        () => {
            fn visit_bool<E>(self, _: bool) -> Result<(), E> {
                Ok(())
            }
            fn visit_i64<E>(self, _: i64) -> Result<(), E> {
                Ok(())
            }
            fn visit_u64<E>(self, _: u64) -> Result<(), E> {
                Ok(())
            }
            fn visit_f64<E>(self, _: f64) -> Result<(), E> {
                Ok(())
            }
            fn visit_str<E>(self, _: &str) -> Result<(), E> {
                Ok(())
            }
            fn visit_unit<E>(self) -> Result<(), E> {
                Ok(())
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(())
            }
        };
    }

    impl<'de> DeserializeSeed<'de> for Walk<'_> {
        type Value = ();
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_any(self)
        }
    }

    impl<'de> Visitor<'de> for Walk<'_> {
        type Value = ();
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("any JSON value")
        }
        accept_scalars!();
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            while let Some(key) = map.next_key::<String>()? {
                let path = if self.path.is_empty() {
                    key.clone()
                } else {
                    format!("{}.{key}", self.path)
                };
                if key.to_ascii_lowercase().ends_with("headers") {
                    let mut keys = Vec::new();
                    map.next_value_seed(Keys(&mut keys))?;
                    if !keys.is_empty() {
                        self.out.push((path, keys));
                    }
                } else if self.depth < 3 {
                    map.next_value_seed(Walk {
                        path,
                        depth: self.depth + 1,
                        out: &mut *self.out,
                    })?;
                } else {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            Ok(())
        }
    }

    /// Records the member names of an object, in order; anything else is skipped.
    pub(super) struct Keys<'a>(pub &'a mut Vec<String>);

    impl<'de> DeserializeSeed<'de> for Keys<'_> {
        type Value = ();
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_any(self)
        }
    }

    impl<'de> Visitor<'de> for Keys<'_> {
        type Value = ();
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("any JSON value")
        }
        accept_scalars!();
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            while let Some(key) = map.next_key::<String>()? {
                map.next_value::<IgnoredAny>()?;
                self.0.push(key);
            }
            Ok(())
        }
    }
}

fn header_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The trace id of a W3C `traceparent` header (`00-<trace-id>-<span-id>-<flags>`).
pub(crate) fn trace_id(headers: Option<&[Header]>) -> Option<String> {
    let tp = gw_model::header_value(headers, "traceparent")?;
    let id = tp.split('-').nth(1)?;
    (id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()) && id.bytes().any(|b| b != b'0'))
        .then(|| id.to_ascii_lowercase())
}

/// A captured UTF-8 body. `size` is the real length when the source knows it (Content-Length);
/// without it, a body that reaches the source's capture cap is marked truncated.
pub(crate) fn body(content: String, size: Option<u64>, cap: Option<usize>) -> Body {
    let captured = content.len() as u64;
    let size = size.or_else(|| match cap {
        Some(cap) if content.chars().count() >= cap => None,
        _ => Some(captured),
    });
    Body {
        size,
        captured,
        truncated: size.is_none_or(|s| captured < s),
        content: Some(content),
        ..Body::default()
    }
}

/// Moves what is left of a source object into `extra`, flattening nested objects to dotted names
/// under `prefix` (`kong.route.id`) and dropping unknown values.
pub(crate) fn keep_unmapped(extra: &mut Object, prefix: &str, obj: Object) {
    for (k, v) in obj {
        let name = format!("{prefix}.{k}");
        match v {
            Value::Object(inner) => keep_unmapped(extra, &name, inner),
            v if is_unknown(&v) => {}
            v => {
                extra.insert(name, v);
            }
        }
    }
}

/// Removes and returns a member, unknown values read as absent.
pub(crate) fn take(obj: &mut Object, key: &str) -> Option<Value> {
    obj.remove(key).filter(|v| !is_unknown(v))
}

/// Removes a nested object member.
pub(crate) fn take_object(obj: &mut Object, key: &str) -> Option<Object> {
    match obj.remove(key) {
        Some(Value::Object(o)) => Some(o),
        Some(other) => {
            if !is_unknown(&other) {
                obj.insert(key.to_string(), other);
            }
            None
        }
        None => None,
    }
}

/// One JSON value of a unit: a line, an element of a JSON array, or one of several documents.
pub(crate) struct Entry<'a> {
    pub bytes: &'a [u8],
    /// 1-based input line where the value starts.
    pub line: u64,
    /// Position in the document (`[3]`) when the unit held more than one value.
    pub path: Option<String>,
    /// Position among the unit's records (for ids).
    pub index: usize,
}

impl Entry<'_> {
    /// The position of a record nested in this entry (`[2].records[3]`).
    pub fn child(&self, name: &str, i: usize) -> String {
        match &self.path {
            Some(p) => format!("{p}.{name}[{i}]"),
            None => format!("{name}[{i}]"),
        }
    }

    pub fn reject(&self, out: &mut dyn Emit, mut err: DecodeError) {
        err.line = Some(self.line);
        if err.entry.is_none() {
            err.entry = self.path.clone();
        }
        out.reject(err, self.bytes);
    }

    /// Parses the entry as a JSON object.
    pub fn object(&self) -> Result<Object, DecodeError> {
        serde_json::from_slice::<Object>(self.bytes).map_err(|e| {
            if e.is_data() {
                DecodeError::new(RejectReason::Malformed, "expected a JSON object")
            } else {
                DecodeError::from_json(&e)
            }
        })
    }
}

/// Calls `f` with every JSON value of a unit: whitespace-separated values (NDJSON lines,
/// concatenated documents) and the elements of top-level arrays. Invalid JSON is rejected at
/// its line and ends the unit (nothing after it can be framed).
pub(crate) fn for_each_json_value(
    unit: Unit<'_>,
    out: &mut dyn Emit,
    mut f: impl FnMut(Entry<'_>, &mut dyn Emit),
) {
    let doc = unit.bytes;
    let line_at = |part: &[u8]| {
        offset_in(doc, part)
            .map(|o| unit.line + line_of(doc, o) - 1)
            .unwrap_or(unit.line)
    };
    let mut values = serde_json::Deserializer::from_slice(doc).into_iter::<&RawValue>();
    let mut index = 0usize;
    let mut top = 0usize;
    loop {
        let raw = match values.next() {
            None => break,
            Some(Ok(raw)) => raw,
            Some(Err(e)) => {
                let line = unit.line + e.line().saturating_sub(1) as u64;
                let rest = &doc[values.byte_offset().min(doc.len())..];
                let err =
                    DecodeError::new(RejectReason::InvalidJson, format!("not valid JSON: {e}"));
                out.reject(err.at_line(line), if rest.is_empty() { doc } else { rest });
                return;
            }
        };
        let bytes = raw.get().as_bytes();
        let several = top > 0
            || !doc[values.byte_offset()..]
                .iter()
                .all(u8::is_ascii_whitespace);
        let top_path = several.then(|| format!("#{top}"));
        top += 1;
        if bytes.first() == Some(&b'[') {
            let items: Vec<&RawValue> = match serde_json::from_slice(bytes) {
                Ok(items) => items,
                Err(e) => {
                    let err =
                        DecodeError::new(RejectReason::InvalidJson, format!("not valid JSON: {e}"));
                    out.reject(err.at_line(line_at(bytes)), bytes);
                    continue;
                }
            };
            for (i, item) in items.into_iter().enumerate() {
                let b = item.get().as_bytes();
                let path = match &top_path {
                    Some(p) => format!("{p}[{i}]"),
                    None => format!("[{i}]"),
                };
                f(
                    Entry {
                        bytes: b,
                        line: line_at(b),
                        path: Some(path),
                        index,
                    },
                    out,
                );
                index += 1;
            }
        } else {
            f(
                Entry {
                    bytes,
                    line: line_at(bytes),
                    path: top_path,
                    index,
                },
                out,
            );
            index += 1;
        }
    }
}

/// The first non-whitespace byte.
pub(crate) fn first_byte(b: &[u8]) -> Option<u8> {
    b.iter().copied().find(|c| !c.is_ascii_whitespace())
}

/// The first JSON object of a sample (the value itself, or the first element of an array).
pub(crate) fn first_object(json: Option<&Value>) -> Option<&Object> {
    match json? {
        Value::Array(a) => a.first()?.as_object(),
        v => v.as_object(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_values_and_loose_numbers() {
        assert_eq!(number(&json!("45"), "f").unwrap(), Some(45.0));
        assert_eq!(number(&json!("-"), "f").unwrap(), None);
        assert_eq!(millis(&json!(-1), "f").unwrap(), None);
        assert_eq!(unsigned(&json!("1877"), "f").unwrap(), Some(1877));
        assert_eq!(
            number(&json!("abc"), "f").unwrap_err().field.as_deref(),
            Some("f")
        );
        assert_eq!(status(&json!("0"), "s").unwrap(), None);
        assert!(status(&json!(700), "s").is_err());
        assert_eq!(text(&json!(12)), Some("12".into()));
    }

    #[test]
    fn times_in_every_notation_are_utc() {
        let want: Timestamp = "2024-06-10T09:13:20.123Z".parse().unwrap();
        for s in [
            "2024-06-10T09:13:20.1230000Z",
            "2024-06-10T11:13:20.123+02:00",
            "2024-06-10T09:13:20.123",
        ] {
            assert_eq!(timestamp(&json!(s), "t").unwrap(), Some(want), "{s}");
        }
        assert_eq!(timestamp(&json!("1718010800123"), "t").unwrap(), Some(want));
        assert_eq!(
            timestamp(&json!(1718010800123u64), "t").unwrap(),
            Some(want)
        );
        let clf = timestamp(&json!("10/Jun/2024:11:13:20 +0200"), "t")
            .unwrap()
            .unwrap();
        assert_eq!(clf, "2024-06-10T09:13:20Z".parse::<Timestamp>().unwrap());
        assert!(timestamp(&json!("yesterday"), "t").is_err());
    }

    #[test]
    fn urls_split_into_raw_parts() {
        let u = split_url("https://api.example.com:443/v1/orders/a%2Fb?expand=items&x=#frag");
        assert_eq!(
            u,
            UrlParts {
                scheme: Some("https"),
                host: Some("api.example.com"),
                port: Some(443),
                path: "/v1/orders/a%2Fb",
                query: Some("expand=items&x="),
            }
        );
        let u = split_url("http://[2001:db8::1]:8080?q=1");
        assert_eq!(
            (u.host, u.port, u.path, u.query),
            (Some("2001:db8::1"), Some(8080), "/", Some("q=1"))
        );
        let u = split_url("/only/path?");
        assert_eq!(
            (u.scheme, u.host, u.path, u.query),
            (None, None, "/only/path", None)
        );
    }

    #[test]
    fn ip_port_pairs() {
        assert_eq!(
            ip_port("203.0.113.45:51544"),
            Some(("203.0.113.45".parse().unwrap(), Some(51544)))
        );
        assert_eq!(
            ip_port("[2001:db8::1]:443"),
            Some(("2001:db8::1".parse().unwrap(), Some(443)))
        );
        assert_eq!(
            ip_port("2001:db8::1"),
            Some(("2001:db8::1".parse().unwrap(), None))
        );
        assert_eq!(ip_port("nonsense:12"), None);
    }

    #[test]
    fn headers_in_every_shape() {
        let h = headers(&json!({"Accept": ["a", "b"], "x-n": 3}), "h")
            .unwrap()
            .unwrap();
        assert_eq!(
            h,
            vec![
                Header::new("accept", "a"),
                Header::new("accept", "b"),
                Header::new("x-n", "3")
            ]
        );
        let h = headers(&json!("{\"Host\":\"x\",\"Accept\":\"y\"}"), "h")
            .unwrap()
            .unwrap();
        assert_eq!(
            h,
            vec![Header::new("host", "x"), Header::new("accept", "y")]
        );
        let doc = br#"{"request":{"headers":{"z":"1","a":["2","3"],"m":"4"}},"properties":{"requestHeaders":{"B":1,"A":2}}}"#;
        let orders = header_orders(doc);
        assert_eq!(order_of(&orders, "request.headers"), ["z", "a", "m"]);
        assert_eq!(order_of(&orders, "properties.requestheaders"), ["B", "A"]);
        let mut h = headers(&json!({"z":"1","a":["2","3"],"m":"4"}), "h")
            .unwrap()
            .unwrap();
        restore_order(&mut h, order_of(&orders, "request.headers"));
        let names: Vec<_> = h
            .iter()
            .map(|h| (h.name.as_str(), h.value.as_str()))
            .collect();
        assert_eq!(names, [("z", "1"), ("a", "2"), ("a", "3"), ("m", "4")]);
        let h = headers(&json!([{"name": "A", "value": "1"}]), "h")
            .unwrap()
            .unwrap();
        assert_eq!(h, vec![Header::new("a", "1")]);
        assert!(headers(&json!(5), "h").is_err());
        let tp = vec![Header::new(
            "traceparent",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
        )];
        assert_eq!(
            trace_id(Some(&tp)).as_deref(),
            Some("4bf92f3577b34da6a3ce929d0e0e4736")
        );
    }

    #[test]
    fn json_values_of_lines_arrays_and_concatenated_documents() {
        struct Seen(Vec<(u64, Option<String>, usize)>, usize);
        impl Emit for Seen {
            fn record(&mut self, _: gw_model::Exchange) {}
            fn reject(&mut self, _: DecodeError, _: &[u8]) {
                self.1 += 1;
            }
        }
        let doc = b"[\n {\"a\":1},\n {\"b\":2}\n]\n{\"c\":3}\n{bad";
        let mut seen = Seen(Vec::new(), 0);
        let mut calls = Vec::new();
        for_each_json_value(
            Unit {
                bytes: doc,
                line: 10,
            },
            &mut seen,
            |e, _| calls.push((e.line, e.path.clone(), e.index)),
        );
        seen.0 = calls;
        assert_eq!(
            seen.0,
            vec![
                (11, Some("#0[0]".into()), 0),
                (12, Some("#0[1]".into()), 1),
                (14, Some("#1".into()), 2)
            ]
        );
        assert_eq!(seen.1, 1, "the broken tail is one reject");
    }
}
