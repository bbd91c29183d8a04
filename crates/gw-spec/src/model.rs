//! The imported API description: one model for Swagger 2.0, OpenAPI 3.0 and 3.1.
//!
//! Every `$ref` is already resolved. Schemas are shared through [`Arc`] so a component used by
//! thousands of operations is held once; a `$ref` cycle (or a chain deeper than the resolver's
//! limit) is cut with a marker ([`Schema::recursive_ref`]) that names the component, which can be
//! looked up in [`ApiSpec::schemas`]. Every node keeps the JSON pointer of its definition so an
//! audit can cite it.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Which description format the document declared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SpecVersion {
    /// `swagger: "2.0"`.
    Swagger2,
    /// `openapi: 3.0.x`.
    OpenApi30,
    /// `openapi: 3.1.x` (3.2 documents are read as 3.1, a compatible superset for inventory).
    OpenApi31,
}

/// An imported API description.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiSpec {
    /// `info.title` (empty when the document has none).
    pub title: String,
    /// `info.version`, the API's own version (empty when missing).
    pub version: String,
    /// The description format.
    pub spec_version: SpecVersion,
    /// The version string as written (`"2.0"`, `"3.0.3"`, `"3.1.0"`).
    pub spec_version_raw: String,
    /// Root servers. Swagger 2.0 `schemes` + `host` + `basePath` are normalised into this list.
    pub servers: Vec<Server>,
    /// Every operation: paths in the key order of the parsed map (lexical with serde_json's
    /// default map), methods in the fixed order get, put, post, delete, options, head, patch,
    /// trace, query, then `additionalOperations`.
    pub operations: Vec<Operation>,
    /// `components.securitySchemes` (3.x) or `securityDefinitions` (2.0), by name.
    pub security_schemes: BTreeMap<String, SecurityScheme>,
    /// Root `security`: alternatives (OR) of requirements; empty = no root requirement.
    pub security: Vec<SecurityRequirement>,
    /// Every schema reached through a `$ref`, resolved, keyed by the ref's target pointer
    /// (`"#/components/schemas/User"`, or `"other.yaml#/User"` for a file ref). Use it to follow
    /// [`Schema::recursive_ref`] markers.
    pub schemas: BTreeMap<String, Arc<Schema>>,
    /// The file name the document was read from (as given to the parser).
    pub source_file: String,
    /// Problems that did not make the document unusable (skipped parts), with their pointer.
    pub warnings: Vec<SpecWarning>,
}

/// A tolerated problem in the document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpecWarning {
    /// JSON pointer of the offending node.
    pub pointer: String,
    /// What was wrong and what the importer did about it.
    pub message: String,
}

/// A server (base URL) of the API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Server {
    /// The URL with server variables replaced by their defaults, e.g. `https://api.example.com/v1`
    /// or a relative `/v1`.
    pub url: String,
    /// The path part of `url`, without a trailing slash: `"/v1"`, or `""` for the root.
    pub base_path: String,
    /// Host (and port) when the URL names one.
    pub host: Option<String>,
    /// Scheme (`https`, `http`, `wss` ...) when the URL names one.
    pub scheme: Option<String>,
    /// JSON pointer of the server entry (`/servers/0`, or `/host` for Swagger 2.0).
    pub pointer: String,
}

/// HTTP request-parameter location.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParameterLocation {
    Path,
    Query,
    Header,
    Cookie,
}

impl ParameterLocation {
    /// The OpenAPI spelling (`path`, `query`, `header`, `cookie`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Path => "path",
            Self::Query => "query",
            Self::Header => "header",
            Self::Cookie => "cookie",
        }
    }
}

/// One declared operation: method + path template.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Operation {
    /// Upper-case HTTP method (`GET`, `POST` ...).
    pub method: String,
    /// The path key as declared, e.g. `/users/{id}` (without any server base path).
    pub path_template: String,
    pub operation_id: Option<String>,
    pub summary: Option<String>,
    pub tags: Vec<String>,
    pub deprecated: bool,
    /// Path-level and operation-level parameters merged (operation wins on the same name + location).
    /// Swagger 2.0 `body`/`formData` parameters are not here: they form [`Operation::request_body`].
    pub parameters: Vec<Parameter>,
    pub request_body: Option<RequestBody>,
    pub responses: Vec<ResponseSpec>,
    /// `None` = inherits the root requirement; `Some(empty)` = explicitly no authentication.
    pub security: Option<Vec<SecurityRequirement>>,
    /// Operation- or path-level servers overriding the root ones (empty = use root servers).
    pub servers: Vec<Server>,
    /// JSON pointer of the operation where it is listed, e.g. `/paths/~1users~1{id}/get` (also
    /// when the path item is a `$ref`; its parameters and bodies cite their own definitions).
    pub pointer: String,
}

/// A request parameter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Parameter {
    pub name: String,
    pub location: ParameterLocation,
    /// Always true for path parameters.
    pub required: bool,
    pub deprecated: bool,
    /// The value's schema (Swagger 2.0 inline `type`/`format`/... are read into one; a 3.x
    /// `content` parameter takes its first media type's schema). An empty schema accepts anything.
    pub schema: Arc<Schema>,
    /// Serialization style (`form`, `simple`, ...) when declared.
    pub style: Option<String>,
    pub explode: Option<bool>,
    /// JSON pointer of the parameter definition (the resolved target for a `$ref`ed parameter).
    pub pointer: String,
}

/// A request body: 3.x `requestBody`, or 2.0 `body` / `formData` parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestBody {
    /// Media types, in map key order (2.0: the operation's or root `consumes`, else
    /// `application/json` for a body; for `formData`, `application/x-www-form-urlencoded`, or
    /// `multipart/form-data` when a file is present).
    pub content_types: Vec<String>,
    /// The schema of the first media type that has one (2.0 `formData`: an object of the fields).
    pub schema: Option<Arc<Schema>>,
    pub required: bool,
    pub pointer: String,
}

/// One declared response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResponseSpec {
    /// `"200"`, `"4XX"` or `"default"`.
    pub status: String,
    pub content_types: Vec<String>,
    /// The schema of the first media type that has one (2.0: the response `schema`).
    pub schema: Option<Arc<Schema>>,
    pub pointer: String,
}

/// One security requirement: every named scheme must be satisfied (AND), with the listed scopes.
/// An empty map is the `{}` requirement: anonymous access allowed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecurityRequirement {
    pub schemes: BTreeMap<String, Vec<String>>,
}

impl SecurityRequirement {
    /// The `{}` requirement: this alternative needs no credentials.
    pub fn is_anonymous(&self) -> bool {
        self.schemes.is_empty()
    }
}

/// A declared security scheme.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecurityScheme {
    pub kind: SecuritySchemeKind,
    pub description: Option<String>,
    /// 3.2 scheme-level `deprecated`.
    pub deprecated: bool,
    pub pointer: String,
}

/// Where an API key travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApiKeyLocation {
    Query,
    Header,
    Cookie,
}

/// The kind of a security scheme with its parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SecuritySchemeKind {
    ApiKey {
        name: String,
        location: ApiKeyLocation,
    },
    /// HTTP authentication; 2.0 `basic` becomes `scheme: "basic"`. `scheme` is lower-cased.
    Http {
        scheme: String,
        bearer_format: Option<String>,
    },
    OAuth2 {
        flows: Vec<OAuthFlow>,
    },
    OpenIdConnect {
        url: String,
    },
    MutualTls,
}

/// One OAuth 2 flow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OAuthFlow {
    /// `implicit`, `password`, `clientCredentials`, `authorizationCode`, `deviceAuthorization`
    /// (2.0 `application` and `accessCode` are mapped to `clientCredentials` / `authorizationCode`).
    pub flow: String,
    pub authorization_url: Option<String>,
    pub token_url: Option<String>,
    pub scopes: Vec<String>,
}

/// JSON Schema primitive type names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SchemaType {
    String,
    Number,
    Integer,
    Boolean,
    Array,
    Object,
    Null,
    /// Swagger 2.0 `type: file` (upload).
    File,
}

/// What an object accepts beyond its declared properties.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "schema", rename_all = "snake_case")]
pub enum AdditionalProperties {
    /// Not constrained (the JSON Schema default).
    #[default]
    Any,
    /// `additionalProperties: false`.
    Forbidden,
    /// `additionalProperties: {schema}`.
    Schema(Arc<Schema>),
}

/// A resolved schema node. Fields not declared stay empty / `None` / `false` (and are left out
/// when serialising). Serialising expands shared schemas at every use, so a serialised spec can
/// be many times larger than its source; persist the source document, not the model, when size
/// matters.
///
/// `allOf` members are merged into the node (properties, required, types and constraints);
/// `oneOf` / `anyOf` are kept as alternatives. 3.0 `nullable: true` and a 3.1 `"null"` in a type
/// array both set [`Schema::nullable`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Schema {
    /// JSON pointer of the definition (for a `$ref`, the target's pointer).
    pub pointer: String,
    /// The component name when this node came from a `$ref` (`User` for `#/components/schemas/User`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ref_name: Option<String>,
    /// Set when the node was NOT expanded because it refers back to a schema being expanded (a
    /// cycle) or the ref chain hit the depth limit: the `$ref` target pointer, a key of
    /// [`ApiSpec::schemas`]. All other fields except `pointer` and `ref_name` are then empty.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recursive_ref: Option<String>,
    /// Declared types; empty = any type.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub types: Vec<SchemaType>,
    #[serde(skip_serializing_if = "is_false")]
    pub nullable: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// `enum` values (and a 3.1 `const`, as one value).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub enum_values: Vec<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<Value>,
    /// `example`, or the first of 3.1 `examples`. For a parameter's or media type's top schema,
    /// the `example` (or first `examples` value) declared beside it when the schema has none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub example: Option<Value>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub properties: BTreeMap<String, Arc<Schema>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub required: Vec<String>,
    #[serde(skip_serializing_if = "AdditionalProperties::is_any")]
    pub additional_properties: AdditionalProperties,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub items: Option<Arc<Schema>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub one_of: Vec<Arc<Schema>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub any_of: Vec<Arc<Schema>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub minimum: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maximum: Option<f64>,
    #[serde(skip_serializing_if = "is_false")]
    pub exclusive_minimum: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub exclusive_maximum: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub multiple_of: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_length: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_length: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_items: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_items: Option<u64>,
    #[serde(skip_serializing_if = "is_false")]
    pub unique_items: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_properties: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_properties: Option<u64>,
    #[serde(skip_serializing_if = "is_false")]
    pub read_only: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub write_only: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub deprecated: bool,
}

impl AdditionalProperties {
    /// The unconstrained default (left out when serialising).
    pub fn is_any(&self) -> bool {
        matches!(self, Self::Any)
    }
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl Schema {
    /// True when the schema declares `t` (an untyped schema declares nothing).
    pub fn has_type(&self, t: SchemaType) -> bool {
        self.types.contains(&t)
    }

    /// True when this node is a cut (cycle or depth limit) to be looked up in [`ApiSpec::schemas`].
    pub fn is_recursive_marker(&self) -> bool {
        self.recursive_ref.is_some()
    }
}

/// One endpoint as declared: what traffic to this API should look like.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeclaredEndpoint {
    /// Upper-case method.
    pub method: String,
    /// Server base path + path template, e.g. `/v1/users/{id}`.
    pub full_template: String,
    pub operation_id: Option<String>,
    pub deprecated: bool,
    /// True when every effective security alternative needs credentials (no `{}` alternative and
    /// at least one requirement after applying operation `security`, including `security: []`).
    pub requires_auth: bool,
    /// JSON pointer of the operation.
    pub pointer: String,
}

impl ApiSpec {
    /// The security requirements in force for `op`: its own, else the root ones.
    pub fn effective_security<'a>(&'a self, op: &'a Operation) -> &'a [SecurityRequirement] {
        op.security.as_deref().unwrap_or(&self.security)
    }

    /// True when calling `op` needs credentials under the effective requirements.
    pub fn requires_auth(&self, op: &Operation) -> bool {
        let reqs = self.effective_security(op);
        !reqs.is_empty() && reqs.iter().all(|r| !r.is_anonymous())
    }

    /// The servers in force for `op`: its own (operation or path level), else the root ones.
    pub fn effective_servers<'a>(&'a self, op: &'a Operation) -> &'a [Server] {
        if op.servers.is_empty() {
            &self.servers
        } else {
            &op.servers
        }
    }

    /// Follows a [`Schema::recursive_ref`] marker to the resolved schema (identity otherwise).
    pub fn resolve_marker<'a>(&'a self, schema: &'a Schema) -> &'a Schema {
        match &schema.recursive_ref {
            Some(target) => self.schemas.get(target).map_or(schema, |s| s.as_ref()),
            None => schema,
        }
    }
}
