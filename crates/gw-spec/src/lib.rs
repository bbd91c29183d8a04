//! OpenAPI import for Gatewatch.
//!
//! This crate owns reading API descriptions (Swagger 2.0, OpenAPI 3.0 and 3.1, as JSON or YAML)
//! into one lenient, resolved [`ApiSpec`] model: servers, operations with their parameters, request
//! bodies, responses and schemas, security schemes and requirements. Local and file `$ref`s are
//! resolved with cycle safety; every operation, parameter and schema node carries the JSON pointer
//! an audit can cite. It must stay pure and synchronous: no network, no clock, no routing of
//! traffic (that is gw-discover) and no audit rules (those consume this model).
//!
//! ```
//! let yaml = br#"
//! openapi: 3.1.0
//! info: { title: Orders, version: "1.0" }
//! servers: [ { url: "https://api.example.com/v1" } ]
//! security: [ { bearerAuth: [] } ]
//! paths:
//!   /orders/{orderId}:
//!     get:
//!       parameters: [ { name: orderId, in: path, required: true, schema: { type: integer } } ]
//!       responses: { "200": { description: OK } }
//!     delete:
//!       deprecated: true
//!       security: []
//!       responses: { "204": { description: Deleted } }
//! components:
//!   securitySchemes:
//!     bearerAuth: { type: http, scheme: bearer, bearerFormat: JWT }
//! "#;
//! let spec = gw_spec::parse_spec(yaml, "orders.yaml")?;
//! let endpoints: Vec<_> = gw_spec::declared_endpoints(&spec).collect();
//! assert_eq!(endpoints[0].full_template, "/v1/orders/{orderId}");
//! assert!(endpoints[0].requires_auth);
//! assert!(endpoints[1].deprecated && !endpoints[1].requires_auth);
//! # Ok::<(), gw_spec::SpecError>(())
//! ```

mod endpoints;
mod error;
mod import;
pub mod model;
mod node;
mod schema;
mod source;

use std::path::Path;

pub use endpoints::declared_endpoints;
pub use error::SpecError;
pub use model::*;

/// Imports a spec from bytes. `file_name` names the input in errors; file `$ref`s cannot be
/// followed (there is no directory) and are reported as errors when a resolution needs them.
pub fn parse_spec(bytes: &[u8], file_name: &str) -> Result<ApiSpec, SpecError> {
    let root = source::parse_document(bytes, file_name)?;
    let docs = source::DocumentSet::new(root, file_name, None);
    import::import(&docs, file_name)
}

/// Imports a spec from a file; file `$ref`s are resolved relative to its directory.
pub fn load_spec(path: impl AsRef<Path>) -> Result<ApiSpec, SpecError> {
    let path = path.as_ref();
    let file_name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| SpecError::Io {
        file: file_name.clone(),
        source,
    })?;
    let root = source::parse_document(&bytes, &file_name)?;
    let base_dir = path
        .parent()
        .map_or_else(|| Path::new(".").to_path_buf(), Path::to_path_buf);
    let docs = source::DocumentSet::new(root, &file_name, Some(base_dir));
    import::import(&docs, &file_name)
}
