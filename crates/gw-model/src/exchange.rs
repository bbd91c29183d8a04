//! The canonical traffic record `gatewatch.exchange/1`.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

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
    #[serde(deserialize_with = "observed_at::deserialize")]
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
    /// Shared: every record of an endpoint points at the same one (a clone per record cost
    /// four or five allocations and as many cross-thread frees in the store writer).
    pub endpoint: Option<Arc<EndpointRef>>,
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

/// Reading `observed_at`, which every decoded record has: exactly what jiff's `Deserialize`
/// for [`Timestamp`] yields, values and errors, but the shape nearly every record uses,
/// `YYYY-MM-DDTHH:MM:SS[.fffffffff]Z`, is read here at ≈300 instructions instead of jiff's
/// ≈660 (its general parser handles offsets, time zone annotations, lower case, ...): ≈345
/// fewer per native record decoded (simulated traffic, callgrind; see gw-ingest's
/// `native_decode_cost` example).
///
/// Only text of that exact shape with every field in its plain range (a real calendar date,
/// hour below 24, second below 60, a year from 1970 to 9998) is read here; anything else,
/// including leap seconds and every invalid input, goes to jiff itself, so jiff decides and
/// words every error.
mod observed_at {
    use std::fmt;

    use jiff::Timestamp;
    use serde::Deserialize;
    use serde::de::{self, Deserializer, IntoDeserializer};

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
        // As jiff does: a string, with the same `expecting` for a value of another type.
        d.deserialize_str(TimestampVisitor)
    }

    struct TimestampVisitor;

    impl de::Visitor<'_> for TimestampVisitor {
        type Value = Timestamp;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a timestamp string")
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<Timestamp, E> {
            match parse_common(v.as_bytes()) {
                Some(t) => Ok(t),
                None => Timestamp::deserialize(v.into_deserializer()),
            }
        }

        fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Timestamp, E> {
            match parse_common(v) {
                Some(t) => Ok(t),
                None => Timestamp::deserialize(de::value::BytesDeserializer::new(v)),
            }
        }
    }

    /// `YYYY-MM-DDTHH:MM:SS[.f{1,9}]Z` with plain field values, or `None` for jiff to read.
    ///
    /// The date and time are checked and converted as three overlapping words (`YYYY-MM-`,
    /// `DDTHH:MM`, `HH:MM:SS`) rather than byte by byte: ≈300 instructions against ≈350.
    pub(super) fn parse_common(text: &[u8]) -> Option<Timestamp> {
        let (head, rest) = text.split_first_chunk::<19>()?;
        let word = |at: usize| u64::from_le_bytes(*head[at..].first_chunk().expect("8 bytes"));
        let (date, day_time, time) = (word(0), word(8), word(11));
        let date = digits(date, byte(4) | byte(7), u64::from_le_bytes(*b"0000-00-"))?;
        let day_time = digits(
            day_time,
            byte(2) | byte(5),
            u64::from_le_bytes(*b"00T00:00"),
        )?;
        let time = digits(time, byte(2) | byte(5), u64::from_le_bytes(*b"00:00:00"))?;
        let at = |w: u64, i: u32| ((w >> (8 * i)) & 0xff) as u32;
        let year = at(date, 0) * 1000 + at(date, 1) * 100 + at(date, 2) * 10 + at(date, 3);
        let month = at(date, 5) * 10 + at(date, 6);
        let day = at(day_time, 0) * 10 + at(day_time, 1);
        let hour = at(time, 0) * 10 + at(time, 1);
        let minute = at(time, 3) * 10 + at(time, 4);
        let second = at(time, 6) * 10 + at(time, 7);
        let nanos = match rest {
            [b'Z'] => 0,
            [b'.', fraction @ .., b'Z'] if (1..=9).contains(&fraction.len()) => {
                fraction_nanos(fraction)?
            }
            _ => return None,
        };
        if !(1970..=9998).contains(&year)
            || !(1..=12).contains(&month)
            || day == 0
            || day > days_in_month(year, month)
            || hour > 23
            || minute > 59
            || second > 59
        {
            return None;
        }
        let days = days_since_epoch(year, month, day);
        let seconds = days * 86_400 + i64::from(hour * 3600 + minute * 60 + second);
        Timestamp::new(seconds, nanos).ok()
    }

    /// A mask of byte `i` of a little-endian word.
    const fn byte(i: u32) -> u64 {
        0xff << (8 * i)
    }

    /// The eight bytes of `w` as digit values (separators as zero) when the bytes under
    /// `separators` are those of `expected` and all others are ASCII digits.
    fn digits(w: u64, separators: u64, expected: u64) -> Option<u64> {
        const ZEROS: u64 = u64::from_le_bytes(*b"00000000");
        if w & separators != expected & separators {
            return None;
        }
        let w = (w & !separators) | (ZEROS & separators);
        // Every byte is 0x30..=0x39: its high nibble is 3, and still 3 with 6 added (which
        // never carries into the next byte).
        let high = 0xf0f0_f0f0_f0f0_f0f0;
        let plain = w & high == ZEROS && w.wrapping_add(0x0606_0606_0606_0606) & high == ZEROS;
        plain.then(|| w - ZEROS)
    }

    /// Nanoseconds of 1 to 9 fraction digits; `None` when one is not a digit.
    #[inline(always)]
    fn fraction_nanos(fraction: &[u8]) -> Option<i32> {
        let mut n = 0;
        for &c in fraction {
            let d = c.wrapping_sub(b'0');
            if d > 9 {
                return None;
            }
            n = n * 10 + i32::from(d);
        }
        Some(n * POW10[9 - fraction.len()])
    }

    const POW10: [i32; 10] = [
        1,
        10,
        100,
        1_000,
        10_000,
        100_000,
        1_000_000,
        10_000_000,
        100_000_000,
        1_000_000_000,
    ];

    fn days_in_month(year: u32, month: u32) -> u32 {
        match month {
            2 if year.is_multiple_of(4)
                && (!year.is_multiple_of(100) || year.is_multiple_of(400)) =>
            {
                29
            }
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        }
    }

    /// Days from 1970-01-01 to a valid date of a year from 1970 on (proleptic Gregorian; the
    /// usual count of days from March 1 of year 0 in 400-year eras, moved to the Unix epoch).
    fn days_since_epoch(year: u32, month: u32, day: u32) -> i64 {
        let y = if month <= 2 { year - 1 } else { year };
        let (era, year_of_era) = (y / 400, y % 400);
        let month_from_march = (month + 9) % 12;
        let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
        let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
        i64::from(era * 146_097 + day_of_era) - 719_468
    }

    #[cfg(test)]
    mod tests {
        use serde::de::value::{BytesDeserializer, Error, StrDeserializer};

        use super::*;

        /// What `observed_at` reads from `text`, next to what jiff's own `Deserialize` reads,
        /// from a string and from bytes.
        fn both(text: &str) -> [Result<Timestamp, Error>; 2] {
            let ours = deserialize(StrDeserializer::<Error>::new(text));
            let jiffs = Timestamp::deserialize(StrDeserializer::<Error>::new(text));
            let ours_bytes = deserialize(BytesDeserializer::<Error>::new(text.as_bytes()));
            assert_eq!(ours, ours_bytes, "{text:?} from bytes");
            [ours, jiffs]
        }

        /// Asserts that `text` reads exactly as jiff reads it; returns whether the fast path
        /// took it.
        fn agrees(text: &str) -> bool {
            let [ours, jiffs] = both(text);
            assert_eq!(ours, jiffs, "{text:?}");
            if let (Err(a), Err(b)) = (&ours, &jiffs) {
                assert_eq!(a.to_string(), b.to_string(), "{text:?}");
            }
            let fast = parse_common(text.as_bytes());
            if let Some(t) = fast {
                assert_eq!(Ok(t), jiffs, "{text:?} on the fast path");
            }
            fast.is_some()
        }

        /// A small deterministic generator (SplitMix64), so that the test needs no dependency
        /// and fails the same way on every run.
        struct Rng(u64);

        impl Rng {
            fn next(&mut self) -> u64 {
                self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
                let mut z = self.0;
                z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
                z ^ (z >> 31)
            }

            fn below(&mut self, n: u64) -> u64 {
                self.next() % n
            }

            fn pick<'a>(&mut self, choices: &[&'a str]) -> &'a str {
                choices[self.below(choices.len() as u64) as usize]
            }
        }

        /// A timestamp-like string: mostly the common shape, with fields often out of range,
        /// other separators and offsets, and some bytes edited at random.
        fn timestamp_like(rng: &mut Rng) -> String {
            let year = match rng.below(4) {
                0 => rng.below(10_000),
                1 => [0, 1, 1600, 1900, 1969, 1970, 2000, 2100, 9998, 9999][rng.below(10) as usize],
                _ => 1970 + rng.below(130),
            };
            let month = if rng.below(4) == 0 {
                rng.below(20)
            } else {
                1 + rng.below(12)
            };
            let day = if rng.below(4) == 0 {
                rng.below(40)
            } else {
                1 + rng.below(31)
            };
            let hour = if rng.below(4) == 0 {
                rng.below(30)
            } else {
                rng.below(24)
            };
            let minute = if rng.below(8) == 0 {
                rng.below(70)
            } else {
                rng.below(60)
            };
            let second = if rng.below(4) == 0 {
                rng.below(70)
            } else {
                rng.below(60)
            };
            let fraction: String = (0..[0, 0, 1, 3, 6, 9, 9, 10, 12][rng.below(9) as usize])
                .map(|_| char::from(b'0' + rng.below(10) as u8))
                .collect();
            let sep = |rng: &mut Rng, usual: &'static str, others: &[&'static str]| {
                if rng.below(8) == 0 {
                    rng.pick(others)
                } else {
                    usual
                }
            };
            let mut text = format!(
                "{year:04}{}{month:02}-{day:02}{}{hour:02}:{minute:02}{}{second:02}",
                sep(rng, "-", &["/", "", "--"]),
                sep(rng, "T", &["t", " ", "_", "TT"]),
                sep(rng, ":", &["", ".", "::"]),
            );
            if !fraction.is_empty() || rng.below(8) == 0 {
                text.push_str(sep(rng, ".", &[",", ":"]));
                text.push_str(&fraction);
            }
            text.push_str(sep(
                rng,
                "Z",
                &[
                    "z",
                    "",
                    "+00:00",
                    "-01:30",
                    "+14:00",
                    "Z[UTC]",
                    "+00:00[Europe/Paris]",
                    "ZZ",
                ],
            ));
            if rng.below(4) == 0 {
                let mut bytes = text.into_bytes();
                for _ in 0..1 + rng.below(3) {
                    let at = rng.below(bytes.len() as u64 + 1) as usize;
                    let byte = b"0123456789-:.TZ +x\xff"[rng.below(19) as usize];
                    match rng.below(3) {
                        0 => bytes.insert(at, byte),
                        1 if at < bytes.len() => drop(bytes.remove(at)),
                        _ if at < bytes.len() => bytes[at] = byte,
                        _ => {}
                    }
                }
                // Invalid UTF-8 cannot be a `str`; it is tried as bytes below.
                return String::from_utf8_lossy(&bytes).into_owned();
            }
            text
        }

        #[test]
        fn random_timestamp_like_strings_read_exactly_as_jiff_reads_them() {
            let mut rng = Rng(0x6f62_7365_7276_6564);
            let (mut tried, mut fast) = (0, 0);
            for _ in 0..200_000 {
                let text = timestamp_like(&mut rng);
                tried += 1;
                fast += usize::from(agrees(&text));
            }
            // Both paths are exercised (about one string in five takes the fast path).
            assert!(
                fast > tried / 10 && fast < tried * 9 / 10,
                "{fast} of {tried}"
            );
        }

        #[test]
        fn every_valid_common_shape_is_read_here() {
            let mut rng = Rng(7);
            for _ in 0..100_000 {
                let year = 1970 + rng.below(9998 - 1970 + 1) as u32;
                let month = 1 + rng.below(12) as u32;
                let day = 1 + rng.below(u64::from(days_in_month(year, month))) as u32;
                let (h, m, s) = (rng.below(24), rng.below(60), rng.below(60));
                let fraction: String = (0..rng.below(10))
                    .map(|_| char::from(b'0' + rng.below(10) as u8))
                    .collect();
                let dot = if fraction.is_empty() { "" } else { "." };
                let text =
                    format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}{dot}{fraction}Z");
                assert!(agrees(&text), "{text} takes the fast path");
            }
            // Every third day up to the last the fast path takes, at varying times; jiff writes
            // the fraction with 0, 3, 6 or 9 digits.
            let last: Timestamp = "9998-12-31T00:00:00Z".parse().unwrap();
            for day in (0..=last.as_second() / 86_400).step_by(3) {
                let second = day * 86_400 + (day * 7_919) % 86_400;
                let nanos = [0, 120_000_000, 123_456_000, 999_999_999][(day % 4) as usize];
                let text = Timestamp::new(second, nanos).unwrap().to_string();
                assert!(agrees(&text), "{text} takes the fast path");
            }
        }

        #[test]
        fn edge_cases_read_exactly_as_jiff_reads_them() {
            let fast = [
                "1970-01-01T00:00:00Z",
                "2024-02-29T23:59:59.999999999Z",
                "2000-02-29T00:00:00Z",
                "2024-06-10T09:13:20.1Z",
                "9998-12-31T23:59:59Z",
            ];
            for text in fast {
                assert!(agrees(text), "{text} takes the fast path");
            }
            let left_to_jiff = [
                "",
                "2024-13-01T00:00:00Z",
                "2024-00-01T00:00:00Z",
                "2024-04-31T00:00:00Z",
                "2023-02-29T00:00:00Z",
                "1900-02-29T00:00:00Z",
                "2024-06-00T00:00:00Z",
                "2024-06-10T24:00:00Z",
                "2024-06-10T23:60:00Z",
                "2024-06-10T23:59:60Z",
                "2016-12-31T23:59:60.5Z",
                "2024-06-10T09:13:20.Z",
                "2024-06-10T09:13:20.1234567890Z",
                "2024-06-10T09:13:20,5Z",
                "2024-06-10t09:13:20Z",
                "2024-06-10 09:13:20Z",
                "2024-06-10T09:13:20z",
                "2024-06-10T09:13:20+00:00",
                "2024-06-10T09:13:20Z[UTC]",
                "2024-06-10T09:13:20",
                "1969-12-31T23:59:59.5Z",
                "0000-01-01T00:00:00Z",
                "9999-12-30T22:00:00Z",
                "9999-12-31T23:59:59Z",
                "+002024-06-10T09:13:20Z",
                "2024-06-10T09:13Z",
                "2024-6-10T09:13:20Z",
                "２０２４-06-10T09:13:20Z",
            ];
            for text in left_to_jiff {
                assert!(!agrees(text), "{text} is left to jiff");
            }
            let [ours, jiffs] = both("2024-04-31T00:00:00Z");
            assert!(ours.is_err());
            assert_eq!(
                ours.unwrap_err().to_string(),
                jiffs.unwrap_err().to_string()
            );
            // Invalid UTF-8 arrives as bytes only; jiff refuses it in its own words.
            let bytes = b"2024-06-10T09:13:\xff0Z";
            assert_eq!(
                deserialize(BytesDeserializer::<Error>::new(bytes)).map_err(|e| e.to_string()),
                Timestamp::deserialize(BytesDeserializer::<Error>::new(bytes))
                    .map_err(|e| e.to_string())
            );
        }

        /// Through serde_json, with the other members around it: the same value, the same
        /// error at the same position, the same error for a value that is not a string or is
        /// missing; serialization is jiff's, unchanged.
        #[test]
        fn records_read_observed_at_as_jiff_reads_it() {
            #[derive(Deserialize, Debug, PartialEq)]
            struct Jiff {
                #[allow(dead_code)]
                a: u8,
                observed_at: Timestamp,
            }
            #[derive(Deserialize, Debug, PartialEq)]
            struct Ours {
                #[allow(dead_code)]
                a: u8,
                #[serde(deserialize_with = "deserialize")]
                observed_at: Timestamp,
            }
            for value in [
                r#""2024-06-10T09:13:20.123Z""#,
                r#""2024-06-10T09:13:20.123+02:00""#,
                r#""2024-04-31T09:13:20Z""#,
                r#""2024-06-10T09:13:2\u0030Z""#,
                "5",
                "null",
                "[]",
            ] {
                for json in [
                    format!(r#"{{"a":1,"observed_at":{value}}}"#),
                    format!("{{\n  \"observed_at\": {value},\n  \"a\": 1\n}}"),
                ] {
                    let ours = serde_json::from_str::<Ours>(&json).map_err(|e| e.to_string());
                    let jiffs = serde_json::from_str::<Jiff>(&json).map_err(|e| e.to_string());
                    assert_eq!(
                        ours.map(|o| o.observed_at),
                        jiffs.map(|j| j.observed_at),
                        "{json}"
                    );
                }
            }
            let missing = |json| {
                let ours = serde_json::from_str::<Ours>(json).map(|o| o.observed_at);
                let jiffs = serde_json::from_str::<Jiff>(json).map(|j| j.observed_at);
                (
                    ours.map_err(|e| e.to_string()),
                    jiffs.map_err(|e| e.to_string()),
                )
            };
            let (ours, jiffs) = missing(r#"{"a":1}"#);
            assert_eq!(ours, jiffs);
            let t: Timestamp = "2024-06-10T09:13:20.120Z".parse().unwrap();
            assert_eq!(
                serde_json::to_string(&t).unwrap(),
                r#""2024-06-10T09:13:20.12Z""#
            );
        }
    }
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
