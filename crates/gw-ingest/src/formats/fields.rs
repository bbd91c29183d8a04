//! Field readers shared by every log decoder (Kong, Azure APIM, AWS API Gateway, AWS ALB,
//! HAR, nginx, Envoy, Traefik): typed access to JSON members and text fields with rejects that
//! name the field and what was found, unknown-value handling, times, URLs and request targets,
//! addresses, HTTP versions, headers and the framing of JSON documents into records.
//!
//! Logs are loosely typed: numbers arrive as strings, unknown values as `null`, `""` or `"-"`,
//! times in several notations. These readers take a value the way a log means it and turn a
//! value that cannot mean anything into a reject naming the field, never a panic. Every reader
//! takes the field name first and the value second, and reads an unknown value as `None`.

use std::collections::HashMap;
use std::net::IpAddr;

use gw_model::{Body, BodyEncoding, Capture, Exchange, Header, Name, Server, Source, SourceKind};
use jiff::Timestamp;
use serde_json::Value;
use serde_json::value::RawValue;

use crate::decoder::{line_of, offset_in};
use crate::{DecodeCtx, DecodeError, Emit, Framing, RejectReason, Sample, Unit};

/// A JSON object record.
pub(crate) type Object = serde_json::Map<String, Value>;

/// `null`, `""` and `"-"` all mean "the source did not know" (`-` is what nginx, Envoy's text
/// operators, Traefik and the ALB print for an empty value).
pub(crate) fn is_unknown(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => known(s).is_none(),
        _ => false,
    }
}

/// A text field unless it is `""` or `"-"` (see [`is_unknown`]).
pub(crate) fn known(s: &str) -> Option<&str> {
    (!s.is_empty() && s != "-").then_some(s)
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

/// Parses a line as a JSON object, rejecting anything else.
pub(crate) fn parse_object(bytes: &[u8]) -> Result<Object, DecodeError> {
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

/// `found` in messages: the value itself for scalars (strings shortened to 60 characters),
/// its kind for objects and arrays (which can be any size).
fn shown(v: &Value) -> String {
    match v {
        Value::String(s) => {
            let cut = truncate(s, 60);
            if cut.len() < s.len() {
                format!("{:?}", format!("{cut}…"))
            } else {
                format!("{s:?}")
            }
        }
        Value::Number(n) => n.to_string(),
        other => kind_of(other).to_string(),
    }
}

/// The reject for a value that cannot mean what `field` holds:
/// `field "status": expected an integer, found "abc"`.
pub(crate) fn bad(field: &str, expected: &str, found: &Value) -> DecodeError {
    DecodeError::field(
        RejectReason::BadField,
        field,
        format!("expected {expected}, found {}", shown(found)),
    )
}

/// The first of `keys` present and known in `obj`, with the key it was found under.
pub(crate) fn first_of<'a>(
    obj: &'a Object,
    keys: &[&'static str],
) -> Option<(&'static str, &'a Value)> {
    keys.iter()
        .find_map(|k| obj.get(*k).filter(|v| !is_unknown(v)).map(|v| (*k, v)))
}

/// Reads the first of `keys` present and known in `obj` with `read`.
fn read_first<T>(
    obj: &Object,
    keys: &[&'static str],
    read: fn(&str, &Value) -> Result<Option<T>, DecodeError>,
) -> Result<Option<T>, DecodeError> {
    Ok(first_of(obj, keys)
        .map(|(k, v)| read(k, v))
        .transpose()?
        .flatten())
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

pub(crate) fn opt_string(
    obj: &Object,
    keys: &[&'static str],
) -> Result<Option<String>, DecodeError> {
    first_of(obj, keys).map(|(k, v)| string(k, v)).transpose()
}

/// A non-negative integer, as a JSON number (`5.0` included) or a decimal string.
pub(crate) fn unsigned(field: &str, v: &Value) -> Result<Option<u64>, DecodeError> {
    match v {
        _ if is_unknown(v) => Ok(None),
        Value::Number(n) => n
            .as_u64()
            .or_else(|| {
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f < 1.8e19)
                    .map(|f| f as u64)
            })
            .map(Some)
            .ok_or_else(|| bad(field, "a non-negative integer", v)),
        Value::String(s) => s
            .trim()
            .parse::<u64>()
            .map(Some)
            .map_err(|_| bad(field, "an integer", v)),
        other => Err(bad(field, "an integer", other)),
    }
}

pub(crate) fn opt_unsigned(
    obj: &Object,
    keys: &[&'static str],
) -> Result<Option<u64>, DecodeError> {
    read_first(obj, keys, unsigned)
}

/// A TCP port, as a JSON number or a decimal string.
pub(crate) fn port(field: &str, v: &Value) -> Result<Option<u16>, DecodeError> {
    unsigned(field, v)?
        .map(|p| u16::try_from(p).map_err(|_| bad(field, "a TCP port", v)))
        .transpose()
}

/// A finite number of either sign, as a JSON number or a string.
pub(crate) fn number(field: &str, v: &Value) -> Result<Option<f64>, DecodeError> {
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

/// A duration in milliseconds as gateways write it: negative values (`-1`) mean "not
/// measured" and read as unknown.
pub(crate) fn millis(field: &str, v: &Value) -> Result<Option<f64>, DecodeError> {
    Ok(number(field, v)?.filter(|n| *n >= 0.0))
}

/// A finite non-negative number (a duration or a size in an access log, where a negative
/// value is a corrupt line rather than "not measured").
pub(crate) fn non_negative(field: &str, v: &Value) -> Result<Option<f64>, DecodeError> {
    match number(field, v) {
        Ok(n) if n.is_none_or(|n| n >= 0.0) => Ok(n),
        _ => Err(bad(field, "a non-negative number", v)),
    }
}

pub(crate) fn opt_non_negative(
    obj: &Object,
    keys: &[&'static str],
) -> Result<Option<f64>, DecodeError> {
    read_first(obj, keys, non_negative)
}

/// An HTTP status. `0` is what Envoy, HAR, nginx and gateways write when no response was
/// sent, so it reads as unknown. `expected` words the reject for a value that is not a number:
/// the gateway-log and the access-log decoders word it differently (see [`status`] and
/// [`status_code`]) and their golden rejects keep the wording they were written with.
fn http_status(field: &str, v: &Value, expected: &str) -> Result<Option<u16>, DecodeError> {
    match unsigned(field, v).map_err(|_| bad(field, expected, v))? {
        None | Some(0) => Ok(None),
        Some(s @ 100..=599) => Ok(Some(s as u16)),
        Some(_) => Err(bad(field, "an HTTP status between 100 and 599", v)),
    }
}

/// An HTTP status in a gateway log (Kong, Azure APIM, AWS API Gateway, AWS ALB):
/// `expected an HTTP status, found "OK"`.
pub(crate) fn status(field: &str, v: &Value) -> Result<Option<u16>, DecodeError> {
    http_status(field, v, "an HTTP status")
}

/// An HTTP status code in an access log or archive (HAR, nginx, Envoy, Traefik):
/// `expected an HTTP status code, found "abc"`.
pub(crate) fn status_code(field: &str, v: &Value) -> Result<Option<u16>, DecodeError> {
    http_status(field, v, "an HTTP status code")
}

pub(crate) fn opt_status_code(
    obj: &Object,
    keys: &[&'static str],
) -> Result<Option<u16>, DecodeError> {
    read_first(obj, keys, status_code)
}

/// An IP address without a port, tolerating `[v6]` brackets.
pub(crate) fn ip_text(s: &str) -> Option<IpAddr> {
    match ip_port(s)? {
        (ip, None) => Some(ip),
        (_, Some(_)) => None,
    }
}

pub(crate) fn ip(field: &str, v: &Value) -> Result<Option<IpAddr>, DecodeError> {
    match v {
        _ if is_unknown(v) => Ok(None),
        Value::String(s) => ip_text(s)
            .map(Some)
            .ok_or_else(|| bad(field, "an IP address", v)),
        _ => Err(bad(field, "an IP address", v)),
    }
}

/// The authority a request was sent to (`Host`, `:authority`): host and port, or the whole
/// text as the host when its port is not a number.
pub(crate) fn set_authority(server: &mut Server, authority: String) {
    match split_host_port(&authority) {
        Some((host, port)) => {
            server.host = Some(host.to_string());
            server.port = port;
        }
        None => server.host = Some(authority),
    }
}

/// An address with an optional port (`203.0.113.45:51544`, `[2001:db8::1]:443`, `10.0.0.1`,
/// a bare `2001:db8::1`); `None` when it is not an IP address (a Unix socket path, a host
/// name) or the port is not a number.
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

/// Milliseconds since the Unix epoch, as a number or a string of digits.
pub(crate) fn epoch_millis(field: &str, v: &Value) -> Result<Option<Timestamp>, DecodeError> {
    let expected = "milliseconds since 1970";
    let Some(ms) = number(field, v).map_err(|_| bad(field, expected, v))? else {
        return Ok(None);
    };
    Timestamp::from_millisecond(ms as i64)
        .map(Some)
        .map_err(|_| bad(field, expected, v))
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

/// An RFC 3339 timestamp with an offset, converted to UTC.
pub(crate) fn rfc3339(field: &str, v: &Value) -> Result<Timestamp, DecodeError> {
    let Value::String(s) = v else {
        return Err(bad(field, "an RFC 3339 timestamp", v));
    };
    s.trim()
        .parse::<Timestamp>()
        .map_err(|_| bad(field, "an RFC 3339 timestamp with an offset", v))
}

const CLF_TIME: &str = "%d/%b/%Y:%H:%M:%S %z";

/// `$time_local` / Apache `%t`: `10/Oct/2000:13:55:36 -0700`.
pub(crate) fn clf_time(field: &str, s: &str) -> Result<Timestamp, DecodeError> {
    jiff::fmt::strtime::parse(CLF_TIME, s.trim())
        .and_then(|t| t.to_timestamp())
        .map_err(|_| {
            DecodeError::field(
                RejectReason::BadField,
                field,
                format!("expected a time like 10/Oct/2000:13:55:36 -0700, found {s:?}"),
            )
        })
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
    jiff::fmt::strtime::parse(CLF_TIME, s)
        .ok()?
        .to_timestamp()
        .ok()
}

/// A time field that may be text or epoch milliseconds.
pub(crate) fn timestamp(field: &str, v: &Value) -> Result<Option<Timestamp>, DecodeError> {
    match v {
        _ if is_unknown(v) => Ok(None),
        Value::Number(_) => epoch_millis(field, v),
        Value::String(s) if s.bytes().all(|b| b.is_ascii_digit()) => epoch_millis(field, v),
        Value::String(s) => timestamp_text(s)
            .map(Some)
            .ok_or_else(|| bad(field, "an RFC 3339 or common-log-format time", v)),
        _ => Err(bad(field, "a time", v)),
    }
}

/// `HTTP/1.1` → `1.1`, `HTTP/2.0` and `h2` → `2`, `HTTP/3` and `h3` → `3`; anything else kept
/// as written, empty or `-` → unknown.
pub(crate) fn http_version(proto: &str) -> Option<Name> {
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
        "2.0" => Name::from_static("2"),
        "3.0" => Name::from_static("3"),
        other => Name::from(other),
    })
}

/// A bare TLS version number (`1.3`, as APIM writes it) becomes `TLSv1.3` like the other sources.
pub(crate) fn tls_version(v: &str) -> String {
    if v.bytes().next().is_some_and(|b| b.is_ascii_digit()) {
        format!("TLSv{v}")
    } else {
        v.to_string()
    }
}

/// A method token: ASCII letters (and `-`/`_` some proxies use), as sent.
pub(crate) fn method_token(field: &str, s: &str) -> Result<Name, DecodeError> {
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
    Ok(Name::from(s))
}

/// At most `n` characters of `s`, for messages.
pub(crate) fn truncate(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// The parts of an absolute URL or of an origin-form request target, borrowed from it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct UrlParts<'a> {
    /// `None` for an origin-form target (`/p?q`).
    pub scheme: Option<&'a str>,
    /// `None` for an origin-form target or an empty authority.
    pub host: Option<&'a str>,
    pub port: Option<u16>,
    /// Raw path, percent-encoding kept; `/` when the URL has none.
    pub path: &'a str,
    /// Raw query without `?`.
    pub query: Option<&'a str>,
}

/// Splits an absolute URL (`https://user@host:8443/p?q#f`) without normalising anything
/// (percent-encoding kept, `#fragment` dropped). `None` when it has no `scheme://`, or an
/// authority whose port is not a number.
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
    let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (host, port) = split_host_port(hostport)?;
    let (path, query) = split_target(&rest[auth_end..]);
    Some(UrlParts {
        scheme: Some(scheme),
        host: Some(host).filter(|h| !h.is_empty()),
        port,
        path: if path.is_empty() { "/" } else { path },
        query,
    })
}

/// An absolute URL split as [`split_url`] does, or anything else taken as an origin-form
/// request target (`/p?q`) with no scheme and host.
pub(crate) fn split_url_or_target(url: &str) -> UrlParts<'_> {
    split_url(url).unwrap_or_else(|| {
        let (path, query) = split_target(url);
        UrlParts {
            scheme: None,
            host: None,
            port: None,
            path: if path.is_empty() { "/" } else { path },
            query,
        }
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

/// `host`, `host:port`, `[v6]`, `[v6]:port`, a bare IPv6 address; `None` when the port is not
/// a number.
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

/// The W3C trace id of a `traceparent` header (`00-<trace-id>-<span-id>-<flags>`).
pub(crate) fn trace_id(traceparent: &str) -> Option<String> {
    let mut parts = traceparent.trim().split('-');
    let _version = parts.next()?;
    let id = parts.next()?;
    (id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()) && id.bytes().any(|b| b != b'0'))
        .then(|| id.to_ascii_lowercase())
}

/// How [`keep_unmapped`] stores a member that is itself an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Nested {
    /// Flattened to dotted names (`kong.route.id`), as the gateway-log decoders keep them.
    Flatten,
    /// Kept as one object value under its own name, as the access-log decoders keep them.
    Keep,
}

/// Moves unmapped source members into `extra` as `prefix.name`, dropping unknown values.
pub(crate) fn keep_unmapped(
    extra: &mut Object,
    prefix: &str,
    members: impl IntoIterator<Item = (String, Value)>,
    nested: Nested,
) {
    for (k, v) in members {
        let name = format!("{prefix}.{k}");
        match v {
            Value::Object(inner) if nested == Nested::Flatten => {
                keep_unmapped(extra, &name, inner, nested);
            }
            v if is_unknown(&v) => {}
            v => {
                extra.insert(name, v);
            }
        }
    }
}

/// The members of `obj` whose key is not `mapped`, copied (for [`keep_unmapped`]).
pub(crate) fn unmapped<'a>(
    obj: &'a Object,
    mapped: impl Fn(&str) -> bool + 'a,
) -> impl Iterator<Item = (String, Value)> + 'a {
    obj.iter()
        .filter(move |(k, _)| !mapped(k))
        .map(|(k, v)| (k.clone(), v.clone()))
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
    method: Name,
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

/// Headers written as an object (`{"name": "v"}` or `{"name": ["v1", "v2"]}`), as a list of
/// `{name, value}` objects, or as a JSON string holding either (Log Analytics `dynamic`).
pub(crate) fn headers(field: &str, v: &Value) -> Result<Option<Vec<Header>>, DecodeError> {
    let mut out = Vec::new();
    match v {
        _ if is_unknown(v) => return Ok(None),
        Value::String(s) => {
            let inner: Value =
                serde_json::from_str(s).map_err(|_| bad(field, "headers as a JSON object", v))?;
            let mut out = headers(field, &inner)?;
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
                            if let Ok(t) = string(name, item) {
                                out.push(Header::new(name.as_str(), t));
                            }
                        }
                    }
                    other => {
                        if let Ok(t) = string(name, other) {
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
                    .and_then(|v| string(field, v).ok());
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

    /// A seed that reads any JSON value with itself as the visitor, and the visitor methods
    /// that skip every value but objects (each walker defines its own `visit_map`).
    macro_rules! skip_all_but_objects {
        ($walker:ident) => {
            impl<'de> DeserializeSeed<'de> for $walker<'_> {
                type Value = ();
                fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
                    d.deserialize_any(self)
                }
            }
        };
        () => {
            type Value = ();
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
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

    skip_all_but_objects!(Walk);

    impl<'de> Visitor<'de> for Walk<'_> {
        skip_all_but_objects!();
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

    skip_all_but_objects!(Keys);

    impl<'de> Visitor<'de> for Keys<'_> {
        skip_all_but_objects!();
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            while let Some(key) = map.next_key::<String>()? {
                map.next_value::<IgnoredAny>()?;
                self.0.push(key);
            }
            Ok(())
        }
    }
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

/// A record's members keyed by lower-cased name (gateways spell one column in camelCase,
/// PascalCase or with a `$context.` prefix), each with the name the source wrote. Readers take
/// members out, so what is left at the end is the unmapped remainder.
#[derive(Debug, Default)]
pub(crate) struct Columns {
    by_name: HashMap<String, (String, Value)>,
}

impl Columns {
    pub fn with_capacity(n: usize) -> Self {
        Columns {
            by_name: HashMap::with_capacity(n),
        }
    }

    /// Adds a member under its lookup `key`, keeping the `name` the source wrote.
    pub fn insert(&mut self, key: String, name: String, v: Value) {
        self.by_name.insert(key, (name, v));
    }

    /// Whether any of `names` is present and known.
    pub fn has(&self, names: &[&str]) -> bool {
        names
            .iter()
            .any(|n| self.by_name.get(*n).is_some_and(|(_, v)| !is_unknown(v)))
    }

    /// Removes every one of `names` and returns the first that is known, with the name the
    /// source wrote; unknown values read as absent.
    pub fn take(&mut self, names: &[&str]) -> Option<(String, Value)> {
        let mut found = None;
        for n in names {
            if let Some((k, v)) = self.by_name.remove(*n)
                && found.is_none()
                && !is_unknown(&v)
            {
                found = Some((k, v));
            }
        }
        found
    }

    pub fn text(&mut self, names: &[&str]) -> Option<String> {
        self.take(names).and_then(|(_, v)| text(&v))
    }

    /// Takes the first known of `names` and reads it with `read`, naming the column as written.
    pub fn map<T>(
        &mut self,
        names: &[&str],
        read: impl Fn(&str, &Value) -> Result<Option<T>, DecodeError>,
    ) -> Result<Option<T>, DecodeError> {
        match self.take(names) {
            Some((k, v)) => read(&k, &v),
            None => Ok(None),
        }
    }

    /// The members not taken, sorted by the name the source wrote.
    pub fn into_rest(self) -> Vec<(String, Value)> {
        let mut rest: Vec<(String, Value)> = self.by_name.into_values().collect();
        rest.sort_by(|a, b| a.0.cmp(&b.0));
        rest
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

    /// Emits the result of decoding this entry: the record with its id (from `index`) and
    /// `raw_ref`, or the reject pointing at the entry.
    pub fn finish(
        &self,
        result: Result<Exchange, DecodeError>,
        ctx: &DecodeCtx,
        out: &mut dyn Emit,
    ) {
        match result {
            Ok(mut x) => {
                ctx.finish_record(&mut x, self.line, self.index, self.bytes);
                out.record(x);
            }
            Err(err) => self.reject(out, err),
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

/// JSON sources written as one document (a top-level array, or pretty-printed objects) are
/// framed whole; anything else is NDJSON, one record a line.
pub(crate) fn json_framing(sample: &Sample<'_>) -> Framing {
    if first_byte(sample.head) == Some(b'[') || sample.multiline_json {
        Framing::Document
    } else {
        Framing::Lines
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
        assert_eq!(number("f", &json!("45")).unwrap(), Some(45.0));
        assert_eq!(number("f", &json!("-")).unwrap(), None);
        assert_eq!(number("f", &json!(-2.5)).unwrap(), Some(-2.5));
        assert_eq!(millis("f", &json!(-1)).unwrap(), None);
        assert_eq!(non_negative("t", &json!("0.250")).unwrap(), Some(0.25));
        assert_eq!(
            non_negative("t", &json!(-5)).unwrap_err().to_string(),
            "field \"t\": expected a non-negative number, found -5"
        );
        assert_eq!(unsigned("f", &json!("1877")).unwrap(), Some(1877));
        assert_eq!(unsigned("f", &json!(5.0)).unwrap(), Some(5));
        assert_eq!(unsigned("f", &json!(null)).unwrap(), None);
        assert_eq!(
            number("f", &json!("abc")).unwrap_err().field.as_deref(),
            Some("f")
        );
        assert_eq!(port("p", &json!("8443")).unwrap(), Some(8443));
        assert_eq!(
            port("p", &json!("70000")).unwrap_err().to_string(),
            "field \"p\": expected a TCP port, found \"70000\""
        );
        assert_eq!(text(&json!(12)), Some("12".into()));
        assert!(is_unknown(&json!("-")));
    }

    #[test]
    fn rejects_name_field_and_value() {
        let e = unsigned("status", &json!("abc")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "field \"status\": expected an integer, found \"abc\""
        );
        let e = string("f", &json!({"a": 1})).unwrap_err();
        assert_eq!(
            e.to_string(),
            "field \"f\": expected a string, found an object"
        );
        let long = "x".repeat(100);
        let e = number("f", &json!(long)).unwrap_err().to_string();
        assert!(
            e.ends_with(&format!("found \"{}…\"", "x".repeat(60))),
            "{e}"
        );
    }

    #[test]
    fn statuses_keep_their_source_wording() {
        assert_eq!(status("s", &json!("0")).unwrap(), None);
        assert_eq!(status_code("s", &json!(0)).unwrap(), None);
        assert_eq!(status("s", &json!("204")).unwrap(), Some(204));
        assert_eq!(
            status("s", &json!("OK")).unwrap_err().message,
            "expected an HTTP status, found \"OK\""
        );
        assert_eq!(
            status_code("s", &json!("abc")).unwrap_err().message,
            "expected an HTTP status code, found \"abc\""
        );
        for read in [status, status_code] {
            assert_eq!(
                read("s", &json!(700)).unwrap_err().message,
                "expected an HTTP status between 100 and 599, found 700"
            );
        }
    }

    #[test]
    fn times_in_every_notation_are_utc() {
        let want: Timestamp = "2024-06-10T09:13:20.123Z".parse().unwrap();
        for s in [
            "2024-06-10T09:13:20.1230000Z",
            "2024-06-10T11:13:20.123+02:00",
            "2024-06-10T09:13:20.123",
        ] {
            assert_eq!(timestamp("t", &json!(s)).unwrap(), Some(want), "{s}");
        }
        assert_eq!(timestamp("t", &json!("1718010800123")).unwrap(), Some(want));
        assert_eq!(
            timestamp("t", &json!(1718010800123u64)).unwrap(),
            Some(want)
        );
        let clf = timestamp("t", &json!("10/Jun/2024:11:13:20 +0200"))
            .unwrap()
            .unwrap();
        assert_eq!(clf, "2024-06-10T09:13:20Z".parse::<Timestamp>().unwrap());
        assert!(timestamp("t", &json!("yesterday")).is_err());

        let t = clf_time("time_local", "10/Oct/2000:13:55:36 -0700").unwrap();
        assert_eq!(t.to_string(), "2000-10-10T20:55:36Z");
        assert!(clf_time("time_local", "yesterday").is_err());
        let t = epoch_seconds("msec", &json!("1718010800.123")).unwrap();
        assert_eq!(t.to_string(), "2024-06-10T09:13:20.123Z");
        let t = rfc3339("time", &json!("2024-06-10T11:13:20+02:00")).unwrap();
        assert_eq!(t.to_string(), "2024-06-10T09:13:20Z");
    }

    #[test]
    fn versions_are_normalised() {
        assert_eq!(http_version("HTTP/1.1").as_deref(), Some("1.1"));
        assert_eq!(http_version("http/2.0").as_deref(), Some("2"));
        assert_eq!(http_version("HTTP/2").as_deref(), Some("2"));
        assert_eq!(http_version("h2").as_deref(), Some("2"));
        assert_eq!(http_version("h3").as_deref(), Some("3"));
        assert_eq!(http_version("HTTP/3.0").as_deref(), Some("3"));
        assert_eq!(http_version(""), None);
        assert_eq!(http_version("-"), None);
        assert_eq!(tls_version("1.3"), "TLSv1.3");
        assert_eq!(tls_version("TLSv1.2"), "TLSv1.2");
    }

    #[test]
    fn urls_split_into_raw_parts() {
        let u = split_url("https://user@api.example.com:8443/v1/a%2Fb?q=%20x#frag").unwrap();
        assert_eq!(
            u,
            UrlParts {
                scheme: Some("https"),
                host: Some("api.example.com"),
                port: Some(8443),
                path: "/v1/a%2Fb",
                query: Some("q=%20x")
            }
        );
        let u = split_url("http://[2001:db8::1]:8080?q=1").unwrap();
        assert_eq!(
            (u.host, u.port, u.path, u.query),
            (Some("2001:db8::1"), Some(8080), "/", Some("q=1"))
        );
        let u = split_url("http://2001:db8::1/x").unwrap();
        assert_eq!((u.host, u.port), (Some("2001:db8::1"), None));
        assert!(split_url("/relative").is_none());
        assert!(split_url("http://host:port/").is_none());
        assert!(split_url("http://host:99999/").is_none());

        let u = split_url_or_target("/only/path?");
        assert_eq!(
            (u.scheme, u.host, u.path, u.query),
            (None, None, "/only/path", Some(""))
        );
        assert_eq!(split_url_or_target("?x").path, "/");
        assert_eq!(split_target("/a?b#c"), ("/a", Some("b")));
        assert_eq!(split_target("/a"), ("/a", None));
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
        assert_eq!(ip_port("nonsense:12"), None);
        assert_eq!(ip_port("unix:/var/run/sock"), None);
        assert_eq!(ip_text("[2001:db8::1]"), "2001:db8::1".parse().ok());
        assert!(ip("client_ip", &json!("203.0.113.999")).is_err());
        let chain = forwarded_for("203.0.113.45, unknown, 10.0.0.1:8080");
        assert_eq!(chain.len(), 2);
    }

    #[test]
    fn trace_ids_come_from_traceparent() {
        assert_eq!(
            trace_id(" 00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01").as_deref(),
            Some("4bf92f3577b34da6a3ce929d0e0e4736")
        );
        assert_eq!(
            trace_id("00-00000000000000000000000000000000-00f067aa0ba902b7-01"),
            None
        );
        assert_eq!(trace_id("garbage"), None);
    }

    #[test]
    fn unmapped_members_flattened_or_kept_whole() {
        let obj = json!({"a": 1, "n": {"x": "-", "y": 2}, "m": "mapped", "u": ""});
        let Value::Object(obj) = obj else {
            unreachable!()
        };
        let mut flat = Object::new();
        keep_unmapped(&mut flat, "kong", obj.clone(), Nested::Flatten);
        assert_eq!(
            Value::Object(flat),
            json!({"kong.a": 1, "kong.n.y": 2, "kong.m": "mapped"})
        );
        let mut whole = Object::new();
        keep_unmapped(
            &mut whole,
            "envoy",
            unmapped(&obj, |k| k == "m"),
            Nested::Keep,
        );
        assert_eq!(
            Value::Object(whole),
            json!({"envoy.a": 1, "envoy.n": {"x": "-", "y": 2}})
        );
    }

    #[test]
    fn columns_take_the_first_known_name() {
        let mut c = Columns::with_capacity(4);
        c.insert("status".into(), "Status".into(), json!("-"));
        c.insert("responsecode".into(), "ResponseCode".into(), json!("200"));
        c.insert("zeta".into(), "Zeta".into(), json!(1));
        c.insert("alpha".into(), "Alpha".into(), json!(2));
        assert!(c.has(&["responsecode"]));
        assert!(!c.has(&["status"]));
        assert_eq!(
            c.map(&["status", "responsecode"], status).unwrap(),
            Some(200)
        );
        assert!(!c.has(&["status"]), "every name asked for is taken");
        let e = c
            .map(&["zeta"], |k, _| {
                Err::<Option<u8>, _>(DecodeError::missing(k))
            })
            .unwrap_err();
        assert_eq!(e.field.as_deref(), Some("Zeta"));
        let rest: Vec<String> = c.into_rest().into_iter().map(|(k, _)| k).collect();
        assert_eq!(rest, ["Alpha"]);
    }

    #[test]
    fn headers_in_every_shape() {
        let h = headers("h", &json!({"Accept": ["a", "b"], "x-n": 3}))
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
        let h = headers("h", &json!("{\"Host\":\"x\",\"Accept\":\"y\"}"))
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
        let mut h = headers("h", &json!({"z":"1","a":["2","3"],"m":"4"}))
            .unwrap()
            .unwrap();
        restore_order(&mut h, order_of(&orders, "request.headers"));
        let names: Vec<_> = h
            .iter()
            .map(|h| (h.name.as_str(), h.value.as_str()))
            .collect();
        assert_eq!(names, [("z", "1"), ("a", "2"), ("a", "3"), ("m", "4")]);
        let h = headers("h", &json!([{"name": "A", "value": "1"}]))
            .unwrap()
            .unwrap();
        assert_eq!(h, vec![Header::new("a", "1")]);
        assert!(headers("h", &json!(5)).is_err());
    }

    #[test]
    fn json_values_of_lines_arrays_and_concatenated_documents() {
        struct Seen(usize);
        impl Emit for Seen {
            fn record(&mut self, _: gw_model::Exchange) {}
            fn reject(&mut self, _: DecodeError, _: &[u8]) {
                self.0 += 1;
            }
        }
        let doc = b"[\n {\"a\":1},\n {\"b\":2}\n]\n{\"c\":3}\n{bad";
        let mut seen = Seen(0);
        let mut calls = Vec::new();
        for_each_json_value(
            Unit {
                bytes: doc,
                line: 10,
            },
            &mut seen,
            |e, _| calls.push((e.line, e.path.clone(), e.index)),
        );
        assert_eq!(
            calls,
            vec![
                (11, Some("#0[0]".into()), 0),
                (12, Some("#0[1]".into()), 1),
                (14, Some("#1".into()), 2)
            ]
        );
        assert_eq!(seen.0, 1, "the broken tail is one reject");
    }
}
