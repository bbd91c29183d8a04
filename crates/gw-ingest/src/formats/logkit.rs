//! Field readers shared by the access-log and HAR decoders: typed access to JSON members with
//! rejects that name the field and what was found, `-`-means-null handling, timestamps,
//! request targets, addresses and HTTP versions.

use std::net::IpAddr;

use gw_model::{Body, BodyEncoding, Capture, Exchange, Source, SourceKind};
use jiff::Timestamp;
use serde_json::{Map, Value};

use crate::{DecodeCtx, DecodeError, Emit, RejectReason, Unit};

/// A JSON object record; every getter names `key` in its reject.
pub(crate) type Obj = Map<String, Value>;

/// Parses a line as a JSON object, rejecting anything else.
pub(crate) fn parse_object(bytes: &[u8]) -> Result<Obj, DecodeError> {
    if std::str::from_utf8(bytes).is_err() {
        return Err(DecodeError::new(
            RejectReason::InvalidUtf8,
            "the record is not valid UTF-8 (binary data or a different encoding)",
        ));
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(other) => Err(DecodeError::new(
            RejectReason::Malformed,
            format!("expected a JSON object, found {}", kind_of(&other)),
        )),
        Err(e) => Err(DecodeError::new(
            RejectReason::InvalidJson,
            format!("the line is not valid JSON (truncated or not a JSON log): {e}"),
        )),
    }
}

pub(crate) fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// `found` in messages: the value itself for scalars (shortened), its kind otherwise.
fn shown(v: &Value) -> String {
    match v {
        Value::String(s) => {
            let mut s: String = s.chars().take(60).collect();
            if s.len() < 60 {
                return format!("{s:?}");
            }
            s.push('…');
            format!("{s:?}")
        }
        Value::Number(n) => n.to_string(),
        other => kind_of(other).to_string(),
    }
}

pub(crate) fn bad(field: &str, expected: &str, found: &Value) -> DecodeError {
    DecodeError::field(
        RejectReason::BadField,
        field,
        format!("expected {expected}, found {}", shown(found)),
    )
}

/// Whether a value means "not known": absent, `null`, `""` or `-` (what nginx, Envoy's text
/// operators and Traefik print for an empty value).
pub(crate) fn is_unset(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.is_empty() || s == "-",
        _ => false,
    }
}

/// The first of `keys` present and set in `obj`, with the key it was found under.
pub(crate) fn first_of<'a>(
    obj: &'a Obj,
    keys: &[&'static str],
) -> Option<(&'static str, &'a Value)> {
    keys.iter()
        .find_map(|k| obj.get(*k).filter(|v| !is_unset(Some(v))).map(|v| (*k, v)))
}

/// A string member; numbers and booleans are accepted as their text (log formats quote
/// inconsistently), objects and arrays are rejects.
pub(crate) fn string(field: &str, v: &Value) -> Result<String, DecodeError> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        other => Err(bad(field, "a string", other)),
    }
}

pub(crate) fn opt_string(obj: &Obj, keys: &[&'static str]) -> Result<Option<String>, DecodeError> {
    first_of(obj, keys).map(|(k, v)| string(k, v)).transpose()
}

/// A non-negative integer, as a JSON number or a decimal string.
pub(crate) fn uint(field: &str, v: &Value) -> Result<u64, DecodeError> {
    match v {
        Value::Number(n) => n
            .as_u64()
            .or_else(|| {
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f < 1.8e19)
                    .map(|f| f as u64)
            })
            .ok_or_else(|| bad(field, "a non-negative integer", v)),
        Value::String(s) => s
            .trim()
            .parse::<u64>()
            .map_err(|_| bad(field, "an integer", v)),
        other => Err(bad(field, "an integer", other)),
    }
}

pub(crate) fn opt_uint(obj: &Obj, keys: &[&'static str]) -> Result<Option<u64>, DecodeError> {
    first_of(obj, keys).map(|(k, v)| uint(k, v)).transpose()
}

/// A finite non-negative number, as a JSON number or a decimal string.
pub(crate) fn number(field: &str, v: &Value) -> Result<f64, DecodeError> {
    let f = match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    };
    f.filter(|f| f.is_finite() && *f >= 0.0)
        .ok_or_else(|| bad(field, "a non-negative number", v))
}

pub(crate) fn opt_number(obj: &Obj, keys: &[&'static str]) -> Result<Option<f64>, DecodeError> {
    first_of(obj, keys).map(|(k, v)| number(k, v)).transpose()
}

/// An HTTP status code. `0` is what Envoy, HAR and nginx write when no response was sent, so
/// it reads as unknown.
pub(crate) fn status(field: &str, v: &Value) -> Result<Option<u16>, DecodeError> {
    let n = uint(field, v).map_err(|_| bad(field, "an HTTP status code", v))?;
    match n {
        0 => Ok(None),
        100..=599 => Ok(Some(n as u16)),
        _ => Err(bad(field, "an HTTP status between 100 and 599", v)),
    }
}

pub(crate) fn opt_status(obj: &Obj, keys: &[&'static str]) -> Result<Option<u16>, DecodeError> {
    Ok(first_of(obj, keys)
        .map(|(k, v)| status(k, v))
        .transpose()?
        .flatten())
}

/// An RFC 3339 timestamp with an offset, converted to UTC.
pub(crate) fn rfc3339(field: &str, v: &Value) -> Result<Timestamp, DecodeError> {
    let Value::String(s) = v else {
        return Err(bad(field, "an RFC 3339 timestamp", v));
    };
    s.trim()
        .parse::<Timestamp>()
        .map_err(|_| bad(field, "an RFC 3339 timestamp with an offset", v))
}

/// Seconds since the Unix epoch with a fraction (`$msec`, `1718010800.123`), read as decimal
/// digits so no precision is lost to floating point.
pub(crate) fn epoch_seconds(field: &str, v: &Value) -> Result<Timestamp, DecodeError> {
    let text = match v {
        Value::String(s) => s.trim().to_string(),
        Value::Number(n) => n.to_string(),
        other => return Err(bad(field, "seconds since the epoch", other)),
    };
    let (secs, frac) = text.split_once('.').unwrap_or((&text, ""));
    let valid = !secs.is_empty()
        && secs.bytes().all(|b| b.is_ascii_digit())
        && frac.len() <= 9
        && frac.bytes().all(|b| b.is_ascii_digit());
    let parsed = valid
        .then(|| {
            let s: i64 = secs.parse().ok()?;
            let n: i32 = if frac.is_empty() {
                0
            } else {
                format!("{frac:0<9}").parse().ok()?
            };
            Timestamp::new(s, n).ok()
        })
        .flatten();
    parsed.ok_or_else(|| bad(field, "seconds since the epoch", v))
}

/// `$time_local` / Apache `%t`: `10/Oct/2000:13:55:36 -0700`.
pub(crate) fn clf_time(field: &str, s: &str) -> Result<Timestamp, DecodeError> {
    jiff::fmt::strtime::parse("%d/%b/%Y:%H:%M:%S %z", s.trim())
        .and_then(|t| t.to_timestamp())
        .map_err(|_| {
            DecodeError::field(
                RejectReason::BadField,
                field,
                format!("expected a time like 10/Oct/2000:13:55:36 -0700, found {s:?}"),
            )
        })
}

/// `HTTP/1.1` → `1.1`, `HTTP/2.0` and `h2` → `2`, `HTTP/3` and `h3` → `3`; anything else kept
/// as written, empty or `-` → unknown.
pub(crate) fn http_version(proto: &str) -> Option<String> {
    let p = proto.trim();
    if p.is_empty() || p == "-" {
        return None;
    }
    let v = p
        .strip_prefix("HTTP/")
        .or_else(|| p.strip_prefix("http/"))
        .or_else(|| {
            p.strip_prefix('h')
                .filter(|r| r.bytes().all(|b| b.is_ascii_digit()))
        })
        .unwrap_or(p);
    Some(match v {
        "2.0" => "2".to_string(),
        "3.0" => "3".to_string(),
        other => other.to_string(),
    })
}

/// A request target split into raw path and raw query (percent-encoding kept, `#fragment`
/// dropped as clients never send it).
pub(crate) fn split_target(target: &str) -> (&str, Option<&str>) {
    let target = target.split('#').next().unwrap_or(target);
    match target.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (target, None),
    }
}

/// The parts of an absolute URL (`https://user@host:8443/p?q`).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct UrlParts<'a> {
    pub scheme: &'a str,
    pub host: &'a str,
    pub port: Option<u16>,
    pub path: &'a str,
    pub query: Option<&'a str>,
}

/// Splits an absolute URL without normalising anything (percent-encoding kept). `None` when
/// it has no `scheme://`, or a port that is not a number.
pub(crate) fn split_url(url: &str) -> Option<UrlParts<'_>> {
    let (scheme, rest) = url.split_once("://")?;
    if scheme.is_empty()
        || !scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
    {
        return None;
    }
    let auth_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..auth_end];
    let target = &rest[auth_end..];
    let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (host, port) = split_host_port(hostport)?;
    let (path, query) = split_target(target);
    Some(UrlParts {
        scheme,
        host,
        port,
        path: if path.is_empty() { "/" } else { path },
        query,
    })
}

/// `host`, `host:port`, `[v6]`, `[v6]:port`; `None` when the port is not a number.
pub(crate) fn split_host_port(s: &str) -> Option<(&str, Option<u16>)> {
    if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        return match after.strip_prefix(':') {
            Some(p) => Some((host, Some(p.parse().ok()?))),
            None if after.is_empty() => Some((host, None)),
            None => None,
        };
    }
    match s.rsplit_once(':') {
        // More than one colon without brackets: a bare IPv6 address.
        Some((h, _)) if h.contains(':') => Some((s, None)),
        Some((h, p)) => Some((h, Some(p.parse().ok()?))),
        None => Some((s, None)),
    }
}

/// An address with an optional port (`203.0.113.45:51544`, `[2001:db8::1]:443`, `10.0.0.1`);
/// `None` when it is not an IP address (a Unix socket path, a host name).
pub(crate) fn ip_port(s: &str) -> Option<(IpAddr, Option<u16>)> {
    let s = s.trim();
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some((ip, None));
    }
    let (h, p) = split_host_port(s)?;
    Some((h.parse().ok()?, p))
}

/// The X-Forwarded-For chain, left to right; hops that are not IP addresses (`unknown`,
/// obfuscated identifiers) are skipped, ports are dropped.
pub(crate) fn forwarded_for(s: &str) -> Vec<IpAddr> {
    s.split(',')
        .filter_map(|hop| ip_port(hop.trim()).map(|(ip, _)| ip))
        .collect()
}

/// Mirrors a source member into `extra` under `ns.key` unless it is unset.
pub(crate) fn keep(extra: &mut Obj, ns: &str, key: &str, v: Option<&Value>) {
    if let Some(v) = v.filter(|v| !is_unset(Some(v))) {
        extra.insert(format!("{ns}.{key}"), v.clone());
    }
}

/// Emits the result of decoding a one-record unit (a line): the record with its id and
/// `raw_ref`, or the reject pointing at the line.
pub(crate) fn emit_line(
    unit: Unit<'_>,
    ctx: &DecodeCtx,
    out: &mut dyn Emit,
    result: Result<Exchange, DecodeError>,
) {
    match result {
        Ok(mut x) => {
            ctx.finish_record(&mut x, unit.line, 0, unit.bytes);
            out.record(x);
        }
        Err(mut e) => {
            e.line.get_or_insert(unit.line);
            out.reject(e, unit.bytes);
        }
    }
}

/// A body the source only gives the length of (access logs never carry content).
pub(crate) fn size_only_body(size: u64) -> Body {
    Body {
        size: Some(size),
        captured: 0,
        truncated: size > 0,
        encoding: BodyEncoding::Utf8,
        content: None,
        redacted: false,
    }
}

/// A record with what every access-log line has: event time, method and target.
pub(crate) fn access_log_record(
    kind: SourceKind,
    observed_at: Timestamp,
    method: String,
    path: &str,
) -> Exchange {
    let source = Source {
        kind,
        capture: Capture::AccessLog,
        gateway: None,
        raw_ref: None,
    };
    Exchange::new(String::new(), observed_at, source, method, path)
}

/// Copies every member of `obj` whose key is not `mapped` into `extra` as `ns.key`.
pub(crate) fn keep_unmapped(obj: &Obj, mapped: impl Fn(&str) -> bool, ns: &str, extra: &mut Obj) {
    for (k, v) in obj {
        if !mapped(k) {
            keep(extra, ns, k, Some(v));
        }
    }
}

/// A method token: ASCII letters (and `-`/`_` some proxies use), as sent.
pub(crate) fn method_token(field: &str, s: &str) -> Result<String, DecodeError> {
    if s.is_empty()
        || s.len() > 32
        || !s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(DecodeError::field(
            RejectReason::BadField,
            field,
            format!("expected an HTTP method token, found {:?}", truncate(s, 60)),
        ));
    }
    Ok(s.to_string())
}

/// At most `n` characters of `s`, for messages.
pub(crate) fn truncate(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// The W3C trace id of a `traceparent` header (`00-<trace-id>-<span-id>-<flags>`).
pub(crate) fn trace_id(traceparent: &str) -> Option<String> {
    let mut parts = traceparent.trim().split('-');
    let _version = parts.next()?;
    let id = parts.next()?;
    (id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()) && id.bytes().any(|b| b != b'0'))
        .then(|| id.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn versions_are_normalised() {
        assert_eq!(http_version("HTTP/1.1").as_deref(), Some("1.1"));
        assert_eq!(http_version("http/2.0").as_deref(), Some("2"));
        assert_eq!(http_version("HTTP/2").as_deref(), Some("2"));
        assert_eq!(http_version("h3").as_deref(), Some("3"));
        assert_eq!(http_version("HTTP/3").as_deref(), Some("3"));
        assert_eq!(http_version(""), None);
        assert_eq!(http_version("-"), None);
    }

    #[test]
    fn urls_keep_their_encoding() {
        let u = split_url("https://user@api.example.com:8443/v1/a%2Fb?q=%20x#frag").unwrap();
        assert_eq!(
            u,
            UrlParts {
                scheme: "https",
                host: "api.example.com",
                port: Some(8443),
                path: "/v1/a%2Fb",
                query: Some("q=%20x")
            }
        );
        let u = split_url("http://[2001:db8::1]?x").unwrap();
        assert_eq!(
            (u.host, u.port, u.path, u.query),
            ("2001:db8::1", None, "/", Some("x"))
        );
        assert!(split_url("/relative").is_none());
        assert!(split_url("http://host:port/").is_none());
    }

    #[test]
    fn addresses_and_chains() {
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
        assert_eq!(ip_port("unix:/var/run/sock"), None);
        let chain = forwarded_for("203.0.113.45, unknown, 10.0.0.1:8080");
        assert_eq!(chain.len(), 2);
    }

    #[test]
    fn typed_getters_name_field_and_value() {
        let e = uint("status", &json!("abc")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "field \"status\": expected an integer, found \"abc\""
        );
        assert_eq!(uint("n", &json!("42")).unwrap(), 42);
        assert_eq!(status("s", &json!(0)).unwrap(), None);
        assert!(status("s", &json!(1000)).is_err());
        assert_eq!(number("t", &json!("0.250")).unwrap(), 0.25);
        assert!(number("t", &json!(-1)).is_err());
        assert!(is_unset(Some(&json!("-"))));
    }

    #[test]
    fn times_convert_to_utc() {
        let t = clf_time("time_local", "10/Oct/2000:13:55:36 -0700").unwrap();
        assert_eq!(t.to_string(), "2000-10-10T20:55:36Z");
        assert!(clf_time("time_local", "yesterday").is_err());
        let t = epoch_seconds("msec", &json!("1718010800.123")).unwrap();
        assert_eq!(t.to_string(), "2024-06-10T09:13:20.123Z");
        let t = rfc3339("time", &json!("2024-06-10T11:13:20+02:00")).unwrap();
        assert_eq!(t.to_string(), "2024-06-10T09:13:20Z");
    }
}
