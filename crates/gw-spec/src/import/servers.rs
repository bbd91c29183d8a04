//! Servers: 3.x `servers` (root, path item, operation) and Swagger 2.0 host + basePath + schemes.

use serde_json::Value;

use super::Importer;
use crate::error::SpecError;
use crate::model::Server;
use crate::node::{Node, kind_of};

impl<'d> Importer<'d> {
    pub(super) fn swagger_servers(&mut self, root: &Node<'d>) -> Vec<Server> {
        let host = self.opt_str(root, "host");
        let base_path = self.opt_str(root, "basePath").unwrap_or_default();
        if !base_path.is_empty() && !base_path.starts_with('/') {
            let at = root.get("basePath").unwrap_or(root.clone());
            self.warn(&at, "basePath must start with \"/\"");
        }
        let schemes = self.string_list(root, "schemes");
        let pointer = if host.is_some() {
            root.child_ptr("host")
        } else if root.get("basePath").is_some() {
            root.child_ptr("basePath")
        } else {
            String::new()
        };
        let base = normalise_base_path(base_path);
        let Some(host) = host else {
            return vec![Server {
                url: if base.is_empty() {
                    "/".to_owned()
                } else {
                    base.clone()
                },
                base_path: base,
                host: None,
                scheme: None,
                pointer,
            }];
        };
        if schemes.is_empty() {
            return vec![Server {
                url: format!("//{host}{base}"),
                base_path: base,
                host: Some(host.to_owned()),
                scheme: None,
                pointer,
            }];
        }
        schemes
            .iter()
            .map(|scheme| Server {
                url: format!("{scheme}://{host}{base}"),
                base_path: base.clone(),
                host: Some(host.to_owned()),
                scheme: Some(scheme.to_ascii_lowercase()),
                pointer: pointer.clone(),
            })
            .collect()
    }

    /// `servers` of the root, a path item or an operation (3.x).
    pub(super) fn servers(&mut self, parent: &Node<'d>) -> Result<Vec<Server>, SpecError> {
        let Some(list) = parent.get("servers") else {
            return Ok(Vec::new());
        };
        if !list.value.is_array() {
            self.warn(
                &list,
                format!("servers must be an array, found {}", kind_of(list.value)),
            );
            return Ok(Vec::new());
        }
        let mut servers = Vec::new();
        for entry in list.items() {
            let entry = self.deref(entry)?;
            let Some(url) = self.opt_str(&entry, "url") else {
                self.warn(&entry, "server without a \"url\"; skipped");
                continue;
            };
            let url = self.substitute_server_variables(&entry, url);
            servers.push(server_from_url(&url, entry.ptr.clone()));
        }
        Ok(servers)
    }

    fn substitute_server_variables(&mut self, server: &Node<'d>, url: &str) -> String {
        if !url.contains('{') {
            return url.to_owned();
        }
        let variables = server.get("variables");
        let mut out = String::with_capacity(url.len());
        let mut rest = url;
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            let Some(close) = rest[open..].find('}') else {
                out.push_str(&rest[open..]);
                rest = "";
                break;
            };
            let name = &rest[open + 1..open + close];
            let default = variables
                .as_ref()
                .and_then(|v| v.value.get(name))
                .and_then(|v| v.get("default"))
                .and_then(Value::as_str);
            match default {
                Some(value) => out.push_str(value),
                None => {
                    self.warn(
                        server,
                        format!("server variable \"{name}\" has no default; kept as written"),
                    );
                    out.push_str(&rest[open..open + close + 1]);
                }
            }
            rest = &rest[open + close + 1..];
        }
        out.push_str(rest);
        out
    }
}

/// A server from its URL: scheme, host and base path split out.
pub(super) fn server_from_url(url: &str, pointer: String) -> Server {
    let (scheme, rest) = match url.split_once("://") {
        Some((scheme, rest)) if !scheme.contains('/') => (Some(scheme.to_ascii_lowercase()), rest),
        _ => (None, url),
    };
    let (host, path) = if scheme.is_some() {
        match rest.find('/') {
            Some(i) => (Some(&rest[..i]), &rest[i..]),
            None => (Some(rest), ""),
        }
    } else if let Some(after) = rest.strip_prefix("//") {
        match after.find('/') {
            Some(i) => (Some(&after[..i]), &after[i..]),
            None => (Some(after), ""),
        }
    } else {
        (None, rest)
    };
    let path = path.split(['?', '#']).next().unwrap_or_default();
    Server {
        url: url.to_owned(),
        base_path: normalise_base_path(path),
        host: host.filter(|h| !h.is_empty()).map(str::to_owned),
        scheme,
        pointer,
    }
}

/// `"/v1/"` → `"/v1"`, `"v1"` → `"/v1"`, `"/"` → `""`.
fn normalise_base_path(path: &str) -> String {
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        String::new()
    } else if trimmed.starts_with('/') {
        trimmed.to_owned()
    } else {
        format!("/{trimmed}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_urls() {
        let s = server_from_url("https://api.example.com/v1/", String::new());
        assert_eq!(s.base_path, "/v1");
        assert_eq!(s.host.as_deref(), Some("api.example.com"));
        assert_eq!(s.scheme.as_deref(), Some("https"));
        let s = server_from_url("/api/v3", String::new());
        assert_eq!((s.base_path.as_str(), s.host), ("/api/v3", None));
        let s = server_from_url("http://localhost:8080", String::new());
        assert_eq!(s.base_path, "");
        let s = server_from_url("//cdn.example.com/x", String::new());
        assert_eq!(s.host.as_deref(), Some("cdn.example.com"));
        assert_eq!(s.base_path, "/x");
    }
}
