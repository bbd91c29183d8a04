//! Kong declarative configuration (`kong.yml` / decK, `_format_version` 3.0; YAML or JSON):
//! services, routes (nested or top-level), plugins (global, per service, route or consumer) and
//! consumers with their credentials.
//!
//! A plugin applies to a route when it is attached to the route, to the route's service, or is
//! global (no service, route or consumer scope); `enabled: false` plugins are ignored.

use gw_model::{Confidence, OwaspApi2023 as Owasp, Severity};
use serde_json::{Map, Value};

use super::{items, parse_json_or_yaml};
use crate::PostureError;
use crate::rule::{ConfigRule, Hit, Rule, RuleMeta};

/// A plugin with the scope it was declared in.
#[derive(Debug, Clone)]
pub struct KongPlugin {
    pub name: String,
    pub enabled: bool,
    /// Service name/id it is attached to (nested or via the `service` field).
    pub service: Option<String>,
    /// Route name/id it is attached to.
    pub route: Option<String>,
    /// Consumer it is scoped to (consumer-scoped plugins do not protect a route for everyone).
    pub consumer: Option<String>,
    pub config: Value,
    pub pointer: String,
}

#[derive(Debug, Clone)]
pub struct KongService {
    pub name: String,
    pub protocol: String,
    pub host: String,
    pub port: Option<u64>,
    /// `tls_verify` as declared (`None` = nginx default, which is off).
    pub tls_verify: Option<bool>,
    pub pointer: String,
}

#[derive(Debug, Clone)]
pub struct KongRoute {
    pub name: String,
    /// `protocols` as declared (`None` = Kong default `[http, https]`).
    pub protocols: Option<Vec<String>>,
    pub service: Option<String>,
    pub pointer: String,
}

#[derive(Debug, Clone)]
pub struct KongCredential {
    /// `keyauth_credentials`, `basicauth_credentials` ...
    pub kind: String,
    /// The field holding the secret (`key`, `password`, `secret`, `client_secret`).
    pub field: &'static str,
    pub consumer: String,
    pub pointer: String,
}

/// The parsed declarative configuration.
#[derive(Debug, Clone, Default)]
pub struct KongConfig {
    pub services: Vec<KongService>,
    pub routes: Vec<KongRoute>,
    pub plugins: Vec<KongPlugin>,
    pub credentials: Vec<KongCredential>,
}

/// True when a mapping looks like a Kong declarative configuration.
pub fn is_kong_config(map: &Map<String, Value>) -> bool {
    map.contains_key("_format_version")
        || (map.contains_key("services")
            && (map.contains_key("routes")
                || map.contains_key("plugins")
                || map.contains_key("consumers")))
        || map
            .get("services")
            .and_then(Value::as_array)
            .is_some_and(|s| s.iter().any(|s| s.get("routes").is_some()))
}

fn text(v: &Value, key: &str) -> Option<String> {
    match v.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        // references like `service: { name: x }` or `{ id: x }`
        Value::Object(o) => o
            .get("name")
            .or_else(|| o.get("id"))
            .and_then(Value::as_str)
            .map(str::to_owned),
        _ => None,
    }
}

fn parse_plugin(
    p: &Value,
    pointer: String,
    service: Option<String>,
    route: Option<String>,
    consumer: Option<String>,
) -> Option<KongPlugin> {
    Some(KongPlugin {
        name: text(p, "name")?,
        enabled: p.get("enabled").and_then(Value::as_bool).unwrap_or(true),
        service: text(p, "service").or(service),
        route: text(p, "route").or(route),
        consumer: text(p, "consumer").or(consumer),
        config: p.get("config").cloned().unwrap_or(Value::Null),
        pointer,
    })
}

fn parse_service(s: &Value, pointer: String) -> KongService {
    let mut svc = KongService {
        name: text(s, "name")
            .or_else(|| text(s, "id"))
            .unwrap_or_default(),
        protocol: text(s, "protocol").unwrap_or_else(|| "http".to_owned()),
        host: text(s, "host").unwrap_or_default(),
        port: s.get("port").and_then(Value::as_u64),
        tls_verify: s.get("tls_verify").and_then(Value::as_bool),
        pointer,
    };
    // `url` is shorthand for protocol, host, port and path.
    if let Some(url) = text(s, "url")
        && let Some((scheme, rest)) = url.split_once("://")
    {
        svc.protocol = scheme.to_ascii_lowercase();
        let authority = rest.split('/').next().unwrap_or("");
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if p.chars().all(|c| c.is_ascii_digit()) => (h, p.parse().ok()),
            _ => (authority, None),
        };
        svc.host = host.to_owned();
        svc.port = port;
    }
    if svc.port.is_none() {
        svc.port = Some(if svc.protocol == "https" || svc.protocol == "grpcs" {
            443
        } else {
            80
        });
    }
    svc
}

fn parse_route(r: &Value, pointer: String, service: Option<String>) -> KongRoute {
    KongRoute {
        name: text(r, "name")
            .or_else(|| text(r, "id"))
            .unwrap_or_else(|| pointer.clone()),
        protocols: r.get("protocols").and_then(Value::as_array).map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_ascii_lowercase)
                .collect()
        }),
        service: text(r, "service").or(service),
        pointer,
    }
}

const CREDENTIAL_FIELDS: &[(&str, &str)] = &[
    ("keyauth_credentials", "key"),
    ("basicauth_credentials", "password"),
    ("jwt_secrets", "secret"),
    ("hmacauth_credentials", "secret"),
    ("oauth2_credentials", "client_secret"),
];

impl KongConfig {
    pub fn parse(text_in: &str, file: &str) -> Result<Self, PostureError> {
        let doc = parse_json_or_yaml(text_in, file)?;
        if !doc.as_object().is_some_and(is_kong_config) {
            return Err(PostureError::WrongShape {
                file: file.to_owned(),
                kind: "Kong declarative",
                reason: "no `_format_version` or `services` with routes".to_owned(),
            });
        }
        let mut cfg = KongConfig::default();
        for (i, s) in items(&doc, "services") {
            let sp = format!("/services/{i}");
            let svc = parse_service(s, sp.clone());
            for (j, r) in items(s, "routes") {
                let rp = format!("{sp}/routes/{j}");
                let route = parse_route(r, rp.clone(), Some(svc.name.clone()));
                for (k, p) in items(r, "plugins") {
                    cfg.plugins.extend(parse_plugin(
                        p,
                        format!("{rp}/plugins/{k}"),
                        Some(svc.name.clone()),
                        Some(route.name.clone()),
                        None,
                    ));
                }
                cfg.routes.push(route);
            }
            for (k, p) in items(s, "plugins") {
                cfg.plugins.extend(parse_plugin(
                    p,
                    format!("{sp}/plugins/{k}"),
                    Some(svc.name.clone()),
                    None,
                    None,
                ));
            }
            cfg.services.push(svc);
        }
        for (j, r) in items(&doc, "routes") {
            let rp = format!("/routes/{j}");
            let route = parse_route(r, rp.clone(), None);
            for (k, p) in items(r, "plugins") {
                cfg.plugins.extend(parse_plugin(
                    p,
                    format!("{rp}/plugins/{k}"),
                    route.service.clone(),
                    Some(route.name.clone()),
                    None,
                ));
            }
            cfg.routes.push(route);
        }
        for (k, p) in items(&doc, "plugins") {
            cfg.plugins
                .extend(parse_plugin(p, format!("/plugins/{k}"), None, None, None));
        }
        for (i, c) in items(&doc, "consumers") {
            let cp = format!("/consumers/{i}");
            let consumer = text(c, "username")
                .or_else(|| text(c, "custom_id"))
                .unwrap_or_else(|| cp.clone());
            for (k, p) in items(c, "plugins") {
                cfg.plugins.extend(parse_plugin(
                    p,
                    format!("{cp}/plugins/{k}"),
                    None,
                    None,
                    Some(consumer.clone()),
                ));
            }
            for (kind, field) in CREDENTIAL_FIELDS {
                for (k, cred) in items(c, kind) {
                    let inline = cred
                        .get(*field)
                        .and_then(Value::as_str)
                        .is_some_and(|v| !v.is_empty() && !v.starts_with("{vault://"));
                    if inline {
                        cfg.credentials.push(KongCredential {
                            kind: (*kind).to_owned(),
                            field,
                            consumer: consumer.clone(),
                            pointer: format!("{cp}/{kind}/{k}/{field}"),
                        });
                    }
                }
            }
        }
        Ok(cfg)
    }

    /// Enabled plugins that apply to every caller of `route`.
    pub fn plugins_for<'a>(
        &'a self,
        route: &'a KongRoute,
    ) -> impl Iterator<Item = &'a KongPlugin> + 'a {
        self.plugins.iter().filter(move |p| {
            p.enabled
                && p.consumer.is_none()
                && match (&p.route, &p.service) {
                    (Some(r), _) => *r == route.name,
                    (None, Some(s)) => route.service.as_ref() == Some(s),
                    (None, None) => true,
                }
        })
    }

    pub fn service_of(&self, route: &KongRoute) -> Option<&KongService> {
        let name = route.service.as_ref()?;
        self.services.iter().find(|s| &s.name == name)
    }
}

const AUTH_PLUGINS: &[&str] = &[
    "key-auth",
    "key-auth-enc",
    "basic-auth",
    "jwt",
    "oauth2",
    "oauth2-introspection",
    "hmac-auth",
    "ldap-auth",
    "ldap-auth-advanced",
    "openid-connect",
    "mtls-auth",
    "jwt-signer",
    "vault-auth",
    "saml",
];

const RATE_LIMIT_PLUGINS: &[&str] = &[
    "rate-limiting",
    "rate-limiting-advanced",
    "response-ratelimiting",
    "graphql-rate-limiting-advanced",
    "ai-rate-limiting-advanced",
];

fn is_admin_api(s: &KongService) -> bool {
    let local = matches!(
        s.host.as_str(),
        "localhost" | "127.0.0.1" | "::1" | "[::1]" | "0.0.0.0"
    ) || s.host.starts_with("127.");
    local && matches!(s.port, Some(8001 | 8444))
}

const KONG_DOCS: &str = "https://developer.konghq.com/gateway/entities/";

/// The references of every Kong rule.
const KONG_REFERENCES: &[&str] = &[
    KONG_DOCS,
    "https://owasp.org/API-Security/editions/2023/en/0x11-t10/",
];

/// Kong rules, in id order.
pub static KONG_RULES: &[ConfigRule<KongConfig>] = &[
    Rule {
        meta: config_rule_meta!(
            "GW-C-KONG-001",
            "RouteWithoutAuthentication",
            High,
            [Api2, Api5],
            "A route has no authentication plugin (on the route, its service or globally)",
            "Attach an authentication plugin (key-auth in headers only, jwt, openid-connect, mtls-auth ...) to the route or its service; keep deliberately public routes in a reviewed list.",
            KONG_REFERENCES
        ),
        check: kong001_route_without_auth,
    },
    Rule {
        meta: config_rule_meta!(
            "GW-C-KONG-002",
            "PlainHttpRoute",
            High,
            [Api8],
            "A route accepts plain HTTP (explicit `http` in protocols, or the default [http, https])",
            "Set `protocols: [https]` on the route (Kong then answers plain HTTP with 426) or `https_redirect_status_code: 301`.",
            KONG_REFERENCES
        ),
        check: kong002_plain_http_route,
    },
    Rule {
        meta: config_rule_meta!(
            "GW-C-KONG-003",
            "UpstreamTlsVerificationOff",
            Medium,
            [Api8, Api10],
            "An HTTPS service does not verify the upstream certificate",
            "Set `tls_verify: true` on the service and `ca_certificates` (or `lua_ssl_trusted_certificate` in kong.conf).",
            KONG_REFERENCES
        ),
        check: kong003_upstream_tls_verify,
    },
    Rule {
        meta: config_rule_meta!(
            "GW-C-KONG-004",
            "AdminApiExposed",
            High,
            [Api8, Api5],
            "The Kong Admin API is proxied through a route",
            "Do not route to the Admin API; if you must (loopback pattern), require key-auth/mtls-auth and an ip-restriction or acl plugin on that route, and keep admin_listen on 127.0.0.1.",
            KONG_REFERENCES
        ),
        check: kong004_admin_api_exposed,
    },
    Rule {
        meta: config_rule_meta!(
            "GW-C-KONG-005",
            "RouteWithoutRateLimiting",
            Medium,
            [Api4, Api6],
            "A route has no rate-limiting plugin (on the route, its service or globally)",
            "Attach `rate-limiting` (or `rate-limiting-advanced`) with limits per consumer or IP to the route, its service or globally.",
            KONG_REFERENCES
        ),
        check: kong005_route_without_rate_limit,
    },
    Rule {
        meta: config_rule_meta!(
            "GW-C-KONG-006",
            "InlineConsumerCredential",
            Medium,
            [Api8, Api2],
            "A consumer credential secret is written inline in the configuration file",
            "Reference secrets from a vault (`{vault://env/...}`) or create credentials through the Admin API; rotate secrets that were committed.",
            KONG_REFERENCES
        ),
        check: kong006_inline_credential,
    },
    Rule {
        meta: config_rule_meta!(
            "GW-C-KONG-007",
            "PlainHttpUpstream",
            Low,
            [Api8],
            "A service forwards to its upstream over plain HTTP on a non-loopback host",
            "Use `protocol: https` (with `tls_verify: true`) for upstreams outside the gateway host.",
            KONG_REFERENCES
        ),
        check: kong007_plain_http_upstream,
    },
];

fn kong001_route_without_auth(c: &KongConfig, hits: &mut Vec<Hit>) {
    for r in &c.routes {
        if !c
            .plugins_for(r)
            .any(|p| AUTH_PLUGINS.contains(&p.name.as_str()))
        {
            hits.push(Hit::new(
                r.pointer.clone(),
                format!("Route `{}` has no authentication plugin", r.name),
                format!("No authentication plugin ({}) applies to route `{}` (service `{}`): anyone can call it.", "key-auth, jwt, oauth2, openid-connect, ...", r.name, r.service.as_deref().unwrap_or("?")),
            ));
        }
    }
}

fn kong002_plain_http_route(c: &KongConfig, hits: &mut Vec<Hit>) {
    for r in &c.routes {
        match &r.protocols {
            None => hits.push(
                Hit::new(
                    r.pointer.clone(),
                    format!("Route `{}` accepts plain HTTP by default", r.name),
                    "`protocols` is not set; Kong's default is [http, https].",
                )
                .with_confidence(Confidence::Medium),
            ),
            Some(p) => {
                let plain: Vec<&str> = p
                    .iter()
                    .map(String::as_str)
                    .filter(|p| matches!(*p, "http" | "grpc" | "ws" | "tcp"))
                    .collect();
                if !plain.is_empty() {
                    hits.push(Hit::new(
                        format!("{}/protocols", r.pointer),
                        format!("Route `{}` accepts {}", r.name, plain.join("/")),
                        format!(
                            "`protocols: [{}]` includes unencrypted {}.",
                            p.join(", "),
                            plain.join(", ")
                        ),
                    ));
                }
            }
        }
    }
}

fn kong003_upstream_tls_verify(c: &KongConfig, hits: &mut Vec<Hit>) {
    for s in c
        .services
        .iter()
        .filter(|s| matches!(s.protocol.as_str(), "https" | "grpcs" | "tls" | "wss"))
    {
        match s.tls_verify {
            Some(true) => {}
            Some(false) => hits.push(Hit::new(format!("{}/tls_verify", s.pointer), format!("Service `{}` disables upstream certificate verification", s.name), format!("`tls_verify: false` on {}://{}: the upstream can be impersonated.", s.protocol, s.host))),
            None => hits.push(
                Hit::new(s.pointer.clone(), format!("Service `{}` does not verify the upstream certificate", s.name), format!("`tls_verify` is not set on {}://{}; Kong then uses nginx's default (proxy_ssl_verify off) unless kong.conf enables it.", s.protocol, s.host))
                    .with_confidence(Confidence::Medium),
            ),
        }
    }
}

fn kong004_admin_api_exposed(c: &KongConfig, hits: &mut Vec<Hit>) {
    for r in &c.routes {
        let Some(s) = c.service_of(r).filter(|s| is_admin_api(s)) else {
            continue;
        };
        let plugins: Vec<&str> = c.plugins_for(r).map(|p| p.name.as_str()).collect();
        let authed = plugins.iter().any(|p| AUTH_PLUGINS.contains(p));
        let restricted = plugins
            .iter()
            .any(|p| matches!(*p, "ip-restriction" | "acl"));
        if authed && restricted {
            continue;
        }
        let mut hit = Hit::new(
            r.pointer.clone(),
            format!("Route `{}` exposes the Kong Admin API", r.name),
            format!(
                "Route `{}` forwards to {}:{} (the Admin API) with {} and {}.",
                r.name,
                s.host,
                s.port.unwrap_or(0),
                if authed {
                    "authentication"
                } else {
                    "no authentication"
                },
                if restricted {
                    "an ip-restriction/acl"
                } else {
                    "no ip-restriction/acl"
                }
            ),
        );
        if !authed {
            hit.severity = Some(Severity::Critical);
        }
        hits.push(hit);
    }
}

fn kong005_route_without_rate_limit(c: &KongConfig, hits: &mut Vec<Hit>) {
    for r in &c.routes {
        if !c
            .plugins_for(r)
            .any(|p| RATE_LIMIT_PLUGINS.contains(&p.name.as_str()))
        {
            hits.push(Hit::new(r.pointer.clone(), format!("Route `{}` has no rate limiting", r.name), format!("No rate-limiting plugin applies to route `{}`: one client can exhaust the upstream.", r.name)));
        }
    }
}

fn kong006_inline_credential(c: &KongConfig, hits: &mut Vec<Hit>) {
    for cred in &c.credentials {
        hits.push(Hit::new(
            cred.pointer.clone(),
            format!(
                "Consumer `{}` has an inline {} secret",
                cred.consumer, cred.kind
            ),
            format!(
                "`{}.{}` holds the secret value in the configuration file.",
                cred.kind, cred.field
            ),
        ));
    }
}

fn kong007_plain_http_upstream(c: &KongConfig, hits: &mut Vec<Hit>) {
    for s in c
        .services
        .iter()
        .filter(|s| matches!(s.protocol.as_str(), "http" | "grpc" | "ws" | "tcp"))
    {
        let local = matches!(s.host.as_str(), "localhost" | "127.0.0.1" | "::1")
            || s.host.starts_with("127.");
        if !local && !is_admin_api(s) {
            hits.push(
                Hit::new(
                    s.pointer.clone(),
                    format!("Service `{}` forwards over plain {}", s.name, s.protocol),
                    format!("Upstream {}://{} is not encrypted.", s.protocol, s.host),
                )
                .with_confidence(Confidence::Medium),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = r#"
_format_version: "3.0"
services:
  - name: s
    url: https://s.example
    tls_verify: true
routes:
  - name: r
    service: { name: s }
    protocols: [https]
plugins:
  - name: key-auth
    consumer: vip
  - name: rate-limiting
    route: r
    enabled: false
"#;

    #[test]
    fn consumer_scoped_and_disabled_plugins_do_not_protect_a_route() {
        let c = KongConfig::parse(CONFIG, "k.yml").unwrap();
        assert_eq!(c.routes[0].service.as_deref(), Some("s"));
        assert_eq!(c.plugins_for(&c.routes[0]).count(), 0);
        let mut hits = Vec::new();
        kong001_route_without_auth(&c, &mut hits);
        kong005_route_without_rate_limit(&c, &mut hits);
        let pointers: Vec<&str> = hits.iter().map(|h| h.pointer.as_str()).collect();
        assert_eq!(pointers, vec!["/routes/0", "/routes/0"]);
    }

    #[test]
    fn service_url_sets_protocol_host_and_port() {
        let s = parse_service(
            &serde_json::json!({"name": "a", "url": "http://127.0.0.1:8001/x"}),
            "/services/0".into(),
        );
        assert_eq!(
            (s.protocol.as_str(), s.host.as_str(), s.port),
            ("http", "127.0.0.1", Some(8001))
        );
        assert!(is_admin_api(&s));
        let s = parse_service(
            &serde_json::json!({"name": "b", "protocol": "https", "host": "b.example"}),
            "/services/1".into(),
        );
        assert_eq!(s.port, Some(443));
    }
}
