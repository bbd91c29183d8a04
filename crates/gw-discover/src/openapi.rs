//! `gatewatch inventory export-openapi`: an OpenAPI 3.1 document reconstructed from traffic.
//!
//! Paths come from endpoint templates, parameters from what was observed (with inferred
//! types), responses from observed status codes, schemas from sampled JSON bodies (shapes
//! only: no examples, no values), and security schemes from the authentication seen.

use std::collections::BTreeMap;

use gw_model::ParamLocation;
use serde_json::{Map, Value, json};

use crate::discovery::{ANY_HOST, UNKNOWN_HOST};
use crate::inventory::EndpointState;
use crate::method::Method;
use crate::segment::ValueType;

/// The reconstructed document for the endpoints of `api` (all APIs for `None`), paths sorted.
pub fn export_openapi<'a>(
    inventory: impl IntoIterator<Item = &'a EndpointState>,
    api: Option<&str>,
) -> Value {
    let mut endpoints: Vec<&EndpointState> = inventory
        .into_iter()
        .filter(|e| api.is_none_or(|a| e.api == a))
        .filter(|e| e.method != Method::Other)
        .collect();
    endpoints
        .sort_by(|a, b| (&a.template, a.method, &a.host).cmp(&(&b.template, b.method, &b.host)));

    let mut paths: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
    let mut schemes: BTreeMap<&'static str, Value> = BTreeMap::new();
    let mut hosts: Vec<&str> = Vec::new();
    for e in &endpoints {
        if e.host != ANY_HOST && e.host != UNKNOWN_HOST && !hosts.contains(&e.host.as_str()) {
            hosts.push(&e.host);
        }
        let item = paths.entry(e.template.clone()).or_default();
        let method = e.method.as_str().to_ascii_lowercase();
        if item.contains_key(&method) {
            continue;
        }
        item.insert(method, operation(e, &mut schemes));
    }
    hosts.sort_unstable();

    let title = api.unwrap_or("Observed APIs");
    let mut doc = json!({
        "openapi": "3.1.0",
        "info": {
            "title": title,
            "version": "observed",
            "description": "Reconstructed by Gatewatch from observed traffic: paths, parameters, \
                            status codes and body shapes seen, not a declared contract.",
        },
        "paths": paths.into_iter().map(|(k, v)| (k, Value::Object(v))).collect::<Map<_, _>>(),
    });
    if !hosts.is_empty() {
        doc["servers"] = hosts
            .iter()
            .map(|h| json!({ "url": format!("https://{h}") }))
            .collect();
    }
    if !schemes.is_empty() {
        doc["components"] = json!({
            "securitySchemes": schemes.into_iter().map(|(k, v)| (k.to_string(), v)).collect::<Map<_, _>>()
        });
    }
    doc
}

fn operation(e: &EndpointState, schemes: &mut BTreeMap<&'static str, Value>) -> Value {
    let mut op = Map::new();
    if let Some(id) = e.spec.as_ref().and_then(|s| s.operation_id.clone()) {
        op.insert("operationId".into(), json!(id));
    }
    let mut params: Vec<Value> = Vec::new();
    for p in &e.params {
        let location = match p.location {
            ParamLocation::Path => "path",
            ParamLocation::Query => "query",
            ParamLocation::Header => "header",
            ParamLocation::Cookie => "cookie",
            ParamLocation::Body => continue,
        };
        if p.location == ParamLocation::Path && !e.template.contains(&format!("{{{}}}", p.name)) {
            continue;
        }
        let required = p.location == ParamLocation::Path || (e.calls > 0 && p.calls >= e.calls);
        params.push(json!({
            "name": p.name,
            "in": location,
            "required": required,
            "schema": type_schema(p.value_type()),
        }));
    }
    // Every template parameter must be declared, even when its values were not recorded.
    for name in template_params(&e.template) {
        let declared = params
            .iter()
            .any(|p| p["in"] == "path" && p["name"] == name);
        if !declared {
            params.push(
                json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}),
            );
        }
    }
    if !params.is_empty() {
        op.insert("parameters".into(), Value::Array(params));
    }
    if !e.request_content_types.is_empty() || e.request_schema.is_some() {
        let schema = e
            .request_schema
            .as_ref()
            .map_or_else(|| json!({}), |s| s.to_json_schema());
        let mut content = Map::new();
        let types: Vec<&String> = e.request_content_types.keys().collect();
        if types.is_empty() {
            content.insert("application/json".into(), json!({ "schema": schema }));
        }
        for ct in types {
            let s = if ct.contains("json") {
                schema.clone()
            } else {
                json!({})
            };
            content.insert(ct.clone(), json!({ "schema": s }));
        }
        op.insert("requestBody".into(), json!({ "content": content }));
    }
    op.insert("responses".into(), responses(e));
    let security = security(e, schemes);
    if !security.is_empty() {
        op.insert("security".into(), Value::Array(security));
    }
    op.insert(
        "x-gatewatch".into(),
        json!({
            "id": e.id,
            "calls": e.calls,
            "first_seen": e.first_seen,
            "last_seen": e.last_seen,
            "external": e.is_external(),
            "sensitive": e.sensitive.keys().collect::<Vec<_>>(),
        }),
    );
    Value::Object(op)
}

fn responses(e: &EndpointState) -> Value {
    let mut out = Map::new();
    let json_type = e
        .response_content_types
        .keys()
        .find(|ct| ct.contains("json"))
        .cloned();
    for code in e.status_codes.keys() {
        let mut r = Map::new();
        r.insert("description".into(), json!(format!("Observed {code}")));
        if let Some(schema) = e.response_schemas.get(code) {
            let ct = json_type
                .clone()
                .unwrap_or_else(|| "application/json".into());
            r.insert(
                "content".into(),
                json!({ ct: { "schema": schema.to_json_schema() } }),
            );
        }
        out.insert(code.to_string(), Value::Object(r));
    }
    if out.is_empty() {
        out.insert(
            "default".into(),
            json!({ "description": "No response status observed" }),
        );
    }
    Value::Object(out)
}

fn security(e: &EndpointState, schemes: &mut BTreeMap<&'static str, Value>) -> Vec<Value> {
    let mut alternatives = Vec::new();
    for label in e.auth.keys() {
        let (name, scheme) = match label.as_str() {
            "api_key" => (
                "apiKey",
                json!({"type": "apiKey", "in": "header", "name": "X-API-Key",
                       "description": "An API key was observed; its exact location is not recorded."}),
            ),
            "basic" => ("basicAuth", json!({"type": "http", "scheme": "basic"})),
            "bearer_jwt" => (
                "bearerJwt",
                json!({"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}),
            ),
            "bearer_opaque" => ("bearerToken", json!({"type": "http", "scheme": "bearer"})),
            "mtls" => ("mutualTls", json!({"type": "mutualTLS"})),
            _ => continue,
        };
        schemes.entry(name).or_insert(scheme);
        alternatives.push(json!({ name: [] }));
    }
    if e.unauthenticated_success > 0 && !alternatives.is_empty() {
        alternatives.push(json!({}));
    }
    alternatives
}

fn type_schema(t: ValueType) -> Value {
    match t {
        ValueType::Integer => json!({"type": "integer"}),
        ValueType::Number => json!({"type": "number"}),
        ValueType::Boolean => json!({"type": "boolean"}),
        ValueType::Uuid => json!({"type": "string", "format": "uuid"}),
        ValueType::Date => json!({"type": "string", "format": "date"}),
        ValueType::DateTime => json!({"type": "string", "format": "date-time"}),
        ValueType::Email => json!({"type": "string", "format": "email"}),
        ValueType::Hex
        | ValueType::Hash
        | ValueType::Token
        | ValueType::Slug
        | ValueType::String => {
            json!({"type": "string"})
        }
    }
}

fn template_params(template: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let Some(len) = rest[open..].find('}') else {
            break;
        };
        out.push(&rest[open + 1..open + len]);
        rest = &rest[open + len + 1..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::{ObservedParam, endpoint_id};
    use crate::schema::InferredSchema;
    use gw_model::EndpointMatch;

    fn endpoint() -> EndpointState {
        let mut e = EndpointState::new(
            "api.example.com",
            Method::Get,
            "/users/{userId}",
            EndpointMatch::Learned,
        );
        e.calls = 10;
        e.params.push(ObservedParam {
            name: "userId".into(),
            location: ParamLocation::Path,
            types: [ValueType::Integer].into(),
            calls: 10,
        });
        e.params.push(ObservedParam {
            name: "expand".into(),
            location: ParamLocation::Query,
            types: [ValueType::String].into(),
            calls: 4,
        });
        e.status_codes.insert(200, 9);
        e.status_codes.insert(404, 1);
        e.response_content_types
            .insert("application/json".into(), 9);
        let mut s = InferredSchema::default();
        s.observe(&json!({"id": 1, "email": "someone@example.org"}));
        e.response_schemas.insert(200, s);
        e.auth.insert("bearer_jwt".into(), 8);
        e.auth.insert("none".into(), 2);
        e.unauthenticated_success = 1;
        e
    }

    #[test]
    fn exports_paths_parameters_responses_and_security() {
        let e = endpoint();
        let doc = export_openapi([&e], None);
        assert_eq!(doc["openapi"], "3.1.0");
        assert_eq!(doc["servers"][0]["url"], "https://api.example.com");
        let op = &doc["paths"]["/users/{userId}"]["get"];
        assert_eq!(op["parameters"][0]["schema"]["type"], "integer");
        assert_eq!(op["parameters"][0]["required"], true);
        assert_eq!(op["parameters"][1]["required"], false);
        assert_eq!(
            op["responses"]["200"]["content"]["application/json"]["schema"]["properties"]["id"]["type"],
            "integer"
        );
        assert!(op["responses"]["404"].is_object());
        assert_eq!(op["security"], json!([{"bearerJwt": []}, {}]));
        assert_eq!(
            doc["components"]["securitySchemes"]["bearerJwt"]["bearerFormat"],
            "JWT"
        );
        let text = doc.to_string();
        assert!(!text.contains("someone@example.org"), "no values leak");
        assert_eq!(
            op["x-gatewatch"]["id"],
            endpoint_id("api.example.com", Method::Get, "/users/{userId}")
        );
    }

    #[test]
    fn the_api_filter_and_unrecorded_path_parameters() {
        let mut other = EndpointState::new("h", Method::Delete, "/a/{aId}", EndpointMatch::Learned);
        other.api = "other".into();
        let e = endpoint();
        let doc = export_openapi([&e, &other], Some("other"));
        assert!(doc["paths"].get("/users/{userId}").is_none());
        let op = &doc["paths"]["/a/{aId}"]["delete"];
        assert_eq!(op["parameters"][0]["name"], "aId");
        assert_eq!(
            op["responses"]["default"]["description"],
            "No response status observed"
        );
        assert_eq!(template_params("/a/{x}/b/{y}.json"), ["x", "y"]);
    }
}
