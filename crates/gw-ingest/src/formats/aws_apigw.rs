//! AWS API Gateway access logs in a JSON format (`$context` variables, reference A5.1).
//!
//! The member names are the operator's choice in the stage's log template. The decoder reads the
//! names AWS documents in its examples (`requestId`, `ip`, `httpMethod`, `routeKey` …), the
//! variable names themselves with or without `$context.` (`identity.sourceIp`), and nested
//! objects (`{"identity":{"sourceIp":…}}`). Every value may be a string; `-` is unknown.
//! Lines may also come inside a CloudWatch Logs subscription message (`logEvents[].message`)
//! or as CloudWatch exports prefixed with their ingestion time.
//!
//! The logs carry no headers and no bodies: records are `access_log` captures.

use gw_model::{
    ApiRef, AuthType, Capture, Exchange, GatewayError, GatewayInfo, Identity, Source, SourceKind,
    Tls, Upstream,
};
use serde_json::Value;

use super::fields::{self, Columns, Entry, Nested, Object, text};
use crate::{DecodeCtx, DecodeError, Decoder, Emit, Framing, RejectReason, Sample, Unit};

pub struct AwsApiGateway;

impl Decoder for AwsApiGateway {
    fn kind(&self) -> SourceKind {
        SourceKind::AwsApiGateway
    }

    fn framing(&self, sample: &Sample<'_>) -> Framing {
        fields::json_framing(sample)
    }

    fn sniff(&self, sample: &Sample<'_>) -> u8 {
        let obj = match fields::first_object(sample.json) {
            Some(o) => o,
            None => match strip_export_prefix(sample.first_line)
                .and_then(|b| serde_json::from_slice::<Object>(b).ok())
            {
                Some(o) => return score(&columns(o)),
                None => return 0,
            },
        };
        if let Some(events) = obj.get("logEvents").and_then(Value::as_array) {
            let first = events
                .first()
                .and_then(|e| e.get("message"))
                .and_then(Value::as_str)
                .and_then(|m| serde_json::from_str::<Object>(m).ok());
            return first.map_or(0, |o| score(&columns(o)));
        }
        score(&columns(obj.clone()))
    }

    fn decode(&self, unit: Unit<'_>, ctx: &DecodeCtx, out: &mut dyn Emit) {
        let bytes = strip_export_prefix(unit.bytes).unwrap_or(unit.bytes);
        let unit = Unit {
            bytes,
            line: unit.line,
        };
        fields::for_each_json_value(unit, out, |entry, out| {
            let obj = match entry.object() {
                Ok(o) => o,
                Err(e) => return entry.reject(out, e),
            };
            if obj.contains_key("logEvents") || obj.contains_key("messageType") {
                return decode_subscription(obj, &entry, ctx, out);
            }
            entry.finish(decode_access_log(obj), ctx, out);
        });
    }
}

/// How sure the member names are API Gateway's.
fn score(f: &Columns) -> u8 {
    let has = |names: &[&str]| f.has(names);
    if !has(REQUEST_ID) {
        return 0;
    }
    let method = has(&["httpmethod"]);
    let api_gateway_only = has(&[
        "routekey",
        "resourcepath",
        "responselatency",
        "integrationlatency",
        "apiid",
    ]);
    match (method, api_gateway_only) {
        (true, true) => 95,
        (true, false) if has(IP) && has(STATUS) => 70,
        (false, true) if has(STATUS) => 60,
        _ => 0,
    }
}

/// A CloudWatch export line (`2024-06-10T09:13:20.123Z {"requestId":…}`) without its time prefix.
fn strip_export_prefix(line: &[u8]) -> Option<&[u8]> {
    let first = fields::first_byte(line)?;
    if !first.is_ascii_digit() {
        return None;
    }
    let space = memchr::memchr(b' ', line)?;
    let stamp = std::str::from_utf8(&line[..space]).ok()?;
    fields::timestamp_text(stamp)?;
    let rest = &line[space + 1..];
    (fields::first_byte(rest) == Some(b'{')).then_some(rest)
}

/// A CloudWatch Logs subscription message: every `logEvents[i].message` is one access-log line.
fn decode_subscription(mut obj: Object, entry: &Entry<'_>, ctx: &DecodeCtx, out: &mut dyn Emit) {
    if obj.get("messageType").and_then(Value::as_str) == Some("CONTROL_MESSAGE") {
        return;
    }
    let Some(Value::Array(events)) = obj.remove("logEvents") else {
        let err = DecodeError::field(
            RejectReason::BadField,
            "logEvents",
            "expected an array of log events",
        );
        return entry.reject(out, err);
    };
    let group = obj
        .get("logGroup")
        .and_then(Value::as_str)
        .map(str::to_string);
    for (i, event) in events.into_iter().enumerate() {
        let index = entry.index * 1_000_000 + i;
        let at = entry.child("logEvents", i);
        let message = event.get("message").and_then(Value::as_str);
        let result = match message {
            None => Err(DecodeError::missing("message")),
            Some(m) => serde_json::from_str::<Object>(m)
                .map_err(|e| {
                    DecodeError::field(
                        RejectReason::InvalidJson,
                        "message",
                        format!("the log event is not a JSON access log: {e}"),
                    )
                })
                .and_then(decode_access_log),
        };
        match result {
            Ok(mut x) => {
                if let Some(g) = &group {
                    x.extra
                        .insert("aws.log_group".into(), Value::String(g.clone()));
                }
                if let Some(id) = event.get("id").and_then(text) {
                    x.extra.insert("aws.log_event_id".into(), Value::String(id));
                }
                ctx.finish_record(
                    &mut x,
                    entry.line,
                    index,
                    message.unwrap_or_default().as_bytes(),
                );
                out.record(x);
            }
            Err(e) => entry.reject(out, e.at_entry(at)),
        }
    }
}

const REQUEST_ID: &[&str] = &["requestid"];
const IP: &[&str] = &["ip", "sourceip", "identity.sourceip", "clientip"];
const STATUS: &[&str] = &["status"];

/// The record's members keyed by lower-cased `$context` name (`identity.sourceip`), nested
/// objects flattened, the `$context.` / `context.` prefix removed.
fn columns(obj: Object) -> Columns {
    fn add(columns: &mut Columns, prefix: &str, obj: Object) {
        for (k, v) in obj {
            let name = format!("{prefix}{k}");
            match v {
                Value::Object(inner) => add(columns, &format!("{name}."), inner),
                v => {
                    let key = name.to_ascii_lowercase();
                    let key = key
                        .strip_prefix("$context.")
                        .or_else(|| key.strip_prefix("context."))
                        .unwrap_or(&key)
                        .to_string();
                    columns.insert(key, name, v);
                }
            }
        }
    }
    let mut columns = Columns::with_capacity(obj.len() * 2);
    add(&mut columns, "", obj);
    columns
}

/// Authorizer claims (`authorizer.claims.sub`, `authorizer.jwt.claims.sub`).
fn claim(f: &mut Columns, claim: &str) -> Option<String> {
    let a = format!("authorizer.claims.{claim}");
    let b = format!("authorizer.jwt.claims.{claim}");
    let c = format!("claims.{claim}");
    f.text(&[a.as_str(), b.as_str(), c.as_str()])
}

fn decode_access_log(obj: Object) -> Result<Exchange, DecodeError> {
    let mut f = columns(obj);
    let request_id = f.text(REQUEST_ID);
    let extended_id = f.text(&["extendedrequestid"]);
    if request_id.is_none() && extended_id.is_none() {
        return Err(DecodeError::missing("requestId"));
    }
    let observed_at = match f.map(&["requesttimeepoch", "timeepoch"], fields::timestamp)? {
        Some(t) => t,
        None => f
            .map(&["requesttime", "time", "timestamp"], fields::timestamp)?
            .ok_or_else(|| DecodeError::missing("requestTime"))?,
    };
    let method = f
        .text(&["httpmethod", "method"])
        .filter(|m| m.bytes().all(|b| b.is_ascii_graphic()))
        .ok_or_else(|| DecodeError::missing("httpMethod"))?;
    let resource_path = f.text(&["resourcepath"]);
    let route_key = f.text(&["routekey"]);
    // HTTP APIs log `GET /orders/{id}`; the route is the template after the method.
    let route = resource_path.clone().or_else(|| {
        route_key.as_ref().map(|k| match k.split_once(' ') {
            Some((m, t)) if m.eq_ignore_ascii_case(&method) || m == "ANY" => t.to_string(),
            _ => k.clone(),
        })
    });
    let raw_path = f.text(&["path", "requestpath"]);
    let mut extra = Object::new();
    // Templates like AWS's own examples log no path: the route template stands in for it.
    let target = match (&raw_path, &route) {
        (Some(p), _) => p.clone(),
        (None, Some(r)) if r.starts_with('/') => {
            extra.insert("aws.path_is_route_template".into(), Value::Bool(true));
            r.clone()
        }
        _ => {
            return Err(DecodeError::field(
                RejectReason::MissingField,
                "path",
                "the record has neither $context.path nor a resourcePath/routeKey template to stand in for it",
            ));
        }
    };
    let (path, query) = fields::split_target(&target);
    let (path, query) = (path.to_string(), query.map(str::to_string));

    let api_id = f.text(&["apiid"]);
    let stage = f.text(&["stage"]);
    let peer_subject = f.text(&["identity.clientcert.subjectdn", "clientcert.subjectdn"]);
    let api_key_id = f.text(&["identity.apikeyid", "apikeyid"]);
    let principal_id = f.text(&["authorizer.principalid", "principalid", "principal"]);
    let sub = claim(&mut f, "sub");
    let iss = claim(&mut f, "iss");
    let iam_user = f.text(&["identity.user", "user"]);
    let caller = f.text(&["identity.caller", "caller"]);
    let principal = principal_id
        .or_else(|| match (&sub, &iss) {
            (Some(s), Some(i)) => Some(format!("{s}@{i}")),
            (s, _) => s.clone(),
        })
        .or(iam_user.clone())
        .or(caller.clone());
    // The gateway only logs these when it authenticated the call that way.
    let auth_type = if peer_subject.is_some() {
        Some(AuthType::Mtls)
    } else if sub.is_some() {
        Some(AuthType::BearerJwt)
    } else if api_key_id.is_some() {
        Some(AuthType::ApiKey)
    } else {
        None
    };
    let identity = Identity {
        consumer_id: api_key_id,
        consumer_name: None,
        auth_type,
        principal,
        credential_fp: None,
    };
    let error_message = f.text(&["error.message", "errormessage"]);
    let error_type = f.text(&["error.responsetype", "errorresponsetype"]);
    let authorizer_error = f.text(&["authorizer.error"]);
    let error = match (error_message, error_type, authorizer_error) {
        (None, None, None) => None,
        (message, reason, authz) => Some(GatewayError {
            source: Some(
                if authz.is_some() {
                    "authorizer"
                } else {
                    "gateway"
                }
                .to_string(),
            ),
            reason,
            message: message.or(authz),
        }),
    };
    let upstream = Upstream {
        status: f.map(&["integrationstatus", "integration.status"], fields::status)?,
        ..Upstream::default()
    };

    let mut x = Exchange::new(
        String::new(),
        observed_at,
        Source {
            kind: SourceKind::AwsApiGateway,
            capture: Capture::AccessLog,
            gateway: match (&api_id, &stage) {
                (Some(a), Some(s)) => Some(format!("{a}/{s}")),
                (a, _) => a.clone(),
            },
            raw_ref: None,
        },
        method,
        path,
    );
    x.request_id = request_id.or(extended_id.clone());
    if let Some(ext) = extended_id.filter(|e| Some(e) != x.request_id.as_ref()) {
        extra.insert("aws.extendedRequestId".into(), Value::String(ext));
    }
    x.duration_ms = f.map(&["responselatency"], fields::millis)?;
    x.upstream_duration_ms = f.map(
        &["integrationlatency", "integration.latency"],
        fields::millis,
    )?;
    x.client.ip = f.map(IP, fields::ip)?;
    x.client.user_agent = f.text(&["useragent", "identity.useragent"]);
    x.client.tls = peer_subject.map(|s| Tls {
        peer_subject: Some(s),
        ..Tls::default()
    });
    x.server.host = f.text(&["domainname"]);
    x.request.query = query;
    x.request.http_version = f.text(&["protocol"]).and_then(|p| fields::http_version(&p));
    x.response.status = f.map(STATUS, fields::status)?;
    x.response.size = f.map(&["responselength"], fields::unsigned)?;
    x.upstream = (upstream != Upstream::default()).then_some(upstream);
    let api = ApiRef {
        gateway_api_id: api_id,
        route,
        ..ApiRef::default()
    };
    x.api = (api != ApiRef::default()).then_some(api);
    x.identity = (identity != Identity::default()).then_some(identity);
    x.gateway = error.map(|e| GatewayInfo {
        error: Some(e),
        ..GatewayInfo::default()
    });
    if let Some(k) = route_key {
        extra.insert("aws.routeKey".into(), Value::String(k));
    }
    if let Some(s) = stage {
        extra.insert("aws.stage".into(), Value::String(s));
    }
    if let Some(u) = iam_user {
        extra.insert("aws.identity.user".into(), Value::String(u));
    }
    if let Some(c) = caller {
        extra.insert("aws.identity.caller".into(), Value::String(c));
    }
    fields::keep_unmapped(&mut extra, "aws", f.into_rest(), Nested::Keep);
    x.extra = extra;
    Ok(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::formats::testing::{Collect, decode_unit};

    fn decode(input: &str) -> Collect {
        decode_unit(&AwsApiGateway, input, 7, "apigw.log")
    }

    const EXAMPLE: &str = r#"{"requestId":"c6af9ac6-7b61-11e6-9a41-93e8deadbeef","ip":"203.0.113.45","requestTime":"1718010800123","httpMethod":"GET","resourcePath":"/orders/{id}","path":"/prod/orders/1042","status":"200","responseLength":"1877","responseLatency":"45","integrationLatency":"41","userAgent":"okhttp/4.12.0","apiKeyId":"abcd1234ef","principal":"user-8841","apiId":"a1b2c3d4e5","stage":"prod"}"#;

    #[test]
    fn the_reference_example_maps_every_field() {
        let out = decode(EXAMPLE);
        assert!(out.1.is_empty(), "{:?}", out.1);
        let x = &out.0[0];
        assert_eq!(x.observed_at.to_string(), "2024-06-10T09:13:20.123Z");
        assert_eq!(
            x.request_id.as_deref(),
            Some("c6af9ac6-7b61-11e6-9a41-93e8deadbeef")
        );
        assert_eq!(x.request.path, "/prod/orders/1042");
        assert_eq!(x.response.status, Some(200));
        assert_eq!(x.response.size, Some(1877));
        assert_eq!(
            (x.duration_ms, x.upstream_duration_ms),
            (Some(45.0), Some(41.0))
        );
        assert_eq!(x.client.user_agent.as_deref(), Some("okhttp/4.12.0"));
        assert_eq!(x.source.gateway.as_deref(), Some("a1b2c3d4e5/prod"));
        assert_eq!(x.source.capture, Capture::AccessLog);
        let api = x.api.as_ref().unwrap();
        assert_eq!(
            (api.gateway_api_id.as_deref(), api.route.as_deref()),
            (Some("a1b2c3d4e5"), Some("/orders/{id}"))
        );
        let id = x.identity.as_ref().unwrap();
        assert_eq!(id.consumer_id.as_deref(), Some("abcd1234ef"));
        assert_eq!(id.principal.as_deref(), Some("user-8841"));
        assert_eq!(id.auth_type, Some(AuthType::ApiKey));
        assert_eq!(x.extra["aws.stage"], "prod");
        assert_eq!(x.source.raw_ref.as_deref(), Some("apigw.log:7"));
    }

    #[test]
    fn http_api_template_without_path_uses_the_route_and_clf_time() {
        let line = r#"{"requestId":"Ab1=","ip":"198.51.100.9","requestTime":"10/Jun/2024:09:13:20 +0000","httpMethod":"POST","routeKey":"POST /orders","status":"201","protocol":"HTTP/1.1","responseLength":"-","integration.latency":"12","authorizer.claims.sub":"8841","authorizer.claims.iss":"https://cognito"}"#;
        let x = &decode(line).0[0];
        assert_eq!(x.request.path, "/orders");
        assert_eq!(x.extra["aws.path_is_route_template"], true);
        assert_eq!(x.request.http_version.as_deref(), Some("1.1"));
        assert_eq!(x.response.size, None);
        assert_eq!(x.upstream_duration_ms, Some(12.0));
        let id = x.identity.as_ref().unwrap();
        assert_eq!(id.principal.as_deref(), Some("8841@https://cognito"));
        assert_eq!(id.auth_type, Some(AuthType::BearerJwt));
    }

    #[test]
    fn cloudwatch_subscription_messages_and_bad_events() {
        let msg = serde_json::to_string(EXAMPLE).unwrap();
        let bad =
            serde_json::to_string(&EXAMPLE.replace("\"status\":\"200\"", "\"status\":\"OK\""))
                .unwrap();
        let input = format!(
            r#"{{"messageType":"DATA_MESSAGE","logGroup":"API-Gateway-Access-Logs","logEvents":[{{"id":"1","timestamp":1718010800123,"message":{msg}}},{{"id":"2","message":{bad}}},{{"id":"3","message":"not json"}},{{"id":"4","message":{msg}}}]}}"#
        );
        let out = decode(&input);
        assert_eq!((out.0.len(), out.1.len()), (2, 2));
        assert_eq!(out.1[0].entry.as_deref(), Some("logEvents[1]"));
        assert_eq!(out.1[0].field.as_deref(), Some("status"));
        assert_eq!(out.1[1].reason, RejectReason::InvalidJson);
        assert_ne!(out.0[0].id, out.0[1].id);
        assert_eq!(out.0[0].extra["aws.log_group"], "API-Gateway-Access-Logs");
        crate::sample_of(input.as_bytes(), |s| assert_eq!(AwsApiGateway.sniff(s), 95));
    }

    #[test]
    fn firehose_objects_written_back_to_back_are_separate_records() {
        let second = EXAMPLE.replace("c6af9ac6", "d7b0bd07");
        let out = decode(&format!("{EXAMPLE}{second}"));
        assert!(out.1.is_empty(), "{:?}", out.1);
        assert_eq!(out.0.len(), 2);
        assert_ne!(out.0[0].id, out.0[1].id);
        assert!(
            out.0[1]
                .request_id
                .as_deref()
                .unwrap()
                .starts_with("d7b0bd07")
        );
    }

    #[test]
    fn export_lines_with_a_time_prefix() {
        let out = decode(&format!("2024-06-10T09:13:21.000Z {EXAMPLE}"));
        assert_eq!(out.0.len(), 1);
        crate::sample_of(
            format!("2024-06-10T09:13:21.000Z {EXAMPLE}").as_bytes(),
            |s| assert_eq!(AwsApiGateway.sniff(s), 95),
        );
    }

    #[test]
    fn missing_request_id_and_method_are_named() {
        let out = decode(&EXAMPLE.replace("\"requestId\"", "\"rid\""));
        assert_eq!(out.1[0].field.as_deref(), Some("requestId"));
        let out = decode(&EXAMPLE.replace("\"httpMethod\":\"GET\"", "\"httpMethod\":\"-\""));
        assert_eq!(out.1[0].field.as_deref(), Some("httpMethod"));
        assert_eq!(out.1[0].line, Some(7));
    }
}
