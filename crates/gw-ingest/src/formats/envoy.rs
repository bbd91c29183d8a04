//! Envoy / Istio JSON access log (`envoy.json`): one JSON object per line, as written by a
//! file access logger with `json_format`. Keys are accepted in Istio's default spelling
//! (`start_time`, `response_code`, `downstream_remote_address`, ...) and as the bare command
//! operator names people often use for their own formats (`START_TIME`, `RESPONSE_CODE`,
//! `X-FORWARDED-FOR`, `:AUTHORITY`, ...). Envoy renders empty values as `null` in JSON and `-`
//! in text operators; both read as unknown. Access logs carry no headers and no bodies.

use gw_model::{ApiRef, GatewayError, GatewayInfo, Name, SourceKind, Tls, Upstream};
use serde_json::Value;

use super::fields::{
    Nested, Object, access_log_record, emit_line, first_of, forwarded_for, http_version, ip_port,
    keep_unmapped, method_token, opt_non_negative, opt_status_code, opt_string, opt_unsigned,
    parse_object, rfc3339, set_authority, size_only_body, split_target, string, trace_id, unmapped,
};
use crate::{DecodeCtx, DecodeError, Decoder, Emit, Framing, Sample, Unit};

const START_TIME: &[&str] = &["start_time", "START_TIME", "%START_TIME%"];
const METHOD: &[&str] = &["method", ":METHOD", "METHOD", "REQ(:METHOD)"];
const PATH: &[&str] = &[
    "path",
    ":PATH",
    "PATH",
    "X-ENVOY-ORIGINAL-PATH?:PATH",
    "REQ(X-ENVOY-ORIGINAL-PATH?:PATH)",
];
const PROTOCOL: &[&str] = &["protocol", "PROTOCOL"];
const SCHEME: &[&str] = &["scheme", ":SCHEME", "SCHEME"];
const RESPONSE_CODE: &[&str] = &["response_code", "RESPONSE_CODE"];
const RESPONSE_FLAGS: &[&str] = &["response_flags", "RESPONSE_FLAGS"];
const RESPONSE_CODE_DETAILS: &[&str] = &["response_code_details", "RESPONSE_CODE_DETAILS"];
const BYTES_RECEIVED: &[&str] = &["bytes_received", "BYTES_RECEIVED"];
const BYTES_SENT: &[&str] = &["bytes_sent", "BYTES_SENT"];
const DURATION: &[&str] = &["duration", "DURATION"];
const UPSTREAM_SERVICE_TIME: &[&str] = &[
    "upstream_service_time",
    "X-ENVOY-UPSTREAM-SERVICE-TIME",
    "x-envoy-upstream-service-time",
    "RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)",
];
const XFF: &[&str] = &[
    "x_forwarded_for",
    "X-FORWARDED-FOR",
    "x-forwarded-for",
    "REQ(X-FORWARDED-FOR)",
];
const USER_AGENT: &[&str] = &["user_agent", "USER-AGENT", "user-agent", "REQ(USER-AGENT)"];
const REQUEST_ID: &[&str] = &[
    "request_id",
    "X-REQUEST-ID",
    "x-request-id",
    "REQ(X-REQUEST-ID)",
];
const AUTHORITY: &[&str] = &["authority", ":AUTHORITY", "AUTHORITY", "REQ(:AUTHORITY)"];
const TRACEPARENT: &[&str] = &["traceparent", "TRACEPARENT", "REQ(TRACEPARENT)"];
const UPSTREAM_HOST: &[&str] = &["upstream_host", "UPSTREAM_HOST"];
const UPSTREAM_CLUSTER: &[&str] = &[
    "upstream_cluster",
    "UPSTREAM_CLUSTER",
    "UPSTREAM_CLUSTER_RAW",
];
const ROUTE_NAME: &[&str] = &["route_name", "ROUTE_NAME"];
const DIRECT_REMOTE: &[&str] = &[
    "downstream_direct_remote_address",
    "DOWNSTREAM_DIRECT_REMOTE_ADDRESS",
];
const REMOTE: &[&str] = &["downstream_remote_address", "DOWNSTREAM_REMOTE_ADDRESS"];
const LOCAL: &[&str] = &["downstream_local_address", "DOWNSTREAM_LOCAL_ADDRESS"];
const SNI: &[&str] = &["requested_server_name", "REQUESTED_SERVER_NAME"];
const TLS_VERSION: &[&str] = &["downstream_tls_version", "DOWNSTREAM_TLS_VERSION"];
const TLS_CIPHER: &[&str] = &["downstream_tls_cipher", "DOWNSTREAM_TLS_CIPHER"];
const PEER_SUBJECT: &[&str] = &["downstream_peer_subject", "DOWNSTREAM_PEER_SUBJECT"];
const ATTEMPTS: &[&str] = &[
    "upstream_request_attempt_count",
    "UPSTREAM_REQUEST_ATTEMPT_COUNT",
];

/// Keys mapped into the record and therefore not repeated in `extra`. `response_flags` and
/// `response_code_details` are mapped into `gateway.error` and still kept in `extra` since
/// they are the source's own vocabulary.
const MAPPED: &[&[&str]] = &[
    START_TIME,
    METHOD,
    PATH,
    PROTOCOL,
    SCHEME,
    RESPONSE_CODE,
    BYTES_RECEIVED,
    BYTES_SENT,
    DURATION,
    UPSTREAM_SERVICE_TIME,
    XFF,
    USER_AGENT,
    REQUEST_ID,
    AUTHORITY,
    TRACEPARENT,
    UPSTREAM_HOST,
    UPSTREAM_CLUSTER,
    ROUTE_NAME,
    LOCAL,
    SNI,
    TLS_VERSION,
    TLS_CIPHER,
    PEER_SUBJECT,
    ATTEMPTS,
];

/// Keys no other JSON log format uses; two of them (with a start time and response code)
/// make a sample Envoy's.
const DISTINCTIVE: &[&str] = &[
    "response_flags",
    "RESPONSE_FLAGS",
    "response_code_details",
    "upstream_cluster",
    "UPSTREAM_CLUSTER",
    "upstream_host",
    "UPSTREAM_HOST",
    "downstream_remote_address",
    "DOWNSTREAM_REMOTE_ADDRESS",
    "downstream_local_address",
    "upstream_service_time",
    "upstream_local_address",
    "route_name",
    "ROUTE_NAME",
    "requested_server_name",
    "upstream_transport_failure_reason",
    "connection_termination_details",
    ":AUTHORITY",
    "X-ENVOY-UPSTREAM-SERVICE-TIME",
];

pub struct EnvoyJson;

impl Decoder for EnvoyJson {
    fn kind(&self) -> SourceKind {
        SourceKind::EnvoyJson
    }

    fn framing(&self, _sample: &Sample<'_>) -> Framing {
        Framing::Lines
    }

    fn sniff(&self, sample: &Sample<'_>) -> u8 {
        let Some(obj) = sample.json.and_then(Value::as_object) else {
            return 0;
        };
        let timed = START_TIME.iter().any(|k| obj.contains_key(*k));
        let coded = RESPONSE_CODE.iter().any(|k| obj.contains_key(*k));
        let distinctive = DISTINCTIVE.iter().filter(|k| obj.contains_key(**k)).count();
        match (timed && coded, distinctive) {
            (true, n) if n >= 2 => 90,
            (true, 1) => 70,
            (false, n) if n >= 3 => 60,
            _ => 0,
        }
    }

    fn decode(&self, unit: Unit<'_>, ctx: &DecodeCtx, out: &mut dyn Emit) {
        let result = parse_object(unit.bytes).and_then(|obj| record(&obj));
        emit_line(unit, ctx, out, result);
    }
}

fn required<'a>(
    obj: &'a Object,
    keys: &[&'static str],
) -> Result<(&'static str, &'a Value), DecodeError> {
    first_of(obj, keys).ok_or_else(|| DecodeError::missing(keys[0]))
}

fn record(obj: &Object) -> Result<gw_model::Exchange, DecodeError> {
    let (k, v) = required(obj, START_TIME)?;
    let observed_at = rfc3339(k, v)?;
    let (k, v) = required(obj, METHOD)?;
    let method = method_token(k, &string(k, v)?)?;
    let (pk, pv) = required(obj, PATH)?;
    let target = string(pk, pv)?;
    let (path, query) = split_target(&target);
    if path.is_empty() {
        return Err(DecodeError::field(
            crate::RejectReason::BadField,
            pk,
            "must not be empty",
        ));
    }
    let mut x = access_log_record(SourceKind::EnvoyJson, observed_at, method, path);
    x.request.query = query.map(str::to_string);
    x.request.http_version = opt_string(obj, PROTOCOL)?.and_then(|p| http_version(&p));
    x.request.scheme = opt_string(obj, SCHEME)?.map(|s| Name::from_ascii_lowercase(&s));
    x.response.status = opt_status_code(obj, RESPONSE_CODE)?;
    x.request.body = opt_unsigned(obj, BYTES_RECEIVED)?.map(size_only_body);
    x.response.body = opt_unsigned(obj, BYTES_SENT)?.map(size_only_body);
    x.duration_ms = opt_non_negative(obj, DURATION)?;
    x.upstream_duration_ms = opt_non_negative(obj, UPSTREAM_SERVICE_TIME)?;
    x.request_id = opt_string(obj, REQUEST_ID)?;
    x.trace_id = opt_string(obj, TRACEPARENT)?.and_then(|t| trace_id(&t));

    // The physical peer when logged, else DOWNSTREAM_REMOTE_ADDRESS (which Envoy may already
    // have taken from X-Forwarded-For when use_remote_address is set).
    let (peer, peer_keys) = match opt_string(obj, DIRECT_REMOTE)? {
        Some(a) => (Some(a), DIRECT_REMOTE),
        None => (opt_string(obj, REMOTE)?, REMOTE),
    };
    if let Some((ip, port)) = peer.as_deref().and_then(ip_port) {
        x.client.ip = Some(ip);
        x.client.port = port;
    }
    x.client.forwarded_for = opt_string(obj, XFF)?
        .map(|s| forwarded_for(&s))
        .unwrap_or_default();
    x.client.user_agent = opt_string(obj, USER_AGENT)?;
    let tls = Tls {
        version: opt_string(obj, TLS_VERSION)?,
        cipher: opt_string(obj, TLS_CIPHER)?,
        sni: opt_string(obj, SNI)?,
        ja3: None,
        peer_subject: opt_string(obj, PEER_SUBJECT)?,
    };
    if tls != Tls::default() {
        x.client.tls = Some(tls);
    }

    if let Some(authority) = opt_string(obj, AUTHORITY)? {
        set_authority(&mut x.server, authority);
    }
    if let Some((ip, port)) = opt_string(obj, LOCAL)?.as_deref().and_then(ip_port) {
        x.server.ip = Some(ip);
        x.server.port = x.server.port.or(port);
    }

    let upstream = Upstream {
        address: opt_string(obj, UPSTREAM_HOST)?,
        status: None,
        url: None,
        cluster: opt_string(obj, UPSTREAM_CLUSTER)?,
    };
    if upstream != Upstream::default() {
        x.upstream = Some(upstream);
    }
    if let Some(route) = opt_string(obj, ROUTE_NAME)? {
        x.api = Some(ApiRef {
            gateway_api_id: Some(route),
            ..ApiRef::default()
        });
    }

    let flags = opt_string(obj, RESPONSE_FLAGS)?;
    let details = opt_string(obj, RESPONSE_CODE_DETAILS)?;
    let retries =
        opt_unsigned(obj, ATTEMPTS)?.map(|n| n.saturating_sub(1).min(u64::from(u32::MAX)) as u32);
    // Response flags are Envoy's own reasons for failing a request (UH, UF, URX, NR, RL ...).
    let error = flags.map(|reason| GatewayError {
        source: Some("envoy".to_string()),
        reason: Some(reason),
        message: details,
    });
    if error.is_some() || retries.is_some() {
        x.gateway = Some(GatewayInfo {
            error,
            cache: None,
            retries,
        });
    }

    // Of the two peer addresses only the one that became client.ip is mapped; the other is kept.
    let mapped = |k: &str| peer_keys.contains(&k) || MAPPED.iter().any(|keys| keys.contains(&k));
    keep_unmapped(&mut x.extra, "envoy", unmapped(obj, mapped), Nested::Keep);
    Ok(x)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample_of;

    const EXAMPLE: &str = r#"{"start_time":"2024-06-10T09:13:20.123Z","route_name":"orders","method":"POST","path":"/v1/orders","protocol":"HTTP/1.1","response_code":201,"response_flags":"-","response_code_details":"via_upstream","bytes_received":27,"bytes_sent":96,"duration":38,"upstream_service_time":"35","x_forwarded_for":"203.0.113.45","user_agent":"okhttp/4.12.0","request_id":"b2f5e0c4-6d0e-4d1b-9f58-0f6a3e0e9a71","authority":"api.example.com","upstream_host":"10.1.4.17:8080","upstream_cluster":"outbound|8080||orders.prod.svc.cluster.local","downstream_remote_address":"203.0.113.45:51544","requested_server_name":"api.example.com","upstream_transport_failure_reason":null}"#;

    #[test]
    fn reference_example_maps_every_field() {
        let x = record(&parse_object(EXAMPLE.as_bytes()).unwrap()).unwrap();
        assert_eq!(x.observed_at.to_string(), "2024-06-10T09:13:20.123Z");
        assert_eq!(x.duration_ms, Some(38.0));
        assert_eq!(x.upstream_duration_ms, Some(35.0));
        assert_eq!(x.request.method, "POST");
        assert_eq!(x.request.path, "/v1/orders");
        assert_eq!(x.request.http_version.as_deref(), Some("1.1"));
        assert_eq!(x.response.status, Some(201));
        assert_eq!(x.request.body.as_ref().and_then(|b| b.size), Some(27));
        assert_eq!(x.response.body.as_ref().and_then(|b| b.size), Some(96));
        assert_eq!(x.client.ip, Some("203.0.113.45".parse().unwrap()));
        assert_eq!(x.client.port, Some(51544));
        assert_eq!(x.client.forwarded_for.len(), 1);
        assert_eq!(x.server.host.as_deref(), Some("api.example.com"));
        assert_eq!(
            x.client.tls.as_ref().and_then(|t| t.sni.as_deref()),
            Some("api.example.com")
        );
        let up = x.upstream.unwrap();
        assert_eq!(up.address.as_deref(), Some("10.1.4.17:8080"));
        assert_eq!(
            up.cluster.as_deref(),
            Some("outbound|8080||orders.prod.svc.cluster.local")
        );
        assert_eq!(x.api.unwrap().gateway_api_id.as_deref(), Some("orders"));
        assert!(x.gateway.is_none(), "`-` flags are no error");
        assert_eq!(
            x.extra.get("envoy.response_code_details"),
            Some(&Value::from("via_upstream"))
        );
        assert!(
            !x.extra
                .contains_key("envoy.upstream_transport_failure_reason")
        );
        assert_eq!(x.request.headers, None);
        assert_eq!(x.source.capture, gw_model::Capture::AccessLog);
    }

    #[test]
    fn operator_spelled_keys_and_flags() {
        let line = r#"{"START_TIME":"2024-06-10T11:13:20.000+02:00","METHOD":"GET","PATH":"/a?b=1","RESPONSE_CODE":503,"RESPONSE_FLAGS":"UF,URX","UPSTREAM_HOST":"-","DOWNSTREAM_REMOTE_ADDRESS":"[2001:db8::5]:443",":AUTHORITY":"api.example.com:8443","upstream_request_attempt_count":3}"#;
        let x = record(&parse_object(line.as_bytes()).unwrap()).unwrap();
        assert_eq!(x.observed_at.to_string(), "2024-06-10T09:13:20Z");
        assert_eq!(x.request.query.as_deref(), Some("b=1"));
        assert_eq!(x.server.port, Some(8443));
        assert_eq!(x.client.ip, Some("2001:db8::5".parse().unwrap()));
        let g = x.gateway.unwrap();
        assert_eq!(g.error.unwrap().reason.as_deref(), Some("UF,URX"));
        assert_eq!(g.retries, Some(2));
        assert!(x.upstream.is_none());
    }

    #[test]
    fn bad_values_name_their_field() {
        let line = EXAMPLE.replace("\"response_code\":201", "\"response_code\":\"abc\"");
        let e = record(&parse_object(line.as_bytes()).unwrap()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "field \"response_code\": expected an HTTP status code, found \"abc\""
        );
        let line = EXAMPLE.replace("\"start_time\":\"2024-06-10T09:13:20.123Z\",", "");
        let e = record(&parse_object(line.as_bytes()).unwrap()).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("start_time"));
    }

    #[test]
    fn sniffs_envoy_lines_only() {
        assert!(sample_of(EXAMPLE.as_bytes(), |s| EnvoyJson.sniff(s)) >= 90);
        let nginx = br#"{"time":"2024-06-10T09:13:20+00:00","remote_addr":"203.0.113.45","status":200,"bytes_sent":10}"#;
        assert_eq!(sample_of(nginx, |s| EnvoyJson.sniff(s)), 0);
    }
}
