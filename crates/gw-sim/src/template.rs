//! Per-operation templates compiled once from an [`ApiSpec`], so generating a record is a few
//! string pushes instead of a schema walk.

use std::fmt::Write as _;
use std::sync::Arc;

use gw_spec::{
    AdditionalProperties, ApiKeyLocation, ApiSpec, Operation, ParameterLocation, Schema,
    SchemaType, SecuritySchemeKind,
};
use rand::Rng;

use crate::keyed::hash_str;
use crate::values::{ValueKind, kind_for};

/// Deepest schema nesting rendered into a body.
const MAX_DEPTH: usize = 5;

/// One piece of a compiled JSON body.
#[derive(Clone, Debug)]
pub(crate) enum Part {
    Lit(String),
    Value(ValueKind),
    /// `min..=max` copies of `body`, comma-separated.
    Repeat {
        min: u8,
        max: u8,
        body: Vec<Part>,
    },
}

/// A JSON document with generated slots.
#[derive(Clone, Debug, Default)]
pub(crate) struct JsonTemplate {
    parts: Vec<Part>,
}

impl JsonTemplate {
    pub(crate) fn render<R: Rng>(&self, rng: &mut R, now_s: i64, out: &mut String) {
        render_parts(&self.parts, rng, now_s, out);
    }

    /// The string-valued fields a payload can be put into (top level only).
    pub(crate) fn is_empty(&self) -> bool {
        self.parts.is_empty()
    }
}

fn render_parts<R: Rng>(parts: &[Part], rng: &mut R, now_s: i64, out: &mut String) {
    for part in parts {
        match part {
            Part::Lit(s) => out.push_str(s),
            Part::Value(kind) => kind.write_json(rng, now_s, out),
            Part::Repeat { min, max, body } => {
                let n = rng.random_range(*min..=*max);
                for i in 0..n {
                    if i > 0 {
                        out.push(',');
                    }
                    render_parts(body, rng, now_s, out);
                }
            }
        }
    }
}

/// Which side of the exchange a body schema describes (`readOnly` / `writeOnly` filtering).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Request,
    Response,
}

struct Compiler<'a> {
    spec: &'a ApiSpec,
    side: Side,
    parts: Vec<Part>,
}

impl Compiler<'_> {
    fn lit(&mut self, s: &str) {
        if let Some(Part::Lit(last)) = self.parts.last_mut() {
            last.push_str(s);
        } else {
            self.parts.push(Part::Lit(s.to_string()));
        }
    }

    fn value(&mut self, name: &str, schema: &Schema, depth: usize) {
        let schema = self.spec.resolve_marker(schema);
        let schema = match (schema.one_of.first(), schema.any_of.first()) {
            _ if !schema.types.is_empty() || !schema.properties.is_empty() => schema,
            (Some(alt), _) | (None, Some(alt)) => self.spec.resolve_marker(alt),
            _ => schema,
        };
        let is_object = schema.has_type(SchemaType::Object)
            || (schema.types.is_empty() && !schema.properties.is_empty());
        if is_object {
            if depth >= MAX_DEPTH {
                self.lit("{}");
                return;
            }
            if schema.properties.is_empty() {
                match (&schema.example, &schema.additional_properties) {
                    (Some(ex), _) => self.lit(&ex.to_string()),
                    (None, AdditionalProperties::Schema(inner)) => {
                        self.lit("{\"key\":");
                        self.value("value", inner, depth + 1);
                        self.lit("}");
                    }
                    _ => self.lit("{}"),
                }
                return;
            }
            self.lit("{");
            let mut first = true;
            for (prop, sub) in &schema.properties {
                let sub_resolved = self.spec.resolve_marker(sub);
                let skip = match self.side {
                    Side::Request => sub_resolved.read_only,
                    Side::Response => sub_resolved.write_only,
                };
                if skip {
                    continue;
                }
                if !first {
                    self.lit(",");
                }
                first = false;
                self.lit(&serde_json::Value::String(prop.clone()).to_string());
                self.lit(":");
                self.value(prop, sub, depth + 1);
            }
            self.lit("}");
            return;
        }
        if schema.has_type(SchemaType::Array) {
            if depth >= MAX_DEPTH {
                self.lit("[]");
                return;
            }
            let item = schema
                .items
                .clone()
                .unwrap_or_else(|| Arc::new(Schema::default()));
            let saved = std::mem::take(&mut self.parts);
            let singular = name.strip_suffix('s').unwrap_or(name).to_string();
            self.value(&singular, &item, depth + 1);
            let body = std::mem::replace(&mut self.parts, saved);
            let (min, max) = match (self.side, depth) {
                (Side::Response, 0) => (2, 8),
                (Side::Response, _) => (1, 3),
                (Side::Request, _) => (1, 2),
            };
            self.lit("[");
            self.parts.push(Part::Repeat { min, max, body });
            self.lit("]");
            return;
        }
        let kind = kind_for(name, schema);
        let generic = matches!(
            kind,
            ValueKind::Word | ValueKind::Title | ValueKind::Int { .. } | ValueKind::Float { .. }
        );
        match (&schema.example, generic) {
            (Some(ex), true) if !ex.is_null() => self.lit(&ex.to_string()),
            _ => self.parts.push(Part::Value(kind)),
        }
    }
}

fn compile_body(spec: &ApiSpec, schema: &Schema, side: Side) -> JsonTemplate {
    let mut c = Compiler {
        spec,
        side,
        parts: Vec::new(),
    };
    c.value("", schema, 0);
    JsonTemplate { parts: c.parts }
}

/// A segment of a concrete path.
#[derive(Clone, Debug)]
pub(crate) enum PathPart {
    Lit(String),
    Param { kind: ValueKind },
}

/// A query parameter the operation declares.
#[derive(Clone, Debug)]
pub(crate) struct QueryParam {
    pub(crate) name: String,
    pub(crate) kind: ValueKind,
    pub(crate) required: bool,
}

/// How a call to the operation carries credentials.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum AuthStyle {
    None,
    BearerJwt,
    Basic,
    ApiKeyHeader(String),
    ApiKeyQuery(String),
    ApiKeyCookie(String),
}

/// Everything needed to produce a call to one operation.
#[derive(Clone, Debug)]
pub(crate) struct OpTemplate {
    pub(crate) spec_index: usize,
    pub(crate) method: String,
    pub(crate) host: String,
    pub(crate) scheme: String,
    /// Server base path + path template (`/api/v1/products/{productId}`).
    pub(crate) template: String,
    pub(crate) path: Vec<PathPart>,
    pub(crate) query: Vec<QueryParam>,
    pub(crate) request_body: Option<JsonTemplate>,
    /// Top-level string fields of the request body (where payloads can go).
    pub(crate) body_fields: Vec<String>,
    /// Top-level numeric fields of the request body.
    pub(crate) numeric_body_fields: Vec<String>,
    pub(crate) success_status: u16,
    pub(crate) success_body: Option<JsonTemplate>,
    pub(crate) declared_errors: Vec<u16>,
    pub(crate) auth: AuthStyle,
    pub(crate) requires_auth: bool,
    pub(crate) is_login: bool,
    pub(crate) internal: bool,
    /// Relative share of background traffic.
    pub(crate) weight: f64,
    pub(crate) median_latency_ms: f64,
    /// Typical rendered sizes, so body buffers are allocated once.
    pub(crate) request_body_capacity: usize,
    pub(crate) response_body_capacity: usize,
}

/// The largest of a few sample renderings plus headroom: a buffer size that rarely regrows.
fn capacity_hint(template: Option<&JsonTemplate>) -> usize {
    use rand::SeedableRng;
    let Some(t) = template else { return 0 };
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    let mut scratch = String::new();
    let mut largest = 0;
    for _ in 0..4 {
        scratch.clear();
        t.render(&mut rng, 1_700_000_000, &mut scratch);
        largest = largest.max(scratch.len());
    }
    largest + largest / 2 + 16
}

impl OpTemplate {
    pub(crate) fn has_path_params(&self) -> bool {
        self.path
            .iter()
            .any(|p| matches!(p, PathPart::Param { .. }))
    }

    /// Renders the concrete path, with `override_value` in place of every path parameter when set.
    pub(crate) fn render_path<R: Rng>(
        &self,
        rng: &mut R,
        now_s: i64,
        override_value: Option<&str>,
        out: &mut String,
    ) {
        for part in &self.path {
            match part {
                PathPart::Lit(s) => out.push_str(s),
                PathPart::Param { kind, .. } => match override_value {
                    Some(v) => out.push_str(v),
                    None => {
                        let start = out.len();
                        kind.write_raw(rng, now_s, out);
                        if out[start..]
                            .bytes()
                            .any(|b| !b.is_ascii_alphanumeric() && !b"-._~@".contains(&b))
                        {
                            let raw = out.split_off(start);
                            out.push_str(&crate::encode::component(&raw));
                        }
                    }
                },
            }
        }
    }

    /// Renders a realistic query string (required parameters always, optional ones sometimes).
    pub(crate) fn render_query<R: Rng>(&self, rng: &mut R, now_s: i64, out: &mut String) {
        let mut value = String::new();
        for q in &self.query {
            if !q.required && !rng.random_bool(0.35) {
                continue;
            }
            if !out.is_empty() {
                out.push('&');
            }
            out.push_str(&crate::encode::component(&q.name));
            out.push('=');
            value.clear();
            q.kind.write_raw(rng, now_s, &mut value);
            out.push_str(&crate::encode::component(&value));
        }
    }
}

/// Compiles every operation of `spec` (index `spec_index` in the simulator's list).
pub(crate) fn compile_spec(spec: &ApiSpec, spec_index: usize) -> Vec<OpTemplate> {
    spec.operations
        .iter()
        .map(|op| compile_operation(spec, spec_index, op))
        .collect()
}

fn compile_operation(spec: &ApiSpec, spec_index: usize, op: &Operation) -> OpTemplate {
    let server = spec.effective_servers(op).first();
    let host = server
        .and_then(|s| s.host.clone())
        .unwrap_or_else(|| format!("{}.example.com", slug(&spec.title, spec_index)));
    let scheme = server
        .and_then(|s| s.scheme.clone())
        .unwrap_or_else(|| "https".to_string());
    let base = server.map(|s| s.base_path.clone()).unwrap_or_default();
    let template = format!("{base}{}", op.path_template);
    let path = compile_path(&template, op);
    let query = op
        .parameters
        .iter()
        .filter(|p| p.location == ParameterLocation::Query)
        .map(|p| QueryParam {
            name: p.name.clone(),
            kind: kind_for(&p.name, spec.resolve_marker(&p.schema)),
            required: p.required,
        })
        .collect();
    let body_schema = op.request_body.as_ref().and_then(|b| {
        let json = b.content_types.is_empty() || b.content_types.iter().any(|c| c.contains("json"));
        if json { b.schema.clone() } else { None }
    });
    let request_body = body_schema
        .as_ref()
        .map(|s| compile_body(spec, s, Side::Request));
    let body_fields = body_schema
        .as_ref()
        .map(|s| {
            let s = spec.resolve_marker(s);
            s.properties
                .iter()
                .filter(|(_, p)| {
                    let p = spec.resolve_marker(p);
                    p.types.is_empty() || p.has_type(SchemaType::String)
                })
                .map(|(k, _)| k.clone())
                .collect()
        })
        .unwrap_or_default();
    let numeric_body_fields = body_schema
        .as_ref()
        .map(|s| {
            let s = spec.resolve_marker(s);
            s.properties
                .iter()
                .filter(|(_, p)| {
                    let p = spec.resolve_marker(p);
                    p.has_type(SchemaType::Integer) || p.has_type(SchemaType::Number)
                })
                .map(|(k, _)| k.clone())
                .collect()
        })
        .unwrap_or_default();
    let (success_status, success_body) = success_response(spec, op);
    let declared_errors = op
        .responses
        .iter()
        .filter_map(|r| r.status.parse::<u16>().ok())
        .filter(|s| (400..600).contains(s))
        .collect();
    let requires_auth = spec.requires_auth(op);
    let auth = auth_style(spec, op);
    let lower = template.to_ascii_lowercase();
    let is_login = op.method == "POST"
        && [
            "login",
            "signin",
            "sign-in",
            "authenticate",
            "auth/token",
            "oauth/token",
        ]
        .iter()
        .any(|n| lower.contains(n));
    let internal = [".internal", ".local", ".corp", ".intranet"]
        .iter()
        .any(|n| host.contains(n));
    let key = hash_str(&format!("{}|{}|{}", spec_index, op.method, template));
    let weight = operation_weight(op, &path, is_login, key);
    let median_latency_ms = 12.0 + (key >> 11) as f64 / (1u64 << 53) as f64 * 160.0;
    OpTemplate {
        spec_index,
        method: op.method.clone(),
        host,
        scheme,
        template,
        path,
        query,
        request_body,
        body_fields,
        numeric_body_fields,
        success_status,
        success_body,
        declared_errors,
        auth,
        requires_auth,
        is_login,
        internal,
        weight,
        median_latency_ms,
        request_body_capacity: 0,
        response_body_capacity: 0,
    }
    .with_capacity_hints()
}

impl OpTemplate {
    fn with_capacity_hints(mut self) -> Self {
        self.request_body_capacity = capacity_hint(self.request_body.as_ref());
        self.response_body_capacity = capacity_hint(self.success_body.as_ref());
        self
    }
}

fn compile_path(template: &str, op: &Operation) -> Vec<PathPart> {
    let mut parts = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}').map(|c| open + c) else {
            break;
        };
        if open > 0 {
            parts.push(PathPart::Lit(rest[..open].to_string()));
        }
        let name = &rest[open + 1..close];
        let declared = op
            .parameters
            .iter()
            .find(|p| p.location == ParameterLocation::Path && p.name == name);
        let kind = match declared {
            Some(p) => kind_for(name, &p.schema),
            None => kind_for(name, &Schema::default()),
        };
        parts.push(PathPart::Param { kind });
        rest = &rest[close + 1..];
    }
    if !rest.is_empty() {
        parts.push(PathPart::Lit(rest.to_string()));
    }
    if parts.is_empty() {
        parts.push(PathPart::Lit("/".to_string()));
    }
    parts
}

fn success_response(spec: &ApiSpec, op: &Operation) -> (u16, Option<JsonTemplate>) {
    let declared = op.responses.iter().find(|r| r.status.starts_with('2'));
    let status = declared
        .and_then(|r| r.status.parse::<u16>().ok())
        .unwrap_or(match op.method.as_str() {
            "POST" => 201,
            "DELETE" => 204,
            _ => 200,
        });
    let schema = declared
        .or_else(|| op.responses.iter().find(|r| r.status == "default"))
        .and_then(|r| r.schema.clone());
    let body = match (status, schema) {
        (204, _) => None,
        (_, Some(s)) => Some(compile_body(spec, &s, Side::Response)).filter(|t| !t.is_empty()),
        (_, None) => Some(JsonTemplate {
            parts: vec![Part::Lit("{\"status\":\"ok\"}".to_string())],
        }),
    };
    (status, body)
}

fn auth_style(spec: &ApiSpec, op: &Operation) -> AuthStyle {
    let reqs = spec.effective_security(op);
    let Some(req) = reqs.iter().find(|r| !r.is_anonymous()) else {
        return AuthStyle::None;
    };
    let Some(scheme) = req
        .schemes
        .keys()
        .find_map(|name| spec.security_schemes.get(name))
    else {
        return AuthStyle::BearerJwt;
    };
    match &scheme.kind {
        SecuritySchemeKind::ApiKey { name, location } => {
            let name = name.to_ascii_lowercase();
            match location {
                ApiKeyLocation::Header if name == "authorization" => AuthStyle::BearerJwt,
                ApiKeyLocation::Header => AuthStyle::ApiKeyHeader(name),
                ApiKeyLocation::Query => AuthStyle::ApiKeyQuery(name),
                ApiKeyLocation::Cookie => AuthStyle::ApiKeyCookie(name),
            }
        }
        SecuritySchemeKind::Http { scheme, .. } if scheme == "basic" => AuthStyle::Basic,
        SecuritySchemeKind::MutualTls => AuthStyle::None,
        _ => AuthStyle::BearerJwt,
    }
}

fn operation_weight(op: &Operation, path: &[PathPart], is_login: bool, key: u64) -> f64 {
    let base = match op.method.as_str() {
        "GET" => 4.0,
        "POST" => 1.2,
        "PUT" | "PATCH" => 0.6,
        "DELETE" => 0.25,
        _ => 0.1,
    };
    let listing = if op.method == "GET" && !path.iter().any(|p| matches!(p, PathPart::Param { .. }))
    {
        1.5
    } else {
        1.0
    };
    let login = if is_login { 1.5 } else { 1.0 };
    let deprecated = if op.deprecated { 0.25 } else { 1.0 };
    // A per-operation popularity factor between 0.2 and 3, so endpoints differ like real ones.
    let popularity = 0.2 + 2.8 * ((key & 0xFFFF) as f64 / 65_535.0).powi(2);
    base * listing * login * deprecated * popularity
}

fn slug(title: &str, index: usize) -> String {
    let s: String = title
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect::<String>()
        .split('-')
        .filter(|w| !w.is_empty())
        .take(3)
        .collect::<Vec<_>>()
        .join("-");
    if s.is_empty() {
        let mut out = String::new();
        let _ = write!(out, "api-{index}");
        out
    } else {
        s
    }
}

impl JsonTemplate {
    /// The response of the built-in shadow export endpoint: customer records full of PII.
    pub(crate) fn customer_export() -> JsonTemplate {
        let record = vec![
            Part::Lit("{\"customerId\":".to_string()),
            Part::Value(ValueKind::IntId),
            Part::Lit(",\"name\":".to_string()),
            Part::Value(ValueKind::FullName),
            Part::Lit(",\"email\":".to_string()),
            Part::Value(ValueKind::Email),
            Part::Lit(",\"phone\":".to_string()),
            Part::Value(ValueKind::Phone),
            Part::Lit(",\"cardNumber\":".to_string()),
            Part::Value(ValueKind::CardNumber),
            Part::Lit(",\"iban\":".to_string()),
            Part::Value(ValueKind::Iban),
            Part::Lit("}".to_string()),
        ];
        JsonTemplate {
            parts: vec![
                Part::Lit("{\"exportedAt\":".to_string()),
                Part::Value(ValueKind::DateTime),
                Part::Lit(",\"customers\":[".to_string()),
                Part::Repeat {
                    min: 3,
                    max: 8,
                    body: record,
                },
                Part::Lit("]}".to_string()),
            ],
        }
    }
}

/// An undeclared operation the simulator serves anyway (the "shadow" endpoint).
pub(crate) fn shadow_operation(
    host: &str,
    scheme: &str,
    template: &str,
    spec_index: usize,
) -> OpTemplate {
    OpTemplate {
        spec_index,
        method: "GET".to_string(),
        host: host.to_string(),
        scheme: scheme.to_string(),
        template: template.to_string(),
        path: vec![PathPart::Lit(template.to_string())],
        query: Vec::new(),
        request_body: None,
        body_fields: Vec::new(),
        numeric_body_fields: Vec::new(),
        success_status: 200,
        success_body: Some(JsonTemplate::customer_export()),
        declared_errors: Vec::new(),
        auth: AuthStyle::None,
        requires_auth: false,
        is_login: false,
        internal: false,
        weight: 0.0,
        median_latency_ms: 240.0,
        request_body_capacity: 0,
        response_body_capacity: 0,
    }
    .with_capacity_hints()
}
