//! AWS Application Load Balancer access logs (reference A5.2): space-separated fields, some in
//! double quotes, one request per line. AWS appends new fields at the end over time, so fields
//! after the documented ones are kept in `extra` instead of refusing the line.
//!
//! Times are seconds with `-1` for "not measured" (the target never answered); the log has no
//! headers and no bodies, so records are `access_log` captures.

use gw_model::{
    Capture, Exchange, GatewayError, GatewayInfo, Name, Source, SourceKind, Tls, Upstream,
};
use jiff::Timestamp;
use serde_json::Value;

use super::fields;
use crate::{DecodeCtx, DecodeError, Decoder, Emit, Framing, RejectReason, Sample, Unit};

pub struct AwsAlb;

/// Connection types ALB writes in the first field.
const TYPES: &[&str] = &["http", "https", "h2", "grpcs", "ws", "wss"];

/// Fields 21 and later, by position: kept in `extra` under these names.
const LATER_FIELDS: &[&str] = &[
    "matched_rule_priority",
    "request_creation_time",
    "actions_executed",
    "redirect_url",
    "error_reason",
    "target_port_list",
    "target_status_code_list",
    "classification",
    "classification_reason",
    "conn_trace_id",
];

/// 0-based positions of the double-quoted fields among the first 25.
const QUOTED: &[usize] = &[12, 13, 17, 18, 19, 22, 23, 24];

/// The fields every line must have: through `"request"`.
const REQUIRED_FIELDS: usize = 13;

impl Decoder for AwsAlb {
    fn kind(&self) -> SourceKind {
        SourceKind::AwsAlb
    }

    fn framing(&self, _sample: &Sample<'_>) -> Framing {
        Framing::Lines
    }

    fn sniff(&self, sample: &Sample<'_>) -> u8 {
        let Ok(line) = std::str::from_utf8(sample.first_line) else {
            return 0;
        };
        let fields = match split_fields(line) {
            Ok(f) => f,
            Err(_) => return 0,
        };
        let shape = fields.len() >= REQUIRED_FIELDS
            && TYPES.contains(&fields[0].text)
            && fields[1].text.parse::<Timestamp>().is_ok()
            && fields::ip_port(fields[3].text).is_some();
        match (shape, fields.get(2).map(|f| f.text)) {
            (true, Some(elb)) if elb.starts_with("app/") => 95,
            (true, _) => 70,
            _ => 0,
        }
    }

    fn decode(&self, unit: Unit<'_>, ctx: &DecodeCtx, out: &mut dyn Emit) {
        let result = std::str::from_utf8(unit.bytes)
            .map_err(|e| {
                DecodeError::new(
                    RejectReason::InvalidUtf8,
                    format!("the line is not UTF-8: {e}"),
                )
            })
            .and_then(decode_line);
        fields::emit_line(unit, ctx, out, result);
    }
}

/// One field of the line; `quoted` fields had double quotes around them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Field<'a> {
    text: &'a str,
    quoted: bool,
}

/// Splits on single spaces, honouring double quotes (`\"` inside quotes does not end the field).
fn split_fields(line: &str) -> Result<Vec<Field<'_>>, DecodeError> {
    let bytes = line.as_bytes();
    let mut fields = Vec::with_capacity(32);
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b' ' {
            i += 1;
            continue;
        }
        if bytes[i] == b'"' {
            let start = i + 1;
            let mut j = start;
            while j < bytes.len() && bytes[j] != b'"' {
                j += if bytes[j] == b'\\' { 2 } else { 1 };
            }
            if j >= bytes.len() {
                return Err(DecodeError::new(
                    RejectReason::Malformed,
                    format!(
                        "field {} opens a quote that is never closed",
                        fields.len() + 1
                    ),
                ));
            }
            fields.push(Field {
                text: &line[start..j],
                quoted: true,
            });
            i = j + 1;
        } else {
            let end = memchr::memchr(b' ', &bytes[i..]).map_or(bytes.len(), |n| i + n);
            fields.push(Field {
                text: &line[i..end],
                quoted: false,
            });
            i = end;
        }
    }
    Ok(fields)
}

fn known<'a>(f: Option<&Field<'a>>) -> Option<&'a str> {
    f.and_then(|f| fields::known(f.text))
}

/// ALB escapes quotes and backslashes inside quoted fields.
fn unescape(s: &str) -> String {
    if !s.contains('\\') {
        return s.to_string();
    }
    s.replace("\\\"", "\"").replace("\\\\", "\\")
}

fn seconds(f: &Field<'_>, name: &str) -> Result<Option<f64>, DecodeError> {
    fields::millis(name, &Value::String(f.text.to_string()))
}

fn field_value(
    f: Option<&Field<'_>>,
    name: &str,
    parse: fn(&str, &Value) -> Result<Option<u64>, DecodeError>,
) -> Result<Option<u64>, DecodeError> {
    match known(f) {
        Some(t) => parse(name, &Value::String(t.to_string())),
        None => Ok(None),
    }
}

fn status(f: Option<&Field<'_>>, name: &str) -> Result<Option<u16>, DecodeError> {
    match known(f) {
        Some(t) => fields::status(name, &Value::String(t.to_string())),
        None => Ok(None),
    }
}

fn decode_line(line: &str) -> Result<Exchange, DecodeError> {
    let f = split_fields(line)?;
    if f.len() < REQUIRED_FIELDS {
        return Err(DecodeError::new(
            RejectReason::Malformed,
            format!(
                "expected at least {REQUIRED_FIELDS} space-separated fields (type … \"request\"), found {}",
                f.len()
            ),
        ));
    }
    // A stray quote shifts every later field; the quoting of known positions catches it.
    for (i, field) in f.iter().enumerate().take(25) {
        if field.quoted != QUOTED.contains(&i) {
            let how = if field.quoted {
                "unquoted"
            } else {
                "double-quoted"
            };
            return Err(DecodeError::new(
                RejectReason::Malformed,
                format!(
                    "field {} should be {how}; the line does not have the ALB field layout",
                    i + 1
                ),
            ));
        }
    }
    let kind = f[0].text;
    let time = f[1].text.parse::<Timestamp>().map_err(|_| {
        DecodeError::field(
            RejectReason::BadField,
            "time",
            format!("expected an ISO 8601 time, found {:?}", f[1].text),
        )
    })?;
    let client = match known(f.get(3)) {
        Some(c) => Some(fields::ip_port(c).ok_or_else(|| {
            DecodeError::field(
                RejectReason::BadField,
                "client:port",
                format!("expected ip:port, found {c:?}"),
            )
        })?),
        None => None,
    };
    let request_processing = seconds(&f[5], "request_processing_time")?;
    let target_processing = seconds(&f[6], "target_processing_time")?;
    let response_processing = seconds(&f[7], "response_processing_time")?;

    let request = f[12].text;
    let mut parts = request.splitn(3, ' ');
    let (method, url, version) = (
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
        parts.next(),
    );
    if method.is_empty() || method == "-" || !method.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(DecodeError::field(
            RejectReason::MissingField,
            "request",
            format!(
                "no HTTP request was logged (the connection failed before a request line): {request:?}"
            ),
        ));
    }
    let url_parts = fields::split_url_or_target(url);

    let request_created = match known(f.get(21)) {
        Some(t) => Some(t.parse::<Timestamp>().map_err(|_| {
            DecodeError::field(
                RejectReason::BadField,
                "request_creation_time",
                format!("expected an ISO 8601 time, found {t:?}"),
            )
        })?),
        None => None,
    };
    let duration_ms = match (request_processing, target_processing, response_processing) {
        (Some(a), Some(b), Some(c)) => Some((a + b + c) * 1000.0),
        _ => None,
    };
    // `time` is when the response was sent; the request began at `request_creation_time`.
    let observed_at = request_created.unwrap_or(time);

    let mut x = Exchange::new(
        String::new(),
        observed_at,
        Source {
            kind: SourceKind::AwsAlb,
            capture: Capture::AccessLog,
            gateway: known(f.get(2)).map(str::to_string),
            raw_ref: None,
        },
        method,
        url_parts.path,
    );
    x.duration_ms = duration_ms;
    x.upstream_duration_ms = target_processing.map(|s| s * 1000.0);
    x.request_id = known(f.get(17)).map(str::to_string);
    if let Some((ip, port)) = client {
        x.client.ip = Some(ip);
        x.client.port = port;
    }
    x.client.user_agent = known(f.get(13)).map(unescape);
    let tls = Tls {
        version: known(f.get(15)).map(str::to_string),
        cipher: known(f.get(14)).map(str::to_string),
        sni: known(f.get(18)).map(str::to_string),
        ..Tls::default()
    };
    x.client.tls = (tls != Tls::default()).then_some(tls);
    x.server.host = url_parts.host.map(str::to_string);
    x.server.port = url_parts.port;
    x.request.scheme = url_parts.scheme.map(Name::from);
    x.request.query = url_parts.query.map(str::to_string);
    x.request.http_version = version.and_then(fields::http_version);
    x.request.size = field_value(f.get(10), "received_bytes", fields::unsigned)?;
    x.response.status = status(f.get(8), "elb_status_code")?;
    x.response.size = field_value(f.get(11), "sent_bytes", fields::unsigned)?;
    let upstream = Upstream {
        address: known(f.get(4)).map(str::to_string),
        status: status(f.get(9), "target_status_code")?,
        url: None,
        cluster: known(f.get(16)).map(str::to_string),
    };
    x.upstream = (upstream != Upstream::default()).then_some(upstream);
    x.gateway = known(f.get(24)).map(|reason| GatewayInfo {
        error: Some(GatewayError {
            source: Some("alb".into()),
            reason: Some(reason.to_string()),
            message: None,
        }),
        ..GatewayInfo::default()
    });

    let extra = &mut x.extra;
    extra.insert("alb.type".into(), Value::String(kind.to_string()));
    extra.insert("alb.time".into(), Value::String(f[1].text.to_string()));
    if let Some(arn) = known(f.get(19)) {
        extra.insert("alb.chosen_cert_arn".into(), Value::String(arn.to_string()));
    }
    for (i, field) in f.iter().enumerate().skip(20) {
        if i == 21 || i == 24 {
            continue; // mapped: request_creation_time, error_reason
        }
        if let Some(t) = known(Some(field)) {
            let name = LATER_FIELDS
                .get(i - 20)
                .map_or_else(|| format!("alb.field_{}", i + 1), |n| format!("alb.{n}"));
            extra.insert(name, Value::String(t.to_string()));
        }
    }
    Ok(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"https 2024-06-10T09:13:20.170511Z app/prod-api/50dc6c495c0c9188 203.0.113.45:51544 10.1.4.17:8080 0.001 0.041 0.000 200 200 412 2011 "GET https://api.example.com:443/v1/orders/1042?expand=items HTTP/1.1" "okhttp/4.12.0" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/orders/73e2d6bc24d8a067 "Root=1-66670a30-2bd1c5c1d0e4f0a7a4b3c2d1" "api.example.com" "arn:aws:acm:eu-west-1:123456789012:certificate/1234abcd-..." 3 2024-06-10T09:13:20.128000Z "forward" "-" "-""#;

    fn decode(line: &str) -> Result<Exchange, DecodeError> {
        decode_line(line)
    }

    #[test]
    fn the_reference_example_maps_every_field() {
        let x = decode(EXAMPLE).unwrap();
        assert_eq!(x.observed_at.to_string(), "2024-06-10T09:13:20.128Z");
        assert_eq!(x.duration_ms, Some(42.0));
        assert_eq!(x.upstream_duration_ms, Some(41.0));
        assert_eq!(
            x.source.gateway.as_deref(),
            Some("app/prod-api/50dc6c495c0c9188")
        );
        assert_eq!(
            (x.client.ip, x.client.port),
            (Some("203.0.113.45".parse().unwrap()), Some(51544))
        );
        assert_eq!(
            (x.request.method.as_str(), x.request.path.as_str()),
            ("GET", "/v1/orders/1042")
        );
        assert_eq!(x.request.query.as_deref(), Some("expand=items"));
        assert_eq!(
            (x.server.host.as_deref(), x.server.port),
            (Some("api.example.com"), Some(443))
        );
        assert_eq!(x.request.http_version.as_deref(), Some("1.1"));
        assert_eq!(
            (x.request.size, x.response.size, x.response.status),
            (Some(412), Some(2011), Some(200))
        );
        let tls = x.client.tls.as_ref().unwrap();
        assert_eq!(
            (tls.version.as_deref(), tls.sni.as_deref()),
            (Some("TLSv1.2"), Some("api.example.com"))
        );
        let up = x.upstream.as_ref().unwrap();
        assert_eq!(
            (up.address.as_deref(), up.status),
            (Some("10.1.4.17:8080"), Some(200))
        );
        assert!(
            up.cluster
                .as_deref()
                .unwrap()
                .contains("targetgroup/orders")
        );
        assert_eq!(
            x.request_id.as_deref(),
            Some("Root=1-66670a30-2bd1c5c1d0e4f0a7a4b3c2d1")
        );
        assert_eq!(x.extra["alb.actions_executed"], "forward");
        assert_eq!(x.extra["alb.matched_rule_priority"], "3");
        assert!(x.gateway.is_none());
        assert_eq!(x.source.capture, Capture::AccessLog);
    }

    #[test]
    fn failed_targets_have_unknown_times_and_an_error_reason() {
        let line = EXAMPLE
            .replace("10.1.4.17:8080 0.001 0.041 0.000 200 200", "- -1 -1 -1 502 -")
            .replace("\"forward\" \"-\" \"-\"", "\"forward\" \"-\" \"TargetConnectionError\" \"10.1.4.17:8080\" \"-\" \"Ambiguous\" \"-\" TID_1 newfield");
        let x = decode(&line).unwrap();
        assert_eq!((x.duration_ms, x.upstream_duration_ms), (None, None));
        assert_eq!(x.response.status, Some(502));
        assert!(x.upstream.as_ref().unwrap().address.is_none());
        let err = x.gateway.unwrap().error.unwrap();
        assert_eq!(err.reason.as_deref(), Some("TargetConnectionError"));
        assert_eq!(x.extra["alb.classification"], "Ambiguous");
        assert_eq!(x.extra["alb.conn_trace_id"], "TID_1");
        assert_eq!(x.extra["alb.field_31"], "newfield");
    }

    #[test]
    fn bad_lines_name_the_field() {
        let e = decode("https 2024-06-10T09:13:20Z app/x 1.2.3.4:5").unwrap_err();
        assert_eq!(e.reason, RejectReason::Malformed);
        let e = decode(&EXAMPLE.replace("0.041", "fast")).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("target_processing_time"));
        let e = decode(&EXAMPLE.replace("203.0.113.45:51544", "nowhere")).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("client:port"));
        let e = decode(&EXAMPLE.replace(
            "GET https://api.example.com:443/v1/orders/1042?expand=items HTTP/1.1",
            "- - - ",
        ))
        .unwrap_err();
        assert_eq!(e.field.as_deref(), Some("request"));
        let e = decode(&EXAMPLE.replace("\"okhttp/4.12.0\"", "\"okhttp")).unwrap_err();
        assert_eq!(e.reason, RejectReason::Malformed);
        let e = decode(&EXAMPLE.replace(" 200 200 ", " 200 999 ")).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("target_status_code"));
    }

    #[test]
    fn quoted_user_agents_keep_escaped_quotes() {
        let x =
            decode(&EXAMPLE.replace("\"okhttp/4.12.0\"", r#""Mozilla \"quoted\" agent""#)).unwrap();
        assert_eq!(
            x.client.user_agent.as_deref(),
            Some("Mozilla \"quoted\" agent")
        );
    }

    #[test]
    fn sniff_knows_alb_lines() {
        crate::sample_of(EXAMPLE.as_bytes(), |s| assert_eq!(AwsAlb.sniff(s), 95));
        crate::sample_of(
            b"203.0.113.45 - - [10/Jun/2024:09:13:20 +0000] \"GET / HTTP/1.1\" 200 5 \"-\" \"ua\"",
            |s| assert_eq!(AwsAlb.sniff(s), 0),
        );
    }
}
