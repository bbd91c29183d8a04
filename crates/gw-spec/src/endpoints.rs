//! Declared endpoints: each operation under each distinct server base path.

use crate::model::{ApiSpec, DeclaredEndpoint};

/// Every operation as an endpoint (method + base path + path template), one per distinct base
/// path of its effective servers, with its effective authentication requirement.
pub fn declared_endpoints(spec: &ApiSpec) -> impl Iterator<Item = DeclaredEndpoint> + '_ {
    spec.operations.iter().flat_map(move |op| {
        let mut base_paths: Vec<&str> = Vec::new();
        for server in spec.effective_servers(op) {
            if !base_paths.contains(&server.base_path.as_str()) {
                base_paths.push(&server.base_path);
            }
        }
        if base_paths.is_empty() {
            base_paths.push("");
        }
        let requires_auth = spec.requires_auth(op);
        base_paths.into_iter().map(move |base| DeclaredEndpoint {
            method: op.method.clone(),
            full_template: join_template(base, &op.path_template),
            operation_id: op.operation_id.clone(),
            deprecated: op.deprecated,
            requires_auth,
            pointer: op.pointer.clone(),
        })
    })
}

/// `"/v1"` + `"/users"` = `"/v1/users"`; a template without a leading slash gets one.
fn join_template(base: &str, template: &str) -> String {
    let base = base.trim_end_matches('/');
    let template = template.trim_start_matches('/');
    let mut out = String::with_capacity(base.len() + template.len() + 1);
    out.push_str(base);
    out.push('/');
    out.push_str(template);
    out
}

#[cfg(test)]
mod tests {
    use super::join_template;

    #[test]
    fn joins_base_and_template() {
        assert_eq!(join_template("", "/users/{id}"), "/users/{id}");
        assert_eq!(join_template("/v1", "/users"), "/v1/users");
        assert_eq!(join_template("/v1/", "users"), "/v1/users");
        assert_eq!(join_template("", "/"), "/");
    }
}
