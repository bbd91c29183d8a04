//! Behaviour of the importer on small hand-written specs: refs, cycles, Swagger 2.0 conversion,
//! security overrides, 3.1 types, error messages, and depth safety.

use gw_spec::{
    AdditionalProperties, ApiKeyLocation, ParameterLocation, SchemaType, SecuritySchemeKind,
    SpecError, SpecVersion, declared_endpoints, load_spec, parse_spec,
};
use serde_json::json;

fn spec_from(value: serde_json::Value) -> gw_spec::ApiSpec {
    parse_spec(value.to_string().as_bytes(), "test.json").unwrap_or_else(|e| panic!("{e}"))
}

fn error_from(value: serde_json::Value) -> SpecError {
    parse_spec(value.to_string().as_bytes(), "test.json").expect_err("must be rejected")
}

#[test]
fn local_refs_to_every_component_kind_are_resolved() {
    let spec = spec_from(json!({
        "openapi": "3.0.3",
        "info": {"title": "Refs", "version": "1"},
        "paths": {
            "/users/{id}": {"$ref": "#/components/pathItems/UserItem"}
        },
        "components": {
            "pathItems": {"UserItem": {
                "parameters": [{"$ref": "#/components/parameters/Id"}],
                "put": {
                    "requestBody": {"$ref": "#/components/requestBodies/UserBody"},
                    "responses": {"200": {"$ref": "#/components/responses/UserOk"}}
                }
            }},
            "parameters": {"Id": {"name": "id", "in": "path", "required": true,
                                  "schema": {"type": "integer", "format": "int64", "minimum": 1}}},
            "requestBodies": {"UserBody": {"required": true, "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/User"}}}}},
            "responses": {"UserOk": {"description": "ok", "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/User"}}}}},
            "schemas": {"User": {"type": "object", "required": ["name"],
                "additionalProperties": false,
                "properties": {"name": {"type": "string", "maxLength": 20, "pattern": "^[a-z]+$"},
                               "password": {"type": "string", "writeOnly": true}}}}
        }
    }));
    assert_eq!(spec.spec_version, SpecVersion::OpenApi30);
    let op = &spec.operations[0];
    assert_eq!(
        (op.method.as_str(), op.path_template.as_str()),
        ("PUT", "/users/{id}")
    );
    assert_eq!(op.pointer, "/paths/~1users~1{id}/put");
    let id = &op.parameters[0];
    assert_eq!(
        (id.name.as_str(), id.location, id.required),
        ("id", ParameterLocation::Path, true)
    );
    assert_eq!(id.schema.types, [SchemaType::Integer]);
    assert_eq!(id.schema.minimum, Some(1.0));
    assert_eq!(id.pointer, "/components/parameters/Id");
    let body = op.request_body.as_ref().expect("request body");
    assert!(body.required);
    assert_eq!(body.content_types, ["application/json"]);
    let user = body.schema.as_ref().expect("body schema");
    assert_eq!(user.ref_name.as_deref(), Some("User"));
    assert_eq!(user.pointer, "/components/schemas/User");
    assert_eq!(user.required, ["name"]);
    assert_eq!(user.additional_properties, AdditionalProperties::Forbidden);
    assert_eq!(user.properties["name"].max_length, Some(20));
    assert!(user.properties["password"].write_only);
    // The same component is shared, not copied.
    let response_schema = op.responses[0].schema.as_ref().expect("response schema");
    assert!(std::sync::Arc::ptr_eq(user, response_schema));
    assert!(spec.schemas.contains_key("#/components/schemas/User"));
    assert!(spec.warnings.is_empty(), "{:?}", spec.warnings);
}

#[test]
fn percent_encoded_ref_pointer_and_ref_siblings() {
    let spec = spec_from(json!({
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1"},
        "paths": {
            "/a/{id}": {"get": {
                "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
                "responses": {"200": {"description": "x"}}}},
            "/b": {"get": {
                "parameters": [{"name": "q", "in": "query",
                    "schema": {"$ref": "#/paths/~1a~1%7Bid%7D/get/parameters/0/schema", "maxLength": 5}}],
                "responses": {"200": {"description": "x"}}}}
        }
    }));
    let q = &spec
        .operations
        .iter()
        .find(|o| o.path_template == "/b")
        .unwrap()
        .parameters[0];
    assert_eq!(q.schema.types, [SchemaType::String]);
    assert_eq!(q.schema.max_length, Some(5));
}

#[test]
fn recursive_schemas_become_markers() {
    let spec = spec_from(json!({
        "swagger": "2.0",
        "info": {"title": "t", "version": "1"},
        "paths": {"/tree": {"get": {"responses": {"200": {"description": "x",
            "schema": {"$ref": "#/definitions/Node"}}}}}},
        "definitions": {
            "Node": {"type": "object", "properties": {
                "children": {"type": "array", "items": {"$ref": "#/definitions/Node"}},
                "parent": {"$ref": "#/definitions/Parent"}}},
            "Parent": {"type": "object", "properties": {"child": {"$ref": "#/definitions/Node"}}},
            "Alias": {"$ref": "#/definitions/Alias"}
        }
    }));
    let node = spec.operations[0].responses[0].schema.as_ref().unwrap();
    assert_eq!(node.ref_name.as_deref(), Some("Node"));
    let item = node.properties["children"].items.as_ref().unwrap();
    assert_eq!(item.recursive_ref.as_deref(), Some("#/definitions/Node"));
    assert!(item.properties.is_empty());
    let back = &node.properties["parent"].properties["child"];
    assert!(back.is_recursive_marker());
    // A marker leads to the full schema.
    assert!(!spec.resolve_marker(item).properties.is_empty());
    // A pure self-alias is a marker to itself, not a hang.
    assert!(spec.schemas["#/definitions/Alias"].is_recursive_marker());
}

#[test]
fn long_ref_chains_and_deep_nesting_do_not_overflow_the_stack() {
    let mut definitions = serde_json::Map::new();
    for i in 0..3000 {
        definitions.insert(
            format!("S{i}"),
            json!({"type": "object", "properties": {"next": {"$ref": format!("#/definitions/S{}", i + 1)}}}),
        );
    }
    definitions.insert("S3000".into(), json!({"type": "string"}));
    let mut nested = json!({"type": "string"});
    for _ in 0..60 {
        nested = json!({"type": "array", "items": nested});
    }
    let spec = spec_from(json!({
        "swagger": "2.0",
        "info": {"title": "t", "version": "1"},
        "paths": {"/deep": {"get": {"responses": {
            "200": {"description": "x", "schema": {"$ref": "#/definitions/S0"}},
            "201": {"description": "x", "schema": nested}}}}},
        "definitions": definitions
    }));
    assert_eq!(spec.operations.len(), 1);
    // Every marker cut by the depth limit can be followed.
    for schema in spec.schemas.values() {
        if let Some(key) = &schema.recursive_ref {
            assert!(spec.schemas.contains_key(key), "{key}");
        }
    }
}

#[test]
fn swagger2_is_converted() {
    let spec = spec_from(json!({
        "swagger": "2.0",
        "info": {"title": "Pets", "version": "1.0"},
        "host": "api.example.com:8443",
        "basePath": "/v2/",
        "schemes": ["https", "http"],
        "consumes": ["application/json"],
        "securityDefinitions": {
            "basicAuth": {"type": "basic"},
            "key": {"type": "apiKey", "name": "X-Key", "in": "header"},
            "oauth": {"type": "oauth2", "flow": "accessCode", "authorizationUrl": "https://a/x",
                      "tokenUrl": "https://a/t", "scopes": {"read": "r", "write": "w"}}
        },
        "security": [{"key": []}],
        "paths": {
            "/pets/{petId}": {
                "parameters": [
                    {"name": "petId", "in": "path", "required": true, "type": "string"},
                    {"name": "trace", "in": "header", "type": "string"}
                ],
                "put": {
                    "parameters": [
                        {"name": "trace", "in": "header", "type": "integer"},
                        {"name": "pet", "in": "body", "required": true,
                         "schema": {"type": "object", "properties": {"name": {"type": "string"}}}}
                    ],
                    "responses": {"200": {"description": "ok"}}
                },
                "post": {
                    "consumes": ["multipart/form-data"],
                    "parameters": [
                        {"name": "photo", "in": "formData", "type": "file", "required": true},
                        {"name": "tags", "in": "formData", "type": "array", "items": {"type": "string"}}
                    ],
                    "security": [{"oauth": ["write"]}],
                    "responses": {"201": {"description": "ok"}}
                }
            }
        }
    }));
    assert_eq!(spec.spec_version, SpecVersion::Swagger2);
    let urls: Vec<&str> = spec.servers.iter().map(|s| s.url.as_str()).collect();
    assert_eq!(
        urls,
        [
            "https://api.example.com:8443/v2",
            "http://api.example.com:8443/v2"
        ]
    );
    assert!(spec.servers.iter().all(|s| s.base_path == "/v2"));
    assert_eq!(
        spec.security_schemes["basicAuth"].kind,
        SecuritySchemeKind::Http {
            scheme: "basic".into(),
            bearer_format: None
        }
    );
    assert_eq!(
        spec.security_schemes["key"].kind,
        SecuritySchemeKind::ApiKey {
            name: "X-Key".into(),
            location: ApiKeyLocation::Header
        }
    );
    let SecuritySchemeKind::OAuth2 { flows } = &spec.security_schemes["oauth"].kind else {
        panic!("oauth2 expected");
    };
    assert_eq!(flows[0].flow, "authorizationCode");
    assert_eq!(flows[0].scopes, ["read", "write"]);

    let put = spec.operations.iter().find(|o| o.method == "PUT").unwrap();
    // Path-level parameters merged, the operation's "trace" overriding the path's.
    assert_eq!(put.parameters.len(), 2);
    let trace = put.parameters.iter().find(|p| p.name == "trace").unwrap();
    assert_eq!(trace.schema.types, [SchemaType::Integer]);
    let body = put.request_body.as_ref().unwrap();
    assert_eq!(body.content_types, ["application/json"]);
    assert!(body.required);
    assert_eq!(body.pointer, "/paths/~1pets~1{petId}/put/parameters/1");

    let post = spec.operations.iter().find(|o| o.method == "POST").unwrap();
    let form = post.request_body.as_ref().unwrap();
    assert_eq!(form.content_types, ["multipart/form-data"]);
    let schema = form.schema.as_ref().unwrap();
    assert_eq!(schema.required, ["photo"]);
    assert!(schema.properties["photo"].has_type(SchemaType::File));
    assert_eq!(
        schema.properties["tags"].items.as_ref().unwrap().types,
        [SchemaType::String]
    );
    assert!(spec.warnings.is_empty(), "{:?}", spec.warnings);

    let endpoints: Vec<_> = declared_endpoints(&spec).collect();
    assert_eq!(endpoints.len(), 2, "one base path, two operations");
    assert!(
        endpoints
            .iter()
            .all(|e| e.full_template == "/v2/pets/{petId}" && e.requires_auth)
    );
}

#[test]
fn security_overrides_decide_requires_auth() {
    let spec = spec_from(json!({
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1"},
        "servers": [{"url": "https://{region}.example.com/api/{v}", "variables": {
            "region": {"default": "eu"}, "v": {"default": "v1", "enum": ["v1", "v2"]}}}],
        "security": [{"bearer": []}],
        "components": {"securitySchemes": {
            "bearer": {"type": "http", "scheme": "Bearer", "bearerFormat": "JWT"},
            "mtls": {"type": "mutualTLS"}}},
        "paths": {
            "/inherits": {"get": {"responses": {"200": {"description": "x"}}}},
            "/open": {"get": {"security": [], "deprecated": true, "responses": {"200": {"description": "x"}}}},
            "/optional": {"get": {"security": [{}, {"bearer": []}], "responses": {"200": {"description": "x"}}}},
            "/mtls": {"get": {"security": [{"mtls": []}],
                "servers": [{"url": "/internal"}], "responses": {"200": {"description": "x"}}}}
        }
    }));
    assert_eq!(spec.servers[0].url, "https://eu.example.com/api/v1");
    assert_eq!(spec.servers[0].host.as_deref(), Some("eu.example.com"));
    assert_eq!(
        spec.security_schemes["bearer"].kind,
        SecuritySchemeKind::Http {
            scheme: "bearer".into(),
            bearer_format: Some("JWT".into())
        }
    );
    let by_path = |suffix: &str| {
        declared_endpoints(&spec)
            .find(|e| e.full_template.ends_with(suffix))
            .unwrap_or_else(|| panic!("{suffix}"))
    };
    let inherits = by_path("/inherits");
    assert_eq!(inherits.full_template, "/api/v1/inherits");
    assert!(inherits.requires_auth);
    let open = by_path("/open");
    assert!(!open.requires_auth);
    assert!(open.deprecated);
    assert!(!by_path("/optional").requires_auth);
    let mtls = by_path("/mtls");
    assert_eq!(mtls.full_template, "/internal/mtls");
    assert!(mtls.requires_auth);
    let open_op = spec
        .operations
        .iter()
        .find(|o| o.path_template == "/open")
        .unwrap();
    assert_eq!(open_op.security.as_deref(), Some(&[][..]));
    let inherit_op = spec
        .operations
        .iter()
        .find(|o| o.path_template == "/inherits")
        .unwrap();
    assert!(inherit_op.security.is_none());
}

#[test]
fn no_root_security_means_no_auth_and_default_server_is_root() {
    let spec = spec_from(json!({
        "openapi": "3.0.0", "info": {"title": "t", "version": "1"},
        "paths": {"/x": {"post": {"responses": {"default": {"description": "x"}}}}}
    }));
    let endpoints: Vec<_> = declared_endpoints(&spec).collect();
    assert_eq!(endpoints[0].full_template, "/x");
    assert!(!endpoints[0].requires_auth);
}

#[test]
fn openapi31_type_arrays_and_keywords() {
    let spec = spec_from(json!({
        "openapi": "3.1.0", "info": {"title": "t", "version": "1"},
        "paths": {"/x": {"get": {"parameters": [
            {"name": "n", "in": "query", "schema": {"type": ["integer", "null"], "exclusiveMinimum": 0, "maximum": 10}},
            {"name": "c", "in": "cookie", "schema": {"const": "fixed", "examples": ["fixed"]}},
            {"name": "e", "in": "query", "schema": {"type": "string"}, "examples": {"one": {"value": "abc"}}},
            {"name": "any", "in": "header", "schema": true}
        ], "responses": {"200": {"description": "x"}}}}}
    }));
    let params = &spec.operations[0].parameters;
    let n = &params[0].schema;
    assert_eq!(n.types, [SchemaType::Integer]);
    assert!(n.nullable && n.exclusive_minimum);
    assert_eq!((n.minimum, n.maximum), (Some(0.0), Some(10.0)));
    assert_eq!(params[1].location, ParameterLocation::Cookie);
    assert_eq!(params[1].schema.enum_values, [json!("fixed")]);
    assert_eq!(params[1].schema.example, Some(json!("fixed")));
    assert_eq!(params[2].schema.example, Some(json!("abc")));
    assert!(params[3].schema.types.is_empty());
}

#[test]
fn yaml_with_bom_and_integer_status_keys() {
    let yaml = "\u{feff}openapi: 3.0.1\ninfo: {title: Y, version: '2'}\npaths:\n  /p:\n    get:\n      deprecated: true\n      responses:\n        200: {description: ok}\n        4XX: {description: bad}\n";
    let spec = parse_spec(yaml.as_bytes(), "y.yaml").unwrap();
    let statuses: Vec<&str> = spec.operations[0]
        .responses
        .iter()
        .map(|r| r.status.as_str())
        .collect();
    assert_eq!(statuses, ["200", "4XX"]);
    assert!(spec.operations[0].deprecated);
    assert_eq!(spec.title, "Y");
}

#[test]
fn errors_name_file_pointer_and_reason() {
    let err = parse_spec(
        b"swagger: '2.0'\ninfo: {title: p, version: '1'}\npaths:\n  /pets:\n    get:\n      parameters:\n        - in: query\n      responses: {200: {description: ok}}\n",
        "petstore.yaml",
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "petstore.yaml: /paths/~1pets/get/parameters/0: missing required field \"name\""
    );
    let err = error_from(
        json!({"openapi": "3.0.0", "info": {"title": "t", "version": "1"},
        "paths": {"/x": {"get": {"responses": {"200": {"description": "x",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Missing"}}}}}}}}}),
    );
    assert_eq!(
        err.pointer(),
        Some("/paths/~1x/get/responses/200/content/application~1json/schema/$ref")
    );
    assert!(err.to_string().contains("target does not exist"), "{err}");
    let err = error_from(
        json!({"openapi": "3.0.0", "info": {"title": "t", "version": "1"},
        "paths": {"/x": {"get": {"responses": {"200": {"description": "x",
            "content": {"application/json": {"schema": {"$ref": "other.yaml#/User"}}}}}}}}}),
    );
    assert!(
        err.to_string()
            .contains("needs the spec to be loaded from a path"),
        "{err}"
    );
    let err = error_from(json!({"openapi": "2.5.0", "paths": {}}));
    assert_eq!(err.pointer(), Some("/openapi"));
    let err = parse_spec(b"{\"openapi\": ", "cut.json").unwrap_err();
    assert!(
        err.to_string()
            .starts_with("cut.json: invalid JSON at line 1"),
        "{err}"
    );
    let err = parse_spec(b"- just\n- a list\n", "list.yaml").unwrap_err();
    assert!(err.to_string().contains("(document root)"), "{err}");
    let err = error_from(
        json!({"openapi": "3.0.0", "info": {"title": "t", "version": "1"},
        "paths": {"/x": {"get": {"parameters": [{"name": "a", "in": "body"}]}}}}),
    );
    assert!(
        err.to_string()
            .contains("invalid parameter location \"body\""),
        "{err}"
    );
}

#[test]
fn file_refs_resolve_relative_to_the_spec_and_cycles_across_files_terminate() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("defs")).unwrap();
    std::fs::write(
        dir.path().join("api.yaml"),
        "openapi: 3.0.0\ninfo: {title: f, version: '1'}\npaths:\n  /people:\n    get:\n      parameters:\n        - $ref: 'defs/params.yaml#/Limit'\n      responses:\n        '200':\n          description: ok\n          content:\n            application/json:\n              schema: {$ref: 'defs/person.yaml'}\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("defs/person.yaml"),
        "type: object\nproperties:\n  name: {type: string}\n  friend: {$ref: './person.yaml'}\n  pet: {$ref: '../api.yaml#/paths/~1people/get/parameters/0'}\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("defs/params.yaml"),
        "Limit: {name: limit, in: query, schema: {type: integer, maximum: 100}}\n",
    )
    .unwrap();
    let spec = load_spec(dir.path().join("api.yaml")).unwrap_or_else(|e| panic!("{e}"));
    let op = &spec.operations[0];
    assert_eq!(op.parameters[0].name, "limit");
    assert_eq!(op.parameters[0].pointer, "defs/params.yaml#/Limit");
    let person = op.responses[0].schema.as_ref().unwrap();
    assert_eq!(person.ref_name.as_deref(), Some("person"));
    assert_eq!(
        person.properties["friend"].recursive_ref.as_deref(),
        Some("defs/person.yaml#")
    );

    std::fs::write(
        dir.path().join("broken.yaml"),
        "openapi: 3.0.0\ninfo: {title: f, version: '1'}\npaths:\n  /x:\n    get:\n      responses:\n        '200': {$ref: 'missing.yaml#/R'}\n",
    )
    .unwrap();
    let err = load_spec(dir.path().join("broken.yaml")).unwrap_err();
    assert!(
        err.to_string().contains("cannot read missing.yaml"),
        "{err}"
    );
    assert_eq!(err.pointer(), Some("/paths/~1x/get/responses/200/$ref"));

    std::fs::create_dir(dir.path().join("api")).unwrap();
    std::fs::write(
        dir.path().join("api/escape.yaml"),
        "openapi: 3.0.0\ninfo: {title: f, version: '1'}\npaths:\n  /x:\n    get:\n      responses:\n        '200': {$ref: '../api.yaml#/paths/~1people/get/responses/200'}\n",
    )
    .unwrap();
    let err = load_spec(dir.path().join("api/escape.yaml")).unwrap_err();
    assert!(
        err.to_string().contains("outside the spec's directory"),
        "{err}"
    );
}

#[test]
fn empty_path_items_and_operations_are_skipped_with_a_warning() {
    let spec = parse_spec(
        b"openapi: 3.0.0\ninfo: {title: t, version: '1'}\npaths:\n  /empty:\n  /half:\n    get:\n    post:\n      responses: {'204': {description: none}}\n",
        "sloppy.yaml",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(spec.operations.len(), 1);
    assert_eq!(spec.operations[0].method, "POST");
    let pointers: Vec<&str> = spec.warnings.iter().map(|w| w.pointer.as_str()).collect();
    assert_eq!(pointers, ["/paths/~1empty", "/paths/~1half/get"]);
}
