//! Azure API Management.
//!
//! [`ApimGatewayLogs`] reads the `GatewayLogs` resource log in both shapes Azure writes it:
//! the Event Hub / Storage envelope `{"records":[{…,"category":"GatewayLogs","properties":{…}}]}`
//! (camelCase, one envelope per line or per document, every record one exchange) and Log
//! Analytics `ApiManagementGatewayLogs` rows (flat PascalCase columns, NDJSON or a JSON array).
//! Both name the same fields in different cases, so they are matched case-insensitively.
//!
//! [`ApimPolicy`] reads the one-object-per-call payload of the reference `log-to-eventhub`
//! policy (reference/ecosystem-formats.md A1.2), which carries headers and bodies.

use gw_model::{
    ApiRef, Capture, Client, Exchange, GatewayError, GatewayInfo, Header, Identity, Name, Response,
    Server, Source, SourceKind, Tls, Upstream,
};
use serde_json::Value;
use serde_json::value::RawValue;

use super::fields::{self, Columns, Entry, Nested, Object, take, take_object, text};
use crate::decoder::{line_of, offset_in};
use crate::{DecodeCtx, DecodeError, Decoder, Emit, Framing, RejectReason, Sample, Unit};

/// APIM caps logged bodies (diagnostic "number of payload bytes to log", at most 8192).
const APIM_BODY_CAP: usize = 8192;

/// `GatewayLogs` resource-log records and `ApiManagementGatewayLogs` rows.
pub struct ApimGatewayLogs;

impl Decoder for ApimGatewayLogs {
    fn kind(&self) -> SourceKind {
        SourceKind::AzureApimGatewayLogs
    }

    fn framing(&self, sample: &Sample<'_>) -> Framing {
        fields::json_framing(sample)
    }

    fn sniff(&self, sample: &Sample<'_>) -> u8 {
        let Some(obj) = fields::first_object(sample.json) else {
            let head = String::from_utf8_lossy(&sample.head[..sample.head.len().min(8192)]);
            let gateway_logs =
                head.contains("\"GatewayLogs\"") || head.contains("\"ApiManagementGatewayLogs\"");
            return if gateway_logs { 85 } else { 0 };
        };
        let first = match obj.get("records").and_then(Value::as_array) {
            Some(records) => match records.first().and_then(Value::as_object) {
                Some(r) => r,
                None => return 0,
            },
            None => obj,
        };
        let category = first
            .get("category")
            .or_else(|| first.get("Category"))
            .and_then(Value::as_str);
        let table = first.get("Type").and_then(Value::as_str);
        if category == Some("GatewayLogs") || table == Some("ApiManagementGatewayLogs") {
            return 100;
        }
        let operation = first
            .get("operationName")
            .or_else(|| first.get("OperationName"))
            .and_then(Value::as_str);
        if operation.is_some_and(|o| o.eq_ignore_ascii_case("Microsoft.ApiManagement/GatewayLogs"))
        {
            return 100;
        }
        let la_row = ["CallerIpAddress", "ApiId", "ResponseCode", "Url", "Method"]
            .iter()
            .all(|k| first.contains_key(*k));
        if la_row { 80 } else { 0 }
    }

    fn decode(&self, unit: Unit<'_>, ctx: &DecodeCtx, out: &mut dyn Emit) {
        fields::for_each_json_value(unit, out, |entry, out| {
            let records = serde_json::from_slice::<Envelope<'_>>(entry.bytes)
                .ok()
                .and_then(|e| e.records);
            let Some(records) = records else {
                let result = entry
                    .object()
                    .and_then(|r| decode_gateway_log(r, entry.bytes));
                return entry.finish(result, ctx, out);
            };
            let Ok(records) = serde_json::from_str::<Vec<&RawValue>>(records.get()) else {
                let err = DecodeError::field(
                    RejectReason::BadField,
                    "records",
                    "expected an array of resource-log records",
                );
                return entry.reject(out, err);
            };
            for (i, raw) in records.into_iter().enumerate() {
                let bytes = raw.get().as_bytes();
                let record = Entry {
                    bytes,
                    line: offset_in(entry.bytes, bytes)
                        .map_or(entry.line, |o| entry.line + line_of(entry.bytes, o) - 1),
                    path: Some(entry.child("records", i)),
                    // Records of one envelope share its line; the position keeps their ids distinct.
                    index: entry.index * 1_000_000 + i,
                };
                let result = record.object().and_then(|r| decode_gateway_log(r, bytes));
                record.finish(result, ctx, out);
            }
        });
    }
}

/// The Event Hub / Storage envelope; `records` borrowed raw so each record keeps its bytes.
#[derive(serde::Deserialize)]
struct Envelope<'a> {
    #[serde(borrow, default)]
    records: Option<&'a RawValue>,
}

/// Case-insensitive view of one record: top-level members and those of `properties`, the way
/// the streamed form nests them, keyed by lower-cased name.
struct GatewayColumns {
    columns: Columns,
    /// Log Analytics rows name their columns in PascalCase; rejects use the source's spelling.
    pascal: bool,
}

impl std::ops::Deref for GatewayColumns {
    type Target = Columns;
    fn deref(&self) -> &Columns {
        &self.columns
    }
}

impl std::ops::DerefMut for GatewayColumns {
    fn deref_mut(&mut self) -> &mut Columns {
        &mut self.columns
    }
}

impl GatewayColumns {
    fn new(mut record: Object) -> Self {
        let mut columns = Columns::with_capacity(record.len() + 32);
        let pascal = record
            .keys()
            .any(|k| k.starts_with(|c: char| c.is_ascii_uppercase()));
        let properties = take_object(&mut record, "properties");
        for (k, v) in record.into_iter().chain(properties.into_iter().flatten()) {
            columns.insert(k.to_ascii_lowercase(), k, v);
        }
        GatewayColumns { columns, pascal }
    }

    /// A required column is absent, named as this record's shape spells it.
    fn missing(&self, camel: &str, pascal: &str) -> DecodeError {
        DecodeError::missing(if self.pascal { pascal } else { camel })
    }

    fn into_extra(self, extra: &mut Object) {
        let rest = self.columns.into_rest().into_iter().map(|(k, v)| {
            // Backend header columns are `dynamic`: a JSON object, or one held in a string.
            // Kept as `apim.BackendRequestHeaders.<Name>` so normalization sees each header.
            let v = match v {
                Value::String(s) if k.to_ascii_lowercase().ends_with("headers") => {
                    match serde_json::from_str::<Object>(&s) {
                        Ok(o) => Value::Object(o),
                        Err(_) => Value::String(s),
                    }
                }
                v => v,
            };
            (k, v)
        });
        fields::keep_unmapped(extra, "apim", rest, Nested::Flatten);
    }
}

/// `raw` is the record's JSON text, read again for the source order of its header objects.
fn decode_gateway_log(record: Object, raw: &[u8]) -> Result<Exchange, DecodeError> {
    let orders = fields::header_orders(raw);
    let mut c = GatewayColumns::new(record);
    let observed_at = c
        .map(&["timestamp", "timegenerated", "time"], fields::timestamp)?
        .ok_or_else(|| c.missing("time", "TimeGenerated"))?;
    let method = c
        .text(&["method"])
        .filter(|m| m.bytes().all(|b| b.is_ascii_graphic()))
        .ok_or_else(|| c.missing("method", "Method"))?;
    let url = c.text(&["url"]).ok_or_else(|| c.missing("url", "Url"))?;
    let parts = fields::split_url_or_target(&url);

    let mut req_headers = c.map(&["requestheaders"], fields::headers)?;
    let mut resp_headers = c.map(&["responseheaders"], fields::headers)?;
    for (headers, name) in [
        (&mut req_headers, "requestheaders"),
        (&mut resp_headers, "responseheaders"),
    ] {
        if let Some(h) = headers.as_mut() {
            let order = [name.to_string(), format!("properties.{name}")]
                .iter()
                .map(|p| fields::order_of(&orders, p))
                .find(|o| !o.is_empty())
                .unwrap_or_default();
            fields::restore_order(h, order);
        }
    }
    let req_body = c
        .text(&["requestbody"])
        .map(|b| apim_body(b, req_headers.as_deref()));
    let resp_body = c
        .text(&["responsebody"])
        .map(|b| apim_body(b, resp_headers.as_deref()));

    let tls = c.text(&["clienttlsversion"]).map(|v| Tls {
        version: Some(fields::tls_version(&v)),
        ..Tls::default()
    });
    let upstream = Upstream {
        address: None,
        status: c.map(&["backendresponsecode"], fields::status)?,
        url: c.text(&["backendurl"]),
        cluster: c.text(&["backendid"]),
    };
    let api = ApiRef {
        gateway_api_id: c.text(&["apiid"]),
        operation_id: c.text(&["operationid"]),
        route: None,
        version: None,
        revision: c.text(&["apirevision"]),
        product_id: c.text(&["productid"]),
    };
    let identity = Identity {
        consumer_id: c.text(&["apimsubscriptionid"]),
        consumer_name: c.text(&["userid"]),
        ..Identity::default()
    };
    let error = last_error(&mut c);
    let cache = c.text(&["cache"]);
    let gateway = GatewayInfo {
        error,
        cache,
        retries: None,
    };
    let service = c
        .text(&["resourceid", "_resourceid"])
        .and_then(|r| service_name(&r));
    let region = c.text(&["location", "region"]);
    let capture = if req_headers.is_some()
        || resp_headers.is_some()
        || req_body.is_some()
        || resp_body.is_some()
    {
        Capture::Frontend
    } else {
        Capture::AccessLog
    };

    let mut x = Exchange::new(
        String::new(),
        observed_at,
        Source {
            kind: SourceKind::AzureApimGatewayLogs,
            capture,
            gateway: match (service, region) {
                (Some(s), Some(r)) => Some(format!("{s}/{r}")),
                (s, _) => s,
            },
            raw_ref: None,
        },
        method,
        parts.path,
    );
    x.duration_ms = c.map(&["totaltime", "durationms"], fields::millis)?;
    x.upstream_duration_ms = c.map(&["backendtime"], fields::millis)?;
    x.request_id = c.text(&["correlationid"]);
    x.trace_id =
        gw_model::header_value(req_headers.as_deref(), "traceparent").and_then(fields::trace_id);
    x.client = Client {
        ip: c.map(&["calleripaddress"], fields::ip)?,
        tls,
        ..Client::default()
    };
    x.server = Server {
        host: parts.host.map(str::to_string),
        ip: None,
        port: parts.port,
    };
    x.request.scheme = parts.scheme.map(Name::from);
    x.request.query = parts.query.map(str::to_string);
    x.request.http_version = c
        .text(&["clientprotocol"])
        .and_then(|p| fields::http_version(&p));
    x.request.size = c.map(&["requestsize"], fields::unsigned)?;
    x.response = Response {
        status: c.map(&["responsecode"], fields::status)?,
        content_type: gw_model::header_value(resp_headers.as_deref(), "content-type")
            .map(str::to_string),
        headers: resp_headers,
        body: resp_body,
        size: c.map(&["responsesize"], fields::unsigned)?,
    };
    x.request.headers = req_headers;
    x.request.body = req_body;
    x.upstream = (upstream != Upstream::default()).then_some(upstream);
    x.api = (api != ApiRef::default()).then_some(api);
    x.identity = (identity != Identity::default()).then_some(identity);
    x.gateway = (gateway != GatewayInfo::default()).then_some(gateway);
    // Constants of the log, not facts about the call.
    for constant in ["category", "operationname", "type"] {
        c.take(&[constant]);
    }
    c.into_extra(&mut x.extra);
    Ok(x)
}

/// `lastError` as the streamed object or the `LastError*` columns.
fn last_error(c: &mut GatewayColumns) -> Option<GatewayError> {
    let nested = c.take(&["lasterror"]).and_then(|(_, v)| match v {
        Value::Object(o) => Some(o),
        _ => None,
    });
    let get = |o: &Option<Object>, k: &str| o.as_ref().and_then(|o| o.get(k)).and_then(text);
    let err = GatewayError {
        source: get(&nested, "source").or_else(|| c.text(&["lasterrorsource"])),
        reason: get(&nested, "reason").or_else(|| c.text(&["lasterrorreason"])),
        message: get(&nested, "message").or_else(|| c.text(&["lasterrormessage"])),
    };
    (err != GatewayError::default()).then_some(err)
}

/// The APIM service name from an Azure resource id (`…/PROVIDERS/MICROSOFT.APIMANAGEMENT/SERVICE/CONTOSO-APIM`).
/// Azure resource names are case-insensitive and the streamed form upper-cases them.
fn service_name(resource_id: &str) -> Option<String> {
    let mut segments = resource_id.split('/');
    while let Some(s) = segments.next() {
        if s.eq_ignore_ascii_case("service") {
            return segments
                .next()
                .filter(|n| !n.is_empty())
                .map(str::to_ascii_lowercase);
        }
    }
    None
}

fn apim_body(content: String, headers: Option<&[Header]>) -> gw_model::Body {
    let size =
        gw_model::header_value(headers, "content-length").and_then(|v| v.trim().parse().ok());
    fields::body(content, size, Some(APIM_BODY_CAP))
}

/// The reference `log-to-eventhub` policy payload (one JSON object per call).
pub struct ApimPolicy;

impl Decoder for ApimPolicy {
    fn kind(&self) -> SourceKind {
        SourceKind::AzureApimPolicy
    }

    fn framing(&self, sample: &Sample<'_>) -> Framing {
        fields::json_framing(sample)
    }

    fn sniff(&self, sample: &Sample<'_>) -> u8 {
        let Some(obj) = fields::first_object(sample.json) else {
            let head = String::from_utf8_lossy(&sample.head[..sample.head.len().min(8192)]);
            return if head.contains("\"azure.apim.policy\"") {
                90
            } else {
                0
            };
        };
        let kind = obj
            .get("source")
            .and_then(|s| s.get("kind"))
            .and_then(Value::as_str);
        match (kind, obj.get("schema").and_then(Value::as_str)) {
            (Some("azure.apim.policy"), _) => 100,
            (None, Some("apisec.exchange/1")) => 90,
            _ => 0,
        }
    }

    fn decode(&self, unit: Unit<'_>, ctx: &DecodeCtx, out: &mut dyn Emit) {
        fields::for_each_json_value(unit, out, |entry, out| {
            let result = entry.object().and_then(decode_policy);
            entry.finish(result, ctx, out);
        });
    }
}

fn policy_text(obj: &mut Object, key: &str) -> Option<String> {
    take(obj, key).and_then(|v| text(&v))
}

fn decode_policy(mut obj: Object) -> Result<Exchange, DecodeError> {
    let mut extra = Object::new();
    take(&mut obj, "schema");
    let observed_at = take(&mut obj, "observed_at")
        .map(|v| fields::timestamp("observed_at", &v))
        .transpose()?
        .flatten()
        .ok_or_else(|| DecodeError::missing("observed_at"))?;
    let mut req =
        take_object(&mut obj, "request").ok_or_else(|| DecodeError::missing("request"))?;
    let method = policy_text(&mut req, "method")
        .filter(|m| m.bytes().all(|b| b.is_ascii_graphic()))
        .ok_or_else(|| DecodeError::missing("request.method"))?;
    let path = policy_text(&mut req, "path").unwrap_or_else(|| "/".to_string());
    // `OriginalUrl.QueryString` carries its leading `?`.
    let query = policy_text(&mut req, "query").and_then(|q| {
        let q = q.strip_prefix('?').unwrap_or(&q);
        (!q.is_empty()).then(|| q.to_string())
    });
    let req_headers = match req.remove("headers") {
        Some(v) => fields::headers("request.headers", &v)?,
        None => None,
    };
    let req_body = policy_body(&mut req, req_headers.as_deref(), "request.body")?;
    let scheme = policy_text(&mut req, "scheme");
    let host = policy_text(&mut req, "host")
        .or_else(|| gw_model::header_value(req_headers.as_deref(), "host").map(str::to_string));
    fields::keep_unmapped(&mut extra, "apim.request", req, Nested::Flatten);

    let mut resp = take_object(&mut obj, "response").unwrap_or_default();
    let status = take(&mut resp, "status")
        .map(|v| fields::status("response.status", &v))
        .transpose()?
        .flatten();
    let resp_headers = match resp.remove("headers") {
        Some(v) => fields::headers("response.headers", &v)?,
        None => None,
    };
    let resp_body = policy_body(&mut resp, resp_headers.as_deref(), "response.body")?;
    fields::keep_unmapped(&mut extra, "apim.response", resp, Nested::Flatten);

    let mut source = take_object(&mut obj, "source").unwrap_or_default();
    let gateway = policy_text(&mut source, "gateway");
    source.remove("kind");
    source.remove("capture");
    fields::keep_unmapped(&mut extra, "apim.source", source, Nested::Flatten);

    let mut client = take_object(&mut obj, "client").unwrap_or_default();
    let client_ip = take(&mut client, "ip")
        .map(|v| fields::ip("client.ip", &v))
        .transpose()?
        .flatten();
    let user_agent = policy_text(&mut client, "user_agent");
    fields::keep_unmapped(&mut extra, "apim.client", client, Nested::Flatten);

    let mut api_obj = take_object(&mut obj, "api").unwrap_or_default();
    let api = ApiRef {
        gateway_api_id: policy_text(&mut api_obj, "gateway_api_id"),
        operation_id: policy_text(&mut api_obj, "operation_id"),
        route: policy_text(&mut api_obj, "route"),
        version: policy_text(&mut api_obj, "version"),
        revision: policy_text(&mut api_obj, "revision"),
        product_id: policy_text(&mut api_obj, "product_id"),
    };
    fields::keep_unmapped(&mut extra, "apim.api", api_obj, Nested::Flatten);

    let mut id_obj = take_object(&mut obj, "identity").unwrap_or_default();
    let identity = Identity {
        consumer_id: policy_text(&mut id_obj, "consumer_id"),
        consumer_name: policy_text(&mut id_obj, "user_id")
            .or_else(|| policy_text(&mut id_obj, "consumer_name")),
        ..Identity::default()
    };
    fields::keep_unmapped(&mut extra, "apim.identity", id_obj, Nested::Flatten);

    let duration_ms = take(&mut obj, "duration_ms")
        .map(|v| fields::millis("duration_ms", &v))
        .transpose()?
        .flatten();
    let request_id = policy_text(&mut obj, "request_id");
    fields::keep_unmapped(&mut extra, "apim", obj, Nested::Flatten);

    let mut x = Exchange::new(
        String::new(),
        observed_at,
        Source {
            kind: SourceKind::AzureApimPolicy,
            capture: Capture::Frontend,
            gateway,
            raw_ref: None,
        },
        method,
        path,
    );
    x.duration_ms = duration_ms;
    x.request_id = request_id;
    x.trace_id =
        gw_model::header_value(req_headers.as_deref(), "traceparent").and_then(fields::trace_id);
    x.client = Client {
        ip: client_ip,
        user_agent,
        ..Client::default()
    };
    x.server.host = host;
    x.request.scheme = scheme.map(Name::from);
    x.request.query = query;
    x.request.headers = req_headers;
    x.request.body = req_body;
    x.response = Response {
        status,
        content_type: gw_model::header_value(resp_headers.as_deref(), "content-type")
            .map(str::to_string),
        headers: resp_headers,
        body: resp_body,
        size: None,
    };
    x.api = (api != ApiRef::default()).then_some(api);
    x.identity = (identity != Identity::default()).then_some(identity);
    x.extra = extra;
    Ok(x)
}

/// `{"content": "…"}` (or a bare string); an empty body is no body. The policy cuts bodies at
/// 8192 characters, so without a Content-Length a body of that length is marked truncated.
fn policy_body(
    obj: &mut Object,
    headers: Option<&[Header]>,
    field: &str,
) -> Result<Option<gw_model::Body>, DecodeError> {
    let content = match obj.remove("body") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(s)) => s,
        Some(Value::Object(mut b)) => match b.remove("content") {
            None | Some(Value::Null) => return Ok(None),
            Some(Value::String(s)) => s,
            Some(other) => {
                return Err(fields::bad(&format!("{field}.content"), "a string", &other));
            }
        },
        Some(other) => return Err(fields::bad(field, "an object with \"content\"", &other)),
    };
    if content.is_empty() {
        return Ok(None);
    }
    let size =
        gw_model::header_value(headers, "content-length").and_then(|v| v.trim().parse().ok());
    Ok(Some(fields::body(content, size, Some(APIM_BODY_CAP))))
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::formats::testing::{Collect, decode_unit};

    fn decode(d: &dyn Decoder, input: &str) -> Collect {
        decode_unit(d, input, 1, "apim.json")
    }

    const RECORD: &str = r#"{"time":"2024-06-10T09:13:20.1230000Z","resourceId":"/SUBSCRIPTIONS/0000/RESOURCEGROUPS/RG-API/PROVIDERS/MICROSOFT.APIMANAGEMENT/SERVICE/CONTOSO-APIM","category":"GatewayLogs","operationName":"Microsoft.ApiManagement/GatewayLogs","durationMs":47,"callerIpAddress":"203.0.113.45","correlationId":"6a0f2c1e-8d7b-4a52-9b0e-1f3e5d7c9a11","location":"West Europe","isRequestSuccess":true,"properties":{"method":"GET","url":"https://contoso-apim.azure-api.net/orders/v1/orders/1042","clientProtocol":"HTTP/1.1","clientTlsVersion":"1.3","clientTime":3,"responseCode":200,"responseSize":1877,"requestSize":412,"cache":"none","backendMethod":"GET","backendUrl":"https://orders.internal.example.com/orders/1042","backendResponseCode":200,"backendProtocol":"HTTP/1.1","backendTime":41,"apiId":"orders-api","operationId":"getOrder","apiRevision":"1","apimSubscriptionId":"mobile-app-sub","productId":"partners"}}"#;

    #[test]
    fn the_streamed_record_maps_every_field() {
        let out = decode(&ApimGatewayLogs, &format!("{{\"records\":[{RECORD}]}}"));
        assert!(out.1.is_empty(), "{:?}", out.1);
        let x = &out.0[0];
        assert_eq!(x.observed_at.to_string(), "2024-06-10T09:13:20.123Z");
        assert_eq!(
            (x.duration_ms, x.upstream_duration_ms),
            (Some(47.0), Some(41.0))
        );
        assert_eq!(
            x.source.gateway.as_deref(),
            Some("contoso-apim/West Europe")
        );
        assert_eq!(x.source.capture, Capture::AccessLog);
        assert_eq!(x.request.path, "/orders/v1/orders/1042");
        assert_eq!(x.server.host.as_deref(), Some("contoso-apim.azure-api.net"));
        assert_eq!(x.request.http_version.as_deref(), Some("1.1"));
        assert_eq!(
            x.client.tls.as_ref().unwrap().version.as_deref(),
            Some("TLSv1.3")
        );
        assert_eq!(x.response.status, Some(200));
        assert_eq!((x.request.size, x.response.size), (Some(412), Some(1877)));
        let api = x.api.as_ref().unwrap();
        assert_eq!(api.operation_id.as_deref(), Some("getOrder"));
        assert_eq!(api.product_id.as_deref(), Some("partners"));
        assert_eq!(
            x.identity.as_ref().unwrap().consumer_id.as_deref(),
            Some("mobile-app-sub")
        );
        assert_eq!(x.gateway.as_ref().unwrap().cache.as_deref(), Some("none"));
        assert_eq!(x.upstream.as_ref().unwrap().status, Some(200));
        assert_eq!(x.extra["apim.clientTime"], 3);
        assert_eq!(x.extra["apim.backendMethod"], "GET");
        assert!(!x.extra.contains_key("apim.category"));
    }

    #[test]
    fn a_bad_record_in_an_envelope_is_rejected_alone() {
        let bad = RECORD.replace("\"responseCode\":200", "\"responseCode\":\"teapot\"");
        let input = format!("{{\"records\":[{RECORD},{RECORD},{RECORD},{bad},{RECORD}]}}");
        let out = decode(&ApimGatewayLogs, &input);
        assert_eq!((out.0.len(), out.1.len()), (4, 1));
        assert_eq!(out.1[0].entry.as_deref(), Some("records[3]"));
        assert_eq!(out.1[0].field.as_deref(), Some("responseCode"));
        let ids: std::collections::HashSet<_> = out.0.iter().map(|x| x.id.clone()).collect();
        assert_eq!(
            ids.len(),
            4,
            "identical records of one envelope get distinct ids"
        );
    }

    #[test]
    fn log_analytics_rows_read_like_streamed_records() {
        let row = r#"{"TenantId":"t","TimeGenerated":"2024-06-10T09:13:20.123Z","OperationName":"Microsoft.ApiManagement/GatewayLogs","CorrelationId":"c1","Region":"West Europe","IsRequestSuccess":false,"Category":"GatewayLogs","TotalTime":12,"CallerIpAddress":"198.51.100.7","Method":"POST","Url":"https://contoso-apim.azure-api.net/orders/v1/orders?subscription-key=abc","BackendTime":10,"ResponseCode":401,"ApiId":"orders-api","OperationId":"createOrder","ApimSubscriptionId":"sub-1","RequestHeaders":"{\"User-Agent\":\"curl/8.5.0\"}","LastErrorSource":"validate-jwt","LastErrorReason":"TokenNotFound","LastErrorMessage":"JWT not present.","_ResourceId":"/subscriptions/0/resourcegroups/rg/providers/microsoft.apimanagement/service/contoso-apim","Type":"ApiManagementGatewayLogs"}"#;
        let out = decode(&ApimGatewayLogs, &format!("[{row}, {row}]"));
        assert!(out.1.is_empty(), "{:?}", out.1);
        let x = &out.0[1];
        assert_eq!(x.request.method, "POST");
        assert_eq!(x.request.query.as_deref(), Some("subscription-key=abc"));
        assert_eq!(x.request.header("user-agent"), Some("curl/8.5.0"));
        assert_eq!(x.source.capture, Capture::Frontend);
        assert_eq!(
            x.source.gateway.as_deref(),
            Some("contoso-apim/West Europe")
        );
        let err = x.gateway.as_ref().unwrap().error.as_ref().unwrap();
        assert_eq!(err.reason.as_deref(), Some("TokenNotFound"));
        assert_eq!(x.extra["apim.TenantId"], "t");
    }

    #[test]
    fn records_of_a_pretty_printed_envelope_point_at_their_own_line() {
        let pretty =
            format!("{{\n  \"records\": [\n    {RECORD},\n    {{\"time\": \"x\"}}\n  ]\n}}");
        let out = decode(&ApimGatewayLogs, &pretty);
        assert_eq!(out.0[0].source.raw_ref.as_deref(), Some("apim.json:3"));
        assert_eq!(
            (out.1[0].line, out.1[0].entry.as_deref()),
            (Some(4), Some("records[1]"))
        );
    }

    #[test]
    fn backend_headers_are_kept_per_header_for_redaction() {
        let row = r#"{"TimeGenerated":"2024-06-10T09:13:20Z","CallerIpAddress":"198.51.100.7","Method":"GET","Url":"https://a.example/x","ResponseCode":200,"BackendRequestHeaders":"{\"Authorization\":\"Bearer backend-token\",\"Accept\":\"*/*\"}","BackendResponseHeaders":{"Set-Cookie":"b=1"},"Type":"ApiManagementGatewayLogs"}"#;
        let x = &decode(&ApimGatewayLogs, row).0[0];
        assert_eq!(
            x.extra["apim.BackendRequestHeaders.Authorization"],
            "Bearer backend-token"
        );
        assert_eq!(x.extra["apim.BackendResponseHeaders.Set-Cookie"], "b=1");
    }

    #[test]
    fn sniff_tells_the_shapes_apart() {
        let envelope = format!("{{\"records\":[{RECORD}]}}");
        crate::sample_of(envelope.as_bytes(), |s| {
            assert_eq!(ApimGatewayLogs.sniff(s), 100);
            assert_eq!(ApimPolicy.sniff(s), 0);
        });
    }

    const POLICY: &str = r#"{"schema":"apisec.exchange/1","observed_at":"2024-06-10T09:13:20.1234567Z","duration_ms":38.25,"request_id":"0f0e5a4c-1111-4a52-9b0e-1f3e5d7c9a11","source":{"kind":"azure.apim.policy","gateway":"contoso-apim/West Europe","capture":"frontend"},"client":{"ip":"203.0.113.45","user_agent":"okhttp/4.12.0"},"request":{"method":"POST","scheme":"https","path":"/orders/v1/orders","query":"?expand=items","headers":[{"name":"host","value":"contoso-apim.azure-api.net"},{"name":"authorization","value":"[REDACTED]"},{"name":"content-type","value":"application/json"}],"body":{"content":"{\"sku\":\"A-1\",\"qty\":2}"}},"response":{"status":201,"headers":[{"name":"content-type","value":"application/json"}],"body":{"content":"{\"id\":1042}"}},"api":{"gateway_api_id":"orders-api","operation_id":"createOrder","route":"/orders","version":"v1","product_id":"partners"},"identity":{"consumer_id":"mobile-app-sub","user_id":"1"}}"#;

    #[test]
    fn the_reference_policy_payload_maps_every_field() {
        let out = decode(&ApimPolicy, POLICY);
        assert!(out.1.is_empty(), "{:?}", out.1);
        let x = &out.0[0];
        assert_eq!(x.observed_at.to_string(), "2024-06-10T09:13:20.1234567Z");
        assert_eq!(x.duration_ms, Some(38.25));
        assert_eq!(
            x.source.gateway.as_deref(),
            Some("contoso-apim/West Europe")
        );
        assert_eq!(x.source.capture, Capture::Frontend);
        assert_eq!(x.request.query.as_deref(), Some("expand=items"));
        assert_eq!(x.server.host.as_deref(), Some("contoso-apim.azure-api.net"));
        assert_eq!(
            x.request.body.as_ref().unwrap().text(),
            Some("{\"sku\":\"A-1\",\"qty\":2}")
        );
        assert!(!x.request.body.as_ref().unwrap().truncated);
        assert_eq!(x.response.content_type.as_deref(), Some("application/json"));
        let api = x.api.as_ref().unwrap();
        assert_eq!(
            (api.route.as_deref(), api.version.as_deref()),
            (Some("/orders"), Some("v1"))
        );
        let id = x.identity.as_ref().unwrap();
        assert_eq!(
            (id.consumer_id.as_deref(), id.consumer_name.as_deref()),
            (Some("mobile-app-sub"), Some("1"))
        );
        assert!(x.extra.is_empty(), "{:?}", x.extra);
        crate::sample_of(POLICY.as_bytes(), |s| {
            assert_eq!(ApimPolicy.sniff(s), 100);
            assert_eq!(ApimGatewayLogs.sniff(s), 0);
        });
    }

    #[test]
    fn a_policy_body_at_the_cap_is_marked_truncated() {
        let long = "a".repeat(APIM_BODY_CAP);
        let input = POLICY.replace(r#"{\"id\":1042}"#, &long);
        assert_ne!(input, POLICY);
        let body = decode(&ApimPolicy, &input).0[0]
            .response
            .body
            .clone()
            .unwrap();
        assert!(body.truncated);
        assert_eq!((body.size, body.captured), (None, APIM_BODY_CAP as u64));
    }
}
