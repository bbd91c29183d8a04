//! Azure API Management: checks over an ARM template (or Bicep compiled to JSON) that declares
//! `Microsoft.ApiManagement/service` and its child resources. These generalise Defender for APIs'
//! gateway-configuration recommendations (reference/defender-and-peers.md §4, #7–#14).
//!
//! Resources may be top-level (full type `Microsoft.ApiManagement/service/apis`) or nested in
//! their parent's `resources` (relative type `apis`); `resources` may be an array or, in Bicep's
//! symbolic-name output (`languageVersion: 2.0`), an object. Values that are ARM expressions
//! (`[parameters('x')]`) are treated as unknown and never fire a rule on their own.

use gw_model::{Confidence, OwaspApi2023 as Owasp, Severity};
use serde_json::{Map, Value};

use crate::PostureError;
use crate::rule::{ConfigRule, Hit, Rule, RuleMeta, escape_token};

/// One ARM resource with its full type and pointer.
#[derive(Debug, Clone)]
pub struct ArmResource {
    /// Full type, lower-cased: `microsoft.apimanagement/service/backends`.
    pub full_type: String,
    /// The `name` as written (often an expression).
    pub name: String,
    /// The last identifier in `name` (`access` for `[concat(parameters('s'), '/access')]`).
    pub short_name: String,
    /// `properties`, or `Null`.
    pub properties: Value,
    /// JSON pointer of the resource.
    pub pointer: String,
}

/// A parsed ARM template, flattened to its API Management resources.
#[derive(Debug, Clone)]
pub struct ApimTemplate {
    pub resources: Vec<ArmResource>,
}

const SERVICE: &str = "microsoft.apimanagement/service";

/// True when a JSON object is an ARM template that declares API Management resources.
pub fn is_apim_template(map: &Map<String, Value>) -> bool {
    let mut found = false;
    if let Some(resources) = map.get("resources") {
        for_each_resource(resources, "", "", &mut |t, _, _| {
            found |= t.starts_with(SERVICE)
        });
    }
    found
}

fn for_each_resource(
    resources: &Value,
    parent_type: &str,
    pointer: &str,
    f: &mut dyn FnMut(String, &Value, String),
) {
    let entries: Vec<(String, &Value)> = match resources {
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, v)| (i.to_string(), v))
            .collect(),
        Value::Object(map) => map.iter().map(|(k, v)| (escape_token(k), v)).collect(),
        _ => Vec::new(),
    };
    for (token, res) in entries {
        let Some(kind) = res.get("type").and_then(Value::as_str) else {
            continue;
        };
        // A child resource nested in its parent's `resources` has a relative type (`apis`).
        let full = if kind.contains('/') || parent_type.is_empty() {
            kind.to_ascii_lowercase()
        } else {
            format!("{parent_type}/{}", kind.to_ascii_lowercase())
        };
        let here = format!("{pointer}/resources/{token}");
        f(full.clone(), res, here.clone());
        if let Some(children) = res.get("resources") {
            for_each_resource(children, &full, &here, f);
        }
    }
}

fn last_identifier(name: &str) -> String {
    name.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
        .rfind(|t| !t.is_empty())
        .unwrap_or("")
        .to_owned()
}

impl ApimTemplate {
    pub fn parse(text: &str, file: &str) -> Result<Self, PostureError> {
        let doc: Value = serde_json::from_str(text).map_err(|e| PostureError::Syntax {
            file: file.to_owned(),
            line: e.line(),
            reason: format!("invalid JSON: {e}"),
        })?;
        let Some(map) = doc.as_object().filter(|m| is_apim_template(m)) else {
            return Err(PostureError::WrongShape {
                file: file.to_owned(),
                kind: "Azure API Management ARM template",
                reason: "no resource of type Microsoft.ApiManagement/service* in `resources`"
                    .to_owned(),
            });
        };
        let mut resources = Vec::new();
        if let Some(r) = map.get("resources") {
            for_each_resource(r, "", "", &mut |full_type, res, pointer| {
                if full_type.starts_with(SERVICE) {
                    let name = res
                        .get("name")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_owned();
                    resources.push(ArmResource {
                        short_name: last_identifier(&name),
                        name,
                        full_type,
                        properties: res.get("properties").cloned().unwrap_or(Value::Null),
                        pointer,
                    });
                }
            });
        }
        Ok(ApimTemplate { resources })
    }

    fn of_type<'a>(&'a self, suffix: &'a str) -> impl Iterator<Item = &'a ArmResource> + 'a {
        let want = if suffix.is_empty() {
            SERVICE.to_owned()
        } else {
            format!("{SERVICE}/{suffix}")
        };
        self.resources.iter().filter(move |r| r.full_type == want)
    }
}

fn is_expression(v: &Value) -> bool {
    v.as_str()
        .is_some_and(|s| s.starts_with('[') && !s.starts_with("[["))
}

fn display_name(r: &ArmResource) -> String {
    if r.short_name.is_empty() {
        r.name.clone()
    } else {
        r.short_name.clone()
    }
}

const DEFENDER: &str =
    "https://learn.microsoft.com/azure/defender-for-cloud/recommendations-reference-api";
const APIM_SECURITY: &str =
    "https://learn.microsoft.com/azure/api-management/security-controls-policy";

/// The references of every API Management rule.
const APIM_REFERENCES: &[&str] = &[DEFENDER, APIM_SECURITY];

/// API Management rules, in id order.
pub static APIM_RULES: &[ConfigRule<ApimTemplate>] = &[
    Rule {
        meta: config_rule_meta!(
            "GW-C-APIM-001",
            "SubscriptionScopedToAllApis",
            Medium,
            [Api3, Api5],
            "An API Management subscription is scoped to all APIs",
            "Scope subscriptions to a product (`/products/{id}`) or a single API (`/apis/{id}`) instead of `/apis`.",
            APIM_REFERENCES
        ),
        check: apim001_subscription_all_apis,
    },
    Rule {
        meta: config_rule_meta!(
            "GW-C-APIM-002",
            "BackendTlsValidationDisabled",
            Medium,
            [Api8, Api10],
            "A backend skips TLS certificate chain or name validation",
            "Set `tls.validateCertificateChain` and `tls.validateCertificateName` to true on the backend and give the backend a certificate trusted by API Management.",
            APIM_REFERENCES
        ),
        check: apim002_backend_tls,
    },
    Rule {
        meta: config_rule_meta!(
            "GW-C-APIM-003",
            "DirectManagementEndpointEnabled",
            Low,
            [Api8],
            "The direct management REST API endpoint is enabled",
            "Disable the direct management API (`Microsoft.ApiManagement/service/tenant` `access`: `enabled: false`) and manage the service through Azure Resource Manager.",
            APIM_REFERENCES
        ),
        check: apim003_direct_management,
    },
    Rule {
        meta: config_rule_meta!(
            "GW-C-APIM-004",
            "NonHttpsProtocols",
            High,
            [Api8],
            "An API accepts unencrypted protocols (http or ws)",
            "Set the API's `protocols` to `[\"https\"]` (and `wss` for WebSocket APIs) only.",
            APIM_REFERENCES
        ),
        check: apim004_protocols,
    },
    Rule {
        meta: config_rule_meta!(
            "GW-C-APIM-005",
            "SecretNamedValueNotInKeyVault",
            Medium,
            [Api8],
            "A secret named value is stored inline instead of referencing Azure Key Vault",
            "Store the secret in Key Vault and set `keyVault.secretIdentifier` on the named value; remove `value` from the template.",
            APIM_REFERENCES
        ),
        check: apim005_named_values,
    },
    Rule {
        meta: config_rule_meta!(
            "GW-C-APIM-006",
            "PublicConfigurationEndpoints",
            Medium,
            [Api8],
            "Service configuration endpoints (direct management, Git, self-hosted gateway configuration) are reachable from the public network",
            "Set `publicNetworkAccess: Disabled` (reach the service through a private endpoint) and disable Git configuration access (`tenant/gitAccess` `enabled: false`).",
            APIM_REFERENCES
        ),
        check: apim006_public_configuration,
    },
    Rule {
        meta: config_rule_meta!(
            "GW-C-APIM-007",
            "MinimumApiVersionTooLow",
            Medium,
            [Api8],
            "The minimum control-plane API version is unset or older than 2019-12-01",
            "Set `apiVersionConstraint.minApiVersion` to `2019-12-01` or later so old API versions cannot read secrets.",
            APIM_REFERENCES
        ),
        check: apim007_min_api_version,
    },
    Rule {
        meta: config_rule_meta!(
            "GW-C-APIM-008",
            "UnauthenticatedBackend",
            Medium,
            [Api10, Api2],
            "Calls from API Management to a backend carry no credentials",
            "Configure backend credentials: a client certificate (`credentials.certificateIds`), an authorization header, or managed-identity authentication in policy.",
            APIM_REFERENCES
        ),
        check: apim008_unauthenticated_backend,
    },
    Rule {
        meta: config_rule_meta!(
            "GW-C-APIM-009",
            "PlainHttpBackend",
            Medium,
            [Api8, Api10],
            "A backend or API service URL uses plain HTTP",
            "Use an `https://` backend URL so traffic between API Management and the backend is encrypted.",
            APIM_REFERENCES
        ),
        check: apim009_plain_http_backend,
    },
    Rule {
        meta: config_rule_meta!(
            "GW-C-APIM-010",
            "UnauthenticatedApi",
            High,
            [Api2],
            "An API requires no subscription key and no policy in its scope validates a token or client certificate",
            "Set `subscriptionRequired: true`, or add `validate-jwt` / `validate-azure-ad-token` / `validate-client-certificate` to the API (or global) policy.",
            APIM_REFERENCES
        ),
        check: apim010_unauthenticated_api,
    },
];

fn apim001_subscription_all_apis(t: &ApimTemplate, hits: &mut Vec<Hit>) {
    for r in t.of_type("subscriptions") {
        let Some(scope) = r.properties.get("scope").and_then(Value::as_str) else {
            continue;
        };
        let s = scope
            .trim_end_matches([']', ')', '\''])
            .trim_end_matches('/');
        if s.ends_with("/apis") || s == "/apis" {
            hits.push(Hit::new(
                format!("{}/properties/scope", r.pointer),
                format!("Subscription `{}` is scoped to all APIs", display_name(r)),
                format!("`scope: {scope}`: one key grants access to every API of the service, current and future."),
            ));
        }
    }
}

fn apim002_backend_tls(t: &ApimTemplate, hits: &mut Vec<Hit>) {
    for r in t.of_type("backends") {
        let Some(tls) = r.properties.get("tls") else {
            continue;
        };
        let off: Vec<&str> = ["validateCertificateChain", "validateCertificateName"]
            .into_iter()
            .filter(|k| tls.get(*k).and_then(Value::as_bool) == Some(false))
            .collect();
        if !off.is_empty() {
            hits.push(Hit::new(
                format!("{}/properties/tls", r.pointer),
                format!(
                    "Backend `{}` disables TLS certificate validation",
                    display_name(r)
                ),
                format!(
                    "{} set to false: a man in the middle can impersonate the backend.",
                    off.join(" and ")
                ),
            ));
        }
    }
}

fn apim003_direct_management(t: &ApimTemplate, hits: &mut Vec<Hit>) {
    for r in t.of_type("tenant").filter(|r| r.short_name == "access") {
        if r.properties.get("enabled").and_then(Value::as_bool) == Some(true) {
            hits.push(Hit::new(
                format!("{}/properties/enabled", r.pointer),
                "The direct management API endpoint is enabled",
                "`tenant/access` has `enabled: true`: the direct management REST API bypasses Azure RBAC and ARM throttling.",
            ));
        }
    }
}

fn apim004_protocols(t: &ApimTemplate, hits: &mut Vec<Hit>) {
    for r in t.of_type("apis") {
        let Some(protocols) = r.properties.get("protocols").and_then(Value::as_array) else {
            continue;
        };
        let plain: Vec<&str> = protocols
            .iter()
            .filter_map(Value::as_str)
            .filter(|p| matches!(p.to_ascii_lowercase().as_str(), "http" | "ws"))
            .collect();
        if !plain.is_empty() {
            hits.push(Hit::new(
                format!("{}/properties/protocols", r.pointer),
                format!(
                    "API `{}` accepts unencrypted {}",
                    display_name(r),
                    plain.join("/")
                ),
                format!(
                    "`protocols` includes {}: credentials and data can travel in clear text.",
                    plain.join(", ")
                ),
            ));
        }
    }
}

fn apim005_named_values(t: &ApimTemplate, hits: &mut Vec<Hit>) {
    for r in t.of_type("namedvalues").chain(t.of_type("properties")) {
        let secret = r.properties.get("secret").and_then(Value::as_bool) == Some(true);
        let in_vault = r
            .properties
            .pointer("/keyVault/secretIdentifier")
            .and_then(Value::as_str)
            .is_some_and(|s| !s.is_empty());
        if secret && !in_vault {
            let name = r
                .properties
                .get("displayName")
                .and_then(Value::as_str)
                .map_or_else(|| display_name(r), str::to_owned);
            hits.push(Hit::new(
                r.pointer.clone(),
                format!("Secret named value `{name}` is stored inline, not in Key Vault"),
                "`secret: true` without `keyVault.secretIdentifier`: the secret lives in API Management (and in this template or its parameters) without rotation or access auditing.",
            ));
        }
    }
}

fn apim006_public_configuration(t: &ApimTemplate, hits: &mut Vec<Hit>) {
    for r in t.of_type("") {
        match r.properties.get("publicNetworkAccess") {
            Some(v) if is_expression(v) => {}
            Some(Value::String(s)) if s.eq_ignore_ascii_case("disabled") => {}
            Some(v) => hits.push(Hit::new(
                format!("{}/properties/publicNetworkAccess", r.pointer),
                format!("Service `{}` allows public network access to its configuration endpoints", display_name(r)),
                format!("`publicNetworkAccess: {v}`: the management, Git and self-hosted gateway configuration endpoints are reachable from the internet."),
            )),
            None => hits.push(
                Hit::new(
                    r.pointer.clone(),
                    format!("Service `{}` allows public network access to its configuration endpoints", display_name(r)),
                    "`publicNetworkAccess` is not set and defaults to Enabled: the configuration endpoints are reachable from the internet.",
                )
                .with_confidence(Confidence::Medium),
            ),
        }
    }
    for r in t.of_type("tenant").filter(|r| r.short_name == "gitAccess") {
        if r.properties.get("enabled").and_then(Value::as_bool) == Some(true) {
            hits.push(Hit::new(
                format!("{}/properties/enabled", r.pointer),
                "The Git configuration endpoint is enabled",
                "`tenant/gitAccess` has `enabled: true`: the service configuration can be read and pushed over Git.",
            ));
        }
    }
}

/// ARM API versions are dates with an optional `-preview` suffix, so they order as strings.
const MIN_API_VERSION: &str = "2019-12-01";

fn apim007_min_api_version(t: &ApimTemplate, hits: &mut Vec<Hit>) {
    for r in t.of_type("") {
        match r.properties.pointer("/apiVersionConstraint/minApiVersion") {
            Some(v) if is_expression(v) => {}
            Some(Value::String(v)) if v.as_str() >= MIN_API_VERSION => {}
            Some(v) => hits.push(Hit::new(
                format!("{}/properties/apiVersionConstraint/minApiVersion", r.pointer),
                format!("Service `{}` allows control-plane API versions older than {MIN_API_VERSION}", display_name(r)),
                format!("`minApiVersion: {v}`: API versions before {MIN_API_VERSION} return secrets to read-only users."),
            )),
            None => hits.push(Hit::new(
                r.pointer.clone(),
                format!("Service `{}` sets no minimum control-plane API version", display_name(r)),
                format!("`apiVersionConstraint.minApiVersion` is not set: API versions before {MIN_API_VERSION} return secrets to read-only users."),
            )),
        }
    }
}

fn has_credentials(props: &Value) -> bool {
    let Some(c) = props.get("credentials").and_then(Value::as_object) else {
        return false;
    };
    let non_empty = |v: &Value| match v {
        Value::Null => false,
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        Value::String(s) => !s.is_empty(),
        _ => true,
    };
    [
        "certificate",
        "certificateIds",
        "header",
        "query",
        "authorization",
    ]
    .iter()
    .any(|k| c.get(*k).is_some_and(non_empty))
}

fn apim008_unauthenticated_backend(t: &ApimTemplate, hits: &mut Vec<Hit>) {
    for r in t.of_type("backends") {
        // Service Fabric backends authenticate with the cluster's management certificate
        // (excluded by Defender's recommendation as well).
        if r.properties
            .pointer("/properties/serviceFabricCluster")
            .is_some()
        {
            continue;
        }
        if !has_credentials(&r.properties) {
            let url = r
                .properties
                .get("url")
                .and_then(Value::as_str)
                .unwrap_or("?");
            hits.push(Hit::new(
                r.pointer.clone(),
                format!("Backend `{}` is called without credentials", display_name(r)),
                format!("Backend `{url}` has no certificate, header, query or authorization credentials: anyone who reaches it directly can call it."),
            ));
        }
    }
}

fn apim009_plain_http_backend(t: &ApimTemplate, hits: &mut Vec<Hit>) {
    let plain = |v: Option<&Value>| {
        v.and_then(Value::as_str)
            .filter(|u| u.to_ascii_lowercase().starts_with("http://"))
            .map(str::to_owned)
    };
    for r in t.of_type("backends") {
        if let Some(url) = plain(r.properties.get("url")) {
            hits.push(Hit::new(
                format!("{}/properties/url", r.pointer),
                format!("Backend `{}` uses plain HTTP", display_name(r)),
                format!("Backend URL `{url}` is not encrypted."),
            ));
        }
    }
    for r in t.of_type("apis") {
        if let Some(url) = plain(r.properties.get("serviceUrl")) {
            hits.push(Hit::new(
                format!("{}/properties/serviceUrl", r.pointer),
                format!(
                    "API `{}` forwards to a plain-HTTP service URL",
                    display_name(r)
                ),
                format!("`serviceUrl: {url}` is not encrypted."),
            ));
        }
    }
}

const AUTH_POLICIES: &[&str] = &[
    "<validate-jwt",
    "<validate-azure-ad-token",
    "<validate-client-certificate",
];

fn policy_authenticates(r: &ArmResource) -> bool {
    r.properties
        .get("value")
        .and_then(Value::as_str)
        .is_some_and(|xml| AUTH_POLICIES.iter().any(|p| xml.contains(p)))
}

/// True when the name expression of a child resource names `api` as one of its segments
/// (`[concat(parameters('s'), '/orders-api/policy')]`, `svc/orders-api/policy`).
fn names_api(child: &str, api: &str) -> bool {
    !api.is_empty()
        && child
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
            .any(|t| t == api)
}

fn apim010_unauthenticated_api(t: &ApimTemplate, hits: &mut Vec<Hit>) {
    let global = t.of_type("policies").any(policy_authenticates);
    for api in t.of_type("apis") {
        if api
            .properties
            .get("subscriptionRequired")
            .and_then(Value::as_bool)
            != Some(false)
            || global
        {
            continue;
        }
        let nested = format!("{}/resources/", api.pointer);
        let api_policy = t
            .resources
            .iter()
            .filter(|r| {
                r.full_type.ends_with("/apis/policies")
                    || r.full_type.ends_with("/apis/operations/policies")
            })
            .any(|r| {
                (r.pointer.starts_with(&nested) || names_api(&r.name, &api.short_name))
                    && policy_authenticates(r)
            });
        if !api_policy {
            hits.push(Hit::new(
                format!("{}/properties/subscriptionRequired", api.pointer),
                format!("API `{}` accepts calls without any credential", display_name(api)),
                "`subscriptionRequired: false` and no validate-jwt, validate-azure-ad-token or validate-client-certificate policy applies to the API in this template.",
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_identifier_reads_arm_name_expressions() {
        assert_eq!(
            last_identifier("[concat(parameters('svc'), '/access')]"),
            "access"
        );
        assert_eq!(last_identifier("contoso/gitAccess"), "gitAccess");
        assert_eq!(
            last_identifier("[format('{0}/{1}', parameters('s'), 'my-api')]"),
            "my-api"
        );
    }

    #[test]
    fn nested_and_symbolic_resources_are_flattened() {
        let text = r#"{"languageVersion":"2.0","resources":{"svc":{"type":"Microsoft.ApiManagement/service","name":"s",
          "properties":{"publicNetworkAccess":"Disabled","apiVersionConstraint":{"minApiVersion":"2021-08-01"}},
          "resources":[{"type":"apis","name":"s/a","properties":{"protocols":["http"]}}]}}}"#;
        let t = ApimTemplate::parse(text, "t.json").unwrap();
        let types: Vec<&str> = t.resources.iter().map(|r| r.full_type.as_str()).collect();
        assert_eq!(
            types,
            vec![
                "microsoft.apimanagement/service",
                "microsoft.apimanagement/service/apis"
            ]
        );
        assert_eq!(t.resources[1].pointer, "/resources/svc/resources/0");
        let mut hits = Vec::new();
        apim004_protocols(&t, &mut hits);
        assert_eq!(hits.len(), 1);
        assert_eq!(
            hits[0].pointer,
            "/resources/svc/resources/0/properties/protocols"
        );
    }
}
