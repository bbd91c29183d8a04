//! Huge specs import; arbitrary bytes and arbitrary JSON never panic.

use gw_spec::{declared_endpoints, parse_spec};
use proptest::prelude::*;
use proptest::test_runner::RngSeed;
use serde_json::{Map, Value, json};

/// A generated spec of `paths` paths, each with GET and POST, parameters and shared schemas.
fn huge_spec(paths: usize) -> Vec<u8> {
    let mut path_map = Map::new();
    for i in 0..paths {
        path_map.insert(
            format!("/tenants/{{tenantId}}/resource{i}/{{id}}"),
            json!({
                "parameters": [
                    {"$ref": "#/components/parameters/TenantId"},
                    {"name": "id", "in": "path", "required": true, "schema": {"type": "string", "format": "uuid"}}
                ],
                "get": {
                    "operationId": format!("getResource{i}"),
                    "summary": format!("Fetch resource {i} with a reasonably long description to add bulk"),
                    "tags": [format!("group{}", i % 50)],
                    "parameters": [
                        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 500}},
                        {"name": "X-Trace", "in": "header", "schema": {"type": "string", "maxLength": 64}}
                    ],
                    "responses": {
                        "200": {"description": "ok", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Page"}}}},
                        "404": {"$ref": "#/components/responses/NotFound"}
                    }
                },
                "post": {
                    "operationId": format!("createResource{i}"),
                    "deprecated": i % 97 == 0,
                    "security": if i % 10 == 0 { json!([]) } else { json!([{"bearer": ["write"]}]) },
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {
                        "type": "object", "required": ["name"],
                        "properties": {
                            "name": {"type": "string", "minLength": 1, "maxLength": 200},
                            "owner": {"$ref": "#/components/schemas/User"},
                            "labels": {"type": "object", "additionalProperties": {"type": "string"}}
                        }}}}},
                    "responses": {"201": {"description": "created", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Item"}}}}}
                }
            }),
        );
    }
    let spec = json!({
        "openapi": "3.0.3",
        "info": {"title": "Huge", "version": "1.0"},
        "servers": [{"url": "https://api.example.com/v1"}],
        "security": [{"bearer": []}],
        "paths": path_map,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "parameters": {"TenantId": {"name": "tenantId", "in": "path", "required": true, "schema": {"type": "integer"}}},
            "responses": {"NotFound": {"description": "missing", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}},
            "schemas": {
                "Error": {"type": "object", "properties": {"code": {"type": "integer"}, "message": {"type": "string"}}},
                "User": {"type": "object", "properties": {"id": {"type": "string"}, "manager": {"$ref": "#/components/schemas/User"}}},
                "Item": {"type": "object", "properties": {"id": {"type": "string"}, "owner": {"$ref": "#/components/schemas/User"}}},
                "Page": {"type": "object", "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/Item"}}, "next": {"type": "string", "nullable": true}}}
            }
        }
    });
    serde_json::to_vec(&spec).expect("serialisable")
}

#[test]
fn a_spec_of_tens_of_megabytes_imports() {
    let bytes = huge_spec(20_000);
    assert!(bytes.len() > 20_000_000, "generated {} bytes", bytes.len());
    let spec = parse_spec(&bytes, "huge.json").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(spec.operations.len(), 40_000);
    assert!(
        spec.warnings.is_empty(),
        "{:?}",
        &spec.warnings[..spec.warnings.len().min(5)]
    );
    let endpoints: Vec<_> = declared_endpoints(&spec).collect();
    assert_eq!(endpoints.len(), 40_000);
    assert_eq!(endpoints.iter().filter(|e| !e.requires_auth).count(), 2_000);
    assert_eq!(endpoints.iter().filter(|e| e.deprecated).count(), 207);
    println!(
        "huge spec: {:.1} MB, {} operations",
        bytes.len() as f64 / 1e6,
        spec.operations.len()
    );
}

/// Arbitrary JSON whose keys come from the OpenAPI vocabulary, so the walker goes deep.
fn openapi_like_json() -> impl Strategy<Value = Value> {
    let key = prop::sample::select(vec![
        "openapi",
        "swagger",
        "info",
        "title",
        "version",
        "paths",
        "/a",
        "/b/{id}",
        "get",
        "post",
        "parameters",
        "name",
        "in",
        "path",
        "query",
        "body",
        "formData",
        "schema",
        "type",
        "properties",
        "items",
        "allOf",
        "oneOf",
        "$ref",
        "required",
        "responses",
        "200",
        "default",
        "content",
        "application/json",
        "security",
        "components",
        "schemas",
        "definitions",
        "securitySchemes",
        "servers",
        "url",
        "enum",
        "additionalProperties",
        "requestBody",
        "host",
        "basePath",
        "schemes",
        "x-ext",
        "nullable",
        "minimum",
        "format",
    ]);
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        prop::sample::select(vec![
            "2.0",
            "3.0.0",
            "3.1.0",
            "string",
            "object",
            "array",
            "integer",
            "path",
            "query",
            "body",
            "#/definitions/A",
            "#/components/schemas/A",
            "#/paths/~1a/get",
            "#",
            "#/",
            "other.yaml#/x",
            "http://x/y",
            "/v1",
            "{id}",
            "",
        ])
        .prop_map(|s| Value::String(s.to_owned())),
    ];
    leaf.prop_recursive(6, 200, 8, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((key.clone(), inner), 0..8).prop_map(|kv| Value::Object(
                kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
            )),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 2000,
        failure_persistence: None,
        rng_seed: RngSeed::Fixed(0x6761_7465),
        ..ProptestConfig::default()
    })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse_spec(&bytes, "fuzz.bin");
    }

    #[test]
    fn arbitrary_json_never_panics(doc in openapi_like_json(), version in 0..3usize) {
        let mut doc = doc;
        if let Value::Object(map) = &mut doc {
            match version {
                0 => { map.insert("swagger".into(), json!("2.0")); }
                1 => { map.insert("openapi".into(), json!("3.0.3")); }
                _ => { map.insert("openapi".into(), json!("3.1.0")); }
            }
        }
        let bytes = serde_json::to_vec(&doc).expect("serialisable");
        if let Ok(spec) = parse_spec(&bytes, "fuzz.json") {
            let _ = declared_endpoints(&spec).count();
        }
        let yaml = yaml_serde::to_string(&doc).expect("yaml");
        let _ = parse_spec(yaml.as_bytes(), "fuzz.yaml");
    }
}

/// Exponential YAML alias expansion ("billion laughs") is refused by the YAML reader.
#[test]
fn yaml_alias_bomb_is_refused() {
    let mut doc = String::from("a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for i in 1..10 {
        let prev = format!("*a{}", i - 1);
        let list = [prev.as_str(); 10].join(", ");
        doc.push_str(&format!("a{i}: &a{i} [{list}]\n"));
    }
    doc.push_str("openapi: 3.0.0\ninfo: {title: bomb, version: '1'}\npaths: {}\n");
    let err = parse_spec(doc.as_bytes(), "bomb.yaml").expect_err("alias bomb must be refused");
    assert!(
        err.to_string().starts_with("bomb.yaml: invalid YAML"),
        "{err}"
    );
    println!("alias bomb: {err}");
}
