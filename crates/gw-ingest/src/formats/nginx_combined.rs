//! NGINX / Apache `combined` access log (`nginx.combined`):
//!
//! ```text
//! $remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"
//! ```
//!
//! Also read: the Common Log Format (the same without referer and user agent), and the `main`
//! variant many distributions ship, which appends `"$http_x_forwarded_for"`; any further
//! fields are kept in `extra` as `nginx.extra_fields`. There is no Host, so `server.host` is
//! null unless the client sent an absolute-form target. The referer and user agent are the only
//! header values, so `request.headers` stays null (an empty list would claim "no
//! Authorization header"); the referer is kept as `extra["nginx.http_referer"]`.
//!
//! Request lines (`$request`), as scanners and broken clients produce them:
//! - `METHOD TARGET HTTP/x.y`: mapped in full.
//! - `METHOD TARGET` (HTTP/0.9 style, no version): accepted, `http_version` null; the method
//!   and target are still what the server saw and routed.
//! - A target with spaces (`GET /a b HTTP/1.1`): accepted; the target is everything between the
//!   method and the version.
//! - `-` or empty (the client closed or timed out before sending a request line; nginx logs
//!   these with status 400 or 408): rejected, there is no method or path to record.
//! - Anything whose first word is not an HTTP method token (TLS handshakes or other binary
//!   sent to a plain-HTTP port, which nginx logs as `\x16\x03\x01...`): rejected as malformed.

use gw_model::{Name, SourceKind};
use serde_json::Value;

use super::fields::{
    access_log_record, clf_time, emit_line, forwarded_for, http_version, known, split_target,
    split_url, status_code, truncate, unsigned,
};
use crate::{DecodeCtx, DecodeError, Decoder, Emit, Framing, RejectReason, Sample, Unit};

pub struct NginxCombined;

impl Decoder for NginxCombined {
    fn kind(&self) -> SourceKind {
        SourceKind::NginxCombined
    }

    fn framing(&self, _sample: &Sample<'_>) -> Framing {
        Framing::Lines
    }

    fn sniff(&self, sample: &Sample<'_>) -> u8 {
        let Ok(line) = std::str::from_utf8(sample.first_line) else {
            return 0;
        };
        if line.starts_with('{') || line.starts_with('[') {
            return 0;
        }
        match tokens(line) {
            Ok(t) if looks_combined(&t) => {
                if record(&t).is_ok() {
                    90
                } else {
                    // The shape is right but the first record is bad; still this format.
                    60
                }
            }
            _ => 0,
        }
    }

    fn decode(&self, unit: Unit<'_>, ctx: &DecodeCtx, out: &mut dyn Emit) {
        let result = match std::str::from_utf8(unit.bytes) {
            Ok(line) => tokens(line).and_then(|t| record(&t)),
            Err(e) => Err(DecodeError::new(
                RejectReason::InvalidUtf8,
                format!(
                    "the line is not valid UTF-8 (byte {} of the line); nginx and Apache escape \
                     non-ASCII bytes, so this is not an access-log line",
                    e.valid_up_to() + 1
                ),
            )),
        };
        emit_line(unit, ctx, out, result);
    }
}

/// One field of the line: a bare word, a `[bracketed]` time or a `"quoted"` string.
#[derive(Debug, PartialEq, Eq)]
enum Token {
    Bare(String),
    Bracketed(String),
    Quoted(String),
}

impl Token {
    fn text(&self) -> &str {
        match self {
            Token::Bare(s) | Token::Bracketed(s) | Token::Quoted(s) => s,
        }
    }
}

/// Splits a line into fields. Inside quotes `\"` and `\\` are escapes (Apache and nginx write
/// a quote in the request line as `\"` and `\x22`); other escapes such as `\x16` are kept as
/// written.
fn tokens(line: &str) -> Result<Vec<Token>, DecodeError> {
    let mut out = Vec::with_capacity(10);
    let mut rest = line.trim_matches([' ', '\t']);
    while !rest.is_empty() {
        let (tok, after) = match rest.as_bytes()[0] {
            b'"' => {
                let mut text = String::new();
                let mut chars = rest[1..].char_indices();
                let mut end = None;
                while let Some((i, c)) = chars.next() {
                    match c {
                        '"' => {
                            end = Some(i + 2);
                            break;
                        }
                        '\\' => match chars.next() {
                            Some((_, '"')) => text.push('"'),
                            Some((_, '\\')) => text.push('\\'),
                            Some((_, other)) => {
                                text.push('\\');
                                text.push(other);
                            }
                            None => text.push('\\'),
                        },
                        c => text.push(c),
                    }
                }
                let end = end.ok_or_else(|| {
                    DecodeError::new(
                        RejectReason::Malformed,
                        format!(
                            "unterminated quoted field at byte {}",
                            line.len() - rest.len() + 1
                        ),
                    )
                })?;
                (Token::Quoted(text), &rest[end..])
            }
            b'[' => {
                let end = rest.find(']').ok_or_else(|| {
                    DecodeError::new(
                        RejectReason::Malformed,
                        format!(
                            "unterminated [time] field at byte {}",
                            line.len() - rest.len() + 1
                        ),
                    )
                })?;
                (Token::Bracketed(rest[1..end].to_string()), &rest[end + 1..])
            }
            _ => {
                let end = rest.find([' ', '\t']).unwrap_or(rest.len());
                (Token::Bare(rest[..end].to_string()), &rest[end..])
            }
        };
        out.push(tok);
        rest = after.trim_start_matches([' ', '\t']);
    }
    Ok(out)
}

fn looks_combined(t: &[Token]) -> bool {
    t.len() >= 7
        && matches!(t[0], Token::Bare(_))
        && matches!(t[3], Token::Bracketed(_))
        && matches!(t[4], Token::Quoted(_))
        && matches!(t[5], Token::Bare(_))
}

fn field_err(reason: RejectReason, field: &str, msg: impl Into<String>) -> DecodeError {
    DecodeError::field(reason, field, msg)
}

fn record(t: &[Token]) -> Result<gw_model::Exchange, DecodeError> {
    if !looks_combined(t) {
        return Err(DecodeError::new(
            RejectReason::Malformed,
            format!(
                "expected the combined log format (addr - user [time] \"request\" status bytes \"referer\" \"agent\"), \
                 found {} fields",
                t.len()
            ),
        ));
    }
    let observed_at = clf_time("time_local", t[3].text())?;
    let request = t[4].text();
    let Some(request) = known(request.trim()) else {
        return Err(field_err(
            RejectReason::MissingField,
            "request",
            "no request line (\"-\"): the client sent no complete request",
        ));
    };
    let (method, target, version) = split_request_line(request)?;

    let (path, query, absolute) = match split_url(target) {
        Some(u) if target.starts_with("http://") || target.starts_with("https://") => {
            (u.path, u.query, Some((u.scheme, u.host, u.port)))
        }
        _ => {
            let (p, q) = split_target(target);
            (p, q, None)
        }
    };
    if path.is_empty() {
        return Err(field_err(
            RejectReason::BadField,
            "request",
            "the request target has no path",
        ));
    }
    let mut x = access_log_record(
        SourceKind::NginxCombined,
        observed_at,
        Name::from(method),
        path,
    );
    x.request.query = query.map(str::to_string);
    x.request.http_version = version.and_then(http_version);
    if let Some((scheme, host, port)) = absolute {
        // An absolute-form target (proxy requests, scanners) names the authority asked for.
        x.request.scheme = scheme.map(Name::from_ascii_lowercase);
        x.server.host = Some(host.unwrap_or_default().to_string());
        x.server.port = port;
    }

    let addr = t[0].text();
    x.client.ip = addr.parse().ok();
    if x.client.ip.is_none() && known(addr).is_some() {
        // `$remote_addr` is a Unix socket (`unix:`) or Apache logged a host name (HostnameLookups).
        x.extra
            .insert("nginx.remote_addr".into(), Value::from(addr));
    }
    if let Some(user) = known(t[2].text()) {
        x.extra
            .insert("nginx.remote_user".into(), Value::from(user));
    }
    if let Some(ident) = known(t[1].text()) {
        x.extra.insert("nginx.ident".into(), Value::from(ident));
    }

    let status = t[5].text();
    x.response.status = status_code("status", &Value::from(status))?;
    // Apache's %b writes `-` for a response without a body; nginx writes 0.
    let body_bytes = unsigned("body_bytes_sent", &Value::from(t[6].text()))?.unwrap_or(0);
    x.response.body = Some(super::fields::size_only_body(body_bytes));

    if let Some(referer) = t.get(7).and_then(|tok| known(tok.text())) {
        x.extra
            .insert("nginx.http_referer".into(), Value::from(referer));
    }
    if let Some(tok) = t.get(8) {
        x.client.user_agent = known(tok.text()).map(str::to_string);
    }
    if let Some(xff) = t.get(9).and_then(|tok| known(tok.text())) {
        x.client.forwarded_for = forwarded_for(xff);
        if x.client.forwarded_for.is_empty() {
            x.extra
                .insert("nginx.http_x_forwarded_for".into(), Value::from(xff));
        }
    }
    if t.len() > 10 {
        let rest: Vec<Value> = t[10..].iter().map(|t| Value::from(t.text())).collect();
        x.extra
            .insert("nginx.extra_fields".into(), Value::Array(rest));
    }
    Ok(x)
}

/// `METHOD TARGET [HTTP/x.y]`, see the module docs for what is accepted.
fn split_request_line(request: &str) -> Result<(&str, &str, Option<&str>), DecodeError> {
    let (method, rest) = request.split_once(' ').unwrap_or((request, ""));
    let is_token = !method.is_empty()
        && method.len() <= 32
        && method
            .bytes()
            .all(|b| b.is_ascii_alphabetic() || b == b'-' || b == b'_');
    if !is_token {
        return Err(field_err(
            RejectReason::Malformed,
            "request",
            format!(
                "expected \"METHOD /path HTTP/x.y\", found {:?} (not an HTTP request: binary data or a \
                 non-HTTP protocol sent to an HTTP port)",
                truncate(request, 60)
            ),
        ));
    }
    let rest = rest.trim();
    let (target, version) = match rest.rsplit_once(' ') {
        Some((t, v)) if v.starts_with("HTTP/") => (t.trim(), Some(v)),
        _ if rest.starts_with("HTTP/") => ("", Some(rest)),
        _ => (rest, None),
    };
    if target.is_empty() {
        return Err(field_err(
            RejectReason::Malformed,
            "request",
            format!("the request line {:?} has no target", truncate(request, 60)),
        ));
    }
    Ok((method, target, version))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample_of;

    fn decode(line: &str) -> Result<gw_model::Exchange, DecodeError> {
        tokens(line).and_then(|t| record(&t))
    }

    #[test]
    fn reference_example() {
        let x = decode(r#"203.0.113.45 - - [10/Jun/2024:09:13:20 +0000] "GET /v1/orders/1042?expand=items HTTP/1.1" 200 1877 "-" "okhttp/4.12.0""#).unwrap();
        assert_eq!(x.observed_at.to_string(), "2024-06-10T09:13:20Z");
        assert_eq!(x.client.ip, Some("203.0.113.45".parse().unwrap()));
        assert_eq!(
            (x.request.method.as_str(), x.request.path.as_str()),
            ("GET", "/v1/orders/1042")
        );
        assert_eq!(x.request.query.as_deref(), Some("expand=items"));
        assert_eq!(x.request.http_version.as_deref(), Some("1.1"));
        assert_eq!(x.response.status, Some(200));
        assert_eq!(x.response.body.as_ref().and_then(|b| b.size), Some(1877));
        assert_eq!(x.client.user_agent.as_deref(), Some("okhttp/4.12.0"));
        assert_eq!(x.server.host, None);
        assert_eq!(x.request.headers, None);
        assert!(x.extra.is_empty());
    }

    #[test]
    fn time_local_is_converted_to_utc() {
        let x = decode(r#"192.0.2.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326 "http://www.example.com/start.html" "Mozilla/4.08""#).unwrap();
        assert_eq!(x.observed_at.to_string(), "2000-10-10T20:55:36Z");
        assert_eq!(
            x.extra.get("nginx.remote_user"),
            Some(&Value::from("frank"))
        );
        assert_eq!(
            x.extra.get("nginx.http_referer"),
            Some(&Value::from("http://www.example.com/start.html"))
        );
    }

    #[test]
    fn main_format_and_common_log_format() {
        let x = decode(r#"10.0.0.2 - - [10/Jun/2024:09:13:20 +0000] "POST /login HTTP/1.1" 302 0 "-" "curl/8.0" "203.0.113.9, 10.0.0.1""#).unwrap();
        assert_eq!(x.client.forwarded_for.len(), 2);
        let x =
            decode(r#"10.0.0.2 - - [10/Jun/2024:09:13:20 +0000] "GET / HTTP/1.0" 200 -"#).unwrap();
        assert_eq!(x.response.body.unwrap().size, Some(0));
        assert_eq!(x.client.user_agent, None);
    }

    #[test]
    fn odd_request_lines() {
        let x = decode(
            r#"198.51.100.3 - - [10/Jun/2024:09:13:20 +0000] "GET /index.html" 200 10 "-" "-""#,
        )
        .unwrap();
        assert_eq!(
            (x.request.path.as_str(), x.request.http_version.as_deref()),
            ("/index.html", None)
        );
        let x = decode(r#"198.51.100.3 - - [10/Jun/2024:09:13:20 +0000] "GET http://evil.example:8080/x?y HTTP/1.1" 400 0 "-" "-""#).unwrap();
        assert_eq!(x.server.host.as_deref(), Some("evil.example"));
        assert_eq!(
            (x.request.path.as_str(), x.request.query.as_deref()),
            ("/x", Some("y"))
        );
        let x = decode(r#"198.51.100.3 - - [10/Jun/2024:09:13:20 +0000] "GET /a \"b\" c HTTP/1.1" 404 0 "-" "-""#).unwrap();
        assert_eq!(x.request.path, "/a \"b\" c");
        let e = decode(r#"198.51.100.3 - - [10/Jun/2024:09:13:20 +0000] "-" 400 0 "-" "-""#)
            .unwrap_err();
        assert_eq!(
            (e.reason, e.field.as_deref()),
            (RejectReason::MissingField, Some("request"))
        );
        let e = decode(r#"198.51.100.3 - - [10/Jun/2024:09:13:20 +0000] "\x16\x03\x01\x00\xA5\x01" 400 157 "-" "-""#).unwrap_err();
        assert_eq!(e.reason, RejectReason::Malformed);
        assert!(e.message.contains("not an HTTP request"), "{e}");
    }

    #[test]
    fn bad_fields_are_named() {
        let e = decode(
            r#"198.51.100.3 - - [10/Jun/2024:09:13:20 +0000] "GET / HTTP/1.1" abc 0 "-" "-""#,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "field \"status\": expected an HTTP status code, found \"abc\""
        );
        let e =
            decode(r#"198.51.100.3 - - [yesterday] "GET / HTTP/1.1" 200 0 "-" "-""#).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("time_local"));
        let e =
            decode(r#"198.51.100.3 - - [10/Jun/2024:09:13:20 +0000] "GET / HTTP/1.1"#).unwrap_err();
        assert_eq!(e.reason, RejectReason::Malformed);
    }

    #[test]
    fn sniff() {
        let line = br#"203.0.113.45 - - [10/Jun/2024:09:13:20 +0000] "GET / HTTP/1.1" 200 1877 "-" "okhttp/4.12.0""#;
        assert_eq!(sample_of(line, |s| NginxCombined.sniff(s)), 90);
        assert_eq!(sample_of(br#"{"a":1}"#, |s| NginxCombined.sniff(s)), 0);
        assert_eq!(sample_of(b"hello world", |s| NginxCombined.sniff(s)), 0);
    }
}
