//! NGINX JSON access log (`nginx.json`): a `log_format ... escape=json '{...}'` with the
//! usual variables, one object per line. Keys are looked up with or without a leading `$`
//! and under the common spellings (`remote_addr`, `request_uri`, `xff` /
//! `http_x_forwarded_for`, `user_agent` / `http_user_agent`, ...), see the tables below.
//! Numbers may be quoted or not, empty and `-` values are unknown.
//!
//! NGINX writes the line when the request ends and `$time_iso8601` / `$msec` / `$time_local`
//! are that end time; `observed_at` is the request start, so it is the log time minus
//! `$request_time` when that is logged.
//!
//! `$upstream_*` hold one value per upstream tried (`"502, 200"`, `"10.0.0.1:80 : 10.0.0.2:80"`
//! for internal redirects): the upstream is the last one, the upstream time the sum, the
//! retries the count minus one.

use gw_model::{GatewayInfo, Name, SourceKind, Tls, Upstream};
use jiff::{SignedDuration, Timestamp};
use serde_json::Value;

use super::fields::{
    Nested, Object, access_log_record, bad, clf_time, emit_line, epoch_seconds, first_of,
    forwarded_for, http_version, ip_port, keep_unmapped, method_token, opt_non_negative,
    opt_status_code, opt_string, opt_unsigned, parse_object, rfc3339, set_authority,
    size_only_body, split_target, string, trace_id, unmapped,
};
use crate::{DecodeCtx, DecodeError, Decoder, Emit, Framing, RejectReason, Sample, Unit};

const TIME_ISO: &[&str] = &["time_iso8601", "time", "timestamp", "@timestamp"];
const MSEC: &[&str] = &["msec"];
const TIME_LOCAL: &[&str] = &["time_local"];
const REMOTE_ADDR: &[&str] = &["remote_addr", "client_ip", "remote_ip"];
const REMOTE_PORT: &[&str] = &["remote_port"];
const XFF: &[&str] = &[
    "http_x_forwarded_for",
    "x_forwarded_for",
    "xff",
    "forwarded_for",
];
const METHOD: &[&str] = &["request_method", "method"];
const REQUEST_URI: &[&str] = &["request_uri", "uri_full"];
const URI: &[&str] = &["uri"];
const ARGS: &[&str] = &["args", "query_string"];
const REQUEST_LINE: &[&str] = &["request"];
const SCHEME: &[&str] = &["scheme"];
const HOST: &[&str] = &["host", "http_host", "server_name"];
const SERVER_ADDR: &[&str] = &["server_addr"];
const SERVER_PORT: &[&str] = &["server_port"];
const PROTOCOL: &[&str] = &["server_protocol", "protocol"];
const STATUS: &[&str] = &["status"];
const REQUEST_LENGTH: &[&str] = &["request_length"];
const BYTES_SENT: &[&str] = &["bytes_sent"];
const BODY_BYTES_SENT: &[&str] = &["body_bytes_sent"];
const REQUEST_TIME: &[&str] = &["request_time"];
const UPSTREAM_ADDR: &[&str] = &["upstream_addr"];
const UPSTREAM_STATUS: &[&str] = &["upstream_status"];
const UPSTREAM_TIME: &[&str] = &["upstream_response_time"];
const USER_AGENT: &[&str] = &["http_user_agent", "user_agent"];
const REQUEST_ID: &[&str] = &["request_id", "http_x_request_id"];
const TRACEPARENT: &[&str] = &["http_traceparent", "traceparent"];
const CONTENT_TYPE: &[&str] = &["sent_http_content_type"];
const SSL_PROTOCOL: &[&str] = &["ssl_protocol"];
const SSL_CIPHER: &[&str] = &["ssl_cipher"];
const SSL_SNI: &[&str] = &["ssl_server_name"];

/// Keys mapped into the record; everything else is kept in `extra` as `nginx.<key>`.
const MAPPED: &[&[&str]] = &[
    TIME_ISO,
    MSEC,
    TIME_LOCAL,
    REMOTE_ADDR,
    REMOTE_PORT,
    XFF,
    METHOD,
    REQUEST_URI,
    URI,
    ARGS,
    REQUEST_LINE,
    SCHEME,
    HOST,
    SERVER_ADDR,
    SERVER_PORT,
    PROTOCOL,
    STATUS,
    REQUEST_LENGTH,
    BYTES_SENT,
    BODY_BYTES_SENT,
    REQUEST_TIME,
    UPSTREAM_ADDR,
    UPSTREAM_STATUS,
    UPSTREAM_TIME,
    USER_AGENT,
    REQUEST_ID,
    TRACEPARENT,
    CONTENT_TYPE,
    SSL_PROTOCOL,
    SSL_CIPHER,
    SSL_SNI,
];

/// NGINX variable names no other JSON log format uses as keys.
const DISTINCTIVE: &[&str] = &[
    "remote_addr",
    "remote_port",
    "remote_user",
    "request_uri",
    "request_time",
    "request_length",
    "request_method",
    "body_bytes_sent",
    "time_iso8601",
    "time_local",
    "msec",
    "upstream_addr",
    "upstream_status",
    "upstream_response_time",
    "upstream_connect_time",
    "http_user_agent",
    "http_x_forwarded_for",
    "http_referer",
    "server_protocol",
    "server_name",
    "ssl_protocol",
];

pub struct NginxJson;

impl Decoder for NginxJson {
    fn kind(&self) -> SourceKind {
        SourceKind::NginxJson
    }

    fn framing(&self, _sample: &Sample<'_>) -> Framing {
        Framing::Lines
    }

    fn sniff(&self, sample: &Sample<'_>) -> u8 {
        let Some(obj) = sample.json.and_then(Value::as_object) else {
            return 0;
        };
        let dollar = obj.keys().filter(|k| k.starts_with('$')).count();
        let hits = obj
            .keys()
            .filter(|k| DISTINCTIVE.contains(&k.strip_prefix('$').unwrap_or(k)))
            .count();
        match (hits, dollar) {
            (h, _) if h >= 3 => 85,
            (2, _) => 60,
            (h, d) if h >= 1 && d >= 2 => 60,
            _ => 0,
        }
    }

    fn decode(&self, unit: Unit<'_>, ctx: &DecodeCtx, out: &mut dyn Emit) {
        let result = parse_object(unit.bytes).and_then(|obj| {
            let obj: Object = if obj.keys().any(|k| k.starts_with('$')) {
                obj.into_iter()
                    .map(|(k, v)| match k.strip_prefix('$') {
                        Some(bare) => (bare.to_string(), v),
                        None => (k, v),
                    })
                    .collect()
            } else {
                obj
            };
            record(&obj)
        });
        emit_line(unit, ctx, out, result);
    }
}

fn log_time(obj: &Object) -> Result<Timestamp, DecodeError> {
    if let Some((k, v)) = first_of(obj, MSEC) {
        return epoch_seconds(k, v);
    }
    if let Some((k, v)) = first_of(obj, TIME_ISO) {
        return rfc3339(k, v);
    }
    if let Some((k, v)) = first_of(obj, TIME_LOCAL) {
        return clf_time(k, &string(k, v)?);
    }
    Err(DecodeError::field(
        RejectReason::MissingField,
        "time_iso8601",
        "no request time: expected one of time_iso8601, time, msec or time_local",
    ))
}

/// The values of an `$upstream_*` variable, one per upstream tried (`, ` between upstreams,
/// ` : ` between internal redirects).
fn upstream_values(s: &str) -> impl Iterator<Item = &str> {
    s.split([',', ' '])
        .map(str::trim)
        .filter(|v| !v.is_empty() && *v != ":" && *v != "-")
}

fn record(obj: &Object) -> Result<gw_model::Exchange, DecodeError> {
    let logged_at = log_time(obj)?;
    let request_time = opt_non_negative(obj, REQUEST_TIME)?;

    let request_line = opt_string(obj, REQUEST_LINE)?;
    let mut line_parts = request_line
        .as_deref()
        .map(|l| l.split(' ').filter(|p| !p.is_empty()));
    let line_method = line_parts.as_mut().and_then(|p| p.next());
    let line_target = line_parts.as_mut().and_then(|p| p.next());
    let line_version = line_parts.as_mut().and_then(|p| p.next());

    let method = match first_of(obj, METHOD) {
        Some((k, v)) => method_token(k, &string(k, v)?)?,
        None => match line_method {
            Some(m) => method_token("request", m)?,
            None => return Err(DecodeError::missing("request_method")),
        },
    };
    // `$request_uri` is the original target with its query; `$uri` is normalised (decoded,
    // after rewrites) and so only a fallback, with `$args` as its query.
    let (path, query) = if let Some((k, v)) = first_of(obj, REQUEST_URI) {
        let target = string(k, v)?;
        let (p, q) = split_target(&target);
        (p.to_string(), q.map(str::to_string))
    } else if let Some(target) = line_target {
        let (p, q) = split_target(target);
        (p.to_string(), q.map(str::to_string))
    } else if let Some((k, v)) = first_of(obj, URI) {
        (string(k, v)?, opt_string(obj, ARGS)?)
    } else {
        return Err(DecodeError::missing("request_uri"));
    };
    if path.is_empty() {
        return Err(DecodeError::field(
            RejectReason::BadField,
            "request_uri",
            "must not be empty",
        ));
    }
    let observed_at = match request_time {
        Some(secs) => logged_at
            .checked_sub(SignedDuration::from_secs_f64(secs))
            .unwrap_or(logged_at),
        None => logged_at,
    };
    let mut x = access_log_record(SourceKind::NginxJson, observed_at, method, &path);
    x.request.query = query;
    x.duration_ms = request_time.map(|s| s * 1000.0);
    x.request.http_version = match opt_string(obj, PROTOCOL)? {
        Some(p) => http_version(&p),
        None => line_version.and_then(http_version),
    };
    x.request.scheme = opt_string(obj, SCHEME)?.map(|s| Name::from_ascii_lowercase(&s));
    x.request.size = opt_unsigned(obj, REQUEST_LENGTH)?;
    x.response.status = opt_status_code(obj, STATUS)?;
    x.response.size = opt_unsigned(obj, BYTES_SENT)?;
    x.response.body = opt_unsigned(obj, BODY_BYTES_SENT)?.map(size_only_body);
    x.response.content_type = opt_string(obj, CONTENT_TYPE)?;
    x.request_id = opt_string(obj, REQUEST_ID)?;
    x.trace_id = opt_string(obj, TRACEPARENT)?.and_then(|t| trace_id(&t));

    if let Some((k, v)) = first_of(obj, REMOTE_ADDR) {
        let addr = string(k, v)?;
        match ip_port(&addr) {
            Some((ip, port)) => {
                x.client.ip = Some(ip);
                x.client.port = port;
            }
            // A Unix socket peer (`unix:`) has no IP; keep what was logged.
            None => {
                x.extra.insert(format!("nginx.{k}"), Value::from(addr));
            }
        }
    }
    if let Some((k, v)) = first_of(obj, REMOTE_PORT) {
        x.client.port = super::fields::port(k, v)?;
    }
    x.client.forwarded_for = opt_string(obj, XFF)?
        .map(|s| forwarded_for(&s))
        .unwrap_or_default();
    x.client.user_agent = opt_string(obj, USER_AGENT)?;
    let tls = Tls {
        version: opt_string(obj, SSL_PROTOCOL)?,
        cipher: opt_string(obj, SSL_CIPHER)?,
        sni: opt_string(obj, SSL_SNI)?,
        ja3: None,
        peer_subject: None,
    };
    if tls != Tls::default() {
        x.client.tls = Some(tls);
    }

    if let Some(host) = opt_string(obj, HOST)? {
        set_authority(&mut x.server, host);
    }
    if let Some((ip, _)) = opt_string(obj, SERVER_ADDR)?.as_deref().and_then(ip_port) {
        x.server.ip = Some(ip);
    }
    if let Some((k, v)) = first_of(obj, SERVER_PORT) {
        x.server.port = super::fields::port(k, v)?;
    }

    let addrs = opt_string(obj, UPSTREAM_ADDR)?;
    let tried = addrs.as_deref().map_or(0, |a| upstream_values(a).count());
    let upstream_status = match first_of(obj, UPSTREAM_STATUS) {
        Some((k, v)) => {
            let text = string(k, v)?;
            match upstream_values(&text).last() {
                Some(last) => {
                    let last = Value::from(last);
                    super::fields::status_code(k, &last)
                        .map_err(|_| bad(k, "HTTP status codes", v))?
                }
                None => None,
            }
        }
        None => None,
    };
    if let Some((k, v)) = first_of(obj, UPSTREAM_TIME) {
        let text = string(k, v)?;
        let mut total = 0.0;
        let mut any = false;
        for part in upstream_values(&text) {
            total += super::fields::non_negative(k, &Value::from(part))
                .map_err(|_| bad(k, "seconds", v))?
                .unwrap_or(0.0);
            any = true;
        }
        x.upstream_duration_ms = any.then_some(total * 1000.0);
    }
    let upstream = Upstream {
        address: addrs
            .as_deref()
            .and_then(|a| upstream_values(a).last())
            .map(str::to_string),
        status: upstream_status,
        url: None,
        cluster: None,
    };
    if upstream != Upstream::default() {
        x.upstream = Some(upstream);
    }
    if tried > 1 {
        x.gateway = Some(GatewayInfo {
            retries: Some((tried - 1).min(u32::MAX as usize) as u32),
            ..GatewayInfo::default()
        });
    }

    let mapped = |k: &str| MAPPED.iter().any(|keys| keys.contains(&k));
    keep_unmapped(&mut x.extra, "nginx", unmapped(obj, mapped), Nested::Keep);
    Ok(x)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::testing::{Collect, decode_unit};
    use crate::sample_of;

    const EXAMPLE: &str = r#"{"time":"2024-06-10T09:13:20+00:00","msec":"1718010800.123","request_id":"7f1c2d3e4b5a69788796a5b4c3d2e1f0","remote_addr":"10.0.0.12","remote_port":"51544","xff":"203.0.113.45","method":"GET","scheme":"https","host":"api.example.com","request_uri":"/v1/orders/1042?expand=items","protocol":"HTTP/1.1","status":200,"request_length":412,"bytes_sent":2101,"body_bytes_sent":1877,"request_time":0.045,"upstream_addr":"10.1.4.17:8080","upstream_status":"200","upstream_response_time":"0.041","user_agent":"okhttp/4.12.0","referer":"","content_type":"","ssl_protocol":"TLSv1.3","ssl_cipher":"TLS_AES_128_GCM_SHA256"}"#;

    fn decode(line: &str) -> Result<gw_model::Exchange, DecodeError> {
        let Collect(mut out, mut rejects) = decode_unit(&NginxJson, line, 1, "t");
        match (out.pop(), rejects.pop()) {
            (Some(x), None) => Ok(x),
            (None, Some(e)) => Err(e),
            other => panic!("one result expected, got {other:?}"),
        }
    }

    #[test]
    fn reference_format_maps_every_field() {
        let x = decode(EXAMPLE).unwrap();
        assert_eq!(
            x.observed_at.to_string(),
            "2024-06-10T09:13:20.078Z",
            "msec minus request_time"
        );
        assert_eq!(x.duration_ms, Some(45.0));
        assert_eq!(x.upstream_duration_ms, Some(41.0));
        assert_eq!(x.client.ip, Some("10.0.0.12".parse().unwrap()));
        assert_eq!(x.client.port, Some(51544));
        assert_eq!(
            x.client.forwarded_for,
            vec!["203.0.113.45".parse::<std::net::IpAddr>().unwrap()]
        );
        assert_eq!(x.server.host.as_deref(), Some("api.example.com"));
        assert_eq!(
            (x.request.path.as_str(), x.request.query.as_deref()),
            ("/v1/orders/1042", Some("expand=items"))
        );
        assert_eq!(x.request.size, Some(412));
        assert_eq!(x.response.size, Some(2101));
        assert_eq!(x.response.body.as_ref().and_then(|b| b.size), Some(1877));
        assert_eq!(
            x.request_id.as_deref(),
            Some("7f1c2d3e4b5a69788796a5b4c3d2e1f0")
        );
        let up = x.upstream.unwrap();
        assert_eq!(
            (up.address.as_deref(), up.status),
            (Some("10.1.4.17:8080"), Some(200))
        );
        assert_eq!(x.client.tls.unwrap().version.as_deref(), Some("TLSv1.3"));
        assert!(x.extra.is_empty(), "{:?}", x.extra);
    }

    #[test]
    fn dollar_keys_uri_args_and_retries() {
        let line = r#"{"$time_iso8601":"2024-06-10T11:13:20+02:00","$remote_addr":"192.0.2.1","$request_method":"POST","$uri":"/v1/a b","$args":"x=1","$status":"502","$upstream_addr":"10.0.0.1:80, 10.0.0.2:80","$upstream_status":"504, 502","$upstream_response_time":"1.000, 0.500","$http_referer":"https://example.com/"}"#;
        let x = decode(line).unwrap();
        assert_eq!(x.observed_at.to_string(), "2024-06-10T09:13:20Z");
        assert_eq!(
            (x.request.path.as_str(), x.request.query.as_deref()),
            ("/v1/a b", Some("x=1"))
        );
        assert_eq!(x.response.status, Some(502));
        assert_eq!(x.upstream_duration_ms, Some(1500.0));
        let up = x.upstream.unwrap();
        assert_eq!(
            (up.address.as_deref(), up.status),
            (Some("10.0.0.2:80"), Some(502))
        );
        assert_eq!(x.gateway.unwrap().retries, Some(1));
        assert_eq!(
            x.extra.get("nginx.http_referer"),
            Some(&Value::from("https://example.com/"))
        );
    }

    #[test]
    fn bad_values_name_their_field() {
        let e = decode(&EXAMPLE.replace("\"status\":200", "\"status\":\"abc\"")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "field \"status\": expected an HTTP status code, found \"abc\""
        );
        assert_eq!(e.line, Some(1));
        let e = decode(&EXAMPLE.replace("\"request_time\":0.045", "\"request_time\":\"fast\""))
            .unwrap_err();
        assert_eq!(e.field.as_deref(), Some("request_time"));
        let e = decode(r#"{"remote_addr":"192.0.2.1","request_uri":"/"}"#).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("time_iso8601"));
    }

    #[test]
    fn sniff() {
        assert_eq!(sample_of(EXAMPLE.as_bytes(), |s| NginxJson.sniff(s)), 85);
        assert_eq!(
            sample_of(br#"{"method":"GET","status":200}"#, |s| NginxJson.sniff(s)),
            0
        );
    }
}
