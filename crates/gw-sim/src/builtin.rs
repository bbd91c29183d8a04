//! The built-in sample APIs, used when no spec is given. They are ordinary OpenAPI / Swagger
//! documents imported through `gw_spec::parse_spec`, so the simulator has one code path.
//!
//! They are built to give the posture and discovery features something to find: public
//! unauthenticated endpoints (catalogue, FX rates, login), an unauthenticated internal metrics
//! endpoint, a deprecated endpoint that still gets traffic (`GET /api/v1/v0/products/{productId}`),
//! and an undeclared shadow endpoint served only by the simulator ([`BUILTIN_SHADOW_TEMPLATE`]).

use gw_spec::{ApiSpec, parse_spec};

use crate::error::SimError;

/// The undeclared endpoint on `shop.example.com` (`GET`).
pub const BUILTIN_SHADOW_TEMPLATE: &str = "/api/v1/internal/orders/export";

const DOCUMENTS: [(&str, &str); 3] = [
    (
        "shop.openapi.yaml",
        include_str!("../specs/shop.openapi.yaml"),
    ),
    (
        "bank.openapi.yaml",
        include_str!("../specs/bank.openapi.yaml"),
    ),
    (
        "admin.swagger.json",
        include_str!("../specs/admin.swagger.json"),
    ),
];

/// The e-commerce (OpenAPI 3.0 YAML), banking (OpenAPI 3.1 YAML, with a login endpoint) and
/// internal admin (Swagger 2.0 JSON) APIs.
pub fn builtin_specs() -> Result<Vec<ApiSpec>, SimError> {
    DOCUMENTS
        .iter()
        .map(|(name, text)| {
            parse_spec(text.as_bytes(), name)
                .map_err(|source| SimError::BuiltinSpec { name, source })
        })
        .collect()
}

/// The built-in documents as (file name, text), e.g. for `gatewatch demo` to write them out.
pub fn builtin_documents() -> &'static [(&'static str, &'static str)] {
    &DOCUMENTS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_import_with_their_security_shape() {
        let specs = builtin_specs().unwrap();
        assert_eq!(specs.len(), 3);
        let shop = &specs[0];
        assert!(
            shop.operations.iter().any(|o| o.deprecated),
            "a deprecated endpoint"
        );
        assert!(
            shop.operations.iter().any(|o| !shop.requires_auth(o)),
            "public endpoints"
        );
        assert!(
            shop.operations
                .iter()
                .all(|o| !BUILTIN_SHADOW_TEMPLATE.ends_with(&o.path_template))
        );
        let bank = &specs[1];
        assert!(
            bank.operations
                .iter()
                .any(|o| o.path_template == "/auth/login" && !bank.requires_auth(o))
        );
        let admin = &specs[2];
        assert_eq!(
            admin.servers[0].host.as_deref(),
            Some("admin.acme.internal")
        );
        assert!(
            admin
                .operations
                .iter()
                .any(|o| o.path_template == "/metrics" && !admin.requires_auth(o))
        );
        for s in &specs {
            assert!(s.warnings.is_empty(), "{}: {:?}", s.source_file, s.warnings);
        }
    }
}
