//! Security schemes (3.x `components.securitySchemes`, 2.0 `securityDefinitions`) and
//! security requirements.

use std::collections::BTreeMap;

use serde_json::Value;

use super::Importer;
use crate::error::SpecError;
use crate::model::{
    ApiKeyLocation, OAuthFlow, SecurityRequirement, SecurityScheme, SecuritySchemeKind, SpecVersion,
};
use crate::node::{Node, kind_of};

impl<'d> Importer<'d> {
    pub(super) fn security_schemes(
        &mut self,
        root: &Node<'d>,
    ) -> Result<BTreeMap<String, SecurityScheme>, SpecError> {
        let container = match self.version {
            SpecVersion::Swagger2 => root.get("securityDefinitions"),
            _ => root
                .get("components")
                .and_then(|c| c.get("securitySchemes")),
        };
        let mut schemes = BTreeMap::new();
        let Some(container) = container else {
            return Ok(schemes);
        };
        let entries: Vec<_> = container.entries().collect();
        for (name, node) in entries {
            let node = self.deref(node)?;
            if let Some(scheme) = self.security_scheme(&node) {
                schemes.insert(name.to_owned(), scheme);
            }
        }
        Ok(schemes)
    }

    fn security_scheme(&mut self, node: &Node<'d>) -> Option<SecurityScheme> {
        if !node.value.is_object() {
            self.warn(node, "a security scheme must be an object; skipped");
            return None;
        }
        let Some(kind_name) = self.opt_str(node, "type") else {
            self.warn(node, "security scheme without \"type\"; skipped");
            return None;
        };
        let kind = match kind_name {
            "apiKey" => {
                let name = self.opt_str(node, "name");
                let location = match self.opt_str(node, "in") {
                    Some("query") => Some(ApiKeyLocation::Query),
                    Some("header") => Some(ApiKeyLocation::Header),
                    Some("cookie") => Some(ApiKeyLocation::Cookie),
                    _ => None,
                };
                match (name, location) {
                    (Some(name), Some(location)) => SecuritySchemeKind::ApiKey {
                        name: name.to_owned(),
                        location,
                    },
                    _ => {
                        self.warn(
                            node,
                            "apiKey scheme needs \"name\" and \"in\" (query, header or cookie); skipped",
                        );
                        return None;
                    }
                }
            }
            "basic" => SecuritySchemeKind::Http {
                scheme: "basic".to_owned(),
                bearer_format: None,
            },
            "http" => {
                let Some(scheme) = self.opt_str(node, "scheme") else {
                    self.warn(node, "http scheme without \"scheme\"; skipped");
                    return None;
                };
                SecuritySchemeKind::Http {
                    scheme: scheme.to_ascii_lowercase(),
                    bearer_format: self.opt_str(node, "bearerFormat").map(str::to_owned),
                }
            }
            "oauth2" => SecuritySchemeKind::OAuth2 {
                flows: self.oauth_flows(node),
            },
            "openIdConnect" => SecuritySchemeKind::OpenIdConnect {
                url: self
                    .opt_str(node, "openIdConnectUrl")
                    .unwrap_or_default()
                    .to_owned(),
            },
            "mutualTLS" => SecuritySchemeKind::MutualTls,
            other => {
                self.warn(
                    node,
                    format!("unknown security scheme type \"{other}\"; skipped"),
                );
                return None;
            }
        };
        Some(SecurityScheme {
            kind,
            description: self.opt_str(node, "description").map(str::to_owned),
            deprecated: self.flag(node, "deprecated"),
            pointer: self.display(node),
        })
    }

    fn oauth_flows(&mut self, node: &Node<'d>) -> Vec<OAuthFlow> {
        let scopes_of = |flow: &Node<'d>| -> Vec<String> {
            flow.value
                .get("scopes")
                .and_then(Value::as_object)
                .map(|m| m.keys().cloned().collect())
                .unwrap_or_default()
        };
        if self.version == SpecVersion::Swagger2 {
            let flow = match self.opt_str(node, "flow") {
                Some("application") => "clientCredentials",
                Some("accessCode") => "authorizationCode",
                Some(other) => other,
                None => "",
            };
            return vec![OAuthFlow {
                flow: flow.to_owned(),
                authorization_url: self.opt_str(node, "authorizationUrl").map(str::to_owned),
                token_url: self.opt_str(node, "tokenUrl").map(str::to_owned),
                scopes: scopes_of(node),
            }];
        }
        let Some(flows) = node.get("flows") else {
            return Vec::new();
        };
        let entries: Vec<_> = flows.entries().collect();
        let mut out = Vec::with_capacity(entries.len());
        for (name, flow) in entries {
            out.push(OAuthFlow {
                flow: name.to_owned(),
                authorization_url: self.opt_str(&flow, "authorizationUrl").map(str::to_owned),
                token_url: self.opt_str(&flow, "tokenUrl").map(str::to_owned),
                scopes: scopes_of(&flow),
            });
        }
        out
    }

    /// A `security` array; `None` (with a warning) when it is malformed.
    pub(super) fn security_requirements(
        &mut self,
        node: &Node<'d>,
        schemes: &BTreeMap<String, SecurityScheme>,
    ) -> Option<Vec<SecurityRequirement>> {
        if !node.value.is_array() {
            self.warn(
                node,
                format!(
                    "security must be an array, found {}; ignored",
                    kind_of(node.value)
                ),
            );
            return None;
        }
        let mut out = Vec::new();
        for entry in node.items() {
            if !entry.value.is_object() {
                self.warn(&entry, "a security requirement must be an object; skipped");
                continue;
            }
            let mut requirement = SecurityRequirement::default();
            let members: Vec<_> = entry.entries().collect();
            for (name, scopes) in members {
                if !schemes.contains_key(name) {
                    self.warn(
                        &scopes,
                        format!("security scheme \"{name}\" is not defined"),
                    );
                }
                let scopes = scopes
                    .value
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(Value::as_str)
                            .map(str::to_owned)
                            .collect()
                    })
                    .unwrap_or_default();
                requirement.schemes.insert(name.to_owned(), scopes);
            }
            out.push(requirement);
        }
        Some(out)
    }
}
