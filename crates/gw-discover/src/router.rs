//! The spec router: declared operations in a routing tree (one per declared host, plus one for
//! specs whose servers name no host), matched segment by segment with literal-first
//! backtracking, as OpenAPI prescribes (`/users/me` wins over `/users/{id}`).

use std::sync::Arc;

use gw_spec::{ApiSpec, Operation};
use serde::{Deserialize, Serialize};

use crate::fxhash::FxMap;
use crate::method::Method;

/// One declared operation under one server base path.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpecDeclaration {
    /// The API (spec title, else its file name).
    pub api: String,
    /// The host the server names, `None` = any host.
    pub host: Option<String>,
    pub method: Method,
    /// Server base path + path template (`/v1/users/{id}`).
    pub template: String,
    pub operation_id: Option<String>,
    pub deprecated: bool,
    pub requires_auth: bool,
    /// JSON pointer of the operation in its document.
    pub pointer: String,
    pub source_file: String,
}

/// A path parameter position of a declared template.
#[derive(Clone, Debug)]
pub(crate) struct SpecParam {
    pub name: Arc<str>,
}

#[derive(Clone, Debug)]
pub(crate) struct SpecRoute {
    pub declaration: SpecDeclaration,
    /// (depth, parameter) of each templated segment.
    pub params: Vec<(u16, SpecParam)>,
}

/// A templated segment: `{id}`, or `{name}.json` with a literal prefix / suffix.
#[derive(Clone, Debug)]
struct SegmentPattern {
    prefix: Box<str>,
    suffix: Box<str>,
    child: u32,
}

impl SegmentPattern {
    fn matches(&self, segment: &str) -> bool {
        segment.len() > self.prefix.len() + self.suffix.len()
            && segment.starts_with(&*self.prefix)
            && segment.ends_with(&*self.suffix)
    }
}

#[derive(Clone, Debug, Default)]
struct RouteNode {
    literals: FxMap<Box<str>, u32>,
    patterns: Vec<SegmentPattern>,
    routes: Vec<(Method, u32)>,
}

/// Declared operations of every spec, ready to match records.
#[derive(Clone, Debug, Default)]
pub(crate) struct SpecRouter {
    nodes: Vec<RouteNode>,
    hosts: FxMap<Box<str>, u32>,
    any_host: Option<u32>,
    routes: Vec<SpecRoute>,
}

impl SpecRouter {
    pub fn new(specs: &[ApiSpec]) -> SpecRouter {
        let mut router = SpecRouter::default();
        for spec in specs {
            let api = if spec.title.trim().is_empty() {
                spec.source_file.clone()
            } else {
                spec.title.trim().to_string()
            };
            for op in &spec.operations {
                router.add_operation(spec, op, &api);
            }
        }
        router
    }

    pub fn routes(&self) -> &[SpecRoute] {
        &self.routes
    }

    fn add_operation(&mut self, spec: &ApiSpec, op: &Operation, api: &str) {
        let mut targets: Vec<(Option<String>, String)> = Vec::new();
        for server in spec.effective_servers(op) {
            let host = server.host.as_deref().map(normalize_host);
            let base = server.base_path.trim_end_matches('/').to_string();
            if !targets.contains(&(host.clone(), base.clone())) {
                targets.push((host, base));
            }
        }
        if targets.is_empty() {
            targets.push((None, String::new()));
        }
        let requires_auth = spec.requires_auth(op);
        let method = Method::parse(&op.method);
        for (host, base) in targets {
            let template = join(&base, &op.path_template);
            let duplicate = self.routes.iter().any(|r| {
                r.declaration.host == host
                    && r.declaration.method == method
                    && r.declaration.template == template
            });
            if duplicate {
                continue;
            }
            let root = self.root(host.as_deref());
            let (leaf, params) = self.insert_path(root, &template);
            let index = self.routes.len() as u32;
            self.nodes[leaf as usize].routes.push((method, index));
            self.routes.push(SpecRoute {
                declaration: SpecDeclaration {
                    api: api.to_string(),
                    host: host.clone(),
                    method,
                    template,
                    operation_id: op.operation_id.clone(),
                    deprecated: op.deprecated,
                    requires_auth,
                    pointer: op.pointer.clone(),
                    source_file: spec.source_file.clone(),
                },
                params,
            });
        }
    }

    fn root(&mut self, host: Option<&str>) -> u32 {
        let existing = match host {
            Some(h) => self.hosts.get(h).copied(),
            None => self.any_host,
        };
        if let Some(r) = existing {
            return r;
        }
        self.nodes.push(RouteNode::default());
        let r = (self.nodes.len() - 1) as u32;
        match host {
            Some(h) => {
                self.hosts.insert(h.into(), r);
            }
            None => self.any_host = Some(r),
        }
        r
    }

    fn insert_path(&mut self, root: u32, template: &str) -> (u32, Vec<(u16, SpecParam)>) {
        let mut node = root;
        let mut params = Vec::new();
        let body = template.strip_prefix('/').unwrap_or(template);
        if body.is_empty() {
            return (node, params);
        }
        for (depth, segment) in body.split('/').enumerate() {
            node = match (segment.find('{'), segment.rfind('}')) {
                (Some(open), Some(close)) if open < close => {
                    let name =
                        &segment[open + 1..segment[open..].find('}').map_or(close, |c| open + c)];
                    params.push((depth as u16, SpecParam { name: name.into() }));
                    let prefix = &segment[..open];
                    let suffix = &segment[close + 1..];
                    let existing = self.nodes[node as usize]
                        .patterns
                        .iter()
                        .find(|p| &*p.prefix == prefix && &*p.suffix == suffix)
                        .map(|p| p.child);
                    match existing {
                        Some(c) => c,
                        None => {
                            self.nodes.push(RouteNode::default());
                            let c = (self.nodes.len() - 1) as u32;
                            let patterns = &mut self.nodes[node as usize].patterns;
                            patterns.push(SegmentPattern {
                                prefix: prefix.into(),
                                suffix: suffix.into(),
                                child: c,
                            });
                            // Longer fixed parts first: `{id}.json` before `{id}`.
                            patterns.sort_by_key(|p| {
                                std::cmp::Reverse(p.prefix.len() + p.suffix.len())
                            });
                            c
                        }
                    }
                }
                _ => match self.nodes[node as usize].literals.get(segment) {
                    Some(&c) => c,
                    None => {
                        self.nodes.push(RouteNode::default());
                        let c = (self.nodes.len() - 1) as u32;
                        self.nodes[node as usize].literals.insert(segment.into(), c);
                        c
                    }
                },
            };
        }
        (node, params)
    }

    /// The declared route for a record, if any: the record's host tree first, then the
    /// any-host tree.
    pub fn route(&self, host: Option<&str>, method: Method, path: &str) -> Option<u32> {
        if self.routes.is_empty() {
            return None;
        }
        if let Some(h) = host {
            let found = if h.bytes().any(|b| b.is_ascii_uppercase() || b == b':') {
                self.hosts.get(normalize_host(h).as_str()).copied()
            } else {
                self.hosts.get(h).copied()
            };
            if let Some(root) = found
                && let Some(r) = self.match_from(root, method, path)
            {
                return Some(r);
            }
        }
        self.any_host
            .and_then(|root| self.match_from(root, method, path))
    }

    fn match_from(&self, root: u32, method: Method, path: &str) -> Option<u32> {
        let body = path.strip_prefix('/').unwrap_or(path);
        if body.is_empty() {
            return self.route_at(root, method);
        }
        self.match_segments(root, method, body)
    }

    fn route_at(&self, node: u32, method: Method) -> Option<u32> {
        self.nodes[node as usize]
            .routes
            .iter()
            .find(|(m, _)| *m == method)
            .map(|(_, r)| *r)
    }

    /// Matches `rest` (segments without the leading slash) below `node`.
    fn match_segments(&self, node: u32, method: Method, rest: &str) -> Option<u32> {
        let (segment, tail) = match rest.find('/') {
            Some(i) => (&rest[..i], Some(&rest[i + 1..])),
            None => (rest, None),
        };
        let n = &self.nodes[node as usize];
        let next = |child: u32| match tail {
            Some(t) => self.match_segments(child, method, t),
            None => self.route_at(child, method),
        };
        if let Some(&c) = n.literals.get(segment)
            && let Some(r) = next(c)
        {
            return Some(r);
        }
        n.patterns
            .iter()
            .filter(|p| p.matches(segment))
            .find_map(|p| next(p.child))
    }
}

/// `API.Example.com:443` → `api.example.com`: host names compare case-insensitively and
/// without the port.
pub(crate) fn normalize_host(host: &str) -> String {
    let without_port = match host.rsplit_once(':') {
        // Keep IPv6 literals (`[::1]`) whole.
        Some((h, port))
            if !h.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) && !h.ends_with(':') =>
        {
            h
        }
        _ => host,
    };
    without_port.to_ascii_lowercase()
}

fn join(base: &str, template: &str) -> String {
    let template = template.trim_start_matches('/');
    format!("{}/{template}", base.trim_end_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: &str = r#"{
      "openapi": "3.0.3",
      "info": {"title": "Users", "version": "1"},
      "servers": [{"url": "/v1"}],
      "paths": {
        "/users/{id}": {"get": {"operationId": "getUser",
            "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}}],
            "responses": {"200": {"description": "ok"}}},
            "delete": {"deprecated": true, "responses": {"204": {"description": "gone"}}}},
        "/users/me": {"get": {"operationId": "me", "responses": {"200": {"description": "ok"}}}},
        "/files/{name}.json": {"get": {"responses": {"200": {"description": "ok"}}}},
        "/": {"get": {"responses": {"200": {"description": "ok"}}}}
      }
    }"#;

    const HOSTED: &str = r#"{
      "swagger": "2.0", "info": {"title": "Hosted", "version": "1"},
      "host": "api.example.com", "basePath": "/",
      "paths": {"/ping": {"get": {"responses": {"200": {"description": "ok"}}}}}
    }"#;

    fn router() -> SpecRouter {
        let specs = vec![
            gw_spec::parse_spec(SPEC.as_bytes(), "users.json").unwrap(),
            gw_spec::parse_spec(HOSTED.as_bytes(), "hosted.json").unwrap(),
        ];
        SpecRouter::new(&specs)
    }

    fn template(r: &SpecRouter, host: Option<&str>, method: Method, path: &str) -> Option<String> {
        r.route(host, method, path)
            .map(|i| r.routes()[i as usize].declaration.template.clone())
    }

    #[test]
    fn base_paths_count_and_literals_win() {
        let r = router();
        assert_eq!(
            template(&r, Some("x"), Method::Get, "/v1/users/42").as_deref(),
            Some("/v1/users/{id}")
        );
        assert_eq!(
            template(&r, Some("x"), Method::Get, "/v1/users/me").as_deref(),
            Some("/v1/users/me")
        );
        assert_eq!(
            template(&r, None, Method::Delete, "/v1/users/me").as_deref(),
            Some("/v1/users/{id}")
        );
        assert_eq!(template(&r, None, Method::Get, "/users/42"), None);
        assert_eq!(template(&r, None, Method::Post, "/v1/users/42"), None);
        assert_eq!(
            template(&r, None, Method::Get, "/v1/files/a.json").as_deref(),
            Some("/v1/files/{name}.json")
        );
        assert_eq!(template(&r, None, Method::Get, "/v1/files/.json"), None);
        assert_eq!(
            template(&r, None, Method::Get, "/v1/").as_deref(),
            Some("/v1/")
        );
    }

    #[test]
    fn named_hosts_only_match_their_host() {
        let r = router();
        assert_eq!(
            template(&r, Some("API.example.com:443"), Method::Get, "/ping").as_deref(),
            Some("/ping")
        );
        assert_eq!(
            template(&r, Some("other.example.com"), Method::Get, "/ping"),
            None
        );
        assert_eq!(template(&r, None, Method::Get, "/ping"), None);
    }

    #[test]
    fn declared_parameter_names_are_read() {
        let r = router();
        let i = r.route(None, Method::Get, "/v1/users/42").unwrap();
        let route = &r.routes()[i as usize];
        assert_eq!(route.params.len(), 1);
        assert_eq!(&*route.params[0].1.name, "id");
        assert_eq!(route.declaration.operation_id.as_deref(), Some("getUser"));
    }

    #[test]
    fn hosts_normalise() {
        assert_eq!(normalize_host("API.Example.com:8443"), "api.example.com");
        assert_eq!(normalize_host("[::1]:80"), "[::1]");
        assert_eq!(normalize_host("::1"), "::1");
    }
}
