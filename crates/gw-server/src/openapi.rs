//! The OpenAPI 3.1 document of every route, generated from the handlers' `#[utoipa::path]`
//! annotations, and served at `GET /v1/openapi.json`.
//!
//! The finding record's schema comes from gw-model's own JSON Schema (schemars), with its
//! `$defs` moved into `components/schemas`, so the document describes exactly the type the API
//! serializes. gw-store's types have no schema support: they are described by mirror structs
//! here and in `api.rs`, and tests check each mirror lists exactly the fields the real type
//! serializes.

use std::sync::OnceLock;

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use gw_model::{Event, Finding};
use serde_json::{Value, json};
use utoipa::openapi::schema::{ArrayBuilder, Schema};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{OpenApi, ToSchema};

use crate::api::{
    EndpointDetail, EndpointPage, ErrorBody, EventPage, FindingPage, QueryAnswer, SavedQueryInfo,
    StatusAction, StatusChange, StoredFindingSchema,
};

/// `$ref` to the finding record schema (from gw-model).
pub(crate) fn finding_ref() -> RefOr<Schema> {
    Ref::from_schema_name("Finding").into()
}

/// An array of finding records.
pub(crate) fn finding_list() -> RefOr<Schema> {
    RefOr::T(Schema::Array(
        ArrayBuilder::new().items(finding_ref()).build(),
    ))
}

/// An array of detection events (schema from gw-model).
pub(crate) fn event_list() -> RefOr<Schema> {
    RefOr::T(Schema::Array(
        ArrayBuilder::new()
            .items(Ref::from_schema_name("Event"))
            .build(),
    ))
}

/// `$ref` to the stored inventory endpoint schema.
pub(crate) fn endpoint_ref() -> RefOr<Schema> {
    Ref::from_schema_name("StoredEndpoint").into()
}

/// An array of stored inventory endpoints.
pub(crate) fn endpoint_list() -> RefOr<Schema> {
    RefOr::T(Schema::Array(
        ArrayBuilder::new().items(endpoint_ref()).build(),
    ))
}

/// Documentation-only mirror of [`gw_store::StoredEndpoint`].
#[derive(ToSchema)]
#[schema(as = StoredEndpoint)]
#[allow(dead_code)]
pub(crate) struct StoredEndpointSchema {
    /// Stable endpoint id.
    id: String,
    /// The API (group) the endpoint belongs to.
    api: String,
    host: String,
    method: String,
    /// Path template, e.g. `/users/{id}`.
    template: String,
    /// Event time of the first call (RFC 3339); `null` for an endpoint never called.
    #[schema(format = DateTime)]
    first_seen: Option<String>,
    /// Event time of the last call (RFC 3339); `null` for an endpoint never called.
    #[schema(format = DateTime)]
    last_seen: Option<String>,
    calls: u64,
    /// The inventory's complete state of the endpoint (parameters, auth, sensitive data...).
    #[schema(value_type = Object)]
    state: Value,
}

/// Documentation-only description of an ingest answer.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct IngestSummary {
    /// The decoder used (`native`, `kong.http_log`, `azure.apim.policy`, ...).
    format: String,
    /// Records accepted (spooled, acknowledged).
    accepted: u64,
    /// Records refused.
    rejected: u64,
    /// Refused records by reason.
    #[schema(value_type = Object)]
    reasons: Value,
    /// The first refused records with their reason and message.
    #[schema(value_type = Vec<Object>)]
    rejects: Vec<Value>,
    /// Spool sequence number of the batch.
    batch: u64,
}

/// Answer of the health probes.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct HealthStatus {
    /// `ok` (healthz) or `ready` (readyz).
    status: String,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Gatewatch API",
        description = "Ingest of API gateway traffic, and the read API over inventory, findings and alerts. \
            Every /v1 route needs `Authorization: Bearer <token>`: ingest routes the `ingest` scope, reads \
            the `read` scope, alert status changes the `admin` scope (`admin` implies every scope). Errors \
            are JSON: {\"error\": \"...\", \"code\": \"...\"}."
    ),
    paths(
        crate::http::ingest_native,
        crate::http::ingest_kong,
        crate::http::ingest_apim,
        crate::http::ingest_envoy,
        crate::http::healthz,
        crate::http::readyz,
        crate::http::metrics,
        crate::api::list_inventory,
        crate::api::get_endpoint,
        crate::api::list_findings,
        crate::api::get_finding,
        crate::api::list_alerts,
        crate::api::get_alert,
        crate::api::set_alert_status,
        crate::api::list_events,
        crate::api::list_queries,
        crate::api::run_query,
        openapi_json,
    ),
    components(schemas(
        EndpointPage,
        FindingPage,
        EndpointDetail,
        EventPage,
        QueryAnswer,
        SavedQueryInfo,
        StatusAction,
        StatusChange,
        ErrorBody,
        StoredFindingSchema,
        StoredEndpointSchema,
        IngestSummary,
        HealthStatus,
    )),
    tags(
        (name = "ingest", description = "Traffic records from gateways."),
        (name = "inventory", description = "Discovered API endpoints."),
        (name = "findings", description = "Threat, posture and inventory findings."),
        (name = "alerts", description = "Threat findings and their triage."),
        (name = "events", description = "Per-record detections and the alerts they fed."),
        (name = "queries", description = "Saved queries over the explorer views."),
        (name = "operations", description = "Health, readiness, metrics, this document."),
    )
)]
struct ApiDoc;

/// Rewrites `#/$defs/X` references to `#/components/schemas/X`.
fn rebase_refs(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for (k, child) in map.iter_mut() {
                if k == "$ref"
                    && let Value::String(r) = child
                    && let Some(name) = r.strip_prefix("#/$defs/")
                {
                    *r = format!("#/components/schemas/{name}");
                } else {
                    rebase_refs(child);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(rebase_refs),
        _ => {}
    }
}

/// The OpenAPI 3.1 document of the server, as JSON.
pub fn openapi_document() -> Value {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).expect("an OpenAPI document serializes");
    let schemas = doc["components"]["schemas"]
        .as_object_mut()
        .expect("the document has component schemas");
    // The record types gw-model describes itself (schemars), `$defs` moved into the components.
    for (name, mut schema) in [
        ("Finding", gw_model::json_schema::<Finding>()),
        ("Event", gw_model::json_schema::<Event>()),
    ] {
        let defs = schema
            .as_object_mut()
            .and_then(|o| {
                o.remove("$schema");
                o.remove("$defs")
            })
            .unwrap_or_else(|| json!({}));
        if let Value::Object(defs) = defs {
            for (def, mut def_schema) in defs {
                rebase_refs(&mut def_schema);
                schemas.entry(def).or_insert(def_schema);
            }
        }
        rebase_refs(&mut schema);
        schemas.insert(name.into(), schema);
    }
    doc["components"]["securitySchemes"] = json!({
        "bearer": {
            "type": "http",
            "scheme": "bearer",
            "description": "A token configured in server.tokens (only its SHA-256 is stored); scopes ingest, read, admin."
        }
    });
    doc
}

/// This document.
#[utoipa::path(
    get, path = "/v1/openapi.json", tag = "operations",
    responses((status = 200, description = "The OpenAPI 3.1 document of this server.", content_type = "application/json"))
)]
pub(crate) async fn openapi_json() -> Response {
    static DOC: OnceLock<Vec<u8>> = OnceLock::new();
    let body = DOC.get_or_init(|| {
        serde_json::to_vec_pretty(&openapi_document()).expect("the document serializes")
    });
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body.clone(),
    )
        .into_response()
}

/// Every `(METHOD, path)` the document describes, sorted.
pub fn documented_operations(doc: &Value) -> Vec<(String, String)> {
    let mut ops = Vec::new();
    if let Some(paths) = doc["paths"].as_object() {
        for (path, item) in paths {
            for method in [
                "get", "put", "post", "delete", "options", "head", "patch", "trace",
            ] {
                if item.get(method).is_some() {
                    ops.push((method.to_ascii_uppercase(), path.clone()));
                }
            }
        }
    }
    ops.sort();
    ops
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    fn refs(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                for (k, c) in m {
                    match (k.as_str(), c) {
                        ("$ref", Value::String(r)) => out.push(r.clone()),
                        _ => refs(c, out),
                    }
                }
            }
            Value::Array(a) => a.iter().for_each(|c| refs(c, out)),
            _ => {}
        }
    }

    #[test]
    fn document_is_openapi_3_1_and_every_reference_resolves() {
        let doc = openapi_document();
        assert!(
            doc["openapi"].as_str().unwrap().starts_with("3.1"),
            "{}",
            doc["openapi"]
        );
        let mut all = Vec::new();
        refs(&doc, &mut all);
        assert!(all.iter().any(|r| r == "#/components/schemas/Finding"));
        for r in all {
            let name = r
                .strip_prefix("#/components/schemas/")
                .unwrap_or_else(|| panic!("reference outside the components: {r}"));
            assert!(
                doc["components"]["schemas"].get(name).is_some(),
                "unresolved {r}"
            );
        }
        let finding = &doc["components"]["schemas"]["Finding"];
        assert!(finding["properties"]["severity"].is_object(), "{finding}");
        let event = &doc["components"]["schemas"]["Event"];
        assert!(event["properties"]["detections"].is_object(), "{event}");
    }

    fn keys(v: &Value) -> BTreeSet<String> {
        v.as_object().unwrap().keys().cloned().collect()
    }

    #[test]
    fn mirrors_of_store_types_list_exactly_the_serialized_fields() {
        let doc = openapi_document();
        let schemas = &doc["components"]["schemas"];
        let endpoint = gw_store::StoredEndpoint {
            id: "e1".into(),
            api: "shop".into(),
            host: "api.example.com".into(),
            method: "GET".into(),
            template: "/users/{id}".into(),
            first_seen: None,
            last_seen: None,
            calls: 3,
            state: json!({}),
        };
        assert_eq!(
            keys(&serde_json::to_value(&endpoint).unwrap()),
            keys(&schemas["StoredEndpoint"]["properties"])
        );
        let stored = gw_store::StoredFinding {
            finding: gw_store::conformance::finding("f1", "fp", 0, "203.0.113.9", "x1"),
            status_reason: Some("load test".into()),
        };
        assert_eq!(
            keys(&serde_json::to_value(&stored).unwrap()),
            keys(&schemas["StoredFinding"]["properties"])
        );
        // And the finding itself validates field-wise against gw-model's schema.
        let f = serde_json::to_value(&stored.finding).unwrap();
        let props = keys(&schemas["Finding"]["properties"]);
        assert!(keys(&f).is_subset(&props), "{f}");
    }
}
