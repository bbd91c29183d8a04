//! Traefik JSON access log (`traefik.json`, `accessLog.format: json`): one JSON object per
//! line. Durations are nanoseconds; `RequestPath` includes the query. Header fields appear as
//! `request_<Header>` (request headers), `downstream_<Header>` (response headers sent to the
//! client) and `origin_<Header>` (response headers from the backend) only when the operator
//! keeps them, so `request.headers` / `response.headers` are set only when at least one such
//! field is present. There are never bodies.

use gw_model::{ApiRef, GatewayInfo, Header, Name, SourceKind, Tls, Upstream};
use serde_json::Value;

use super::fields::{
    Nested, Object, access_log_record, emit_line, first_of, forwarded_for, http_version, ip_port,
    keep_unmapped, method_token, opt_non_negative, opt_status_code, opt_string, opt_unsigned,
    parse_object, rfc3339, size_only_body, split_target, string, trace_id, unmapped,
};
use crate::{DecodeCtx, DecodeError, Decoder, Emit, Framing, RejectReason, Sample, Unit};

const MAPPED: &[&str] = &[
    "StartUTC",
    "StartLocal",
    "Duration",
    "OriginDuration",
    "ClientHost",
    "ClientAddr",
    "ClientPort",
    "RequestMethod",
    "RequestPath",
    "RequestHost",
    "RequestPort",
    "RequestProtocol",
    "RequestScheme",
    "RequestContentSize",
    "DownstreamStatus",
    "DownstreamContentSize",
    "OriginStatus",
    "RouterName",
    "ServiceName",
    "ServiceAddr",
    "ServiceURL",
    "RetryAttempts",
    "TLSVersion",
    "TLSCipher",
];

/// Keys only Traefik writes (Go field names in CamelCase).
const DISTINCTIVE: &[&str] = &[
    "StartUTC",
    "RequestMethod",
    "RequestPath",
    "DownstreamStatus",
    "RouterName",
    "ServiceName",
    "ClientHost",
    "OriginStatus",
    "entryPointName",
];

pub struct TraefikJson;

impl Decoder for TraefikJson {
    fn kind(&self) -> SourceKind {
        SourceKind::TraefikJson
    }

    fn framing(&self, _sample: &Sample<'_>) -> Framing {
        Framing::Lines
    }

    fn sniff(&self, sample: &Sample<'_>) -> u8 {
        let Some(obj) = sample.json.and_then(Value::as_object) else {
            return 0;
        };
        match DISTINCTIVE.iter().filter(|k| obj.contains_key(**k)).count() {
            n if n >= 3 => 95,
            2 => 70,
            _ => 0,
        }
    }

    fn decode(&self, unit: Unit<'_>, ctx: &DecodeCtx, out: &mut dyn Emit) {
        let result = parse_object(unit.bytes).and_then(|obj| record(&obj));
        emit_line(unit, ctx, out, result);
    }
}

fn nanos_to_ms(obj: &Object, key: &'static str) -> Result<Option<f64>, DecodeError> {
    Ok(opt_non_negative(obj, &[key])?.map(|ns| ns / 1e6))
}

fn record(obj: &Object) -> Result<gw_model::Exchange, DecodeError> {
    let (k, v) = first_of(obj, &["StartUTC", "StartLocal"])
        .ok_or_else(|| DecodeError::missing("StartUTC"))?;
    let observed_at = rfc3339(k, v)?;
    let (k, v) =
        first_of(obj, &["RequestMethod"]).ok_or_else(|| DecodeError::missing("RequestMethod"))?;
    let method = method_token(k, &string(k, v)?)?;
    let (k, v) =
        first_of(obj, &["RequestPath"]).ok_or_else(|| DecodeError::missing("RequestPath"))?;
    let target = string(k, v)?;
    let (path, query) = split_target(&target);
    if path.is_empty() {
        return Err(DecodeError::field(
            RejectReason::BadField,
            k,
            "must not be empty",
        ));
    }
    let mut x = access_log_record(SourceKind::TraefikJson, observed_at, method, path);
    x.request.query = query.map(str::to_string);
    x.duration_ms = nanos_to_ms(obj, "Duration")?;
    x.upstream_duration_ms = nanos_to_ms(obj, "OriginDuration")?;
    x.request.http_version = opt_string(obj, &["RequestProtocol"])?.and_then(|p| http_version(&p));
    x.request.scheme = opt_string(obj, &["RequestScheme"])?.map(|s| Name::from_ascii_lowercase(&s));
    x.request.body = opt_unsigned(obj, &["RequestContentSize"])?.map(size_only_body);
    x.response.status = opt_status_code(obj, &["DownstreamStatus"])?;
    x.response.body = opt_unsigned(obj, &["DownstreamContentSize"])?.map(size_only_body);

    let host = opt_string(obj, &["ClientHost"])?;
    let addr = opt_string(obj, &["ClientAddr"])?;
    if let Some((ip, port)) = host.as_deref().or(addr.as_deref()).and_then(ip_port) {
        x.client.ip = Some(ip);
        x.client.port = port;
    }
    if let Some((k, v)) = first_of(obj, &["ClientPort"]) {
        x.client.port = super::fields::port(k, v)?;
    }
    x.server.host = opt_string(obj, &["RequestHost"])?;
    x.server.port = opt_unsigned(obj, &["RequestPort"])?.and_then(|p| u16::try_from(p).ok());
    let tls = Tls {
        version: opt_string(obj, &["TLSVersion"])?,
        cipher: opt_string(obj, &["TLSCipher"])?,
        sni: None,
        ja3: None,
        peer_subject: None,
    };
    if tls != Tls::default() {
        x.client.tls = Some(tls);
    }

    let upstream = Upstream {
        address: opt_string(obj, &["ServiceAddr"])?,
        status: opt_status_code(obj, &["OriginStatus"])?,
        url: opt_string(obj, &["ServiceURL"])?,
        cluster: None,
    };
    if upstream != Upstream::default() {
        x.upstream = Some(upstream);
    }
    let api = ApiRef {
        gateway_api_id: opt_string(obj, &["ServiceName"])?,
        route: opt_string(obj, &["RouterName"])?,
        ..ApiRef::default()
    };
    if api != ApiRef::default() {
        x.api = Some(api);
    }
    if let Some(n) = opt_unsigned(obj, &["RetryAttempts"])? {
        x.gateway = Some(GatewayInfo {
            retries: Some(n.min(u64::from(u32::MAX)) as u32),
            ..GatewayInfo::default()
        });
    }

    // Header fields, in the order the log line has them (serde_json keeps keys sorted, which
    // is still deterministic). Values are kept as logged (`REDACTED` when Traefik redacts).
    let mut request_headers = Vec::new();
    let mut response_headers = Vec::new();
    for (k, v) in obj {
        let Some((request, name)) = header_field(k) else {
            continue;
        };
        let list = if request {
            &mut request_headers
        } else {
            &mut response_headers
        };
        list.push(Header::new(name, string(k, v)?));
    }
    if !request_headers.is_empty() {
        x.client.user_agent = header(&request_headers, "user-agent");
        x.client.forwarded_for = header(&request_headers, "x-forwarded-for")
            .map(|s| forwarded_for(&s))
            .unwrap_or_default();
        x.request_id = header(&request_headers, "x-request-id");
        x.trace_id = header(&request_headers, "traceparent").and_then(|t| trace_id(&t));
        x.request.headers = Some(request_headers);
    }
    if !response_headers.is_empty() {
        x.response.content_type = header(&response_headers, "content-type");
        x.response.headers = Some(response_headers);
    }
    let mapped = |k: &str| MAPPED.contains(&k) || header_field(k).is_some();
    keep_unmapped(&mut x.extra, "traefik", unmapped(obj, mapped), Nested::Keep);
    Ok(x)
}

/// `request_<Header>` → `(true, Header)`, `downstream_<Header>` → `(false, Header)`.
fn header_field(key: &str) -> Option<(bool, &str)> {
    let (request, name) = match key.strip_prefix("request_") {
        Some(name) => (true, name),
        None => (false, key.strip_prefix("downstream_")?),
    };
    (!name.is_empty()).then_some((request, name))
}

fn header(headers: &[Header], name: &str) -> Option<String> {
    gw_model::header_value(Some(headers), name)
        .filter(|v| !v.is_empty() && *v != "-")
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample_of;

    const EXAMPLE: &str = r#"{"ClientAddr":"203.0.113.45:51544","ClientHost":"203.0.113.45","ClientPort":"51544","ClientUsername":"-","DownstreamContentSize":1877,"DownstreamStatus":200,"Duration":45123000,"OriginContentSize":1877,"OriginDuration":41007000,"OriginStatus":200,"Overhead":4116000,"RequestAddr":"api.example.com","RequestContentSize":0,"RequestCount":90412,"RequestHost":"api.example.com","RequestMethod":"GET","RequestPath":"/v1/orders/1042?expand=items","RequestPort":"-","RequestProtocol":"HTTP/2.0","RequestScheme":"https","RetryAttempts":0,"RouterName":"orders@kubernetescrd","ServiceAddr":"10.1.4.17:8080","ServiceName":"orders@kubernetescrd","ServiceURL":"http://10.1.4.17:8080","StartUTC":"2024-06-10T09:13:20.123456789Z","TLSCipher":"TLS_AES_128_GCM_SHA256","TLSVersion":"1.3","entryPointName":"websecure","request_User-Agent":"okhttp/4.12.0","level":"info","msg":"","time":"2024-06-10T09:13:20Z"}"#;

    #[test]
    fn reference_example_maps_every_field() {
        let x = record(&parse_object(EXAMPLE.as_bytes()).unwrap()).unwrap();
        assert_eq!(x.observed_at.to_string(), "2024-06-10T09:13:20.123456789Z");
        assert_eq!(x.duration_ms, Some(45.123));
        assert_eq!(x.upstream_duration_ms, Some(41.007));
        assert_eq!(x.client.ip, Some("203.0.113.45".parse().unwrap()));
        assert_eq!(x.client.port, Some(51544));
        assert_eq!(x.client.user_agent.as_deref(), Some("okhttp/4.12.0"));
        assert_eq!(x.request.path, "/v1/orders/1042");
        assert_eq!(x.request.query.as_deref(), Some("expand=items"));
        assert_eq!(x.request.http_version.as_deref(), Some("2"));
        assert_eq!(x.request.scheme.as_deref(), Some("https"));
        assert_eq!(
            x.request.headers.as_ref().unwrap()[0],
            Header::new("user-agent", "okhttp/4.12.0")
        );
        assert_eq!(x.server.host.as_deref(), Some("api.example.com"));
        assert_eq!(x.server.port, None);
        assert_eq!(x.response.status, Some(200));
        let up = x.upstream.unwrap();
        assert_eq!(
            (up.address.as_deref(), up.status),
            (Some("10.1.4.17:8080"), Some(200))
        );
        let api = x.api.unwrap();
        assert_eq!(api.route.as_deref(), Some("orders@kubernetescrd"));
        assert_eq!(x.gateway.unwrap().retries, Some(0));
        assert_eq!(x.client.tls.unwrap().version.as_deref(), Some("1.3"));
        assert_eq!(
            x.extra.get("traefik.entryPointName"),
            Some(&Value::from("websecure"))
        );
        assert!(
            !x.extra.contains_key("traefik.ClientUsername"),
            "`-` is unset"
        );
        assert!(!x.extra.contains_key("traefik.msg"), "empty is unset");
    }

    #[test]
    fn bad_values_name_their_field() {
        let line = EXAMPLE.replace("\"Duration\":45123000", "\"Duration\":\"slow\"");
        let e = record(&parse_object(line.as_bytes()).unwrap()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "field \"Duration\": expected a non-negative number, found \"slow\""
        );
        let line = EXAMPLE.replace("\"ClientPort\":\"51544\"", "\"ClientPort\":\"99999\"");
        assert_eq!(
            record(&parse_object(line.as_bytes()).unwrap())
                .unwrap_err()
                .field
                .as_deref(),
            Some("ClientPort")
        );
    }

    #[test]
    fn sniffs_traefik_lines() {
        assert_eq!(sample_of(EXAMPLE.as_bytes(), |s| TraefikJson.sniff(s)), 95);
        assert_eq!(
            sample_of(br#"{"status":200,"remote_addr":"192.0.2.1"}"#, |s| {
                TraefikJson.sniff(s)
            }),
            0
        );
    }
}
