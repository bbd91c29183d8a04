//! Audit of an imported OpenAPI document ([`gw_spec::ApiSpec`]): a static table of small,
//! uniform rules (`GW-S-xxx`), each one function over a [`SpecContext`], each hit citing the JSON
//! pointer of the offending node.
//!
//! The context walks the request and response schemas once (following shared components and cut
//! cycles, each definition visited once per side), so a rule is a filter over prepared nodes.
//! A component schema used by many operations is reported once, at its definition.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use gw_model::{Confidence, Finding, OwaspApi2023 as Owasp, Severity};
use gw_spec::{
    AdditionalProperties, ApiKeyLocation, ApiSpec, Operation, ParameterLocation, Schema,
    SchemaType, SecuritySchemeKind, SpecVersion,
};

use crate::PostureError;
use crate::locate::SourceIndex;
use crate::rule::{Hit, Rule, RuleMeta, collect_findings};

/// A spec audit rule. The check is generic over the context's lifetime, so the registry can be a
/// plain `static`.
pub type SpecRule = Rule<for<'a, 'b> fn(&'b SpecContext<'a>, &mut Vec<Hit>)>;

/// Where a schema node was reached from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeOrigin {
    /// A request parameter in this location.
    Parameter(ParameterLocation),
    /// A request body.
    RequestBody,
    /// A response body.
    Response,
}

/// One schema node reached from an operation, with the name it is known by.
#[derive(Debug, Clone)]
pub struct SchemaNode<'a> {
    /// Parameter or property name (array items inherit their parent's name).
    pub name: Option<&'a str>,
    pub schema: &'a Schema,
    /// The node's pointer (its definition), or the nearest parent pointer when it has none.
    pub pointer: String,
    pub origin: NodeOrigin,
    /// The operation the node was first reached from (`GET /users`).
    pub operation: String,
    /// The node's example, or the matching member of an enclosing object's example (media-type
    /// examples are usually written for the whole body).
    pub example: Option<&'a serde_json::Value>,
}

/// What every spec rule sees: the spec plus its prepared schema nodes.
pub struct SpecContext<'a> {
    pub spec: &'a ApiSpec,
    /// Request-side nodes (parameters and bodies), each definition once.
    pub request_nodes: Vec<SchemaNode<'a>>,
    /// Response-side nodes, each definition once.
    pub response_nodes: Vec<SchemaNode<'a>>,
}

const MAX_DEPTH: usize = 32;

impl<'a> SpecContext<'a> {
    pub fn new(spec: &'a ApiSpec) -> Self {
        let mut request_nodes = Vec::new();
        let mut response_nodes = Vec::new();
        let mut seen_request = HashSet::new();
        let mut seen_response = HashSet::new();
        for op in &spec.operations {
            let label = op_label(op);
            for p in &op.parameters {
                let mut w = Walker {
                    spec,
                    origin: NodeOrigin::Parameter(p.location),
                    operation: &label,
                    seen: &mut seen_request,
                    out: &mut request_nodes,
                };
                w.walk(&p.schema, Some(&p.name), &p.pointer, None, 0);
            }
            if let Some(body) = &op.request_body
                && let Some(schema) = &body.schema
            {
                let mut w = Walker {
                    spec,
                    origin: NodeOrigin::RequestBody,
                    operation: &label,
                    seen: &mut seen_request,
                    out: &mut request_nodes,
                };
                w.walk(schema, None, &body.pointer, None, 0);
            }
            for r in &op.responses {
                if let Some(schema) = &r.schema {
                    let mut w = Walker {
                        spec,
                        origin: NodeOrigin::Response,
                        operation: &label,
                        seen: &mut seen_response,
                        out: &mut response_nodes,
                    };
                    w.walk(schema, None, &r.pointer, None, 0);
                }
            }
        }
        SpecContext {
            spec,
            request_nodes,
            response_nodes,
        }
    }
}

struct Walker<'a, 'w> {
    spec: &'a ApiSpec,
    origin: NodeOrigin,
    operation: &'w str,
    seen: &'w mut HashSet<String>,
    out: &'w mut Vec<SchemaNode<'a>>,
}

impl<'a> Walker<'a, '_> {
    fn walk(
        &mut self,
        schema: &'a Arc<Schema>,
        name: Option<&'a str>,
        parent: &str,
        inherited_example: Option<&'a serde_json::Value>,
        depth: usize,
    ) {
        if depth > MAX_DEPTH {
            return;
        }
        let schema: &'a Schema = self.spec.resolve_marker(schema.as_ref());
        if schema.is_recursive_marker() {
            return;
        }
        let pointer = if schema.pointer.is_empty() {
            parent.to_owned()
        } else {
            schema.pointer.clone()
        };
        // The same definition reached under another name (a shared property schema) is a new node
        // for name-based rules, so the name is part of the key.
        let key = format!("{}\u{0}{pointer}", name.unwrap_or(""));
        if !self.seen.insert(key) {
            return;
        }
        let example = schema.example.as_ref().or(inherited_example);
        self.out.push(SchemaNode {
            name,
            schema,
            pointer: pointer.clone(),
            origin: self.origin,
            operation: self.operation.to_owned(),
            example,
        });
        for (prop, child) in &schema.properties {
            let child_example = example.and_then(|e| e.get(prop.as_str()));
            self.walk(
                child,
                Some(prop.as_str()),
                &pointer,
                child_example,
                depth + 1,
            );
        }
        if let Some(items) = &schema.items {
            let item_example = example.and_then(|e| e.as_array()).and_then(|a| a.first());
            self.walk(items, name, &pointer, item_example, depth + 1);
        }
        for alt in schema.one_of.iter().chain(&schema.any_of) {
            self.walk(alt, name, &pointer, None, depth + 1);
        }
        if let AdditionalProperties::Schema(extra) = &schema.additional_properties {
            self.walk(extra, None, &pointer, None, depth + 1);
        }
    }
}

/// `GET /users/{id}`.
pub fn op_label(op: &Operation) -> String {
    format!("{} {}", op.method, op.path_template)
}

/// Audits a spec: every rule of [`SPEC_RULES`], findings sorted by (rule id, pointer). `source`
/// is the document text when available, used to add line/column to each finding.
pub fn audit_spec(spec: &ApiSpec, source: Option<&str>) -> Vec<Finding> {
    let ctx = SpecContext::new(spec);
    let index = source.map(SourceIndex::new);
    let locate = |pointer: &str| index.as_ref().and_then(|i| i.locate(pointer));
    collect_findings(
        SPEC_RULES.iter().map(|rule| {
            let mut hits = Vec::new();
            (rule.check)(&ctx, &mut hits);
            (&rule.meta, hits)
        }),
        &spec.source_file,
        &locate,
    )
}

/// Imports the spec at `path` (resolving file `$ref`s) and audits it with line numbers.
pub fn audit_spec_file(path: impl AsRef<Path>) -> Result<Vec<Finding>, PostureError> {
    let path = path.as_ref();
    let spec = gw_spec::load_spec(path)?;
    let text = std::fs::read(path).map_err(|source| PostureError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(audit_spec(&spec, Some(&String::from_utf8_lossy(&text))))
}

/// Counts findings per rule id, every rule listed (zero counts included), for reports.
pub fn count_by_rule(findings: &[Finding]) -> BTreeMap<&'static str, usize> {
    let mut counts: BTreeMap<&'static str, usize> =
        SPEC_RULES.iter().map(|r| (r.meta.id, 0)).collect();
    for f in findings {
        if let Some(rule) = SPEC_RULES.iter().find(|r| r.meta.id == f.rule.id) {
            *counts.entry(rule.meta.id).or_default() += 1;
        }
    }
    counts
}

// ---------------------------------------------------------------------------------------------
// Name vocabularies (generic API naming, not taken from any corpus).

/// Lower-cased with `_`, `-`, `.` and spaces removed: `user_Password` → `userpassword`.
fn norm(name: &str) -> String {
    name.chars()
        .filter(|c| !matches!(c, '_' | '-' | '.' | ' '))
        .flat_map(char::to_lowercase)
        .collect()
}

fn is_secret_name(name: &str) -> bool {
    let n = norm(name);
    n.contains("password")
        || n.contains("passwd")
        || n.contains("passphrase")
        || n.contains("secret")
        || n.ends_with("token")
        || n.ends_with("apikey")
        || n.contains("privatekey")
        || matches!(
            n.as_str(),
            "pwd" | "pass" | "pin" | "otp" | "cvv" | "cvc" | "cvv2"
        )
}

/// Data that should never travel back to a client in a response.
fn is_never_returned_name(name: &str) -> bool {
    let n = norm(name);
    n.contains("password")
        || n.contains("passwd")
        || n.contains("privatekey")
        || n.contains("clientsecret")
        || matches!(
            n.as_str(),
            "ssn" | "socialsecuritynumber" | "cvv" | "cvc" | "cvv2" | "pin" | "otp"
        )
        || n.ends_with("cardnumber")
        || n == "pan"
}

/// Properties that grant privileges or value when a client can set them (mass assignment).
fn is_privileged_property(name: &str) -> bool {
    let n = norm(name);
    matches!(
        n.as_str(),
        "role"
            | "roles"
            | "isadmin"
            | "admin"
            | "issuperuser"
            | "superuser"
            | "isstaff"
            | "permission"
            | "permissions"
            | "privilege"
            | "privileges"
            | "scope"
            | "scopes"
            | "balance"
            | "credit"
            | "availablecredit"
            | "accountbalance"
            | "isverified"
            | "verified"
            | "emailverified"
            | "accounttype"
            | "usertype"
            | "group"
            | "groups"
            | "ownerid"
            | "tenantid"
    )
}

fn is_url_name(name: &str) -> bool {
    let n = norm(name);
    n.ends_with("url")
        || n.ends_with("uri")
        || matches!(
            n.as_str(),
            "callback"
                | "webhook"
                | "redirect"
                | "returnto"
                | "next"
                | "host"
                | "endpoint"
                | "target"
        )
}

fn is_auth_flow_path(path: &str) -> bool {
    let p = path.to_ascii_lowercase();
    [
        "login",
        "signin",
        "sign-in",
        "signup",
        "sign-up",
        "register",
        "token",
        "forgot",
        "reset-password",
        "otp",
        "oauth",
        "auth/",
        "logout",
        "refresh",
    ]
    .iter()
    .any(|k| p.contains(k))
}

fn path_segments(path: &str) -> impl Iterator<Item = String> + '_ {
    path.split('/')
        .filter(|s| !s.is_empty() && !s.starts_with('{'))
        .map(|s| s.trim_start_matches(['_', '.', '-']).to_ascii_lowercase())
}

/// Formats that bound a string's shape by themselves.
fn is_bounding_format(format: Option<&str>) -> bool {
    matches!(
        format,
        Some(
            "date"
                | "date-time"
                | "time"
                | "uuid"
                | "email"
                | "ipv4"
                | "ipv6"
                | "byte"
                | "int32"
                | "int64"
                | "duration"
                | "hostname"
                | "uri"
                | "url"
                | "double"
                | "float"
        )
    )
}

fn is_write_method(method: &str) -> bool {
    matches!(method, "POST" | "PUT" | "PATCH" | "DELETE")
}

fn is_local_host(host: &str) -> bool {
    let h = host
        .split(':')
        .next()
        .unwrap_or(host)
        .trim_matches(['[', ']']);
    h == "localhost"
        || h.ends_with(".localhost")
        || h.starts_with("127.")
        || h == "::1"
        || h == "0.0.0.0"
}

fn is_private_host(host: &str) -> bool {
    let h = host.split(':').next().unwrap_or(host);
    if let Ok(ip) = h.parse::<std::net::Ipv4Addr>() {
        return ip.is_private() || ip.is_link_local();
    }
    h.ends_with(".internal")
        || h.ends_with(".local")
        || h.ends_with(".corp")
        || h.ends_with(".lan")
        || h.contains(".svc.cluster")
}

fn node_title(node: &SchemaNode<'_>) -> String {
    match node.name {
        Some(n) => format!("`{n}`"),
        None => "schema".to_owned(),
    }
}

fn origin_text(origin: NodeOrigin) -> String {
    match origin {
        NodeOrigin::Parameter(loc) => format!("{} parameter", loc.as_str()),
        NodeOrigin::RequestBody => "request body".to_owned(),
        NodeOrigin::Response => "response".to_owned(),
    }
}

const OWASP_2023: &str = "https://owasp.org/API-Security/editions/2023/en/0x11-t10/";
const OAS_SECURITY: &str = "https://spec.openapis.org/oas/v3.1.0#security-requirement-object";
const OAS_SCHEMA: &str = "https://spec.openapis.org/oas/v3.1.0#schema-object";

macro_rules! meta {
    ($id:literal, $name:literal, $sev:ident, $conf:ident, [$($o:ident),*], $summary:literal, $fix:literal, [$($r:expr),*]) => {
        RuleMeta {
            id: $id,
            name: $name,
            version: 1,
            severity: Severity::$sev,
            confidence: Confidence::$conf,
            owasp: &[$(Owasp::$o),*],
            summary: $summary,
            remediation: $fix,
            references: &[OWASP_2023 $(, $r)*],
        }
    };
}

/// Every spec audit rule, in id order. Ids are stable: a retired rule's id is never reused.
pub static SPEC_RULES: &[SpecRule] = &[
    Rule {
        meta: meta!(
            "GW-S-001",
            "OperationWithoutSecurity",
            High,
            High,
            [Api2, Api5],
            "Operation can be called without any credentials (no effective security requirement)",
            "Declare a security requirement for the operation (or at the root) that names a defined scheme, e.g. `security: [{bearerAuth: []}]`.",
            [OAS_SECURITY]
        ),
        check: s001_operation_without_security,
    },
    Rule {
        meta: meta!(
            "GW-S-002",
            "SecurityOptOut",
            Medium,
            High,
            [Api2, Api5],
            "Operation overrides security with an empty list (`security: []`)",
            "Remove `security: []` unless the operation is deliberately public; if it is, document why and protect it with rate limiting.",
            [OAS_SECURITY]
        ),
        check: s002_security_opt_out,
    },
    Rule {
        meta: meta!(
            "GW-S-003",
            "AnonymousSecurityAlternative",
            Medium,
            High,
            [Api2],
            "Security requirements include the empty `{}` alternative, so anonymous calls are accepted",
            "Remove the `{}` entry from the security alternatives, or split the anonymous behaviour into its own operation.",
            [OAS_SECURITY]
        ),
        check: s003_anonymous_alternative,
    },
    Rule {
        meta: meta!(
            "GW-S-004",
            "NoSecuritySchemes",
            Medium,
            High,
            [Api2, Api8],
            "The document declares no security scheme at all",
            "Declare the API's authentication in `components.securitySchemes` (2.0: `securityDefinitions`) and reference it from `security`.",
            []
        ),
        check: s004_no_security_schemes,
    },
    Rule {
        meta: meta!(
            "GW-S-005",
            "UndefinedSecurityScheme",
            High,
            High,
            [Api2, Api8],
            "A security requirement names a scheme that is not defined",
            "Define the named scheme in `components.securitySchemes`, or correct the name in the requirement; gateways generated from the spec may otherwise skip authentication.",
            [OAS_SECURITY]
        ),
        check: s005_undefined_scheme,
    },
    Rule {
        meta: meta!(
            "GW-S-006",
            "HttpBasicAuthentication",
            Medium,
            High,
            [Api2],
            "HTTP Basic authentication sends reusable credentials with every request",
            "Replace `scheme: basic` with token-based authentication (OAuth 2 / OpenID Connect bearer tokens) or mutual TLS.",
            []
        ),
        check: s006_basic_auth,
    },
    Rule {
        meta: meta!(
            "GW-S-007",
            "ApiKeyInQuery",
            Medium,
            High,
            [Api2, Api8],
            "API key is sent in the query string, where logs, proxies and browser history keep it",
            "Move the API key to a header (`in: header`) and rotate keys that were sent in URLs.",
            []
        ),
        check: s007_api_key_in_query,
    },
    Rule {
        meta: meta!(
            "GW-S-008",
            "ApiKeyInCookie",
            Low,
            Medium,
            [Api2],
            "API key travels in a cookie, which browsers attach automatically (CSRF exposure)",
            "Send the key in a header, or protect the cookie with SameSite=Strict and CSRF tokens.",
            []
        ),
        check: s008_api_key_in_cookie,
    },
    Rule {
        meta: meta!(
            "GW-S-009",
            "OAuthImplicitFlow",
            Medium,
            High,
            [Api2],
            "OAuth 2 implicit flow returns tokens in the URL fragment (deprecated by OAuth 2.0 Security BCP)",
            "Use the authorization code flow with PKCE instead of the implicit flow.",
            ["https://datatracker.ietf.org/doc/html/rfc9700"]
        ),
        check: s009_implicit_flow,
    },
    Rule {
        meta: meta!(
            "GW-S-010",
            "OAuthPasswordFlow",
            Medium,
            High,
            [Api2],
            "OAuth 2 resource owner password flow hands user passwords to the client",
            "Use the authorization code flow with PKCE (users) or client credentials (services).",
            ["https://datatracker.ietf.org/doc/html/rfc9700"]
        ),
        check: s010_password_flow,
    },
    Rule {
        meta: meta!(
            "GW-S-011",
            "InsecureAuthUrl",
            High,
            High,
            [Api2, Api8],
            "An OAuth 2 authorization/token URL or OpenID Connect discovery URL is plain HTTP",
            "Serve authorization, token and discovery endpoints over HTTPS only and update the URLs in the spec.",
            []
        ),
        check: s011_insecure_auth_url,
    },
    Rule {
        meta: meta!(
            "GW-S-012",
            "OAuthWithoutScopes",
            Low,
            Medium,
            [Api5],
            "An OAuth 2 / OpenID Connect requirement on a write operation asks for no scope",
            "Define scopes per function (e.g. `orders:write`) and require them on state-changing operations.",
            [OAS_SECURITY]
        ),
        check: s012_oauth_without_scopes,
    },
    Rule {
        meta: meta!(
            "GW-S-013",
            "DeprecatedSecuritySchemeInUse",
            Low,
            High,
            [Api2, Api9],
            "An operation relies on a security scheme marked deprecated",
            "Migrate the operation to the scheme that replaces the deprecated one.",
            []
        ),
        check: s013_deprecated_scheme,
    },
    Rule {
        meta: meta!(
            "GW-S-014",
            "PlainHttpServer",
            High,
            High,
            [Api8],
            "A server URL uses an unencrypted scheme (http or ws)",
            "Serve the API over HTTPS/WSS only and change the server URL scheme; redirect or refuse plain HTTP at the gateway.",
            []
        ),
        check: s014_plain_http_server,
    },
    Rule {
        meta: meta!(
            "GW-S-015",
            "InternalServerExposed",
            Low,
            Medium,
            [Api9],
            "A server URL names a loopback, private or internal host",
            "Publish only the public base URL in the spec; keep internal hosts in environment-specific documents.",
            []
        ),
        check: s015_internal_server,
    },
    Rule {
        meta: meta!(
            "GW-S-016",
            "NoServers",
            Info,
            High,
            [Api9],
            "The document declares no absolute server URL, so clients and scanners cannot tell where the API lives",
            "Declare the API's base URL(s) in `servers` (2.0: `host`, `basePath`, `schemes`).",
            []
        ),
        check: s016_no_servers,
    },
    Rule {
        meta: meta!(
            "GW-S-017",
            "UnboundedString",
            Medium,
            Medium,
            [Api4, Api8],
            "A request string has no maxLength, pattern, enum or bounding format",
            "Add `maxLength` (and a `pattern` where the shape is known) to the string so the gateway and server can reject oversized or malformed input.",
            [OAS_SCHEMA]
        ),
        check: s017_unbounded_string,
    },
    Rule {
        meta: meta!(
            "GW-S-018",
            "UnanchoredPattern",
            Low,
            Medium,
            [Api8],
            "A request string pattern is not anchored with ^ and $, so it only has to match a substring",
            "Anchor the regular expression (`^...$`) so the whole value must match.",
            [OAS_SCHEMA]
        ),
        check: s018_unanchored_pattern,
    },
    Rule {
        meta: meta!(
            "GW-S-019",
            "UnboundedArray",
            Medium,
            Medium,
            [Api4],
            "A request array has no maxItems",
            "Add `maxItems` to request arrays to cap the work one request can cause.",
            [OAS_SCHEMA]
        ),
        check: s019_unbounded_array,
    },
    Rule {
        meta: meta!(
            "GW-S-020",
            "UnboundedNumber",
            Low,
            Medium,
            [Api4],
            "A request integer/number has no minimum or no maximum",
            "Declare `minimum` and `maximum` for numeric input (page sizes, quantities, amounts).",
            [OAS_SCHEMA]
        ),
        check: s020_unbounded_number,
    },
    Rule {
        meta: meta!(
            "GW-S-021",
            "OpenRequestObject",
            Medium,
            Medium,
            [Api3],
            "A request object with declared properties leaves additionalProperties open (mass assignment)",
            "Set `additionalProperties: false` on request objects so undeclared properties are rejected.",
            [OAS_SCHEMA]
        ),
        check: s021_open_request_object,
    },
    Rule {
        meta: meta!(
            "GW-S-022",
            "RequestBodyWithoutSchema",
            Medium,
            High,
            [Api8, Api4],
            "A request body declares no schema, so any payload is valid",
            "Describe the request body with a schema (types, required properties, bounds).",
            [OAS_SCHEMA]
        ),
        check: s022_body_without_schema,
    },
    Rule {
        meta: meta!(
            "GW-S-023",
            "UntypedParameter",
            Low,
            Medium,
            [Api8],
            "A parameter's schema declares no type, so any value is valid",
            "Give every parameter a `type` and bounds.",
            [OAS_SCHEMA]
        ),
        check: s023_untyped_parameter,
    },
    Rule {
        meta: meta!(
            "GW-S-024",
            "ClientWritablePrivilegedProperty",
            Medium,
            Medium,
            [Api3, Api5],
            "A request body lets the client set a privilege or value-bearing property (role, admin, balance, ...)",
            "Mark the property `readOnly: true` (and enforce it server-side), or remove it from request schemas.",
            [
                "https://owasp.org/API-Security/editions/2023/en/0xa3-broken-object-property-level-authorization/"
            ]
        ),
        check: s024_privileged_property,
    },
    Rule {
        meta: meta!(
            "GW-S-025",
            "SecretFieldNotMarked",
            Medium,
            Medium,
            [Api3],
            "A request field named like a secret (password, token, ...) is neither `writeOnly` nor `format: password`",
            "Mark secret request fields `writeOnly: true` and `format: password` so tools mask them and never echo them back.",
            [OAS_SCHEMA]
        ),
        check: s025_secret_field_not_marked,
    },
    Rule {
        meta: meta!(
            "GW-S-026",
            "SensitiveDataInResponse",
            High,
            Medium,
            [Api3],
            "A response schema returns a field that should never leave the server (password, card number, SSN, ...)",
            "Remove the field from response schemas (and from the serialiser), or return a masked form.",
            [
                "https://owasp.org/API-Security/editions/2023/en/0xa3-broken-object-property-level-authorization/"
            ]
        ),
        check: s026_sensitive_in_response,
    },
    Rule {
        meta: meta!(
            "GW-S-027",
            "SecretInQueryParameter",
            High,
            High,
            [Api2, Api8],
            "A query parameter carries a secret (password, token, key), which ends up in logs",
            "Send secrets in a header or the request body, never in the URL.",
            []
        ),
        check: s027_secret_in_query,
    },
    Rule {
        meta: meta!(
            "GW-S-028",
            "UnboundedUpload",
            Medium,
            Medium,
            [Api4],
            "A file/binary upload has no maxLength",
            "Declare `maxLength` on binary uploads and enforce a body size limit at the gateway.",
            [OAS_SCHEMA]
        ),
        check: s028_unbounded_upload,
    },
    Rule {
        meta: meta!(
            "GW-S-029",
            "UrlInput",
            Medium,
            Low,
            [Api7],
            "The API accepts a URL from the client (SSRF candidate)",
            "Validate URL input against an allow-list of schemes and hosts, resolve and block internal addresses, and give the property a `pattern`.",
            ["https://owasp.org/API-Security/editions/2023/en/0xa7-server-side-request-forgery/"]
        ),
        check: s029_url_input,
    },
    Rule {
        meta: meta!(
            "GW-S-030",
            "SequentialObjectId",
            Low,
            Low,
            [Api1],
            "An object is addressed by an integer path id, which is easy to enumerate (BOLA candidate)",
            "Check object ownership on every access; prefer unguessable ids (UUIDs) in paths.",
            [
                "https://owasp.org/API-Security/editions/2023/en/0xa1-broken-object-level-authorization/"
            ]
        ),
        check: s030_sequential_id,
    },
    Rule {
        meta: meta!(
            "GW-S-031",
            "Missing401Response",
            Low,
            High,
            [Api2, Api8],
            "A secured operation declares no 401 (or 4XX/default) response",
            "Declare the 401 response (and its error schema) for every secured operation.",
            []
        ),
        check: s031_missing_401,
    },
    Rule {
        meta: meta!(
            "GW-S-032",
            "Missing403Response",
            Low,
            Medium,
            [Api5],
            "A secured operation declares no 403 (or 4XX/default) response, so authorization failures are undocumented",
            "Declare the 403 response for operations that check permissions or object ownership.",
            []
        ),
        check: s032_missing_403,
    },
    Rule {
        meta: meta!(
            "GW-S-033",
            "Missing429Response",
            Low,
            Medium,
            [Api4],
            "An operation declares no 429 (or 4XX/default) response: no rate limit is documented",
            "Rate-limit the operation at the gateway and declare the 429 response with Retry-After.",
            []
        ),
        check: s033_missing_429,
    },
    Rule {
        meta: meta!(
            "GW-S-034",
            "NoSuccessResponse",
            Info,
            High,
            [Api8],
            "An operation declares no 2XX response",
            "Declare the success response with its schema so clients and validators know the contract.",
            []
        ),
        check: s034_no_success_response,
    },
    Rule {
        meta: meta!(
            "GW-S-035",
            "UnpaginatedCollection",
            Medium,
            Medium,
            [Api4],
            "A GET returns an unbounded array (no maxItems) and takes no limit/page parameter",
            "Paginate the collection (limit/cursor parameters with a maximum) and declare `maxItems` on the response array.",
            []
        ),
        check: s035_unpaginated_collection,
    },
    Rule {
        meta: meta!(
            "GW-S-036",
            "BodyOnSafeMethod",
            Low,
            High,
            [Api8],
            "A GET, HEAD or DELETE operation declares a request body",
            "Move the input to parameters or use POST; many proxies drop or mishandle bodies on these methods.",
            []
        ),
        check: s036_body_on_safe_method,
    },
    Rule {
        meta: meta!(
            "GW-S-037",
            "DeprecatedOperation",
            Low,
            High,
            [Api9],
            "An operation is marked deprecated but still published",
            "Set a removal date, monitor its traffic, and remove the operation from the gateway once unused.",
            []
        ),
        check: s037_deprecated_operation,
    },
    Rule {
        meta: meta!(
            "GW-S-038",
            "DebugEndpoint",
            Medium,
            Medium,
            [Api9, Api8],
            "A path looks like a debug, test or maintenance function left in the API",
            "Remove debug/test/setup endpoints from production deployments, or restrict them to an internal network with authentication.",
            []
        ),
        check: s038_debug_endpoint,
    },
    Rule {
        meta: meta!(
            "GW-S-039",
            "AdminFunction",
            Medium,
            Medium,
            [Api5],
            "A path looks like an administrative function; it needs function-level authorization",
            "Protect administrative operations with a separate scope/role check (and ideally a separate API or host).",
            [
                "https://owasp.org/API-Security/editions/2023/en/0xa5-broken-function-level-authorization/"
            ]
        ),
        check: s039_admin_function,
    },
    Rule {
        meta: meta!(
            "GW-S-040",
            "MissingOperationId",
            Info,
            High,
            [Api9],
            "An operation has no operationId, which makes inventory and policy mapping fragile",
            "Give every operation a unique, stable `operationId`.",
            []
        ),
        check: s040_missing_operation_id,
    },
    Rule {
        meta: meta!(
            "GW-S-041",
            "DuplicateOperationId",
            Low,
            High,
            [Api9],
            "Two operations share an operationId",
            "Make every `operationId` unique.",
            []
        ),
        check: s041_duplicate_operation_id,
    },
    Rule {
        meta: meta!(
            "GW-S-042",
            "OutdatedSpecFormat",
            Info,
            High,
            [Api9],
            "The document is Swagger 2.0, which cannot express several security and schema constraints",
            "Convert the document to OpenAPI 3.1.",
            []
        ),
        check: s042_outdated_format,
    },
    Rule {
        meta: meta!(
            "GW-S-043",
            "SpecImportProblem",
            Info,
            High,
            [Api9],
            "The importer reported an inconsistent or unusable node (broken $ref, undefined required property, invalid value)",
            "Fix the reported node; gateways and validators generated from the spec skip or misread it, and this audit cannot see past it.",
            []
        ),
        check: s043_import_problem,
    },
];

// ---------------------------------------------------------------------------------------------
// Authentication and authorization

fn s001_operation_without_security(ctx: &SpecContext<'_>, hits: &mut Vec<Hit>) {
    for op in &ctx.spec.operations {
        if !ctx.spec.effective_security(op).is_empty() {
            continue;
        }
        let why = match &op.security {
            Some(_) => "it sets `security: []`",
            None => "neither the operation nor the document root declares a security requirement",
        };
        let mut hit = Hit::new(
            &op.pointer,
            format!("{} has no security requirement", op_label(op)),
            format!("{} can be called without credentials: {why}.", op_label(op)),
        );
        if is_auth_flow_path(&op.path_template) {
            hit.severity = Some(Severity::Low);
            hit.detail.push_str(" The path looks like an authentication entry point, which is usually public by design; make sure it is rate limited.");
        } else if is_write_method(&op.method) {
            hit.detail.push_str(" It changes state.");
        }
        hits.push(hit);
    }
}

fn s002_security_opt_out(ctx: &SpecContext<'_>, hits: &mut Vec<Hit>) {
    for op in &ctx.spec.operations {
        if op.security.as_ref().is_some_and(Vec::is_empty) {
            let root = if ctx.spec.security.is_empty() {
                "the document has no root requirement either"
            } else {
                "this overrides the root requirement"
            };
            hits.push(Hit::new(
                format!("{}/security", op.pointer),
                format!("{} opts out of security with `security: []`", op_label(op)),
                format!("{} declares `security: []`; {root}.", op_label(op)),
            ));
        }
    }
}

fn s003_anonymous_alternative(ctx: &SpecContext<'_>, hits: &mut Vec<Hit>) {
    for op in &ctx.spec.operations {
        let reqs = ctx.spec.effective_security(op);
        if reqs.len() > 1 || reqs.iter().any(|r| r.is_anonymous()) {
            if !reqs.iter().any(|r| r.is_anonymous()) {
                continue;
            }
            let at = if op.security.is_some() {
                format!("{}/security", op.pointer)
            } else {
                "/security".to_owned()
            };
            hits.push(Hit::new(
                at,
                format!("{} accepts anonymous calls through a `{{}}` security alternative", op_label(op)),
                format!("{} lists {} security alternative(s), one of which is empty, so credentials are optional.", op_label(op), reqs.len()),
            ));
        }
    }
}

fn s004_no_security_schemes(ctx: &SpecContext<'_>, hits: &mut Vec<Hit>) {
    if ctx.spec.security_schemes.is_empty() && !ctx.spec.operations.is_empty() {
        hits.push(Hit::new(
            "",
            "The API declares no security scheme",
            format!("{} operations and no security scheme: the document describes no authentication at all.", ctx.spec.operations.len()),
        ));
    }
}

fn s005_undefined_scheme(ctx: &SpecContext<'_>, hits: &mut Vec<Hit>) {
    let mut check = |reqs: &[gw_spec::SecurityRequirement], at: String, label: &str| {
        for r in reqs {
            for name in r.schemes.keys() {
                if !ctx.spec.security_schemes.contains_key(name) {
                    hits.push(Hit::new(
                        at.clone(),
                        format!("{label} requires undefined security scheme `{name}`"),
                        format!("`{name}` is not declared in the document's security schemes ({} declared).", ctx.spec.security_schemes.len()),
                    ));
                }
            }
        }
    };
    check(
        &ctx.spec.security,
        "/security".to_owned(),
        "The document root",
    );
    for op in &ctx.spec.operations {
        if let Some(reqs) = &op.security {
            check(reqs, format!("{}/security", op.pointer), &op_label(op));
        }
    }
}

/// The schemes in use by at least one operation (a scheme declared and never used is harmless).
fn used_schemes<'a>(ctx: &SpecContext<'a>) -> Vec<(&'a str, &'a gw_spec::SecurityScheme)> {
    let mut used: Vec<(&'a str, &'a gw_spec::SecurityScheme)> = Vec::new();
    for op in &ctx.spec.operations {
        for r in ctx.spec.effective_security(op) {
            for name in r.schemes.keys() {
                if let Some((k, s)) = ctx.spec.security_schemes.get_key_value(name)
                    && !used.iter().any(|(n, _)| *n == k.as_str())
                {
                    used.push((k.as_str(), s));
                }
            }
        }
    }
    used.sort_by_key(|(n, _)| *n);
    used
}

fn s006_basic_auth(ctx: &SpecContext<'_>, hits: &mut Vec<Hit>) {
    for (name, s) in used_schemes(ctx) {
        if let SecuritySchemeKind::Http { scheme, .. } = &s.kind
            && matches!(scheme.as_str(), "basic" | "digest")
        {
            hits.push(Hit::new(
                &s.pointer,
                format!("Security scheme `{name}` uses HTTP {scheme} authentication"),
                format!("`{name}` is `type: http, scheme: {scheme}`: user credentials are replayable from any captured request."),
            ));
        }
    }
}

fn api_key_hits(ctx: &SpecContext<'_>, want: ApiKeyLocation, hits: &mut Vec<Hit>) {
    for (name, s) in ctx.spec.security_schemes.iter() {
        if let SecuritySchemeKind::ApiKey {
            name: key,
            location,
        } = &s.kind
            && *location == want
        {
            let place = match want {
                ApiKeyLocation::Query => "query parameter",
                ApiKeyLocation::Cookie => "cookie",
                ApiKeyLocation::Header => "header",
            };
            hits.push(Hit::new(
                &s.pointer,
                format!("API key scheme `{name}` sends the key in {place} `{key}`"),
                format!(
                    "Security scheme `{name}` is `type: apiKey, in: {}` with name `{key}`.",
                    place.split(' ').next().unwrap_or(place)
                ),
            ));
        }
    }
}

fn s007_api_key_in_query(ctx: &SpecContext<'_>, hits: &mut Vec<Hit>) {
    api_key_hits(ctx, ApiKeyLocation::Query, hits);
}

fn s008_api_key_in_cookie(ctx: &SpecContext<'_>, hits: &mut Vec<Hit>) {
    api_key_hits(ctx, ApiKeyLocation::Cookie, hits);
}

fn flow_hits(ctx: &SpecContext<'_>, flow: &str, hits: &mut Vec<Hit>) {
    for (name, s) in &ctx.spec.security_schemes {
        if let SecuritySchemeKind::OAuth2 { flows } = &s.kind
            && flows.iter().any(|f| f.flow == flow)
        {
            hits.push(Hit::new(
                &s.pointer,
                format!("OAuth 2 scheme `{name}` offers the {flow} flow"),
                format!(
                    "`{name}` declares flows: {}.",
                    flows
                        .iter()
                        .map(|f| f.flow.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
    }
}

fn s009_implicit_flow(ctx: &SpecContext<'_>, hits: &mut Vec<Hit>) {
    flow_hits(ctx, "implicit", hits);
}

fn s010_password_flow(ctx: &SpecContext<'_>, hits: &mut Vec<Hit>) {
    flow_hits(ctx, "password", hits);
}

fn s011_insecure_auth_url(ctx: &SpecContext<'_>, hits: &mut Vec<Hit>) {
    let plain = |u: &Option<String>| {
        u.as_deref()
            .filter(|u| u.to_ascii_lowercase().starts_with("http://"))
            .map(str::to_owned)
    };
    for (name, s) in &ctx.spec.security_schemes {
        let mut urls = Vec::new();
        match &s.kind {
            SecuritySchemeKind::OAuth2 { flows } => {
                for f in flows {
                    urls.extend(plain(&f.authorization_url));
                    urls.extend(plain(&f.token_url));
                }
            }
            SecuritySchemeKind::OpenIdConnect { url } => urls.extend(plain(&Some(url.clone()))),
            _ => {}
        }
        if !urls.is_empty() {
            hits.push(Hit::new(
                &s.pointer,
                format!("Security scheme `{name}` uses plain-HTTP authorization URLs"),
                format!("Unencrypted URLs: {}.", urls.join(", ")),
            ));
        }
    }
}

fn s012_oauth_without_scopes(ctx: &SpecContext<'_>, hits: &mut Vec<Hit>) {
    for op in ctx
        .spec
        .operations
        .iter()
        .filter(|o| is_write_method(&o.method))
    {
        for r in ctx.spec.effective_security(op) {
            for (name, scopes) in &r.schemes {
                let oauth = ctx.spec.security_schemes.get(name).is_some_and(|s| {
                    matches!(
                        s.kind,
                        SecuritySchemeKind::OAuth2 { .. }
                            | SecuritySchemeKind::OpenIdConnect { .. }
                    )
                });
                if oauth && scopes.is_empty() {
                    hits.push(Hit::new(
                        &op.pointer,
                        format!("{} requires `{name}` without any scope", op_label(op)),
                        format!("Any token of `{name}` may call the state-changing {}, whatever it was issued for.", op_label(op)),
                    ));
                }
            }
        }
    }
}

fn s013_deprecated_scheme(ctx: &SpecContext<'_>, hits: &mut Vec<Hit>) {
    for (name, s) in used_schemes(ctx) {
        if s.deprecated {
            hits.push(Hit::new(
                &s.pointer,
                format!("Deprecated security scheme `{name}` is still required by operations"),
                format!("`{name}` is marked `deprecated: true` but operations still accept it."),
            ));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Transport and inventory of servers

fn all_servers<'a>(ctx: &SpecContext<'a>) -> Vec<&'a gw_spec::Server> {
    let mut out: Vec<&gw_spec::Server> = ctx.spec.servers.iter().collect();
    for op in &ctx.spec.operations {
        for s in &op.servers {
            if !out.iter().any(|o| o.pointer == s.pointer) {
                out.push(s);
            }
        }
    }
    out
}

fn s014_plain_http_server(ctx: &SpecContext<'_>, hits: &mut Vec<Hit>) {
    for s in all_servers(ctx) {
        if let Some(scheme) = s
            .scheme
            .as_deref()
            .filter(|sc| matches!(*sc, "http" | "ws"))
        {
            let mut hit = Hit::new(
                &s.pointer,
                format!("Server `{}` uses unencrypted {scheme}", s.url),
                format!(
                    "Server URL `{}` sends credentials and data in clear text.",
                    s.url
                ),
            );
            if s.host.as_deref().is_some_and(is_local_host) {
                hit.severity = Some(Severity::Low);
                hit.detail.push_str(" The host is a loopback address (a development server); make sure the published spec lists the HTTPS production URL.");
            }
            hits.push(hit);
        }
    }
}

fn s015_internal_server(ctx: &SpecContext<'_>, hits: &mut Vec<Hit>) {
    for s in all_servers(ctx) {
        if let Some(host) = s
            .host
            .as_deref()
            .filter(|h| is_local_host(h) || is_private_host(h))
        {
            hits.push(Hit::new(
                &s.pointer,
                format!("Server `{}` names internal host `{host}`", s.url),
                format!(
                    "The spec publishes `{host}`, a loopback/private/internal address, as a server."
                ),
            ));
        }
    }
}

fn s016_no_servers(ctx: &SpecContext<'_>, hits: &mut Vec<Hit>) {
    let servers = all_servers(ctx);
    if servers.iter().all(|s| s.host.is_none()) && !ctx.spec.operations.is_empty() {
        let what = if servers.is_empty() {
            "Neither `servers` (3.x) nor `host` (2.0) is declared.".to_owned()
        } else {
            format!(
                "Only relative server URLs are declared ({}).",
                servers
                    .iter()
                    .map(|s| format!("`{}`", s.url))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        hits.push(Hit::new(
            "",
            "The API declares no absolute server URL",
            what,
        ));
    }
}

// ---------------------------------------------------------------------------------------------
// Input validation (request side)

fn is_string(s: &Schema) -> bool {
    s.has_type(SchemaType::String) && s.types.len() == 1
}

fn s017_unbounded_string(ctx: &SpecContext<'_>, hits: &mut Vec<Hit>) {
    for n in &ctx.request_nodes {
        let s = n.schema;
        if is_string(s)
            && s.max_length.is_none()
            && s.pattern.is_none()
            && s.enum_values.is_empty()
            && !is_bounding_format(s.format.as_deref())
            && !matches!(s.format.as_deref(), Some("binary"))
        {
            hits.push(Hit::new(
                &n.pointer,
                format!(
                    "Request string {} has no maxLength or pattern",
                    node_title(n)
                ),
                format!(
                    "{} {} (first seen on {}) accepts strings of any length and shape.",
                    origin_text(n.origin),
                    node_title(n),
                    n.operation
                ),
            ));
        }
    }
}

fn s018_unanchored_pattern(ctx: &SpecContext<'_>, hits: &mut Vec<Hit>) {
    for n in &ctx.request_nodes {
        if let Some(p) = &n.schema.pattern
            && !(p.starts_with('^') && p.ends_with('$'))
        {
            hits.push(Hit::new(
                &n.pointer,
                format!("Pattern of {} is not anchored", node_title(n)),
                format!("`pattern: {p}` matches any value that merely contains a match."),
            ));
        }
    }
}

fn s019_unbounded_array(ctx: &SpecContext<'_>, hits: &mut Vec<Hit>) {
    for n in &ctx.request_nodes {
        if n.schema.has_type(SchemaType::Array) && n.schema.max_items.is_none() {
            hits.push(Hit::new(
                &n.pointer,
                format!("Request array {} has no maxItems", node_title(n)),
                format!(
                    "{} {} (first seen on {}) accepts any number of items.",
                    origin_text(n.origin),
                    node_title(n),
                    n.operation
                ),
            ));
        }
    }
}

fn s020_unbounded_number(ctx: &SpecContext<'_>, hits: &mut Vec<Hit>) {
    for n in &ctx.request_nodes {
        let s = n.schema;
        let numeric = s.has_type(SchemaType::Integer) || s.has_type(SchemaType::Number);
        if numeric && s.enum_values.is_empty() && (s.minimum.is_none() || s.maximum.is_none()) {
            let missing = match (s.minimum, s.maximum) {
                (None, None) => "minimum and maximum",
                (None, Some(_)) => "minimum",
                _ => "maximum",
            };
            hits.push(Hit::new(
                &n.pointer,
                format!("Request number {} has no {missing}", node_title(n)),
                format!(
                    "{} {} (first seen on {}) declares no {missing}.",
                    origin_text(n.origin),
                    node_title(n),
                    n.operation
                ),
            ));
        }
    }
}

fn s021_open_request_object(ctx: &SpecContext<'_>, hits: &mut Vec<Hit>) {
    for n in ctx
        .request_nodes
        .iter()
        .filter(|n| n.origin == NodeOrigin::RequestBody)
    {
        let s = n.schema;
        if !s.properties.is_empty() && s.additional_properties.is_any() {
            hits.push(Hit::new(
                &n.pointer,
                format!(
                    "Request object {} accepts undeclared properties",
                    match (&s.ref_name, n.name) {
                        (Some(r), _) => format!("`{r}`"),
                        (None, Some(name)) => format!("`{name}` of {}", n.operation),
                        (None, None) => format!("body of {}", n.operation),
                    }
                ),
                format!("The object declares {} properties but leaves `additionalProperties` open; extra fields reach the server.", s.properties.len()),
            ));
        }
    }
}

fn s022_body_without_schema(ctx: &SpecContext<'_>, hits: &mut Vec<Hit>) {
    for op in &ctx.spec.operations {
        if let Some(body) = &op.request_body {
            let empty = body.schema.as_ref().is_none_or(|s| {
                let s = ctx.spec.resolve_marker(s);
                s.types.is_empty()
                    && s.properties.is_empty()
                    && s.one_of.is_empty()
                    && s.any_of.is_empty()
                    && s.items.is_none()
                    && !s.is_recursive_marker()
            });
            if empty {
                hits.push(Hit::new(
                    &body.pointer,
                    format!("Request body of {} has no schema", op_label(op)),
                    format!(
                        "{} accepts {} with no declared structure.",
                        op_label(op),
                        body.content_types.join(", ")
                    ),
                ));
            }
        }
    }
}

fn s023_untyped_parameter(ctx: &SpecContext<'_>, hits: &mut Vec<Hit>) {
    for op in &ctx.spec.operations {
        for p in &op.parameters {
            let s = ctx.spec.resolve_marker(&p.schema);
            if s.types.is_empty()
                && s.one_of.is_empty()
                && s.any_of.is_empty()
                && s.enum_values.is_empty()
                && s.properties.is_empty()
            {
                hits.push(Hit::new(
                    &p.pointer,
                    format!("Parameter `{}` of {} has no type", p.name, op_label(op)),
                    format!(
                        "{} parameter `{}` accepts any value.",
                        p.location.as_str(),
                        p.name
                    ),
                ));
            }
        }
    }
}

fn s024_privileged_property(ctx: &SpecContext<'_>, hits: &mut Vec<Hit>) {
    for n in ctx
        .request_nodes
        .iter()
        .filter(|n| n.origin == NodeOrigin::RequestBody)
    {
        if let Some(name) = n.name
            && is_privileged_property(name)
            && !n.schema.read_only
        {
            hits.push(Hit::new(
                &n.pointer,
                format!("Client can set privileged property `{name}`"),
                format!(
                    "The request body of {} accepts `{name}`, which is not readOnly.",
                    n.operation
                ),
            ));
        }
    }
}

fn s025_secret_field_not_marked(ctx: &SpecContext<'_>, hits: &mut Vec<Hit>) {
    for n in ctx
        .request_nodes
        .iter()
        .filter(|n| n.origin == NodeOrigin::RequestBody)
    {
        if let Some(name) = n.name
            && is_secret_name(name)
            && is_string(n.schema)
            && !n.schema.write_only
            && n.schema.format.as_deref() != Some("password")
        {
            hits.push(Hit::new(
                &n.pointer,
                format!("Secret field `{name}` is not marked writeOnly or format: password"),
                format!("Request field `{name}` (first seen on {}) looks like a secret but is an ordinary string.", n.operation),
            ));
        }
    }
}

fn s026_sensitive_in_response(ctx: &SpecContext<'_>, hits: &mut Vec<Hit>) {
    for n in &ctx.response_nodes {
        if let Some(name) = n.name
            && is_never_returned_name(name)
            && !n.schema.write_only
            && n.schema.properties.is_empty()
        {
            hits.push(Hit::new(
                &n.pointer,
                format!("Response exposes sensitive field `{name}`"),
                format!("A response of {} declares `{name}`.", n.operation),
            ));
        }
    }
}

fn s027_secret_in_query(ctx: &SpecContext<'_>, hits: &mut Vec<Hit>) {
    for op in &ctx.spec.operations {
        for p in op
            .parameters
            .iter()
            .filter(|p| p.location == ParameterLocation::Query)
        {
            if is_secret_name(&p.name) {
                hits.push(Hit::new(
                    &p.pointer,
                    format!(
                        "Query parameter `{}` of {} carries a secret",
                        p.name,
                        op_label(op)
                    ),
                    format!("`{}` is sent in the URL of {}.", p.name, op_label(op)),
                ));
            }
        }
    }
}

fn s028_unbounded_upload(ctx: &SpecContext<'_>, hits: &mut Vec<Hit>) {
    for n in &ctx.request_nodes {
        let s = n.schema;
        let binary = s.has_type(SchemaType::File)
            || (s.has_type(SchemaType::String)
                && matches!(s.format.as_deref(), Some("binary" | "base64")));
        if binary && s.max_length.is_none() {
            hits.push(Hit::new(
                &n.pointer,
                format!("Upload {} has no size limit", node_title(n)),
                format!(
                    "{} {} of {} accepts a file of any size.",
                    origin_text(n.origin),
                    node_title(n),
                    n.operation
                ),
            ));
        }
    }
}

fn s029_url_input(ctx: &SpecContext<'_>, hits: &mut Vec<Hit>) {
    for n in &ctx.request_nodes {
        let s = n.schema;
        let by_format = matches!(s.format.as_deref(), Some("uri" | "url" | "uri-reference"));
        let by_name = n.name.is_some_and(is_url_name);
        let by_example = n.example.and_then(|e| e.as_str()).is_some_and(|e| {
            let e = e.to_ascii_lowercase();
            e.starts_with("http://") || e.starts_with("https://")
        });
        if is_string(s) && (by_format || by_name || by_example) && s.enum_values.is_empty() {
            hits.push(Hit::new(
                &n.pointer,
                format!("{} accepts a URL in {}", n.operation, node_title(n)),
                format!(
                    "{} {} looks like a URL the server may fetch{}.",
                    origin_text(n.origin),
                    node_title(n),
                    if s.pattern.is_some() {
                        " (a pattern is declared; check it restricts hosts)"
                    } else {
                        "; no pattern restricts it"
                    }
                ),
            ));
        }
    }
}

fn s030_sequential_id(ctx: &SpecContext<'_>, hits: &mut Vec<Hit>) {
    for op in &ctx.spec.operations {
        for p in op
            .parameters
            .iter()
            .filter(|p| p.location == ParameterLocation::Path)
        {
            let s = ctx.spec.resolve_marker(&p.schema);
            if s.has_type(SchemaType::Integer) && norm(&p.name).ends_with("id") {
                hits.push(Hit::new(
                    &p.pointer,
                    format!("{} addresses objects by integer `{}`", op_label(op), p.name),
                    format!(
                        "Integer ids in `{}` can be enumerated; every access must check ownership.",
                        op.path_template
                    ),
                ));
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Responses

fn has_status(op: &Operation, code: &str) -> bool {
    let class = format!("{}XX", &code[..1]);
    op.responses
        .iter()
        .any(|r| r.status == code || r.status.eq_ignore_ascii_case(&class) || r.status == "default")
}

fn missing_status(ctx: &SpecContext<'_>, code: &str, secured_only: bool, hits: &mut Vec<Hit>) {
    for op in &ctx.spec.operations {
        if secured_only
            && ctx
                .spec
                .effective_security(op)
                .iter()
                .all(|r| r.is_anonymous())
        {
            continue;
        }
        if !has_status(op, code) {
            let declared: Vec<&str> = op.responses.iter().map(|r| r.status.as_str()).collect();
            hits.push(Hit::new(
                format!("{}/responses", op.pointer),
                format!("{} declares no {code} response", op_label(op)),
                format!(
                    "{} declares responses [{}] and no {code}, {}XX or default.",
                    op_label(op),
                    declared.join(", "),
                    &code[..1]
                ),
            ));
        }
    }
}

fn s031_missing_401(ctx: &SpecContext<'_>, hits: &mut Vec<Hit>) {
    missing_status(ctx, "401", true, hits);
}

fn s032_missing_403(ctx: &SpecContext<'_>, hits: &mut Vec<Hit>) {
    missing_status(ctx, "403", true, hits);
}

fn s033_missing_429(ctx: &SpecContext<'_>, hits: &mut Vec<Hit>) {
    missing_status(ctx, "429", false, hits);
}

fn s034_no_success_response(ctx: &SpecContext<'_>, hits: &mut Vec<Hit>) {
    for op in &ctx.spec.operations {
        let ok = op
            .responses
            .iter()
            .any(|r| r.status.starts_with('2') || r.status == "default");
        if !ok {
            hits.push(Hit::new(
                format!("{}/responses", op.pointer),
                format!("{} declares no success response", op_label(op)),
                format!(
                    "{} declares {} response(s), none 2XX.",
                    op_label(op),
                    op.responses.len()
                ),
            ));
        }
    }
}

fn has_paging_parameter(op: &Operation) -> bool {
    op.parameters.iter().any(|p| {
        let n = norm(&p.name);
        p.location == ParameterLocation::Query
            && [
                "limit",
                "page",
                "pagesize",
                "perpage",
                "size",
                "cursor",
                "offset",
                "top",
                "first",
                "max",
                "count",
                "pagetoken",
            ]
            .iter()
            .any(|k| n == *k || n.ends_with(k))
    })
}

fn unbounded_array_in<'a>(
    spec: &'a ApiSpec,
    schema: &'a Schema,
    depth: usize,
) -> Option<&'a Schema> {
    let s = spec.resolve_marker(schema);
    if depth > 2 {
        return None;
    }
    if s.has_type(SchemaType::Array) && s.max_items.is_none() {
        return Some(s);
    }
    // A wrapper object (`{users: [...]}`, `{data: [...]}`) counts too.
    s.properties
        .values()
        .find_map(|p| unbounded_array_in(spec, p, depth + 1))
}

fn s035_unpaginated_collection(ctx: &SpecContext<'_>, hits: &mut Vec<Hit>) {
    for op in ctx.spec.operations.iter().filter(|o| o.method == "GET") {
        if has_paging_parameter(op) {
            continue;
        }
        let found = op
            .responses
            .iter()
            .filter(|r| r.status.starts_with('2'))
            .find_map(|r| {
                r.schema
                    .as_ref()
                    .and_then(|s| unbounded_array_in(ctx.spec, s, 0))
                    .map(|a| (r, a))
            });
        if let Some((r, array)) = found {
            let at = if array.pointer.is_empty() {
                r.pointer.clone()
            } else {
                array.pointer.clone()
            };
            hits.push(Hit::new(
                at,
                format!("{} returns an unpaginated collection", op_label(op)),
                format!("The {} response of {} is an array without maxItems and the operation takes no limit/page parameter.", r.status, op_label(op)),
            ));
        }
    }
}

fn s036_body_on_safe_method(ctx: &SpecContext<'_>, hits: &mut Vec<Hit>) {
    for op in &ctx.spec.operations {
        if let Some(body) = &op.request_body
            && matches!(op.method.as_str(), "GET" | "HEAD" | "DELETE")
        {
            hits.push(Hit::new(
                &body.pointer,
                format!("{} declares a request body", op_label(op)),
                format!(
                    "{} has a request body ({}).",
                    op_label(op),
                    body.content_types.join(", ")
                ),
            ));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Inventory hygiene

fn s037_deprecated_operation(ctx: &SpecContext<'_>, hits: &mut Vec<Hit>) {
    for op in ctx.spec.operations.iter().filter(|o| o.deprecated) {
        hits.push(Hit::new(
            &op.pointer,
            format!("{} is deprecated but still published", op_label(op)),
            format!("{} is marked `deprecated: true`.", op_label(op)),
        ));
    }
}

const DEBUG_SEGMENTS: &[&str] = &[
    "debug",
    "test",
    "tests",
    "testing",
    "dev",
    "devel",
    "internal",
    "_internal",
    "actuator",
    "heapdump",
    "env",
    "phpinfo",
    "trace",
    "dump",
    "createdb",
    "initdb",
    "seed",
    "reset-db",
    "resetdb",
    "populate",
    "console",
    "swagger-ui",
    "graphiql",
    "metrics",
    "healthz-debug",
    "backdoor",
    "sandbox",
];

fn s038_debug_endpoint(ctx: &SpecContext<'_>, hits: &mut Vec<Hit>) {
    for op in &ctx.spec.operations {
        if let Some(seg) =
            path_segments(&op.path_template).find(|s| DEBUG_SEGMENTS.contains(&s.as_str()))
        {
            let auth = if ctx.spec.requires_auth(op) {
                "requires credentials"
            } else {
                "requires no credentials"
            };
            let mut hit = Hit::new(
                &op.pointer,
                format!("{} looks like a debug/maintenance endpoint", op_label(op)),
                format!(
                    "Path segment `{seg}` suggests a debug, test or setup function; it {auth}."
                ),
            );
            if !ctx.spec.requires_auth(op) {
                hit.severity = Some(Severity::High);
            }
            hits.push(hit);
        }
    }
}

const ADMIN_SEGMENTS: &[&str] = &[
    "admin",
    "administrator",
    "management",
    "manage",
    "superuser",
    "sudo",
    "staff",
    "backoffice",
    "root",
];

fn s039_admin_function(ctx: &SpecContext<'_>, hits: &mut Vec<Hit>) {
    for op in &ctx.spec.operations {
        if let Some(seg) =
            path_segments(&op.path_template).find(|s| ADMIN_SEGMENTS.contains(&s.as_str()))
        {
            let scoped = ctx
                .spec
                .effective_security(op)
                .iter()
                .any(|r| r.schemes.values().any(|s| !s.is_empty()));
            let mut hit = Hit::new(
                &op.pointer,
                format!("{} is an administrative function", op_label(op)),
                format!(
                    "Path segment `{seg}`; {}.",
                    if !ctx.spec.requires_auth(op) {
                        "the operation requires no credentials"
                    } else if scoped {
                        "it requires a scoped credential; verify the scope is admin-only"
                    } else {
                        "it requires the same credential as ordinary operations (no admin scope or role is declared)"
                    }
                ),
            );
            if !ctx.spec.requires_auth(op) {
                hit.severity = Some(Severity::High);
            } else if scoped {
                hit.severity = Some(Severity::Low);
            }
            hits.push(hit);
        }
    }
}

fn s040_missing_operation_id(ctx: &SpecContext<'_>, hits: &mut Vec<Hit>) {
    for op in ctx
        .spec
        .operations
        .iter()
        .filter(|o| o.operation_id.as_deref().is_none_or(str::is_empty))
    {
        hits.push(Hit::new(
            &op.pointer,
            format!("{} has no operationId", op_label(op)),
            format!("{} cannot be referenced by a stable id.", op_label(op)),
        ));
    }
}

fn s041_duplicate_operation_id(ctx: &SpecContext<'_>, hits: &mut Vec<Hit>) {
    let mut first: BTreeMap<&str, &Operation> = BTreeMap::new();
    for op in &ctx.spec.operations {
        let Some(id) = op.operation_id.as_deref().filter(|i| !i.is_empty()) else {
            continue;
        };
        match first.get(id) {
            Some(prev) => hits.push(Hit::new(
                format!("{}/operationId", op.pointer),
                format!(
                    "operationId `{id}` of {} is also used by {}",
                    op_label(op),
                    op_label(prev)
                ),
                format!(
                    "`{id}` is declared by {} and {}.",
                    op_label(prev),
                    op_label(op)
                ),
            )),
            None => {
                first.insert(id, op);
            }
        }
    }
}

fn s042_outdated_format(ctx: &SpecContext<'_>, hits: &mut Vec<Hit>) {
    if ctx.spec.spec_version == SpecVersion::Swagger2 {
        hits.push(Hit::new("/swagger", "The document is Swagger 2.0", format!("`swagger: {}`: no 3.x security/schema features (writeOnly, cookie keys, OpenID Connect).", ctx.spec.spec_version_raw)));
    }
}

/// Importer warnings that a dedicated rule already reports (GW-S-005, GW-S-041).
fn covered_by_other_rule(message: &str) -> bool {
    (message.starts_with("security scheme") && message.contains("is not defined"))
        || message.starts_with("duplicate operation id")
}

fn s043_import_problem(ctx: &SpecContext<'_>, hits: &mut Vec<Hit>) {
    for w in ctx
        .spec
        .warnings
        .iter()
        .filter(|w| !covered_by_other_rule(&w.message))
    {
        hits.push(Hit::new(
            &w.pointer,
            format!("Spec problem: {}", w.message),
            format!(
                "The importer reported: {}.",
                w.message.trim_end_matches('.')
            ),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(yaml: &str) -> Vec<(String, String)> {
        let spec = gw_spec::parse_spec(yaml.as_bytes(), "t.yaml").expect("test spec parses");
        audit_spec(&spec, Some(yaml))
            .into_iter()
            .map(|f| {
                (
                    f.rule.id,
                    f.evidence.samples[0].location.clone().unwrap_or_default(),
                )
            })
            .collect()
    }

    fn fired(yaml: &str) -> Vec<String> {
        let mut v: Vec<String> = ids(yaml).into_iter().map(|(r, _)| r).collect();
        v.dedup();
        v
    }

    /// A spec that is clean for every rule: the base every negative test starts from.
    const CLEAN: &str = r##"
openapi: 3.1.0
info: { title: Orders, version: "1.0" }
servers: [ { url: "https://api.example.com/v1" } ]
security: [ { oauth: [orders:read] } ]
paths:
  /orders:
    get:
      operationId: listOrders
      parameters:
        - { name: limit, in: query, schema: { type: integer, minimum: 1, maximum: 100 } }
      responses:
        "200":
          description: OK
          content:
            application/json:
              schema: { type: array, maxItems: 100, items: { $ref: "#/components/schemas/Order" } }
        "4XX": { description: client error }
    post:
      operationId: createOrder
      security: [ { oauth: [orders:write] } ]
      requestBody:
        content:
          application/json:
            schema: { $ref: "#/components/schemas/NewOrder" }
      responses:
        "201": { description: Created }
        default: { description: error }
components:
  securitySchemes:
    oauth:
      type: oauth2
      flows:
        authorizationCode:
          authorizationUrl: https://id.example.com/authorize
          tokenUrl: https://id.example.com/token
          scopes: { orders:read: read, orders:write: write }
  schemas:
    Order:
      type: object
      properties:
        id: { type: string, format: uuid }
        note: { type: string, maxLength: 200 }
    NewOrder:
      type: object
      additionalProperties: false
      properties:
        note: { type: string, maxLength: 200, pattern: "^[\\w ]*$" }
        quantity: { type: integer, minimum: 1, maximum: 10 }
        tags: { type: array, maxItems: 5, items: { type: string, enum: [a, b] } }
"##;

    #[test]
    fn clean_spec_has_no_findings() {
        assert_eq!(ids(CLEAN), Vec::<(String, String)>::new());
    }

    #[test]
    fn registry_ids_are_unique_sorted_and_complete() {
        let ids: Vec<&str> = SPEC_RULES.iter().map(|r| r.meta.id).collect();
        let mut sorted = ids.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(ids, sorted);
        assert!(ids.len() >= 30, "{}", ids.len());
        for r in SPEC_RULES {
            assert!(
                !r.meta.owasp.is_empty() && !r.meta.remediation.is_empty(),
                "{}",
                r.meta.id
            );
        }
    }

    #[test]
    fn opt_out_fires_001_and_002_with_pointers() {
        let yaml = CLEAN.replace(
            "      operationId: createOrder\n      security: [ { oauth: [orders:write] } ]",
            "      operationId: createOrder\n      security: []",
        );
        let got = ids(&yaml);
        assert!(
            got.contains(&("GW-S-001".into(), "t.yaml#/paths/~1orders/post".into())),
            "{got:?}"
        );
        assert!(
            got.contains(&(
                "GW-S-002".into(),
                "t.yaml#/paths/~1orders/post/security".into()
            )),
            "{got:?}"
        );
        // no credential → 401/403 rules do not apply to it
        assert!(!got.iter().any(|(r, _)| r == "GW-S-031"), "{got:?}");
    }

    #[test]
    fn weak_inputs_fire_validation_rules() {
        let yaml = CLEAN
            .replace("note: { type: string, maxLength: 200, pattern: \"^[\\\\w ]*$\" }", "note: { type: string }\n        password: { type: string }\n        role: { type: string, enum: [user, admin] }\n        callback_url: { type: string, format: uri }")
            .replace("quantity: { type: integer, minimum: 1, maximum: 10 }", "quantity: { type: integer }")
            .replace("tags: { type: array, maxItems: 5, items: { type: string, enum: [a, b] } }", "tags: { type: array, items: { type: string, pattern: \"[a-z]+\", maxLength: 9 } }")
            .replace("      additionalProperties: false\n", "");
        let got = fired(&yaml);
        for want in [
            "GW-S-017", "GW-S-018", "GW-S-019", "GW-S-020", "GW-S-021", "GW-S-024", "GW-S-025",
            "GW-S-029",
        ] {
            assert!(got.contains(&want.to_owned()), "{want} missing in {got:?}");
        }
    }

    #[test]
    fn transport_and_scheme_rules() {
        let yaml = CLEAN
            .replace("https://api.example.com/v1", "http://10.0.0.5/v1")
            .replace(
                "authorizationCode:\n          authorizationUrl: https://",
                "implicit:\n          authorizationUrl: http://",
            )
            .replace("          tokenUrl: https://id.example.com/token\n", "");
        let got = fired(&yaml);
        for want in ["GW-S-009", "GW-S-011", "GW-S-014", "GW-S-015"] {
            assert!(got.contains(&want.to_owned()), "{want} missing in {got:?}");
        }
        let keyed = CLEAN
            .replace("security: [ { oauth: [orders:read] } ]", "security: [ { key: [] }, {} ]")
            .replace("      security: [ { oauth: [orders:write] } ]\n", "")
            .replace("  securitySchemes:\n", "  securitySchemes:\n    key: { type: apiKey, in: query, name: api_key }\n    basic: { type: http, scheme: basic }\n");
        let got = fired(&keyed);
        assert!(
            got.contains(&"GW-S-003".to_owned()) && got.contains(&"GW-S-007".to_owned()),
            "{got:?}"
        );
        // basic is declared but unused: not reported
        assert!(!got.contains(&"GW-S-006".to_owned()), "{got:?}");
    }

    #[test]
    fn responses_and_inventory_rules() {
        let yaml = CLEAN
            .replace("        \"4XX\": { description: client error }\n", "")
            .replace("schema: { type: array, maxItems: 100,", "schema: { type: array,")
            .replace("        - { name: limit, in: query, schema: { type: integer, minimum: 1, maximum: 100 } }\n", "        - { name: id, in: query, schema: { type: string, format: uuid } }\n")
            .replace("  /orders:\n", "  /debug/orders:\n")
            .replace("      operationId: createOrder\n", "      operationId: listOrders\n      deprecated: true\n");
        let got = fired(&yaml);
        for want in [
            "GW-S-031", "GW-S-032", "GW-S-033", "GW-S-035", "GW-S-037", "GW-S-038", "GW-S-041",
        ] {
            assert!(got.contains(&want.to_owned()), "{want} missing in {got:?}");
        }
    }

    #[test]
    fn findings_carry_lines_from_yaml_source() {
        let yaml = CLEAN.replace("https://api.example.com/v1", "http://api.example.com/v1");
        let spec = gw_spec::parse_spec(yaml.as_bytes(), "t.yaml").unwrap();
        let f = audit_spec(&spec, Some(&yaml));
        let server = f.iter().find(|f| f.rule.id == "GW-S-014").unwrap();
        assert_eq!(
            server
                .evidence
                .metrics
                .extra
                .get(crate::rule::EXTRA_SOURCE_LINE),
            Some(&4.0)
        );
        assert_eq!(server.severity, Severity::High);
    }
}
