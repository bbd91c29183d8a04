//! Envoy v3 configuration (a bootstrap with `static_resources`/`admin`, or a bare
//! `static_resources` body with `listeners`/`clusters`; YAML or JSON): downstream listeners
//! without TLS, upstream clusters that do not verify certificates, HTTP connection managers
//! without an enforced rate limit, and an admin interface reachable off the host.
//!
//! Only what the file holds is read: routes served over RDS and secrets served over SDS are taken
//! at their word (an SDS validation context counts as verification, an RDS route table as
//! possibly holding per-route limits). Extensions are recognised by their `typed_config.@type`
//! or, failing that, their well-known `name`.

use gw_model::{Confidence, OwaspApi2023 as Owasp, Severity};
use serde_json::{Map, Value};

use super::{items, parse_json_or_yaml};
use crate::PostureError;
use crate::rule::{ConfigRule, Hit, Rule, RuleMeta};

/// A socket address as written (`socket_address.address` / `port_value`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketAddress {
    pub address: String,
    pub port: Option<u64>,
}

impl SocketAddress {
    fn of(v: &Value) -> Option<SocketAddress> {
        let sa = v.get("socket_address")?;
        Some(SocketAddress {
            address: sa.get("address").and_then(Value::as_str)?.to_owned(),
            port: sa.get("port_value").and_then(Value::as_u64),
        })
    }

    /// Loopback addresses (and `localhost`): reachable from the host only.
    pub fn is_loopback(&self) -> bool {
        let a = self.address.trim_start_matches('[').trim_end_matches(']');
        a == "localhost"
            || a.parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    }

    fn display(&self) -> String {
        match self.port {
            Some(p) => format!("{}:{p}", self.address),
            None => self.address.clone(),
        }
    }
}

/// How rate limiting stands in one HTTP connection manager.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateLimitState {
    /// A local or global rate limit filter that takes effect (enforced at filter level, or
    /// configured per route / virtual host, or the routes come from RDS and may configure it).
    Enforced,
    /// A local rate limit filter without `filter_enforced` and without per-route configuration
    /// (Envoy then enforces 0% of requests), or a global rate limit filter with no `rate_limits`
    /// actions in the route table.
    Inert,
    /// No rate limit filter.
    Missing,
}

/// One `envoy.filters.network.http_connection_manager`.
#[derive(Debug, Clone)]
pub struct HttpConnectionManager {
    pub pointer: String,
    pub rate_limit: RateLimitState,
    /// Every route of an inline route table redirects to HTTPS (or every virtual host has
    /// `require_tls: ALL`).
    pub redirects_to_https: bool,
}

/// One filter chain of a listener (or its `default_filter_chain`).
#[derive(Debug, Clone)]
pub struct FilterChain {
    pub pointer: String,
    /// A `tls` (DownstreamTlsContext) or `quic` transport socket terminates TLS.
    pub terminates_tls: bool,
    /// `filter_chain_match.transport_protocol: tls` without a TLS socket: TLS passes through.
    pub tls_passthrough: bool,
    /// A network-level local or global rate limit filter precedes the HTTP filters.
    pub network_rate_limit: bool,
    pub http: Vec<HttpConnectionManager>,
}

#[derive(Debug, Clone)]
pub struct Listener {
    pub name: String,
    pub pointer: String,
    pub address: Option<SocketAddress>,
    /// Internal listeners (`internal_listener`, `envoy_internal_address`) are not reachable
    /// from the network.
    pub internal: bool,
    pub chains: Vec<FilterChain>,
}

/// An upstream TLS transport socket of a cluster.
#[derive(Debug, Clone)]
pub struct UpstreamTls {
    /// Pointer of the transport socket's `typed_config`.
    pub pointer: String,
    /// Trust anchors are configured (inline, file, SDS or a certificate provider) and
    /// `trust_chain_verification` is not `ACCEPT_UNTRUSTED`.
    pub verifies_chain: bool,
    /// Subject alternative names are matched (`match_typed_subject_alt_names` or the
    /// deprecated `match_subject_alt_names`), or validation comes from SDS.
    pub verifies_name: bool,
    /// Pointer of the validation context, when there is one.
    pub validation_pointer: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Cluster {
    pub name: String,
    pub pointer: String,
    pub tls: Vec<UpstreamTls>,
}

/// The admin interface.
#[derive(Debug, Clone)]
pub struct Admin {
    pub pointer: String,
    pub address: SocketAddress,
}

/// The parsed configuration.
#[derive(Debug, Clone, Default)]
pub struct EnvoyConfig {
    pub listeners: Vec<Listener>,
    pub clusters: Vec<Cluster>,
    pub admin: Option<Admin>,
}

/// True when a mapping looks like an Envoy bootstrap or `static_resources` body.
pub fn is_envoy_config(map: &Map<String, Value>) -> bool {
    map.contains_key("static_resources")
        || map.contains_key("dynamic_resources")
        || (map.contains_key("admin") && map.contains_key("node"))
        || ["listeners", "clusters"].iter().any(|k| {
            map.get(*k)
                .and_then(Value::as_array)
                .is_some_and(|items| items.iter().any(looks_like_envoy_resource))
        })
}

fn looks_like_envoy_resource(v: &Value) -> bool {
    ["filter_chains", "load_assignment", "socket_address"]
        .iter()
        .any(|k| v.get(*k).is_some())
        || v.get("address")
            .is_some_and(|a| a.get("socket_address").is_some())
}

/// The `@type` of an extension's typed config (empty when absent).
fn type_url(ext: &Value) -> &str {
    ext.get("typed_config")
        .and_then(|t| t.get("@type"))
        .and_then(Value::as_str)
        .unwrap_or("")
}

fn ext_name(ext: &Value) -> &str {
    ext.get("name").and_then(Value::as_str).unwrap_or("")
}

/// Whether an extension is `names[..]` by name or has a type URL ending in one of `types`.
fn is_ext(ext: &Value, names: &[&str], types: &[&str]) -> bool {
    let t = type_url(ext);
    if !t.is_empty() {
        return types.iter().any(|s| t.ends_with(s));
    }
    names.contains(&ext_name(ext))
}

fn is_hcm(f: &Value) -> bool {
    is_ext(
        f,
        &[
            "envoy.filters.network.http_connection_manager",
            "envoy.http_connection_manager",
        ],
        &[".http_connection_manager.v3.HttpConnectionManager"],
    )
}

fn is_local_rate_limit_http(f: &Value) -> bool {
    is_ext(
        f,
        &["envoy.filters.http.local_ratelimit"],
        &[".filters.http.local_ratelimit.v3.LocalRateLimit"],
    )
}

fn is_global_rate_limit_http(f: &Value) -> bool {
    is_ext(
        f,
        &["envoy.filters.http.ratelimit", "envoy.rate_limit"],
        &[".filters.http.ratelimit.v3.RateLimit"],
    )
}

fn is_network_rate_limit(f: &Value) -> bool {
    is_ext(
        f,
        &[
            "envoy.filters.network.local_ratelimit",
            "envoy.filters.network.ratelimit",
        ],
        &[
            ".filters.network.local_ratelimit.v3.LocalRateLimit",
            ".filters.network.ratelimit.v3.RateLimit",
        ],
    )
}

fn is_tls_socket(ts: &Value, context_type: &str) -> bool {
    is_ext(ts, &["envoy.transport_sockets.tls", "tls"], &[context_type])
}

fn is_quic_socket(ts: &Value) -> bool {
    is_ext(
        ts,
        &["envoy.transport_sockets.quic"],
        &[".quic.v3.QuicDownstreamTransport"],
    )
}

/// A runtime fractional percent that is non-zero (`default_value.numerator > 0`).
fn fraction_on(v: Option<&Value>) -> bool {
    v.and_then(|f| f.get("default_value"))
        .and_then(|d| d.get("numerator"))
        .and_then(Value::as_u64)
        .is_some_and(|n| n > 0)
}

/// Visits every virtual host and route of an inline route table.
fn route_entries(route_config: &Value) -> impl Iterator<Item = &Value> {
    items(route_config, "virtual_hosts")
        .flat_map(|(_, vh)| std::iter::once(vh).chain(items(vh, "routes").map(|(_, r)| r)))
}

/// Whether a route table configures `filter` per virtual host / route (keys of
/// `typed_per_filter_config` are filter names).
fn per_route_config(route_config: &Value, filter: &str) -> bool {
    route_entries(route_config).any(|e| {
        e.get("typed_per_filter_config")
            .and_then(Value::as_object)
            .is_some_and(|m| m.contains_key(filter))
    })
}

fn parse_hcm(f: &Value, pointer: String) -> HttpConnectionManager {
    let cfg = f.get("typed_config").unwrap_or(&Value::Null);
    let route_config = cfg.get("route_config");
    let rds = cfg.get("rds").is_some() || cfg.get("scoped_routes").is_some();
    let filters: Vec<&Value> = items(cfg, "http_filters").map(|(_, h)| h).collect();
    let mut state = RateLimitState::Missing;
    for h in &filters {
        let effective = if is_local_rate_limit_http(h) {
            let name = ext_name(h);
            let hc = h.get("typed_config").unwrap_or(&Value::Null);
            rds || (fraction_on(hc.get("filter_enforced")) && hc.get("token_bucket").is_some())
                || route_config.is_some_and(|rc| {
                    per_route_config(rc, name)
                        || per_route_config(rc, "envoy.filters.http.local_ratelimit")
                })
        } else if is_global_rate_limit_http(h) {
            rds || route_config
                .is_some_and(|rc| route_entries(rc).any(|e| e.get("rate_limits").is_some()))
        } else {
            continue;
        };
        if effective {
            state = RateLimitState::Enforced;
            break;
        }
        state = RateLimitState::Inert;
    }
    let redirects_to_https = route_config.is_some_and(|rc| {
        let hosts: Vec<&Value> = items(rc, "virtual_hosts").map(|(_, v)| v).collect();
        !hosts.is_empty()
            && hosts.iter().all(|vh| {
                vh.get("require_tls").and_then(Value::as_str) == Some("ALL") || {
                    let routes: Vec<&Value> = items(vh, "routes").map(|(_, r)| r).collect();
                    !routes.is_empty()
                        && routes.iter().all(|r| {
                            r.get("redirect")
                                .and_then(|d| d.get("https_redirect"))
                                .and_then(Value::as_bool)
                                == Some(true)
                        })
                }
            })
    });
    HttpConnectionManager {
        pointer,
        rate_limit: state,
        redirects_to_https,
    }
}

fn parse_chain(c: &Value, pointer: String) -> FilterChain {
    let socket = c.get("transport_socket");
    let terminates_tls = socket
        .is_some_and(|ts| is_tls_socket(ts, ".tls.v3.DownstreamTlsContext") || is_quic_socket(ts));
    let tls_passthrough = !terminates_tls
        && c.get("filter_chain_match")
            .and_then(|m| m.get("transport_protocol"))
            .and_then(Value::as_str)
            == Some("tls");
    let mut network_rate_limit = false;
    let mut http = Vec::new();
    for (k, f) in items(c, "filters") {
        if is_network_rate_limit(f) {
            network_rate_limit = true;
        } else if is_hcm(f) {
            http.push(parse_hcm(f, format!("{pointer}/filters/{k}")));
        }
    }
    FilterChain {
        pointer,
        terminates_tls,
        tls_passthrough,
        network_rate_limit,
        http,
    }
}

fn parse_listener(l: &Value, pointer: String) -> Listener {
    let mut chains: Vec<FilterChain> = items(l, "filter_chains")
        .map(|(i, c)| parse_chain(c, format!("{pointer}/filter_chains/{i}")))
        .collect();
    if let Some(d) = l.get("default_filter_chain") {
        chains.push(parse_chain(d, format!("{pointer}/default_filter_chain")));
    }
    let address = l.get("address");
    Listener {
        name: l
            .get("name")
            .and_then(Value::as_str)
            .map_or_else(|| pointer.clone(), str::to_owned),
        internal: l.get("internal_listener").is_some()
            || address.is_some_and(|a| a.get("envoy_internal_address").is_some()),
        address: address.and_then(SocketAddress::of),
        pointer,
        chains,
    }
}

fn parse_upstream_tls(ts: &Value, pointer: String) -> UpstreamTls {
    let cfg = ts.get("typed_config").unwrap_or(&Value::Null);
    let common = cfg.get("common_tls_context").unwrap_or(&Value::Null);
    let sds = common.get("validation_context_sds_secret_config").is_some()
        || common
            .get("combined_validation_context")
            .and_then(|c| c.get("validation_context_sds_secret_config"))
            .is_some();
    let (vc, vc_pointer) = if let Some(vc) = common.get("validation_context") {
        (
            Some(vc),
            Some(format!("{pointer}/common_tls_context/validation_context")),
        )
    } else if let Some(vc) = common
        .get("combined_validation_context")
        .and_then(|c| c.get("default_validation_context"))
    {
        (
            Some(vc),
            Some(format!(
                "{pointer}/common_tls_context/combined_validation_context/default_validation_context"
            )),
        )
    } else {
        (None, None)
    };
    let anchors = vc.is_some_and(|vc| {
        vc.get("trusted_ca").is_some() || vc.get("ca_certificate_provider_instance").is_some()
    }) || common
        .get("validation_context_certificate_provider_instance")
        .is_some();
    let accepts_untrusted = vc.is_some_and(|vc| {
        vc.get("trust_chain_verification").and_then(Value::as_str) == Some("ACCEPT_UNTRUSTED")
    });
    let names = vc.is_some_and(|vc| {
        ["match_typed_subject_alt_names", "match_subject_alt_names"]
            .iter()
            .any(|k| {
                vc.get(*k)
                    .and_then(Value::as_array)
                    .is_some_and(|a| !a.is_empty())
            })
    });
    UpstreamTls {
        pointer,
        verifies_chain: (anchors || sds) && !accepts_untrusted,
        verifies_name: names || sds,
        validation_pointer: vc_pointer,
    }
}

fn parse_cluster(c: &Value, pointer: String) -> Cluster {
    let mut tls = Vec::new();
    let mut sockets: Vec<(String, &Value)> = Vec::new();
    if let Some(ts) = c.get("transport_socket") {
        sockets.push((format!("{pointer}/transport_socket"), ts));
    }
    for (i, m) in items(c, "transport_socket_matches") {
        if let Some(ts) = m.get("transport_socket") {
            sockets.push((
                format!("{pointer}/transport_socket_matches/{i}/transport_socket"),
                ts,
            ));
        }
    }
    for (p, ts) in sockets {
        if is_tls_socket(ts, ".tls.v3.UpstreamTlsContext") {
            tls.push(parse_upstream_tls(ts, format!("{p}/typed_config")));
        }
    }
    Cluster {
        name: c
            .get("name")
            .and_then(Value::as_str)
            .map_or_else(|| pointer.clone(), str::to_owned),
        pointer,
        tls,
    }
}

impl EnvoyConfig {
    pub fn parse(text_in: &str, file: &str) -> Result<Self, PostureError> {
        let doc = parse_json_or_yaml(text_in, file)?;
        if !doc.as_object().is_some_and(is_envoy_config) {
            return Err(PostureError::WrongShape {
                file: file.to_owned(),
                kind: "Envoy",
                reason: "no `static_resources`, `dynamic_resources`, or `listeners`/`clusters` with Envoy fields".to_owned(),
            });
        }
        let (resources, base) = match doc.get("static_resources") {
            Some(r) => (r, "/static_resources"),
            None => (&doc, ""),
        };
        let mut cfg = EnvoyConfig {
            listeners: items(resources, "listeners")
                .map(|(i, l)| parse_listener(l, format!("{base}/listeners/{i}")))
                .collect(),
            clusters: items(resources, "clusters")
                .map(|(i, c)| parse_cluster(c, format!("{base}/clusters/{i}")))
                .collect(),
            admin: None,
        };
        if let Some(address) = doc
            .get("admin")
            .and_then(|a| a.get("address"))
            .and_then(SocketAddress::of)
        {
            cfg.admin = Some(Admin {
                pointer: "/admin/address/socket_address/address".to_owned(),
                address,
            });
        }
        Ok(cfg)
    }

    /// Listeners reachable from the network: not internal and not bound to loopback.
    pub fn exposed_listeners(&self) -> impl Iterator<Item = &Listener> {
        self.listeners
            .iter()
            .filter(|l| !l.internal && !l.address.as_ref().is_some_and(|a| a.is_loopback()))
    }
}

const ENVOY_DOCS: &str = "https://www.envoyproxy.io/docs/envoy/latest/";

/// Envoy rules, in id order.
pub static ENVOY_RULES: &[ConfigRule<EnvoyConfig>] = &[
    Rule {
        meta: config_rule_meta!(
            "GW-C-ENVOY-001",
            "ListenerWithoutTls",
            High,
            [Api8],
            "A filter chain of a non-loopback listener accepts plaintext and does not only redirect to HTTPS",
            "Add a `transport_socket` named `envoy.transport_sockets.tls` with a `DownstreamTlsContext` (certificates via SDS) to the filter chain, or make the plain listener's routes only `redirect: { https_redirect: true }` (or `require_tls: ALL`).",
            &[
                "https://www.envoyproxy.io/docs/envoy/latest/api-v3/extensions/transport_sockets/tls/v3/tls.proto",
                ENVOY_DOCS
            ]
        ),
        check: envoy001_listener_without_tls,
    },
    Rule {
        meta: config_rule_meta!(
            "GW-C-ENVOY-002",
            "UpstreamTlsVerificationOff",
            Medium,
            [Api8, Api10],
            "A cluster connects over TLS without verifying the upstream certificate chain or name",
            "Set `common_tls_context.validation_context.trusted_ca` (or an SDS validation context) and `match_typed_subject_alt_names` with the upstream's DNS name on the cluster's UpstreamTlsContext, and `sni`.",
            &[
                "https://www.envoyproxy.io/docs/envoy/latest/api-v3/extensions/transport_sockets/tls/v3/common.proto#envoy-v3-api-msg-extensions-transport-sockets-tls-v3-certificatevalidationcontext",
                ENVOY_DOCS
            ]
        ),
        check: envoy002_upstream_tls_verify,
    },
    Rule {
        meta: config_rule_meta!(
            "GW-C-ENVOY-003",
            "NoRateLimiting",
            Medium,
            [Api4, Api6],
            "An HTTP connection manager of a non-loopback listener has no rate limit filter in force",
            "Add `envoy.filters.http.local_ratelimit` with a `token_bucket` and `filter_enabled`/`filter_enforced` at 100% (or per-route `typed_per_filter_config`), or `envoy.filters.http.ratelimit` with `rate_limits` actions on the routes; put it before `envoy.filters.http.router`.",
            &[
                "https://www.envoyproxy.io/docs/envoy/latest/configuration/http/http_filters/local_rate_limit_filter",
                ENVOY_DOCS
            ]
        ),
        check: envoy003_no_rate_limiting,
    },
    Rule {
        meta: config_rule_meta!(
            "GW-C-ENVOY-004",
            "AdminInterfaceExposed",
            High,
            [Api8, Api5],
            "The admin interface listens on a non-loopback address",
            "Bind `admin.address` to 127.0.0.1 (or a Unix socket `pipe`) and reach it through `kubectl port-forward` or SSH; the admin API can dump configuration and shut Envoy down without authentication.",
            &[
                "https://www.envoyproxy.io/docs/envoy/latest/operations/admin",
                ENVOY_DOCS
            ]
        ),
        check: envoy004_admin_exposed,
    },
];

fn envoy001_listener_without_tls(c: &EnvoyConfig, hits: &mut Vec<Hit>) {
    for l in c.exposed_listeners() {
        let at = l
            .address
            .as_ref()
            .map_or_else(|| "an unnamed address".to_owned(), SocketAddress::display);
        for chain in &l.chains {
            if chain.terminates_tls || chain.tls_passthrough {
                continue;
            }
            if !chain.http.is_empty() && chain.http.iter().all(|h| h.redirects_to_https) {
                continue;
            }
            hits.push(Hit::new(
                chain.pointer.clone(),
                format!("Listener `{}` accepts plaintext on {at}", l.name),
                format!(
                    "Filter chain {} of listener `{}` has no TLS transport socket and serves {}.",
                    chain.pointer,
                    l.name,
                    if chain.http.is_empty() {
                        "plain TCP"
                    } else {
                        "HTTP without redirecting to HTTPS"
                    }
                ),
            ));
        }
    }
}

fn envoy002_upstream_tls_verify(c: &EnvoyConfig, hits: &mut Vec<Hit>) {
    for cluster in &c.clusters {
        for tls in &cluster.tls {
            if !tls.verifies_chain {
                hits.push(Hit::new(
                    tls.validation_pointer.clone().unwrap_or_else(|| tls.pointer.clone()),
                    format!("Cluster `{}` does not verify the upstream certificate", cluster.name),
                    format!(
                        "The UpstreamTlsContext at {} has {}: any certificate is accepted, so the upstream can be impersonated.",
                        tls.pointer,
                        if tls.validation_pointer.is_some() {
                            "a validation context without trust anchors (or with ACCEPT_UNTRUSTED)"
                        } else {
                            "no validation_context"
                        }
                    ),
                ));
            } else if !tls.verifies_name {
                hits.push(
                    Hit::new(
                        tls.validation_pointer.clone().unwrap_or_else(|| tls.pointer.clone()),
                        format!("Cluster `{}` does not check the upstream certificate's name", cluster.name),
                        "The certificate chain is verified but no subject alternative name is matched: any certificate from the trusted CAs is accepted.",
                    )
                    .with_severity(Severity::Low)
                    .with_confidence(Confidence::Medium),
                );
            }
        }
    }
}

fn envoy003_no_rate_limiting(c: &EnvoyConfig, hits: &mut Vec<Hit>) {
    for l in c.exposed_listeners() {
        for chain in l.chains.iter().filter(|ch| !ch.network_rate_limit) {
            for h in &chain.http {
                if h.redirects_to_https {
                    continue;
                }
                match h.rate_limit {
                    RateLimitState::Enforced => {}
                    RateLimitState::Missing => hits.push(Hit::new(
                        h.pointer.clone(),
                        format!("Listener `{}` has no rate limit filter", l.name),
                        "The HTTP connection manager has neither envoy.filters.http.local_ratelimit nor envoy.filters.http.ratelimit, and the filter chain has no network rate limit: one client can exhaust the upstream.",
                    )),
                    RateLimitState::Inert => hits.push(
                        Hit::new(
                            h.pointer.clone(),
                            format!("Listener `{}` has a rate limit filter that enforces nothing", l.name),
                            "A rate limit filter is present but never applies: local_ratelimit without `filter_enforced` (defaults to 0% of requests) or a `token_bucket` and without per-route configuration, or the global ratelimit filter without `rate_limits` actions on any route.",
                        )
                        .with_confidence(Confidence::Medium),
                    ),
                }
            }
        }
    }
}

fn envoy004_admin_exposed(c: &EnvoyConfig, hits: &mut Vec<Hit>) {
    let Some(admin) = &c.admin else {
        return;
    };
    if admin.address.is_loopback() {
        return;
    }
    let all = matches!(admin.address.address.as_str(), "0.0.0.0" | "::" | "[::]");
    hits.push(Hit::new(
        admin.pointer.clone(),
        format!(
            "The Envoy admin interface listens on {}",
            admin.address.display()
        ),
        format!(
            "admin.address is {}{}; anyone who reaches it can read /config_dump and /clusters, change runtime values and POST /quitquitquit.",
            admin.address.display(),
            if all { " (every interface)" } else { "" }
        ),
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(yaml: &str) -> EnvoyConfig {
        EnvoyConfig::parse(yaml, "envoy.yaml").unwrap()
    }

    #[test]
    fn local_rate_limit_without_enforcement_is_inert_and_per_route_config_enforces() {
        let base = r#"
static_resources:
  listeners:
  - name: l
    address: { socket_address: { address: 0.0.0.0, port_value: 8443 } }
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: x
          route_config:
            virtual_hosts:
            - name: v
              domains: ["*"]
              routes:
              - match: { prefix: "/" }
                route: { cluster: c }
                PER_ROUTE
          http_filters:
          - name: envoy.filters.http.local_ratelimit
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit
              stat_prefix: rl
          - name: envoy.filters.http.router
            typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router }
"#;
        let inert = parse(&base.replace("PER_ROUTE", ""));
        assert_eq!(
            inert.listeners[0].chains[0].http[0].rate_limit,
            RateLimitState::Inert
        );
        let per_route = base.replace(
            "PER_ROUTE",
            r#"typed_per_filter_config:
                  envoy.filters.http.local_ratelimit:
                    "@type": type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit
                    stat_prefix: rl
                    token_bucket: { max_tokens: 100, tokens_per_fill: 100, fill_interval: 60s }"#,
        );
        assert_eq!(
            parse(&per_route).listeners[0].chains[0].http[0].rate_limit,
            RateLimitState::Enforced
        );
    }

    #[test]
    fn loopback_and_internal_listeners_are_not_exposed() {
        let c = parse(
            r#"
listeners:
- name: sidecar
  address: { socket_address: { address: 127.0.0.1, port_value: 15001 } }
  filter_chains: [ { filters: [ { name: envoy.filters.network.tcp_proxy } ] } ]
- name: v6
  address: { socket_address: { address: "::1", port_value: 15002 } }
  filter_chains: [ { filters: [] } ]
- name: internal
  internal_listener: {}
  filter_chains: [ { filters: [] } ]
- name: public
  address: { socket_address: { address: "::", port_value: 80 } }
  filter_chains: [ { filters: [ { name: envoy.filters.network.tcp_proxy } ] } ]
clusters:
- name: c
  load_assignment: { cluster_name: c }
"#,
        );
        let exposed: Vec<&str> = c.exposed_listeners().map(|l| l.name.as_str()).collect();
        assert_eq!(exposed, ["public"]);
        let mut hits = Vec::new();
        envoy001_listener_without_tls(&c, &mut hits);
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].pointer, "/listeners/3/filter_chains/0");
        assert!(hits[0].detail.contains("plain TCP"), "{}", hits[0].detail);
    }

    #[test]
    fn upstream_tls_grades_chain_and_name_verification() {
        let tls = |common: &str| {
            let v: Value = yaml_serde::from_str(&format!(
                "name: envoy.transport_sockets.tls\ntyped_config:\n  \"@type\": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext\n  common_tls_context: {common}\n"
            ))
            .unwrap();
            let t = parse_upstream_tls(&v, "/p".into());
            (t.verifies_chain, t.verifies_name)
        };
        assert_eq!(tls("{}"), (false, false));
        assert_eq!(
            tls("{ validation_context: { trusted_ca: { filename: /etc/ca.pem } } }"),
            (true, false)
        );
        assert_eq!(
            tls(
                "{ validation_context: { trusted_ca: { filename: /etc/ca.pem }, trust_chain_verification: ACCEPT_UNTRUSTED, match_typed_subject_alt_names: [ { san_type: DNS, matcher: { exact: a.example } } ] } }"
            ),
            (false, true)
        );
        assert_eq!(
            tls("{ validation_context_sds_secret_config: { name: ca } }"),
            (true, true)
        );
        assert_eq!(
            tls(
                "{ combined_validation_context: { default_validation_context: { match_typed_subject_alt_names: [ { san_type: DNS, matcher: { exact: a } } ] }, validation_context_sds_secret_config: { name: ca } } }"
            ),
            (true, true)
        );
    }

    #[test]
    fn admin_on_loopback_or_a_pipe_is_fine() {
        for (yaml, fires) in [
            (
                "admin: { address: { socket_address: { address: 127.0.0.1, port_value: 9901 } } }\nstatic_resources: {}\n",
                false,
            ),
            (
                "admin: { address: { pipe: { path: /var/run/envoy-admin.sock } } }\nstatic_resources: {}\n",
                false,
            ),
            (
                "admin: { address: { socket_address: { address: 0.0.0.0, port_value: 9901 } } }\nstatic_resources: {}\n",
                true,
            ),
            (
                "admin: { address: { socket_address: { address: 10.0.0.5, port_value: 9901 } } }\nstatic_resources: {}\n",
                true,
            ),
        ] {
            let mut hits = Vec::new();
            envoy004_admin_exposed(&parse(yaml), &mut hits);
            assert_eq!(!hits.is_empty(), fires, "{yaml}");
        }
    }

    #[test]
    fn a_non_envoy_document_is_refused() {
        let err = EnvoyConfig::parse("hello: world\n", "x.yaml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("x.yaml") && err.contains("Envoy"), "{err}");
    }
}
