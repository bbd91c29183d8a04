//! Stand-in for discovery in the behavioural tests and benches: spec operations of the
//! simulator's built-in specs by host and path pattern (`matched_by = spec`); every other path
//! is templated from its shape (numeric and UUID segments become `{id}`, `matched_by = learned`).

use gw_model::{EndpointMatch, EndpointRef, Exchange};

/// Stand-in for discovery: spec operations by host and path pattern.
/// One spec operation: host, method, path segments, template, operation id.
type SpecOp = (Option<String>, String, Vec<String>, String, Option<String>);

pub struct Router {
    ops: Vec<SpecOp>,
}

impl Router {
    pub fn builtin() -> Router {
        let mut ops = Vec::new();
        for spec in gw_sim::builtin_specs().expect("built-in specs import") {
            for server in &spec.servers {
                for op in &spec.operations {
                    let template = format!(
                        "{}{}",
                        server.base_path.trim_end_matches('/'),
                        op.path_template
                    );
                    let segs = template.split('/').map(str::to_string).collect();
                    ops.push((
                        server.host.clone(),
                        op.method.to_ascii_uppercase(),
                        segs,
                        template,
                        op.operation_id.clone(),
                    ));
                }
            }
        }
        Router { ops }
    }

    pub fn route(&self, x: &mut Exchange) {
        let host = x.server.host.clone().unwrap_or_default();
        let method = x.request.method.to_ascii_uppercase();
        let path: Vec<&str> = x.request.path.split('/').collect();
        for (h, m, segs, template, op_id) in &self.ops {
            if *m != method || h.as_deref().is_some_and(|h| h != host) || segs.len() != path.len() {
                continue;
            }
            if segs
                .iter()
                .zip(&path)
                .all(|(s, p)| s.starts_with('{') || s == p)
            {
                x.endpoint = Some(std::sync::Arc::new(EndpointRef {
                    id: format!("{host} {method} {template}"),
                    host: host.clone(),
                    method: method.clone(),
                    template: template.clone(),
                    spec_operation_id: op_id.clone(),
                    matched_by: EndpointMatch::Spec,
                }));
                return;
            }
        }
        let template: Vec<String> = path
            .iter()
            .map(|s| {
                if !s.is_empty()
                    && (s.bytes().all(|b| b.is_ascii_digit())
                        || (s.len() == 36 && s.bytes().filter(|b| *b == b'-').count() == 4))
                {
                    "{id}".to_string()
                } else {
                    s.to_string()
                }
            })
            .collect();
        let template = template.join("/");
        x.endpoint = Some(std::sync::Arc::new(EndpointRef {
            id: format!("{host} {method} {template}"),
            host,
            method,
            template,
            spec_operation_id: None,
            matched_by: EndpointMatch::Learned,
        }));
    }
}
