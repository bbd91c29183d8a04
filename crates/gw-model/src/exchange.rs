//! The canonical traffic record `gatewatch.exchange/1`.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

use jiff::Timestamp;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::Name;

/// The `schema` value of every canonical traffic record.
pub const EXCHANGE_SCHEMA: &str = "gatewatch.exchange/1";

/// The value that replaces every credential (authorization, cookies, API keys) before a record is
/// stored or printed.
pub const REDACTED: &str = "[REDACTED]";

/// One API call: request, response and what the gateway knew about it.
///
/// Unknown values are `null`, never `0` or `""`. Adapters fill only what their source has;
/// the pipeline adds the derived fields (`endpoint`, `params`, `enrich`, `sensitive`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Exchange {
    /// Always `gatewatch.exchange/1` (assumed when absent on input).
    #[serde(default = "exchange_schema")]
    pub schema: Name,
    /// Unique id; a UUIDv7 assigned at ingest when the source has none (empty on input).
    #[serde(default)]
    pub id: String,
    /// Request start (UTC). Event time for every window, baseline and retention rule.
    pub observed_at: Timestamp,
    #[serde(default)]
    pub duration_ms: Option<f64>,
    #[serde(default)]
    pub upstream_duration_ms: Option<f64>,
    pub source: Source,
    #[serde(default)]
    pub request_id: Option<String>,
    #[serde(default)]
    pub trace_id: Option<String>,
    pub client: Client,
    pub server: Server,
    pub request: Request,
    #[serde(default)]
    pub response: Response,
    #[serde(default)]
    pub upstream: Option<Upstream>,
    #[serde(default)]
    pub api: Option<ApiRef>,
    #[serde(default)]
    pub identity: Option<Identity>,
    #[serde(default)]
    pub gateway: Option<GatewayInfo>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Unmapped source fields, namespaced (`envoy.response_flags`).
    #[serde(default)]
    pub extra: serde_json::Map<String, serde_json::Value>,

    // Derived by the pipeline, never by adapters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<EndpointRef>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub params: Vec<ParamRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enrich: Option<Enrichment>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sensitive: Vec<SensitiveLabel>,
}

fn exchange_schema() -> Name {
    Name::from_static(EXCHANGE_SCHEMA)
}

impl Exchange {
    /// A record with the required fields set and everything else unknown.
    pub fn new(
        id: impl Into<String>,
        observed_at: Timestamp,
        source: Source,
        method: impl Into<Name>,
        path: impl Into<String>,
    ) -> Self {
        Exchange {
            schema: Name::from_static(EXCHANGE_SCHEMA),
            id: id.into(),
            observed_at,
            duration_ms: None,
            upstream_duration_ms: None,
            source,
            request_id: None,
            trace_id: None,
            client: Client::default(),
            server: Server::default(),
            request: Request {
                method: method.into(),
                path: path.into(),
                ..Request::default()
            },
            response: Response::default(),
            upstream: None,
            api: None,
            identity: None,
            gateway: None,
            labels: BTreeMap::new(),
            extra: serde_json::Map::new(),
            endpoint: None,
            params: Vec::new(),
            enrich: None,
            sensitive: Vec::new(),
        }
    }

    /// The client IP every per-IP detection keys on: the resolved IP when the XFF chain was
    /// resolved, otherwise the direct peer.
    pub fn actor_ip(&self) -> Option<IpAddr> {
        self.client.resolved_ip.or(self.client.ip)
    }
}

/// Where a record came from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Source {
    pub kind: SourceKind,
    pub capture: Capture,
    #[serde(default)]
    pub gateway: Option<String>,
    /// Pointer back to the raw event, e.g. `access.log:1042`.
    #[serde(default)]
    pub raw_ref: Option<String>,
}

/// The input format a record was decoded from.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
pub enum SourceKind {
    #[serde(rename = "native")]
    Native,
    #[serde(rename = "har")]
    Har,
    #[serde(rename = "nginx.combined")]
    NginxCombined,
    #[serde(rename = "nginx.json")]
    NginxJson,
    #[serde(rename = "envoy.json")]
    EnvoyJson,
    #[serde(rename = "kong.http_log")]
    KongHttpLog,
    #[serde(rename = "azure.apim.gatewaylogs")]
    AzureApimGatewayLogs,
    #[serde(rename = "azure.apim.policy")]
    AzureApimPolicy,
    #[serde(rename = "aws.apigw")]
    AwsApiGateway,
    #[serde(rename = "aws.alb")]
    AwsAlb,
    #[serde(rename = "traefik.json")]
    TraefikJson,
}

impl SourceKind {
    pub const ALL: [SourceKind; 11] = [
        SourceKind::Native,
        SourceKind::Har,
        SourceKind::NginxCombined,
        SourceKind::NginxJson,
        SourceKind::EnvoyJson,
        SourceKind::KongHttpLog,
        SourceKind::AzureApimGatewayLogs,
        SourceKind::AzureApimPolicy,
        SourceKind::AwsApiGateway,
        SourceKind::AwsAlb,
        SourceKind::TraefikJson,
    ];

    /// The wire name (`nginx.combined`), also accepted by `--format`.
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Native => "native",
            SourceKind::Har => "har",
            SourceKind::NginxCombined => "nginx.combined",
            SourceKind::NginxJson => "nginx.json",
            SourceKind::EnvoyJson => "envoy.json",
            SourceKind::KongHttpLog => "kong.http_log",
            SourceKind::AzureApimGatewayLogs => "azure.apim.gatewaylogs",
            SourceKind::AzureApimPolicy => "azure.apim.policy",
            SourceKind::AwsApiGateway => "aws.apigw",
            SourceKind::AwsAlb => "aws.alb",
            SourceKind::TraefikJson => "traefik.json",
        }
    }

    pub fn from_name(name: &str) -> Option<SourceKind> {
        SourceKind::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

impl fmt::Display for SourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What part of the conversation the source saw.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Capture {
    /// Gateway ↔ client, with headers (and bodies where the source has them).
    Frontend,
    /// Gateway ↔ upstream.
    Backend,
    /// Request only.
    Mirror,
    /// Metadata only: no bodies, few or no headers.
    AccessLog,
    /// Recorded sessions (HAR).
    Archive,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Client {
    /// The gateway's direct peer.
    #[serde(default)]
    pub ip: Option<IpAddr>,
    #[serde(default)]
    pub port: Option<u16>,
    /// The X-Forwarded-For chain, left to right.
    #[serde(default)]
    pub forwarded_for: Vec<IpAddr>,
    /// Derived from `forwarded_for` and the trusted proxies: the rightmost untrusted hop.
    #[serde(default)]
    pub resolved_ip: Option<IpAddr>,
    #[serde(default)]
    pub user_agent: Option<String>,
    #[serde(default)]
    pub tls: Option<Tls>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Tls {
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub cipher: Option<String>,
    #[serde(default)]
    pub sni: Option<String>,
    #[serde(default)]
    pub ja3: Option<String>,
    #[serde(default)]
    pub peer_subject: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Server {
    /// The authority / Host the client asked for; `null` when the source does not say.
    #[serde(default)]
    pub host: Option<String>,
    #[serde(default)]
    pub ip: Option<IpAddr>,
    #[serde(default)]
    pub port: Option<u16>,
}

/// One header; names are lower-cased, order and duplicates kept.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Header {
    pub name: Name,
    pub value: String,
}

impl Header {
    pub fn new(name: impl Into<Name>, value: impl Into<String>) -> Self {
        let mut name = name.into();
        name.make_ascii_lowercase();
        Header {
            name,
            value: value.into(),
        }
    }
}

/// The first value of a header (names are lower-case in the record).
pub fn header_value<'a>(headers: Option<&'a [Header]>, name: &str) -> Option<&'a str> {
    headers?
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case(name))
        .map(|h| h.value.as_str())
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Request {
    /// Upper case as received.
    pub method: Name,
    #[serde(default)]
    pub scheme: Option<Name>,
    /// Raw path without the query; percent-encoding kept.
    pub path: String,
    /// Raw query string without `?`.
    #[serde(default)]
    pub query: Option<String>,
    #[serde(default)]
    pub http_version: Option<Name>,
    #[serde(default)]
    pub headers: Option<Vec<Header>>,
    #[serde(default)]
    pub body: Option<Body>,
    /// Total bytes including headers, when known.
    #[serde(default)]
    pub size: Option<u64>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        header_value(self.headers.as_deref(), name)
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Response {
    /// `null` for request-only captures.
    #[serde(default)]
    pub status: Option<u16>,
    #[serde(default)]
    pub headers: Option<Vec<Header>>,
    #[serde(default)]
    pub body: Option<Body>,
    #[serde(default)]
    pub size: Option<u64>,
    #[serde(default)]
    pub content_type: Option<String>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        header_value(self.headers.as_deref(), name)
    }
}

/// A captured body.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Body {
    /// Real length of the body when the source knows it.
    #[serde(default)]
    pub size: Option<u64>,
    /// Bytes held in `content` (after decoding base64).
    #[serde(default)]
    pub captured: u64,
    /// `captured < size`.
    #[serde(default)]
    pub truncated: bool,
    #[serde(default)]
    pub encoding: BodyEncoding,
    #[serde(default)]
    pub content: Option<String>,
    /// The content was removed (credential, retention, policy).
    #[serde(default)]
    pub redacted: bool,
}

impl Body {
    /// A UTF-8 body held in full.
    pub fn utf8(content: impl Into<String>) -> Self {
        let content = content.into();
        let len = content.len() as u64;
        Body {
            size: Some(len),
            captured: len,
            truncated: false,
            encoding: BodyEncoding::Utf8,
            content: Some(content),
            redacted: false,
        }
    }

    /// The text of a UTF-8 body, `None` for base64 or absent content.
    pub fn text(&self) -> Option<&str> {
        match self.encoding {
            BodyEncoding::Utf8 => self.content.as_deref(),
            BodyEncoding::Base64 => None,
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum BodyEncoding {
    #[default]
    Utf8,
    Base64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Upstream {
    #[serde(default)]
    pub address: Option<String>,
    #[serde(default)]
    pub status: Option<u16>,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub cluster: Option<String>,
}

/// The gateway's own catalog ids, kept to cross-check learned templates.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiRef {
    #[serde(default)]
    pub gateway_api_id: Option<String>,
    #[serde(default)]
    pub operation_id: Option<String>,
    #[serde(default)]
    pub route: Option<String>,
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub revision: Option<String>,
    #[serde(default)]
    pub product_id: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Identity {
    #[serde(default)]
    pub consumer_id: Option<String>,
    #[serde(default)]
    pub consumer_name: Option<String>,
    #[serde(default)]
    pub auth_type: Option<AuthType>,
    /// e.g. JWT `sub@iss`, the basic-auth user or the mTLS subject.
    #[serde(default)]
    pub principal: Option<String>,
    /// `hmac-sha256:<hex>` of the credential, keyed per install. The credential is never kept.
    #[serde(default)]
    pub credential_fp: Option<String>,
}

impl Identity {
    /// The key per-identity detections use: principal, else consumer, else credential.
    pub fn actor_key(&self) -> Option<&str> {
        self.principal
            .as_deref()
            .or(self.consumer_id.as_deref())
            .or(self.consumer_name.as_deref())
            .or(self.credential_fp.as_deref())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuthType {
    None,
    ApiKey,
    Basic,
    BearerJwt,
    BearerOpaque,
    Mtls,
    Unknown,
}

impl AuthType {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthType::None => "none",
            AuthType::ApiKey => "api_key",
            AuthType::Basic => "basic",
            AuthType::BearerJwt => "bearer_jwt",
            AuthType::BearerOpaque => "bearer_opaque",
            AuthType::Mtls => "mtls",
            AuthType::Unknown => "unknown",
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GatewayInfo {
    #[serde(default)]
    pub error: Option<GatewayError>,
    #[serde(default)]
    pub cache: Option<String>,
    #[serde(default)]
    pub retries: Option<u32>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GatewayError {
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
}

/// The endpoint a record was routed to (derived).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct EndpointRef {
    pub id: String,
    pub host: String,
    pub method: String,
    pub template: String,
    #[serde(default)]
    pub spec_operation_id: Option<String>,
    #[serde(rename = "match")]
    pub matched_by: EndpointMatch,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EndpointMatch {
    Spec,
    Learned,
}

/// Where a parameter was seen.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ParamLocation {
    Path,
    Query,
    Header,
    Cookie,
    Body,
}

/// A parameter observed on a record (derived).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ParamRef {
    pub name: String,
    #[serde(rename = "in")]
    pub location: ParamLocation,
    #[serde(rename = "type")]
    pub value_type: String,
}

/// Context added to a record (derived).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Enrichment {
    #[serde(default)]
    pub country: Option<String>,
    #[serde(default)]
    pub asn: Option<u32>,
    #[serde(default)]
    pub tor_exit: bool,
    #[serde(default)]
    pub intel_lists: Vec<String>,
    #[serde(default)]
    pub ip_class: Option<IpClass>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum IpClass {
    Public,
    Private,
    Reserved,
}

/// A kind of sensitive data seen at a location of a record (derived; never the value).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
pub struct SensitiveLabel {
    pub kind: String,
    pub location: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"{"schema":"gatewatch.exchange/1","id":"01905c2e-7a1b-7cc0-9d7e-3f1a2b4c5d6e","observed_at":"2024-06-10T09:13:20.123Z",
 "duration_ms":38.0,"upstream_duration_ms":35.0,
 "source":{"kind":"envoy.json","capture":"frontend","gateway":"istio-ingress/prod-eu","raw_ref":null},
 "request_id":"b2f5e0c4","trace_id":null,
 "client":{"ip":"10.0.0.12","port":51544,"forwarded_for":["203.0.113.45"],"resolved_ip":"203.0.113.45","user_agent":"okhttp/4.12.0",
   "tls":{"version":"TLSv1.3","cipher":"TLS_AES_128_GCM_SHA256","sni":"api.example.com"}},
 "server":{"host":"api.example.com","ip":"10.1.3.9","port":443},
 "request":{"method":"POST","scheme":"https","path":"/v1/orders","query":null,"http_version":"1.1",
   "headers":[{"name":"content-type","value":"application/json"},{"name":"authorization","value":"[REDACTED]"}],
   "body":{"size":27,"captured":27,"truncated":false,"encoding":"utf8","content":"{\"sku\":\"A-1\",\"qty\":2}","redacted":false},"size":412},
 "response":{"status":201,"headers":[{"name":"content-type","value":"application/json"}],
   "body":{"size":11,"captured":11,"truncated":false,"encoding":"utf8","content":"{\"id\":1042}","redacted":false},"size":301,"content_type":"application/json"},
 "upstream":{"address":"10.1.4.17:8080","status":201,"cluster":"outbound|8080||orders"},
 "api":{"gateway_api_id":"orders","operation_id":null,"route":"orders"},
 "identity":{"auth_type":"bearer_jwt","principal":"8841@https://login.example.com","credential_fp":"hmac-sha256:9c1f0e"},
 "gateway":{"error":null,"cache":null,"retries":0},
 "labels":{"env":"prod"},"extra":{"envoy.response_code_details":"via_upstream"}}"#;

    #[test]
    fn the_formats_example_round_trips() {
        let x: Exchange = serde_json::from_str(SAMPLE).unwrap();
        assert_eq!(x.request.method, "POST");
        assert_eq!(x.actor_ip(), Some("203.0.113.45".parse().unwrap()));
        assert_eq!(x.request.header("Authorization"), Some(REDACTED));
        assert_eq!(
            x.identity.as_ref().unwrap().auth_type,
            Some(AuthType::BearerJwt)
        );
        let again: Exchange = serde_json::from_str(&serde_json::to_string(&x).unwrap()).unwrap();
        assert_eq!(x, again);
    }

    #[test]
    fn unknown_values_serialize_as_null() {
        let x = Exchange::new("a", Timestamp::UNIX_EPOCH, source(), "GET", "/");
        let v = serde_json::to_value(&x).unwrap();
        assert_eq!(v["duration_ms"], serde_json::Value::Null);
        assert_eq!(v["response"]["status"], serde_json::Value::Null);
        assert!(
            v.get("endpoint").is_none(),
            "derived fields are absent until derived"
        );
    }

    #[test]
    fn unknown_members_are_rejected_with_their_name() {
        let bad = SAMPLE.replace("\"trace_id\":null", "\"trace\":null");
        let err = serde_json::from_str::<Exchange>(&bad)
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown field `trace`"), "{err}");
    }

    #[test]
    fn source_kind_names_round_trip() {
        for k in SourceKind::ALL {
            assert_eq!(SourceKind::from_name(k.as_str()), Some(k));
            let json = serde_json::to_string(&k).unwrap();
            assert_eq!(json, format!("\"{}\"", k.as_str()));
        }
    }

    fn source() -> Source {
        Source {
            kind: SourceKind::Native,
            capture: Capture::Frontend,
            gateway: None,
            raw_ref: None,
        }
    }
}
