//! Kong Gateway `http-log` plugin payloads (`kong.log.serialize()`, also written by file-log,
//! tcp-log, udp-log and syslog): one object per call, or an array of objects when the plugin
//! queue batches, one per line or as a whole document.
//!
//! Headers are present (Kong already redacts `authorization`), bodies only when an operator adds
//! them with `custom_fields_by_lua` as `request.body` / `response.body`.

use gw_model::{
    ApiRef, Capture, Client, Exchange, GatewayInfo, Identity, Name, Request, Response, Server,
    Source, SourceKind, Tls, Upstream,
};
use serde_json::Value;

use super::fields::{self, Nested, Object, take, take_object, text};
use crate::{DecodeCtx, DecodeError, Decoder, Emit, Framing, Sample, Unit};

pub struct KongHttpLog;

impl Decoder for KongHttpLog {
    fn kind(&self) -> SourceKind {
        SourceKind::KongHttpLog
    }

    fn framing(&self, sample: &Sample<'_>) -> Framing {
        fields::json_framing(sample)
    }

    fn sniff(&self, sample: &Sample<'_>) -> u8 {
        let Some(obj) = fields::first_object(sample.json) else {
            let head = String::from_utf8_lossy(&sample.head[..sample.head.len().min(8192)]);
            return if head.contains("\"started_at\"")
                && head.contains("\"latencies\"")
                && head.contains("\"upstream_uri\"")
            {
                80
            } else {
                0
            };
        };
        let request = obj.get("request").is_some_and(Value::is_object);
        let latencies = obj.get("latencies").and_then(Value::as_object);
        let kong_latency =
            latencies.is_some_and(|l| l.contains_key("kong") || l.contains_key("proxy"));
        match (request, obj.contains_key("started_at"), kong_latency) {
            (true, true, true) => 95,
            (true, true, false)
                if obj.contains_key("upstream_uri") || obj.contains_key("client_ip") =>
            {
                75
            }
            _ => 0,
        }
    }

    fn decode(&self, unit: Unit<'_>, ctx: &DecodeCtx, out: &mut dyn Emit) {
        fields::for_each_json_value(unit, out, |entry, out| {
            let result = entry
                .object()
                .and_then(|obj| decode_call(obj, &fields::header_orders(entry.bytes)));
            entry.finish(result, ctx, out);
        });
    }
}

fn need(v: Option<Value>, field: &str) -> Result<Value, DecodeError> {
    v.ok_or_else(|| DecodeError::missing(field))
}

/// `orders` is the source order of the header objects (see [`fields::header_orders`]).
fn decode_call(mut obj: Object, orders: &[(String, Vec<String>)]) -> Result<Exchange, DecodeError> {
    let mut extra = Object::new();
    let started = need(take(&mut obj, "started_at"), "started_at")?;
    let observed_at = fields::epoch_millis("started_at", &started)?
        .ok_or_else(|| DecodeError::missing("started_at"))?;

    let mut req =
        take_object(&mut obj, "request").ok_or_else(|| DecodeError::missing("request"))?;
    let method = need(take(&mut req, "method"), "request.method")?;
    let method = text(&method)
        .filter(|m| m.bytes().all(|b| b.is_ascii_graphic()))
        .ok_or_else(|| {
            DecodeError::field(
                crate::RejectReason::BadField,
                "request.method",
                "expected an HTTP method token",
            )
        })?;
    let url = take(&mut req, "url").and_then(|v| text(&v));
    let uri = take(&mut req, "uri").and_then(|v| text(&v));
    let url_parts = url.as_deref().map(fields::split_url_or_target);
    // `uri` is the raw request target; `url` is rebuilt by Kong with scheme, host and port.
    let (path, query) = match (&uri, &url_parts) {
        (Some(u), _) => {
            let (p, q) = fields::split_target(u);
            (p.to_string(), q.map(str::to_string))
        }
        (None, Some(parts)) => (parts.path.to_string(), parts.query.map(str::to_string)),
        (None, None) => return Err(DecodeError::missing("request.uri")),
    };
    // The parsed query table repeats `uri` and may hold credentials: never kept.
    req.remove("querystring");
    let mut req_headers = match req.remove("headers") {
        Some(v) => fields::headers("request.headers", &v)?,
        None => None,
    };
    if let Some(h) = req_headers.as_mut() {
        fields::restore_order(h, fields::order_of(orders, "request.headers"));
    }
    let req_size = take(&mut req, "size")
        .map(|v| fields::unsigned("request.size", &v))
        .transpose()?
        .flatten();
    let req_body = take(&mut req, "body")
        .and_then(|v| text(&v))
        .map(|b| fields::body(b, None, None));
    let request_id = take(&mut req, "id").and_then(|v| text(&v));
    let tls = take_object(&mut req, "tls").map(|mut t| {
        let tls = Tls {
            version: take(&mut t, "version").and_then(|v| text(&v)),
            cipher: take(&mut t, "cipher").and_then(|v| text(&v)),
            ..Tls::default()
        };
        fields::keep_unmapped(&mut extra, "kong.request.tls", t, Nested::Flatten);
        tls
    });
    fields::keep_unmapped(&mut extra, "kong.request", req, Nested::Flatten);

    let mut resp = take_object(&mut obj, "response").unwrap_or_default();
    let status = take(&mut resp, "status")
        .map(|v| fields::status("response.status", &v))
        .transpose()?
        .flatten();
    let mut resp_headers = match resp.remove("headers") {
        Some(v) => fields::headers("response.headers", &v)?,
        None => None,
    };
    if let Some(h) = resp_headers.as_mut() {
        fields::restore_order(h, fields::order_of(orders, "response.headers"));
    }
    let resp_size = take(&mut resp, "size")
        .map(|v| fields::unsigned("response.size", &v))
        .transpose()?
        .flatten();
    let resp_body = take(&mut resp, "body")
        .and_then(|v| text(&v))
        .map(|b| fields::body(b, None, None));
    fields::keep_unmapped(&mut extra, "kong.response", resp, Nested::Flatten);

    let (mut duration_ms, mut upstream_duration_ms) = (None, None);
    if let Some(mut lat) = take_object(&mut obj, "latencies") {
        duration_ms = take(&mut lat, "request")
            .map(|v| fields::millis("latencies.request", &v))
            .transpose()?
            .flatten();
        upstream_duration_ms = take(&mut lat, "proxy")
            .map(|v| fields::millis("latencies.proxy", &v))
            .transpose()?
            .flatten();
        fields::keep_unmapped(&mut extra, "kong.latencies", lat, Nested::Flatten);
    }

    let client_ip = take(&mut obj, "client_ip")
        .map(|v| fields::ip("client_ip", &v))
        .transpose()?
        .flatten();

    let mut upstream = Upstream {
        url: take(&mut obj, "upstream_uri").and_then(|v| text(&v)),
        status: take(&mut obj, "upstream_status")
            .map(|v| fields::status("upstream_status", &v))
            .transpose()?
            .flatten(),
        ..Upstream::default()
    };
    let mut retries = None;
    if let Some(Value::Array(tries)) = obj.remove("tries") {
        retries = tries.len().checked_sub(1).map(|n| n as u32);
        if let Some(last) = tries.last() {
            let ip = last.get("ip").and_then(text);
            let port = last.get("port").and_then(text);
            upstream.address = match (ip, port) {
                (Some(ip), Some(port)) if ip.contains(':') => Some(format!("[{ip}]:{port}")),
                (Some(ip), Some(port)) => Some(format!("{ip}:{port}")),
                (ip, _) => ip,
            };
        }
        if !tries.is_empty() {
            extra.insert("kong.tries".into(), Value::Array(tries));
        }
    }

    let mut api = ApiRef::default();
    if let Some(mut service) = take_object(&mut obj, "service") {
        let name = take(&mut service, "name").and_then(|v| text(&v));
        let id = service.get("id").and_then(text);
        api.gateway_api_id = name.or(id);
        fields::keep_unmapped(&mut extra, "kong.service", service, Nested::Flatten);
    }
    if let Some(mut route) = take_object(&mut obj, "route") {
        let name = take(&mut route, "name").and_then(|v| text(&v));
        let id = route.get("id").and_then(text);
        api.route = name.or(id);
        fields::keep_unmapped(&mut extra, "kong.route", route, Nested::Flatten);
    }

    let mut identity = Identity::default();
    if let Some(mut consumer) = take_object(&mut obj, "consumer") {
        identity.consumer_id = take(&mut consumer, "id").and_then(|v| text(&v));
        let username = take(&mut consumer, "username").and_then(|v| text(&v));
        identity.consumer_name = username.or_else(|| consumer.get("custom_id").and_then(text));
        fields::keep_unmapped(&mut extra, "kong.consumer", consumer, Nested::Flatten);
    }
    if let Some(entity) = take_object(&mut obj, "authenticated_entity") {
        if identity.consumer_id.is_none() {
            identity.consumer_id = entity.get("consumer_id").and_then(text);
        }
        fields::keep_unmapped(
            &mut extra,
            "kong.authenticated_entity",
            entity,
            Nested::Flatten,
        );
    }

    let gateway_name = take(&mut obj, "workspace_name").and_then(|v| text(&v));
    fields::keep_unmapped(&mut extra, "kong", obj, Nested::Flatten);

    let request_id = request_id
        .or_else(|| {
            gw_model::header_value(resp_headers.as_deref(), "x-kong-request-id").map(str::to_string)
        })
        .or_else(|| {
            gw_model::header_value(req_headers.as_deref(), "x-kong-request-id").map(str::to_string)
        })
        .or_else(|| {
            gw_model::header_value(req_headers.as_deref(), "x-request-id").map(str::to_string)
        });
    let trace_id =
        gw_model::header_value(req_headers.as_deref(), "traceparent").and_then(fields::trace_id);
    let content_type =
        gw_model::header_value(resp_headers.as_deref(), "content-type").map(str::to_string);
    let host = url_parts
        .as_ref()
        .and_then(|p| p.host.map(str::to_string))
        .or_else(|| gw_model::header_value(req_headers.as_deref(), "host").map(str::to_string));
    let capture = if req_headers.is_some() || resp_headers.is_some() {
        Capture::Frontend
    } else {
        Capture::AccessLog
    };

    Ok(Exchange {
        duration_ms,
        upstream_duration_ms,
        request_id,
        trace_id,
        client: Client {
            ip: client_ip,
            tls,
            ..Client::default()
        },
        server: Server {
            host,
            ip: None,
            port: url_parts.as_ref().and_then(|p| p.port),
        },
        request: Request {
            method: Name::from(method),
            scheme: url_parts.as_ref().and_then(|p| p.scheme.map(Name::from)),
            path,
            query,
            http_version: None,
            headers: req_headers,
            body: req_body,
            size: req_size,
        },
        response: Response {
            status,
            headers: resp_headers,
            body: resp_body,
            size: resp_size,
            content_type,
        },
        upstream: (upstream != Upstream::default()).then_some(upstream),
        api: (api != ApiRef::default()).then_some(api),
        identity: (identity != Identity::default()).then_some(identity),
        gateway: retries.map(|r| GatewayInfo {
            retries: Some(r),
            ..GatewayInfo::default()
        }),
        extra,
        ..Exchange::new(
            String::new(),
            observed_at,
            Source {
                kind: SourceKind::KongHttpLog,
                capture,
                gateway: gateway_name,
                raw_ref: None,
            },
            String::new(),
            String::new(),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RejectReason;

    use crate::formats::testing::{Collect, decode_unit};

    const EXAMPLE: &str = r#"{"request":{"method":"GET","uri":"/v1/orders/1042?expand=items","url":"https://api.example.com:443/v1/orders/1042?expand=items","querystring":{"expand":"items"},"size":412,"headers":{"host":"api.example.com","user-agent":"okhttp/4.12.0","authorization":"REDACTED"},"tls":{"version":"TLSv1.3","cipher":"TLS_AES_128_GCM_SHA256","client_verify":"NONE"}},"upstream_uri":"/orders/1042?expand=items","response":{"status":200,"size":1877,"headers":{"content-type":"application/json","x-kong-upstream-latency":"41","x-kong-proxy-latency":"2"}},"latencies":{"request":45,"kong":3,"proxy":41},"tries":[{"ip":"10.1.4.17","port":8080,"balancer_start":1718010800125,"balancer_latency":0}],"route":{"id":"5f0c","name":"orders-get","paths":["/v1/orders"],"protocols":["https"]},"service":{"id":"9a1e","name":"orders","host":"orders.internal","port":8080,"protocol":"http","path":"/orders"},"consumer":{"id":"c62c","username":"mobile-app"},"authenticated_entity":{"id":"a1b2","consumer_id":"c62c"},"client_ip":"203.0.113.45","started_at":1718010800123,"workspace":"54ba","workspace_name":"default"}"#;

    fn decode(input: &str) -> Collect {
        decode_unit(&KongHttpLog, input, 1, "kong.log")
    }

    #[test]
    fn the_reference_example_maps_every_field() {
        let out = decode(EXAMPLE);
        assert!(out.1.is_empty(), "{:?}", out.1);
        let x = &out.0[0];
        assert_eq!(x.observed_at.to_string(), "2024-06-10T09:13:20.123Z");
        assert_eq!(
            (x.duration_ms, x.upstream_duration_ms),
            (Some(45.0), Some(41.0))
        );
        assert_eq!(
            (x.request.path.as_str(), x.request.query.as_deref()),
            ("/v1/orders/1042", Some("expand=items"))
        );
        assert_eq!(x.request.scheme.as_deref(), Some("https"));
        assert_eq!(
            (x.server.host.as_deref(), x.server.port),
            (Some("api.example.com"), Some(443))
        );
        assert_eq!(x.client.ip, Some("203.0.113.45".parse().unwrap()));
        assert_eq!(
            x.client.tls.as_ref().unwrap().version.as_deref(),
            Some("TLSv1.3")
        );
        assert_eq!(x.response.status, Some(200));
        assert_eq!(x.response.content_type.as_deref(), Some("application/json"));
        let up = x.upstream.as_ref().unwrap();
        assert_eq!(up.address.as_deref(), Some("10.1.4.17:8080"));
        assert_eq!(up.url.as_deref(), Some("/orders/1042?expand=items"));
        let api = x.api.as_ref().unwrap();
        assert_eq!(
            (api.gateway_api_id.as_deref(), api.route.as_deref()),
            (Some("orders"), Some("orders-get"))
        );
        let id = x.identity.as_ref().unwrap();
        assert_eq!(
            (id.consumer_id.as_deref(), id.consumer_name.as_deref()),
            (Some("c62c"), Some("mobile-app"))
        );
        assert_eq!(x.gateway.as_ref().unwrap().retries, Some(0));
        assert_eq!(x.source.gateway.as_deref(), Some("default"));
        assert_eq!(x.source.capture, Capture::Frontend);
        assert_eq!(x.extra["kong.workspace"], "54ba");
        assert_eq!(x.extra["kong.latencies.kong"], 3);
        assert_eq!(
            x.extra["kong.route.paths"],
            serde_json::json!(["/v1/orders"])
        );
        assert!(!x.extra.keys().any(|k| k.contains("querystring")));
        assert_eq!(x.source.raw_ref.as_deref(), Some("kong.log:1"));
    }

    #[test]
    fn a_batch_keeps_the_good_calls_around_a_bad_one() {
        let bad = EXAMPLE.replace("\"started_at\":1718010800123", "\"started_at\":\"soon\"");
        let no_request = r#"{"started_at":1718010800123,"response":{"status":200}}"#;
        let out = decode(&format!("[{EXAMPLE},\n{bad},\n{no_request},\n{EXAMPLE}]"));
        assert_eq!(out.0.len(), 2);
        assert_eq!(out.1.len(), 2);
        assert_eq!(out.1[0].entry.as_deref(), Some("[1]"));
        assert_eq!(out.1[0].field.as_deref(), Some("started_at"));
        assert_eq!(out.1[0].line, Some(2));
        assert_eq!(out.1[1].reason, RejectReason::MissingField);
        assert_eq!(out.1[1].field.as_deref(), Some("request"));
        assert_ne!(out.0[0].id, out.0[1].id);
    }

    #[test]
    fn no_upstream_latency_is_unknown_not_zero() {
        let x = &decode(&EXAMPLE.replace("\"proxy\":41", "\"proxy\":-1")).0[0];
        assert_eq!(x.upstream_duration_ms, None);
    }
}
