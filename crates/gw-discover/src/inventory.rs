//! Inventory state of one endpoint and how one record updates it.
//!
//! Everything here is bounded per endpoint (status codes, parameters, content types, gateway
//! ids, schemas), so inventory memory grows with endpoints, never with records. Nothing holds a
//! value from traffic except names (parameter, header, content type) and shapes.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use gw_model::{AuthType, EndpointMatch, Exchange, IpClass, ParamLocation, REDACTED};
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::learn::LearnedPath;
use crate::method::Method;
use crate::router::SpecDeclaration;
use crate::schema::InferredSchema;
use crate::segment::{TypeSet, ValueType, value_type};

const MAX_STATUS_CODES: usize = 64;
const MAX_CONTENT_TYPES: usize = 16;
const MAX_GATEWAY_IDS: usize = 8;
const MAX_SENSITIVE: usize = 64;
const MAX_RESPONSE_SCHEMAS: usize = 8;
/// Bytes of a 5xx body scanned for server internals (stack frames sit near the top).
const VERBOSE_SCAN_BYTES: usize = 16 * 1024;
/// The record label ingest sets when a request's JWT is weak (`alg_none` or `no_exp`); the
/// same key is written by gw-ingest's normaliser.
pub const JWT_WEAKNESS_LABEL: &str = "gw.jwt_weakness";

/// Whether traffic and the specs agree about an endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SpecStatus {
    /// Declared by a spec and called.
    Declared,
    /// Called but declared by no spec.
    Shadow,
    /// Declared deprecated but still called.
    Zombie,
    /// Declared or known, but no traffic for `dormant_after_days` (event time).
    Dormant,
}

impl SpecStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SpecStatus::Declared => "declared",
            SpecStatus::Shadow => "shadow",
            SpecStatus::Zombie => "zombie",
            SpecStatus::Dormant => "dormant",
        }
    }
}

/// Calls per status class.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusClasses {
    #[serde(rename = "1xx")]
    pub informational: u64,
    #[serde(rename = "2xx")]
    pub success: u64,
    #[serde(rename = "3xx")]
    pub redirect: u64,
    #[serde(rename = "4xx")]
    pub client_error: u64,
    #[serde(rename = "5xx")]
    pub server_error: u64,
    /// No response status (request-only captures) or outside 100..=599.
    pub unknown: u64,
}

impl StatusClasses {
    fn add(&mut self, status: Option<u16>, n: u64) {
        let slot = match status {
            Some(100..=199) => &mut self.informational,
            Some(200..=299) => &mut self.success,
            Some(300..=399) => &mut self.redirect,
            Some(400..=499) => &mut self.client_error,
            Some(500..=599) => &mut self.server_error,
            _ => &mut self.unknown,
        };
        *slot += n;
    }

    fn merge(&mut self, o: &StatusClasses) {
        self.informational += o.informational;
        self.success += o.success;
        self.redirect += o.redirect;
        self.client_error += o.client_error;
        self.server_error += o.server_error;
        self.unknown += o.unknown;
    }
}

/// A parameter seen on an endpoint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObservedParam {
    pub name: String,
    #[serde(rename = "in")]
    pub location: ParamLocation,
    /// Types of the values seen (path and query values; header, cookie and body names only
    /// record `string` unless a value was typed).
    pub types: BTreeSet<ValueType>,
    pub calls: u64,
}

impl ObservedParam {
    /// The narrowest type covering every value seen.
    pub fn value_type(&self) -> ValueType {
        let mut set = TypeSet::default();
        for t in &self.types {
            set.insert(*t);
        }
        set.summary()
    }
}

/// Calls from public addresses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exposure {
    pub public_calls: u64,
    /// Event time of the first call from a public address.
    pub first_public_seen: Option<Timestamp>,
}

/// Weak credentials seen on an endpoint (counts of calls, never the credentials).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WeakAuth {
    /// Calls with HTTP Basic credentials from public (internet) clients.
    #[serde(default)]
    pub basic_public: u64,
    /// Calls with a JWT whose header says `alg: none` (unsigned).
    #[serde(default)]
    pub jwt_alg_none: u64,
    /// Calls with a JWT that has no `exp` claim (never expires).
    #[serde(default)]
    pub jwt_no_exp: u64,
}

impl WeakAuth {
    /// Whether any weak credential was seen.
    pub fn any(&self) -> bool {
        self.basic_public > 0 || self.jwt_alg_none > 0 || self.jwt_no_exp > 0
    }

    fn merge(&mut self, o: &WeakAuth) {
        self.basic_public += o.basic_public;
        self.jwt_alg_none += o.jwt_alg_none;
        self.jwt_no_exp += o.jwt_no_exp;
    }
}

/// Throttling and burst observations of an endpoint, in event time.
///
/// The burst peak is kept cheaply: calls of the latest event-time minute and of the minute
/// before it (so slightly late records still count), and the largest count any minute reached.
/// Records older than the previous minute do not count towards the peak, so the peak is a lower
/// bound when records arrive more than a minute out of order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateObservation {
    /// Responses with status 429 (Too Many Requests).
    #[serde(default)]
    pub throttled: u64,
    /// The most calls seen in one event-time minute (UTC minute boundaries).
    #[serde(default)]
    pub peak_per_minute: u64,
    /// Start of the minute that reached `peak_per_minute`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peak_minute: Option<Timestamp>,
    /// The latest minute seen, in minutes since the Unix epoch.
    #[serde(default)]
    pub minute: i64,
    /// Calls in `minute`.
    #[serde(default)]
    pub minute_calls: u64,
    /// Calls in the minute before `minute`.
    #[serde(default)]
    pub previous_minute_calls: u64,
}

impl RateObservation {
    /// Counts one call at event time `t`.
    pub fn count_call(&mut self, t: Timestamp) {
        let m = t.as_second().div_euclid(60);
        if (self.minute_calls == 0 && self.previous_minute_calls == 0) || m > self.minute {
            self.previous_minute_calls = if m == self.minute + 1 {
                self.minute_calls
            } else {
                0
            };
            self.minute = m;
            self.minute_calls = 1;
            self.note_peak(m, 1);
        } else if m == self.minute {
            self.minute_calls += 1;
            self.note_peak(m, self.minute_calls);
        } else if m == self.minute - 1 {
            self.previous_minute_calls += 1;
            self.note_peak(m, self.previous_minute_calls);
        }
    }

    fn note_peak(&mut self, minute: i64, calls: u64) {
        if calls > self.peak_per_minute {
            self.peak_per_minute = calls;
            self.peak_minute = Timestamp::from_second(minute.saturating_mul(60)).ok();
        }
    }

    /// Folds the observation of another endpoint merged into this one. Calls of the same latest
    /// minute add up; peaks of different minutes cannot be added, so the larger one is kept.
    fn merge(&mut self, o: &RateObservation) {
        self.throttled += o.throttled;
        if o.peak_per_minute > self.peak_per_minute {
            self.peak_per_minute = o.peak_per_minute;
            self.peak_minute = o.peak_minute;
        }
        if o.minute_calls == 0 && o.previous_minute_calls == 0 {
            return;
        }
        if self.minute == o.minute {
            self.minute_calls += o.minute_calls;
            self.previous_minute_calls += o.previous_minute_calls;
        } else if o.minute > self.minute || self.minute_calls == 0 {
            let (prev, minute) = (self.minute_calls, self.minute);
            self.minute = o.minute;
            self.minute_calls = o.minute_calls;
            self.previous_minute_calls =
                o.previous_minute_calls + if minute == o.minute - 1 { prev } else { 0 };
        } else if o.minute == self.minute - 1 {
            self.previous_minute_calls += o.minute_calls;
        }
        let (m, c) = (self.minute, self.minute_calls);
        self.note_peak(m, c);
        let (m, c) = (self.minute - 1, self.previous_minute_calls);
        self.note_peak(m, c);
    }
}

/// Everything the inventory knows about one endpoint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EndpointState {
    /// Stable id: a short hash of host + method + template ([`endpoint_id`]).
    pub id: String,
    /// The API (group): the spec title for declared endpoints, `host/first-segment` otherwise.
    pub api: String,
    /// The host (`*` for a declared endpoint whose servers name no host, until traffic arrives).
    pub host: String,
    pub method: Method,
    pub template: String,
    pub matched_by: EndpointMatch,
    /// The declaration when a spec covers the endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<SpecDeclaration>,
    pub first_seen: Option<Timestamp>,
    pub last_seen: Option<Timestamp>,
    pub calls: u64,
    pub status_classes: StatusClasses,
    /// Calls per status code (bounded; further codes only count in the classes).
    #[serde(default)]
    pub status_codes: BTreeMap<u16, u64>,
    #[serde(default)]
    pub params: Vec<ObservedParam>,
    /// Parameter sightings not kept because of the per-endpoint bound.
    #[serde(default)]
    pub params_dropped: u64,
    #[serde(default)]
    pub request_content_types: BTreeMap<String, u64>,
    #[serde(default)]
    pub response_content_types: BTreeMap<String, u64>,
    /// Calls per authentication type (`none`, `api_key`, `basic`, `bearer_jwt`, ...), as
    /// normalised by ingest; records whose ingest could not tell count as `unknown`.
    #[serde(default)]
    pub auth: BTreeMap<String, u64>,
    /// Successful (2xx/3xx) calls that carried no credentials.
    #[serde(default)]
    pub unauthenticated_success: u64,
    #[serde(default)]
    pub exposure: Exposure,
    /// Calls over plain HTTP: scheme `http`/`ws`, or server port 80 without TLS details.
    #[serde(default)]
    pub plaintext_calls: u64,
    /// Weak credentials seen (basic auth from the internet, unsigned or non-expiring JWTs).
    #[serde(default)]
    pub weak_auth: WeakAuth,
    /// 5xx responses whose body showed server internals, counted by pattern name
    /// (`java_stack_trace`, `sql_error`, ... see [`verbose_error_patterns`]); bodies are not kept.
    #[serde(default)]
    pub verbose_errors: BTreeMap<String, u64>,
    /// 429 responses and the per-minute call peak.
    #[serde(default)]
    pub rate: RateObservation,
    /// Sensitive data kinds seen, by location (`email` → {`response.body`}).
    #[serde(default)]
    pub sensitive: BTreeMap<String, BTreeSet<String>>,
    /// The gateway's own API ids and routes seen on this endpoint.
    #[serde(default)]
    pub gateway_api_ids: BTreeSet<String>,
    #[serde(default)]
    pub gateway_routes: BTreeSet<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_schema: Option<InferredSchema>,
    /// Response body shapes by status code.
    #[serde(default)]
    pub response_schemas: BTreeMap<u16, InferredSchema>,
    /// Bodies offered for sampling so far (drives the sampling rate).
    #[serde(default)]
    pub body_offers: u64,
    /// Learned-path state for restoring the templater.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub learned: Option<LearnedPath>,
}

/// `ep_` + 16 hex digits of XXH3 over host, method and template.
pub fn endpoint_id(host: &str, method: Method, template: &str) -> String {
    let mut key = Vec::with_capacity(host.len() + template.len() + 10);
    key.extend_from_slice(host.as_bytes());
    key.push(0);
    key.extend_from_slice(method.as_str().as_bytes());
    key.push(0);
    key.extend_from_slice(template.as_bytes());
    format!("ep_{:016x}", xxhash_rust::xxh3::xxh3_64(&key))
}

/// The API a learned endpoint belongs to: host + first path segment (the partition key).
pub fn learned_api(host: &str, template: &str) -> String {
    let first = template
        .strip_prefix('/')
        .unwrap_or(template)
        .split('/')
        .next()
        .unwrap_or("");
    format!("{host}/{first}")
}

impl EndpointState {
    /// A fresh endpoint without traffic.
    pub fn new(host: &str, method: Method, template: &str, matched_by: EndpointMatch) -> Self {
        EndpointState {
            id: endpoint_id(host, method, template),
            api: learned_api(host, template),
            host: host.to_string(),
            method,
            template: template.to_string(),
            matched_by,
            spec: None,
            first_seen: None,
            last_seen: None,
            calls: 0,
            status_classes: StatusClasses::default(),
            status_codes: BTreeMap::new(),
            params: Vec::new(),
            params_dropped: 0,
            request_content_types: BTreeMap::new(),
            response_content_types: BTreeMap::new(),
            auth: BTreeMap::new(),
            unauthenticated_success: 0,
            exposure: Exposure::default(),
            plaintext_calls: 0,
            weak_auth: WeakAuth::default(),
            verbose_errors: BTreeMap::new(),
            rate: RateObservation::default(),
            sensitive: BTreeMap::new(),
            gateway_api_ids: BTreeSet::new(),
            gateway_routes: BTreeSet::new(),
            request_schema: None,
            response_schemas: BTreeMap::new(),
            body_offers: 0,
            learned: None,
        }
    }

    /// The endpoint's status at event time `now`.
    pub fn spec_status(&self, now: Timestamp, dormant_after_days: u32) -> SpecStatus {
        let horizon = SignedDuration::from_hours(i64::from(dormant_after_days) * 24);
        let quiet = match self.last_seen {
            None => true,
            Some(last) => now.duration_since(last) >= horizon,
        };
        if quiet {
            return SpecStatus::Dormant;
        }
        match &self.spec {
            Some(d) if d.deprecated => SpecStatus::Zombie,
            Some(_) => SpecStatus::Declared,
            None => SpecStatus::Shadow,
        }
    }

    /// Whether calls arrived from public addresses.
    /// Records sensitive data kinds and where they were seen (bounded; values are never kept).
    /// Returns whether anything was new.
    pub fn add_sensitive(&mut self, labels: &[gw_model::SensitiveLabel]) -> bool {
        let mut added = false;
        for label in labels {
            if self.sensitive.len() < MAX_SENSITIVE || self.sensitive.contains_key(&label.kind) {
                let locations = self.sensitive.entry(label.kind.clone()).or_default();
                if locations.len() < MAX_SENSITIVE && !locations.contains(&label.location) {
                    locations.insert(label.location.clone());
                    added = true;
                }
            }
        }
        added
    }

    pub fn is_external(&self) -> bool {
        self.exposure.public_calls > 0
    }

    /// Authentication labels: the types seen (sorted), plus `unauthenticated` when successful
    /// calls arrived without credentials.
    pub fn auth_labels(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .auth
            .keys()
            .filter(|k| k.as_str() != AuthType::Unknown.as_str())
            .cloned()
            .collect();
        if self.unauthenticated_success > 0 {
            out.push("unauthenticated".to_string());
        }
        out
    }

    /// Folds `other` (same endpoint after a template merge) into this one.
    pub fn absorb(&mut self, other: &EndpointState) {
        self.first_seen = min_time(self.first_seen, other.first_seen);
        self.last_seen = self.last_seen.max(other.last_seen);
        self.calls += other.calls;
        self.status_classes.merge(&other.status_classes);
        for (code, n) in &other.status_codes {
            bounded_add(&mut self.status_codes, *code, *n, MAX_STATUS_CODES);
        }
        for p in &other.params {
            match self
                .params
                .iter_mut()
                .find(|q| q.location == p.location && q.name == p.name)
            {
                Some(q) => {
                    q.calls += p.calls;
                    q.types.extend(p.types.iter().copied());
                }
                None => self.params.push(p.clone()),
            }
        }
        self.params_dropped += other.params_dropped;
        for (ct, n) in &other.request_content_types {
            bounded_add(
                &mut self.request_content_types,
                ct.clone(),
                *n,
                MAX_CONTENT_TYPES,
            );
        }
        for (ct, n) in &other.response_content_types {
            bounded_add(
                &mut self.response_content_types,
                ct.clone(),
                *n,
                MAX_CONTENT_TYPES,
            );
        }
        for (a, n) in &other.auth {
            *self.auth.entry(a.clone()).or_default() += n;
        }
        self.unauthenticated_success += other.unauthenticated_success;
        self.exposure.public_calls += other.exposure.public_calls;
        self.exposure.first_public_seen = min_time(
            self.exposure.first_public_seen,
            other.exposure.first_public_seen,
        );
        self.plaintext_calls += other.plaintext_calls;
        self.weak_auth.merge(&other.weak_auth);
        for (pattern, n) in &other.verbose_errors {
            *self.verbose_errors.entry(pattern.clone()).or_default() += n;
        }
        self.rate.merge(&other.rate);
        for (kind, locations) in &other.sensitive {
            self.sensitive
                .entry(kind.clone())
                .or_default()
                .extend(locations.iter().cloned());
        }
        for id in &other.gateway_api_ids {
            bounded_insert(&mut self.gateway_api_ids, id);
        }
        for r in &other.gateway_routes {
            bounded_insert(&mut self.gateway_routes, r);
        }
        if let Some(s) = &other.request_schema {
            self.request_schema
                .get_or_insert_with(InferredSchema::default)
                .merge(s);
        }
        for (code, s) in &other.response_schemas {
            if let Some(mine) = self.response_schemas.get_mut(code) {
                mine.merge(s);
            } else if self.response_schemas.len() < MAX_RESPONSE_SCHEMAS {
                self.response_schemas.insert(*code, s.clone());
            }
        }
        self.body_offers += other.body_offers;
    }
}

fn min_time(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Timestamp> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

fn bounded_add<K: Ord>(map: &mut BTreeMap<K, u64>, key: K, n: u64, cap: usize) {
    if let Some(v) = map.get_mut(&key) {
        *v += n;
    } else if map.len() < cap {
        map.insert(key, n);
    }
}

fn bounded_insert(set: &mut BTreeSet<String>, value: &str) {
    if set.len() < MAX_GATEWAY_IDS && !set.contains(value) {
        set.insert(value.to_string());
    }
}

/// Request headers that are transport or standard negotiation, not API parameters.
const STANDARD_HEADERS: &[&str] = &[
    "accept",
    "accept-charset",
    "accept-encoding",
    "accept-language",
    "authorization",
    "cache-control",
    "cdn-loop",
    "connection",
    "content-encoding",
    "content-length",
    "content-type",
    "cookie",
    "dnt",
    "expect",
    "forwarded",
    "host",
    "if-match",
    "if-modified-since",
    "if-none-match",
    "if-unmodified-since",
    "keep-alive",
    "origin",
    "pragma",
    "priority",
    "proxy-authorization",
    "range",
    "referer",
    "sec-ch-ua",
    "sec-ch-ua-mobile",
    "sec-ch-ua-platform",
    "sec-fetch-dest",
    "sec-fetch-mode",
    "sec-fetch-site",
    "sec-fetch-user",
    "te",
    "traceparent",
    "tracestate",
    "transfer-encoding",
    "upgrade",
    "upgrade-insecure-requests",
    "user-agent",
    "via",
    "x-amzn-trace-id",
    "x-b3-parentspanid",
    "x-b3-sampled",
    "x-b3-spanid",
    "x-b3-traceid",
    "x-envoy-attempt-count",
    "x-envoy-external-address",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-port",
    "x-forwarded-proto",
    "x-real-ip",
    "x-request-id",
];

/// How one record updates an endpoint. Counts (calls, status, auth, exposure, sensitive
/// labels, gateway ids) are exact; details read from headers (header and cookie parameters,
/// content types) only when `sample_details`, and JSON bodies only when `sample_body`.
pub(crate) struct Update<'a> {
    pub record: &'a Exchange,
    pub sample_details: bool,
    pub sample_body: bool,
    pub max_params: usize,
}

impl Update<'_> {
    pub fn apply(&self, e: &mut EndpointState) {
        let x = self.record;
        let t = x.observed_at;
        e.first_seen = Some(e.first_seen.map_or(t, |f| f.min(t)));
        e.last_seen = Some(e.last_seen.map_or(t, |l| l.max(t)));
        e.calls += 1;
        let status = x.response.status;
        e.status_classes.add(status, 1);
        if let Some(code) = status {
            bounded_add(&mut e.status_codes, code, 1, MAX_STATUS_CODES);
        }
        let public = self.exposure(e);
        self.auth(e, status, public);
        if is_plaintext(x) {
            e.plaintext_calls += 1;
        }
        e.rate.count_call(t);
        if status == Some(429) {
            e.rate.throttled += 1;
        }
        if matches!(status, Some(500..=599)) {
            verbose_errors(e, x.response.body.as_ref());
        }
        e.add_sensitive(&x.sensitive);
        if let Some(api) = &x.api {
            if let Some(id) = &api.gateway_api_id {
                bounded_insert(&mut e.gateway_api_ids, id);
            }
            if let Some(route) = &api.route {
                bounded_insert(&mut e.gateway_routes, route);
            }
        }
        if self.sample_details {
            self.content_types(e);
            self.headers_and_cookies(e);
        }
        if x.request.body.is_some() || x.response.body.is_some() {
            e.body_offers += 1;
            if self.sample_body {
                self.bodies(e);
            }
        }
    }

    fn auth(&self, e: &mut EndpointState, status: Option<u16>, public: bool) {
        let auth = self
            .record
            .identity
            .as_ref()
            .and_then(|i| i.auth_type)
            .unwrap_or(AuthType::Unknown);
        match e.auth.get_mut(auth.as_str()) {
            Some(n) => *n += 1,
            None => {
                e.auth.insert(auth.as_str().to_string(), 1);
            }
        }
        if auth == AuthType::None && matches!(status, Some(200..=399)) {
            e.unauthenticated_success += 1;
        }
        if auth == AuthType::Basic && public {
            e.weak_auth.basic_public += 1;
        }
        match self
            .record
            .labels
            .get(JWT_WEAKNESS_LABEL)
            .map(String::as_str)
        {
            Some("alg_none") => e.weak_auth.jwt_alg_none += 1,
            Some("no_exp") => e.weak_auth.jwt_no_exp += 1,
            _ => {}
        }
    }

    /// Counts a call from a public address; returns whether the caller was public.
    fn exposure(&self, e: &mut EndpointState) -> bool {
        let x = self.record;
        let class = x
            .enrich
            .as_ref()
            .and_then(|en| en.ip_class)
            .or_else(|| x.actor_ip().map(classify_ip));
        if class == Some(IpClass::Public) {
            e.exposure.public_calls += 1;
            let t = x.observed_at;
            e.exposure.first_public_seen =
                Some(e.exposure.first_public_seen.map_or(t, |f| f.min(t)));
            true
        } else {
            false
        }
    }

    fn content_types(&self, e: &mut EndpointState) {
        let x = self.record;
        if let Some(ct) = x.request.header("content-type") {
            add_content_type(&mut e.request_content_types, ct);
        }
        let response_ct = x
            .response
            .content_type
            .as_deref()
            .or_else(|| x.response.header("content-type"));
        if let Some(ct) = response_ct {
            add_content_type(&mut e.response_content_types, ct);
        }
    }

    fn headers_and_cookies(&self, e: &mut EndpointState) {
        let Some(headers) = self.record.request.headers.as_deref() else {
            return;
        };
        for h in headers {
            if h.name == "cookie" {
                if h.value == REDACTED {
                    continue;
                }
                for pair in h.value.split(';') {
                    let name = pair.split('=').next().unwrap_or("").trim();
                    if !name.is_empty() {
                        observe_param(
                            e,
                            name,
                            ParamLocation::Cookie,
                            ValueType::String,
                            self.max_params,
                        );
                    }
                }
            } else if STANDARD_HEADERS.binary_search(&h.name.as_str()).is_err() {
                let t = if h.value == REDACTED {
                    ValueType::String
                } else {
                    value_type(&h.value)
                };
                observe_param(e, &h.name, ParamLocation::Header, t, self.max_params);
            }
        }
    }

    fn bodies(&self, e: &mut EndpointState) {
        let x = self.record;
        if let Some(v) = json_body(x.request.body.as_ref(), x.request.header("content-type")) {
            if let serde_json::Value::Object(map) = &v {
                for (name, member) in map {
                    observe_param(
                        e,
                        name,
                        ParamLocation::Body,
                        json_type(member),
                        self.max_params,
                    );
                }
            }
            e.request_schema
                .get_or_insert_with(InferredSchema::default)
                .observe(&v);
        }
        let response_ct = x
            .response
            .content_type
            .as_deref()
            .or_else(|| x.response.header("content-type"));
        if let (Some(status), Some(v)) = (
            x.response.status,
            json_body(x.response.body.as_ref(), response_ct),
        ) {
            if let Some(s) = e.response_schemas.get_mut(&status) {
                s.observe(&v);
            } else if e.response_schemas.len() < MAX_RESPONSE_SCHEMAS {
                let mut s = InferredSchema::default();
                s.observe(&v);
                e.response_schemas.insert(status, s);
            }
        }
    }
}

/// Plain HTTP: the record says scheme `http`/`ws`, or (without a scheme) the server port is 80
/// and the client connection carried no TLS details.
fn is_plaintext(x: &Exchange) -> bool {
    match x.request.scheme.as_deref() {
        Some(s) => s.eq_ignore_ascii_case("http") || s.eq_ignore_ascii_case("ws"),
        None => x.server.port == Some(80) && x.client.tls.is_none(),
    }
}

/// Counts the server-internals patterns found in a 5xx response body.
fn verbose_errors(e: &mut EndpointState, body: Option<&gw_model::Body>) {
    let Some(text) = body.filter(|b| !b.redacted).and_then(|b| b.text()) else {
        return;
    };
    for pattern in verbose_error_patterns(text) {
        match e.verbose_errors.get_mut(pattern) {
            Some(n) => *n += 1,
            None => {
                e.verbose_errors.insert(pattern.to_string(), 1);
            }
        }
    }
}

/// Signs of server internals in an error body: per pattern name, alternatives of substrings
/// that must all occur. Chosen to be specific (a stack frame, a driver's error text, a
/// framework's debug page title), not merely the word "error".
const VERBOSE_ERROR_SIGNS: &[(&str, &[&[&str]])] = &[
    (
        "java_stack_trace",
        &[
            &["\tat ", ".java:"],
            &["\n    at ", ".java:"],
            &["Exception in thread \""],
            &["at java.base/"],
            &["at org.springframework."],
        ],
    ),
    (
        "dotnet_stack_trace",
        &[
            &["   at ", ".cs:line "],
            &["--- End of stack trace from previous location"],
            &["   at System.", "Exception"],
            &["   at Microsoft.AspNetCore."],
        ],
    ),
    (
        "python_traceback",
        &[
            &["Traceback (most recent call last):"],
            &["File \"", "\", line ", ", in "],
        ],
    ),
    (
        "node_stack_trace",
        &[
            &["    at ", ".js:"],
            &["    at ", "node_modules/"],
            &["    at ", "(node:internal/"],
            &["at Object.<anonymous>"],
            &[" &nbsp; &nbsp;at "],
        ],
    ),
    (
        "php_error",
        &[
            &["PHP Fatal error"],
            &["PHP Warning:"],
            &["Fatal error</b>:", " on line "],
            &["Fatal error: ", ".php on line "],
            &["Stack trace:\n#0 "],
            &["Stack trace:", "{main}"],
        ],
    ),
    (
        "go_panic",
        &[
            &["panic: ", "goroutine "],
            &["goroutine ", "[running]:"],
            &["runtime/panic.go"],
        ],
    ),
    ("ruby_backtrace", &[&[".rb:", ":in `"], &[".rb:", ":in '"]]),
    (
        "sql_error",
        &[
            &["SQLSTATE["],
            &["You have an error in your SQL syntax"],
            &["syntax error at or near \""],
            &["Unclosed quotation mark after the character string"],
            &["quoted string not properly terminated"],
            &["ORA-00"],
            &["ORA-01"],
            &["PSQLException"],
            &["psycopg2.errors."],
            &["psycopg2.ProgrammingError"],
            &["sqlite3.OperationalError"],
            &["SQLiteException"],
            &["SQLSyntaxErrorException"],
            &["java.sql.SQLException"],
            &["System.Data.SqlClient.SqlException"],
            &["Microsoft.Data.SqlClient.SqlException"],
            &["MySqlException"],
            &["PG::SyntaxError"],
            &["Microsoft OLE DB Provider for SQL Server"],
            &["[ODBC SQL Server Driver]"],
            &["SequelizeDatabaseError"],
            &["near \"", "\": syntax error"],
        ],
    ),
    (
        "framework_debug_page",
        &[
            &["DEBUG = True"],
            &["Whitelabel Error Page"],
            &["Werkzeug Debugger"],
            &["Server Error in '/' Application"],
            &["Whoops! There was an error."],
            &["Action Controller: Exception caught"],
            &["Symfony\\Component\\"],
            &["Illuminate\\"],
            &["Laravel</title>"],
            &["<title>Apache Tomcat", "Exception"],
            &["Exception Details:", "Source Error:"],
        ],
    ),
];

/// Names of the server-internals patterns (stack frames of Java, .NET, Python, Node.js, PHP,
/// Go or Ruby; SQL driver errors; framework debug pages) found in an error body, in a fixed
/// order. Only the first 16 KiB are read.
pub fn verbose_error_patterns(body: &str) -> impl Iterator<Item = &'static str> + '_ {
    let mut end = body.len().min(VERBOSE_SCAN_BYTES);
    while !body.is_char_boundary(end) {
        end -= 1;
    }
    let text = &body[..end];
    VERBOSE_ERROR_SIGNS
        .iter()
        .filter(move |(_, alternatives)| {
            alternatives
                .iter()
                .any(|parts| parts.iter().all(|p| text.contains(p)))
        })
        .map(|(name, _)| *name)
}

/// Records a parameter sighting on an endpoint (bounded).
pub(crate) fn observe_param(
    e: &mut EndpointState,
    name: &str,
    location: ParamLocation,
    t: ValueType,
    max: usize,
) {
    if let Some(p) = e
        .params
        .iter_mut()
        .find(|p| p.location == location && p.name == name)
    {
        p.calls += 1;
        if !p.types.contains(&t) {
            p.types.insert(t);
        }
        return;
    }
    if e.params.len() >= max {
        e.params_dropped += 1;
        return;
    }
    e.params.push(ObservedParam {
        name: name.to_string(),
        location,
        types: BTreeSet::from([t]),
        calls: 1,
    });
}

fn add_content_type(map: &mut BTreeMap<String, u64>, raw: &str) {
    let essence = raw.split(';').next().unwrap_or("").trim();
    if essence.is_empty() {
        return;
    }
    if let Some(n) = map.get_mut(essence) {
        *n += 1;
    } else if map.len() < MAX_CONTENT_TYPES {
        map.insert(essence.to_ascii_lowercase(), 1);
    }
}

fn json_body(
    body: Option<&gw_model::Body>,
    content_type: Option<&str>,
) -> Option<serde_json::Value> {
    let body = body?;
    if body.redacted || body.truncated {
        return None;
    }
    let text = body.text()?;
    let declared_json = content_type.is_some_and(|ct| ct.contains("json"));
    let looks_json = text.trim_start().starts_with(['{', '[']);
    if !declared_json && !looks_json {
        return None;
    }
    serde_json::from_str(text).ok()
}

fn json_type(v: &serde_json::Value) -> ValueType {
    match v {
        serde_json::Value::Bool(_) => ValueType::Boolean,
        serde_json::Value::Number(n) if n.is_f64() => ValueType::Number,
        serde_json::Value::Number(_) => ValueType::Integer,
        serde_json::Value::String(s) => value_type(s),
        _ => ValueType::String,
    }
}

/// Public, private or reserved. Documentation ranges (192.0.2.0/24, 198.51.100.0/24,
/// 203.0.113.0/24, 2001:db8::/32) count as public: examples and tests use them for Internet
/// clients.
pub fn classify_ip(ip: IpAddr) -> IpClass {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            if v4.is_private() || (o[0] == 100 && (64..128).contains(&o[1])) {
                IpClass::Private
            } else if v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || o[0] == 0
                || o[0] >= 240
            {
                IpClass::Reserved
            } else {
                IpClass::Public
            }
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return classify_ip(IpAddr::V4(v4));
            }
            let s = v6.segments();
            if (s[0] & 0xfe00) == 0xfc00 {
                IpClass::Private
            } else if v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xffc0) == 0xfe80
            {
                IpClass::Reserved
            } else {
                IpClass::Public
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_headers_are_sorted_for_binary_search() {
        let mut sorted = STANDARD_HEADERS.to_vec();
        sorted.sort_unstable();
        assert_eq!(sorted, STANDARD_HEADERS);
    }

    #[test]
    fn ip_classes() {
        let c = |s: &str| classify_ip(s.parse().unwrap());
        assert_eq!(c("10.1.2.3"), IpClass::Private);
        assert_eq!(c("192.168.0.1"), IpClass::Private);
        assert_eq!(c("100.64.0.1"), IpClass::Private);
        assert_eq!(c("127.0.0.1"), IpClass::Reserved);
        assert_eq!(c("8.8.8.8"), IpClass::Public);
        assert_eq!(c("203.0.113.45"), IpClass::Public);
        assert_eq!(c("fd00::1"), IpClass::Private);
        assert_eq!(c("fe80::1"), IpClass::Reserved);
        assert_eq!(c("2a00:1450::1"), IpClass::Public);
        assert_eq!(c("::ffff:10.0.0.1"), IpClass::Private);
    }

    #[test]
    fn ids_are_stable_and_distinct() {
        let a = endpoint_id("h", Method::Get, "/users/{id}");
        assert_eq!(a, endpoint_id("h", Method::Get, "/users/{id}"));
        assert_ne!(a, endpoint_id("h", Method::Post, "/users/{id}"));
        assert_eq!(a.len(), 19);
        assert_eq!(learned_api("h", "/v1/users"), "h/v1");
        assert_eq!(learned_api("h", "/"), "h/");
    }

    #[test]
    fn dormant_by_event_time() {
        let mut e = EndpointState::new("h", Method::Get, "/a", EndpointMatch::Learned);
        let t0: Timestamp = "2024-01-01T00:00:00Z".parse().unwrap();
        e.last_seen = Some(t0);
        let day = SignedDuration::from_hours(24);
        assert_eq!(e.spec_status(t0 + day * 29, 30), SpecStatus::Shadow);
        assert_eq!(e.spec_status(t0 + day * 30, 30), SpecStatus::Dormant);
    }

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn record(at: &str) -> Exchange {
        let source = gw_model::Source {
            kind: gw_model::SourceKind::Native,
            capture: gw_model::Capture::Frontend,
            gateway: None,
            raw_ref: None,
        };
        let mut x = Exchange::new("r", t(at), source, "GET", "/a");
        x.response.status = Some(200);
        x.client.ip = Some("10.0.0.1".parse().unwrap());
        x
    }

    fn apply(e: &mut EndpointState, x: &Exchange) {
        Update {
            record: x,
            sample_details: true,
            sample_body: true,
            max_params: 16,
        }
        .apply(e);
    }

    fn endpoint() -> EndpointState {
        EndpointState::new("h", Method::Get, "/a", EndpointMatch::Learned)
    }

    #[test]
    fn plaintext_is_the_http_scheme_or_port_80_without_tls() {
        let mut e = endpoint();
        let mut x = record("2024-01-01T00:00:00Z");
        x.request.scheme = Some("HTTP".into());
        apply(&mut e, &x);
        x.request.scheme = Some("https".into());
        x.server.port = Some(80);
        apply(&mut e, &x);
        x.request.scheme = None;
        apply(&mut e, &x);
        x.client.tls = Some(gw_model::Tls::default());
        apply(&mut e, &x);
        x.client.tls = None;
        x.server.port = Some(8080);
        apply(&mut e, &x);
        assert_eq!(e.calls, 5);
        assert_eq!(e.plaintext_calls, 2, "http scheme and bare port 80 only");
    }

    #[test]
    fn weak_auth_counts_public_basic_and_jwt_labels() {
        let mut e = endpoint();
        let mut x = record("2024-01-01T00:00:00Z");
        x.identity = Some(gw_model::Identity {
            auth_type: Some(AuthType::Basic),
            ..gw_model::Identity::default()
        });
        apply(&mut e, &x); // private client: not counted
        x.client.ip = Some("203.0.113.9".parse().unwrap());
        apply(&mut e, &x);
        x.identity.as_mut().unwrap().auth_type = Some(AuthType::BearerJwt);
        x.labels
            .insert(JWT_WEAKNESS_LABEL.into(), "alg_none".into());
        apply(&mut e, &x);
        x.labels.insert(JWT_WEAKNESS_LABEL.into(), "no_exp".into());
        apply(&mut e, &x);
        apply(&mut e, &x);
        x.labels
            .insert(JWT_WEAKNESS_LABEL.into(), "something_else".into());
        apply(&mut e, &x);
        assert_eq!(
            e.weak_auth,
            WeakAuth {
                basic_public: 1,
                jwt_alg_none: 1,
                jwt_no_exp: 2
            }
        );
        assert!(e.weak_auth.any() && !WeakAuth::default().any());
    }

    #[test]
    fn verbose_error_patterns_name_each_platform() {
        let cases = [
            (
                "java.lang.NullPointerException\n\tat com.acme.Orders.get(Orders.java:42)\n",
                "java_stack_trace",
            ),
            (
                "System.InvalidOperationException: x\n   at Acme.Api.OrdersController.Get() in /src/OrdersController.cs:line 27",
                "dotnet_stack_trace",
            ),
            (
                "Traceback (most recent call last):\n  File \"/app/views.py\", line 12, in get\nKeyError: 'id'",
                "python_traceback",
            ),
            (
                "TypeError: Cannot read properties of undefined\n    at getOrder (/app/src/orders.js:14:21)\n",
                "node_stack_trace",
            ),
            (
                "PHP Fatal error:  Uncaught Error: Call to undefined function in /var/www/index.php:7\nStack trace:\n#0 {main}",
                "php_error",
            ),
            (
                "panic: runtime error: index out of range\n\ngoroutine 17 [running]:\nmain.handler()",
                "go_panic",
            ),
            ("app/models/order.rb:12:in `find'", "ruby_backtrace"),
            (
                r#"{"error":"SQLSTATE[42000]: Syntax error or access violation: 1064 You have an error in your SQL syntax"}"#,
                "sql_error",
            ),
            (
                "<html><body><h1>Whitelabel Error Page</h1></body></html>",
                "framework_debug_page",
            ),
        ];
        for (body, want) in cases {
            let got: Vec<&str> = verbose_error_patterns(body).collect();
            assert!(
                got.contains(&want),
                "{want} not found in {got:?} for {body}"
            );
        }
        for clean in [
            r#"{"error":"internal server error","request_id":"b2f5"}"#,
            "Service Unavailable",
            "<html><body>502 Bad Gateway</body></html>",
            "",
        ] {
            assert_eq!(verbose_error_patterns(clean).count(), 0, "{clean}");
        }
        // a multi-byte character across the scan limit does not panic
        let long = "é".repeat(VERBOSE_SCAN_BYTES);
        assert_eq!(verbose_error_patterns(&long).count(), 0);
    }

    #[test]
    fn only_unredacted_5xx_bodies_are_scanned_and_no_body_text_is_kept() {
        let mut e = endpoint();
        let trace =
            "Traceback (most recent call last):\n  File \"/app/secret_module.py\", line 3, in x";
        let mut x = record("2024-01-01T00:00:00Z");
        x.response.status = Some(500);
        x.response.body = Some(gw_model::Body::utf8(trace));
        apply(&mut e, &x);
        apply(&mut e, &x);
        x.response.status = Some(400);
        apply(&mut e, &x);
        x.response.status = Some(503);
        x.response.body.as_mut().unwrap().redacted = true;
        apply(&mut e, &x);
        assert_eq!(
            e.verbose_errors,
            BTreeMap::from([("python_traceback".to_string(), 2)])
        );
        let json = serde_json::to_string(&e).unwrap();
        assert!(!json.contains("secret_module"), "{json}");
    }

    #[test]
    fn rate_counts_429_and_the_peak_minute_with_late_records() {
        let mut e = endpoint();
        let mut x = record("2024-01-01T00:00:10Z");
        for s in 0..5 {
            x.observed_at = t("2024-01-01T00:00:00Z") + SignedDuration::from_secs(s * 10);
            apply(&mut e, &x);
        }
        for s in 0..3 {
            x.observed_at = t("2024-01-01T00:01:00Z") + SignedDuration::from_secs(s);
            apply(&mut e, &x);
        }
        // two late records of the previous minute
        x.observed_at = t("2024-01-01T00:00:59Z");
        apply(&mut e, &x);
        apply(&mut e, &x);
        // far too late: not counted in the peak
        x.observed_at = t("2023-12-31T23:00:00Z");
        x.response.status = Some(429);
        apply(&mut e, &x);
        assert_eq!(e.rate.throttled, 1);
        assert_eq!(e.rate.peak_per_minute, 7);
        assert_eq!(e.rate.peak_minute, Some(t("2024-01-01T00:00:00Z")));
        // a gap resets the buckets
        x.observed_at = t("2024-01-01T05:00:00Z");
        apply(&mut e, &x);
        assert_eq!((e.rate.minute_calls, e.rate.previous_minute_calls), (1, 0));
        assert_eq!(e.rate.peak_per_minute, 7);
    }

    #[test]
    fn absorb_adds_observations_and_merges_same_minute_buckets() {
        let mut a = endpoint();
        let mut b = endpoint();
        let mut x = record("2024-01-01T00:00:01Z");
        x.request.scheme = Some("http".into());
        x.response.status = Some(500);
        x.response.body = Some(gw_model::Body::utf8("goroutine 1 [running]:"));
        for _ in 0..3 {
            apply(&mut a, &x);
        }
        x.response.status = Some(429);
        x.labels.insert(JWT_WEAKNESS_LABEL.into(), "no_exp".into());
        for _ in 0..4 {
            apply(&mut b, &x);
        }
        a.absorb(&b);
        assert_eq!(a.plaintext_calls, 7);
        assert_eq!(a.verbose_errors.get("go_panic"), Some(&3));
        assert_eq!(a.weak_auth.jwt_no_exp, 4);
        assert_eq!(a.rate.throttled, 4);
        assert_eq!(a.rate.peak_per_minute, 7, "same minute: calls add up");
    }

    #[test]
    fn states_stored_before_the_observation_fields_still_load() {
        let mut e = endpoint();
        apply(&mut e, &record("2024-01-01T00:00:00Z"));
        let mut v = serde_json::to_value(&e).unwrap();
        let map = v.as_object_mut().unwrap();
        for k in ["plaintext_calls", "weak_auth", "verbose_errors", "rate"] {
            assert!(map.remove(k).is_some(), "{k}");
        }
        let back: EndpointState = serde_json::from_value(v).unwrap();
        assert_eq!(back.plaintext_calls, 0);
        assert_eq!(back.rate, RateObservation::default());
        assert_eq!(back.calls, 1);
    }
}
