//! The `/v1` read API: inventory, endpoint detail, findings, alerts and alert status changes.
//!
//! Every route needs a bearer token: reads the `read` scope, status changes the `admin` scope
//! (`admin` implies `read`). Query parameters are checked strictly: an unknown, repeated or
//! malformed parameter gets 400 with `"parameter": "<name>"` in the JSON error body. Lists are
//! paginated with `limit` (1 to [`MAX_LIMIT`], default [`DEFAULT_LIMIT`]) and `offset`; the answer's
//! `next_offset` is the `offset` of the next page, or `null` on the last one.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gw_model::{Event, Finding, FindingKind, FindingStatus, Severity};
use gw_store::{
    EventFilter, FindingFilter, QueryResult, StoreError, StoredEndpoint, StoredFinding,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoResponses, ToSchema};

use crate::http::{AppState, authorize, read_body};
use crate::metrics::series;
use crate::read::{EndpointFilter, FindingQuery, ReadStore};
use crate::{ApiError, Scope};

/// Page size when `limit` is not given.
pub const DEFAULT_LIMIT: u32 = 100;
/// Largest `limit` accepted.
pub const MAX_LIMIT: u32 = 1000;
/// Findings listed on an endpoint's detail page, newest first.
pub const ENDPOINT_DETAIL_FINDINGS: u32 = 50;
/// Longest status-change reason accepted, in characters.
pub const MAX_REASON_CHARS: usize = 1000;
/// Largest status-change request body, in bytes.
const MAX_STATUS_BODY: usize = 64 * 1024;

/// A page of inventory endpoints.
#[derive(Serialize, ToSchema)]
pub struct EndpointPage {
    #[schema(schema_with = crate::openapi::endpoint_list)]
    pub items: Vec<StoredEndpoint>,
    /// `offset` of the next page; `null` on the last page.
    pub next_offset: Option<u32>,
}

/// A page of findings (or alerts).
#[derive(Serialize, ToSchema)]
pub struct FindingPage {
    #[schema(schema_with = crate::openapi::finding_list)]
    pub items: Vec<Finding>,
    /// `offset` of the next page; `null` on the last page.
    pub next_offset: Option<u32>,
}

/// A page of detection events.
#[derive(Serialize, ToSchema)]
pub struct EventPage {
    #[schema(schema_with = crate::openapi::event_list)]
    pub items: Vec<Event>,
    /// `offset` of the next page; `null` on the last page.
    pub next_offset: Option<u32>,
}

/// The answer of a saved query.
#[derive(Serialize, ToSchema)]
pub struct QueryAnswer {
    /// The saved query's name.
    pub name: String,
    /// Column names, in select order.
    pub columns: Vec<String>,
    /// Rows of JSON values (null, number, or string; blobs as lowercase hex).
    #[schema(value_type = Vec<Vec<Object>>)]
    pub rows: Vec<Vec<serde_json::Value>>,
    /// More rows were available than `limit`.
    pub truncated: bool,
}

/// One saved query, as listed by `GET /v1/queries`.
#[derive(Serialize, ToSchema)]
pub struct SavedQueryInfo {
    /// Kebab-case name, for `GET /v1/queries/{name}`.
    pub name: String,
    /// What it finds.
    pub description: String,
    /// The SELECT it runs over the explorer views (docs/QUERY.md).
    pub sql: String,
}

/// One inventory endpoint with the findings about it.
#[derive(Serialize, ToSchema)]
pub struct EndpointDetail {
    #[schema(schema_with = crate::openapi::endpoint_ref)]
    pub endpoint: StoredEndpoint,
    /// The newest findings about this endpoint (any kind and status), at most 50.
    #[schema(schema_with = crate::openapi::finding_list)]
    pub findings: Vec<Finding>,
    /// Whether more findings about this endpoint exist (list them with
    /// `GET /v1/findings?endpoint=<id>`).
    pub findings_truncated: bool,
}

/// What a person does with an alert.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StatusAction {
    /// Seen and being handled: status `acknowledged`.
    Acknowledge,
    /// Not worth acting on (false positive, accepted risk): status `suppressed`; needs a reason.
    Suppress,
    /// Dealt with: status `resolved`.
    Resolve,
    /// Back to `open` (fails with 409 while another active alert has the same fingerprint).
    Reopen,
}

impl StatusAction {
    fn status(self) -> FindingStatus {
        match self {
            StatusAction::Acknowledge => FindingStatus::Acknowledged,
            StatusAction::Suppress => FindingStatus::Suppressed,
            StatusAction::Resolve => FindingStatus::Resolved,
            StatusAction::Reopen => FindingStatus::Open,
        }
    }
}

/// Body of `POST /v1/alerts/{id}/status`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusChange {
    pub action: StatusAction,
    /// Why (kept with the alert and shown by `GET /v1/findings/{id}`); required for
    /// `suppress`, at most 1000 characters.
    #[serde(default)]
    pub reason: Option<String>,
}

/// The JSON body of every error answer.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong, for people.
    pub error: String,
    /// Stable machine-readable code (`bad_parameter`, `not_found`, `unauthorized`, ...).
    pub code: String,
    /// The query parameter or body field at fault, for 400 answers about one.
    pub parameter: Option<String>,
}

/// The refusals of every read route: a missing or unknown token, or one without the `read`
/// scope (documentation only: the handlers answer with [`ApiError`]).
#[derive(IntoResponses)]
#[allow(dead_code)]
pub(crate) enum ReadRefusals {
    #[response(status = 401, description = "Missing or unknown token.")]
    Unauthorized(ErrorBody),
    #[response(status = 403, description = "The token lacks the `read` scope.")]
    Forbidden(ErrorBody),
}

/// The refusal of a route's query parameters (documentation only).
#[derive(IntoResponses)]
#[response(
    status = 400,
    description = "A bad query parameter (named in `parameter`)."
)]
#[allow(dead_code)]
pub(crate) struct BadParameter(ErrorBody);

/// The store behind the read API, or 503 when the server runs without one.
fn store(app: &AppState) -> Result<Arc<dyn ReadStore>, ApiError> {
    app.read.clone().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "read_api_unavailable",
            "this server was started without a store for the read API",
        )
    })
}

/// Authorizes the request for `scope` and hands back the read store.
pub(crate) fn authorized(
    app: &AppState,
    headers: &HeaderMap,
    scope: Scope,
) -> Result<Arc<dyn ReadStore>, ApiError> {
    authorize(app, headers, scope)?;
    store(app)
}

/// Runs a store call on tokio's blocking pool and maps its error to an API answer.
pub(crate) async fn blocking<T: Send + 'static>(
    app: &AppState,
    what: &'static str,
    call: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, ApiError> {
    let started = Instant::now();
    let joined = tokio::task::spawn_blocking(call).await;
    app.metrics.add(
        series("gatewatch_api_store_seconds_total", &[("call", what)]),
        started.elapsed().as_secs_f64(),
    );
    let result = joined.map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("{what}: the store call failed: {e}"),
        )
    })?;
    result.map_err(|e| store_error(what, e))
}

fn store_error(what: &str, e: StoreError) -> ApiError {
    match e {
        StoreError::NotFound { .. } => {
            ApiError::new(StatusCode::NOT_FOUND, "not_found", e.to_string())
        }
        StoreError::Conflict { .. } => {
            ApiError::new(StatusCode::CONFLICT, "conflict", e.to_string())
        }
        StoreError::InvalidRecord { .. } => ApiError::bad_request("invalid", e.to_string()),
        StoreError::QueryRefused { .. } => ApiError::bad_request("query_refused", e.to_string()),
        e => {
            let mut chain = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                chain.push_str(": ");
                chain.push_str(&s.to_string());
                source = s.source();
            }
            tracing::error!(call = what, error = %chain, "read API store call failed");
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "store_error", chain)
        }
    }
}

fn bad_parameter(name: &str, message: String) -> ApiError {
    let mut e = ApiError::bad_request("bad_parameter", message);
    e.details = Some(serde_json::json!({ "parameter": name }));
    e
}

fn not_found(what: String) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", what)
}

/// Query parameters of one request, checked against the names a route accepts.
pub(crate) struct Query {
    values: BTreeMap<&'static str, String>,
}

impl Query {
    /// Parses `a=1&b=x%20y`; refuses names outside `allowed`, repeated names, and values that
    /// are not valid percent-encoded UTF-8. Empty values count as absent.
    pub(crate) fn parse(raw: Option<&str>, allowed: &[&'static str]) -> Result<Query, ApiError> {
        let mut values = BTreeMap::new();
        for pair in raw.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let name = decode_component(name)
                .map_err(|_| bad_parameter(name, "query parameter name is not UTF-8".into()))?;
            let Some(&known) = allowed.iter().find(|a| **a == name) else {
                return Err(bad_parameter(
                    &name,
                    format!(
                        "unknown query parameter \"{name}\"; this route takes: {}",
                        allowed.join(", ")
                    ),
                ));
            };
            let value = decode_component(value)
                .map_err(|_| bad_parameter(known, format!("{known}: value is not valid UTF-8")))?;
            if value.is_empty() {
                continue;
            }
            if values.insert(known, value).is_some() {
                return Err(bad_parameter(
                    known,
                    format!("{known}: given more than once"),
                ));
            }
        }
        Ok(Query { values })
    }

    pub(crate) fn text(&self, name: &'static str) -> Option<String> {
        self.values.get(name).cloned()
    }

    /// A value parsed with `T`'s serde names (`high`, `threat`, `acknowledged`).
    fn named<T: serde::de::DeserializeOwned>(
        &self,
        name: &'static str,
        choices: &str,
    ) -> Result<Option<T>, ApiError> {
        let Some(v) = self.values.get(name) else {
            return Ok(None);
        };
        serde_json::from_value(serde_json::Value::String(v.clone()))
            .map(Some)
            .map_err(|_| bad_parameter(name, format!("{name}: \"{v}\" is not one of {choices}")))
    }

    /// An RFC 3339 instant (`2026-01-01T00:00:00Z`).
    fn instant(&self, name: &'static str) -> Result<Option<jiff::Timestamp>, ApiError> {
        let Some(v) = self.values.get(name) else {
            return Ok(None);
        };
        v.parse().map(Some).map_err(|e| {
            bad_parameter(
                name,
                format!(
                    "{name}: \"{v}\" is not an RFC 3339 instant like 2026-01-01T00:00:00Z: {e}"
                ),
            )
        })
    }

    fn ip(&self, name: &'static str) -> Result<Option<std::net::IpAddr>, ApiError> {
        let Some(v) = self.values.get(name) else {
            return Ok(None);
        };
        v.parse().map(Some).map_err(|_| {
            bad_parameter(
                name,
                format!("{name}: \"{v}\" is not an IPv4 or IPv6 address"),
            )
        })
    }

    fn number(&self, name: &'static str, min: u32, max: u32) -> Result<Option<u32>, ApiError> {
        let Some(v) = self.values.get(name) else {
            return Ok(None);
        };
        match v.parse::<u32>() {
            Ok(n) if (min..=max).contains(&n) => Ok(Some(n)),
            _ => Err(bad_parameter(
                name,
                format!("{name}: expected an integer from {min} to {max}, got \"{v}\""),
            )),
        }
    }

    /// `limit` and `offset`.
    pub(crate) fn page(&self) -> Result<(u32, u32), ApiError> {
        Ok((
            self.number("limit", 1, MAX_LIMIT)?.unwrap_or(DEFAULT_LIMIT),
            self.number("offset", 0, u32::MAX - MAX_LIMIT - 1)?
                .unwrap_or(0),
        ))
    }
}

fn decode_component(s: &str) -> Result<String, std::str::Utf8Error> {
    let spaced = s.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8()
        .map(|c| c.into_owned())
}

/// Trims a one-extra-item fetch to a page and its `next_offset`.
fn paged<T>(mut items: Vec<T>, limit: u32, offset: u32) -> (Vec<T>, Option<u32>) {
    let more = items.len() > limit as usize;
    items.truncate(limit as usize);
    (items, more.then(|| offset + limit))
}

fn ok_json<T: Serialize>(value: &T) -> Response {
    (StatusCode::OK, Json(value)).into_response()
}

const FINDING_PARAMS: &[&str] = &[
    "kind", "rule", "severity", "status", "endpoint", "limit", "offset",
];
const ALERT_PARAMS: &[&str] = &["rule", "severity", "status", "endpoint", "limit", "offset"];

fn finding_query(q: &Query, kind: Option<FindingKind>) -> Result<FindingQuery, ApiError> {
    let (limit, offset) = q.page()?;
    let kind = match kind {
        Some(k) => Some(k),
        None => q.named("kind", "threat, posture, inventory")?,
    };
    Ok(FindingQuery {
        filter: FindingFilter {
            kind,
            min_severity: q.named::<Severity>("severity", "info, low, medium, high, critical")?,
            rule_id: q.text("rule"),
            status: q.named("status", "open, acknowledged, suppressed, resolved")?,
            // One more than asked, to tell whether a next page exists.
            limit: Some(limit + 1),
            offset,
        },
        endpoint: q.text("endpoint"),
    })
}

async fn list_findings_page(
    app: &AppState,
    headers: &HeaderMap,
    raw: Option<String>,
    alerts: bool,
) -> Result<Response, ApiError> {
    let store = authorized(app, headers, Scope::Read)?;
    let q = if alerts {
        Query::parse(raw.as_deref(), ALERT_PARAMS)?
    } else {
        Query::parse(raw.as_deref(), FINDING_PARAMS)?
    };
    let query = finding_query(&q, alerts.then_some(FindingKind::Threat))?;
    let (limit, offset) = q.page()?;
    let items = blocking(app, "list_findings", move || store.list_findings(&query)).await?;
    let (items, next_offset) = paged(items, limit, offset);
    Ok(ok_json(&FindingPage { items, next_offset }))
}

/// List API inventory endpoints.
#[utoipa::path(
    get, path = "/v1/inventory", tag = "inventory",
    security(("bearer" = ["read"])),
    params(
        ("api" = Option<String>, Query, description = "Only endpoints of this API (group)."),
        ("host" = Option<String>, Query, description = "Only endpoints on this host (case-insensitive)."),
        ("limit" = Option<u32>, Query, description = "Page size, 1 to 1000 (default 100)."),
        ("offset" = Option<u32>, Query, description = "Endpoints to skip (the previous page's next_offset)."),
    ),
    responses(
        (status = 200, description = "A page of endpoints, ordered by API, host, template, method.", body = EndpointPage),
        BadParameter,
        ReadRefusals,
    )
)]
pub(crate) async fn list_inventory(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let store = authorized(&app, &headers, Scope::Read)?;
    let q = Query::parse(raw.as_deref(), &["api", "host", "limit", "offset"])?;
    let (limit, offset) = q.page()?;
    let filter = EndpointFilter {
        api: q.text("api"),
        host: q.text("host"),
        limit: limit + 1,
        offset,
    };
    let items = blocking(&app, "list_endpoints", move || {
        store.list_endpoints(&filter)
    })
    .await?;
    let (items, next_offset) = paged(items, limit, offset);
    Ok(ok_json(&EndpointPage { items, next_offset }))
}

/// One inventory endpoint with the newest findings about it.
#[utoipa::path(
    get, path = "/v1/endpoints/{id}", tag = "inventory",
    security(("bearer" = ["read"])),
    params(("id" = String, Path, description = "Endpoint id.")),
    responses(
        (status = 200, description = "The endpoint and its findings.", body = EndpointDetail),
        ReadRefusals,
        (status = 404, description = "No endpoint with this id.", body = ErrorBody),
    )
)]
pub(crate) async fn get_endpoint(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let store = authorized(&app, &headers, Scope::Read)?;
    Query::parse(raw.as_deref(), &[])?;
    let (s, key) = (store.clone(), id.clone());
    let endpoint = blocking(&app, "get_endpoint", move || s.get_endpoint(&key))
        .await?
        .ok_or_else(|| not_found(format!("no inventory endpoint with id \"{id}\"")))?;
    let query = FindingQuery {
        filter: FindingFilter {
            limit: Some(ENDPOINT_DETAIL_FINDINGS + 1),
            ..FindingFilter::default()
        },
        endpoint: Some(id),
    };
    let findings = blocking(&app, "list_findings", move || store.list_findings(&query)).await?;
    let (findings, more) = paged(findings, ENDPOINT_DETAIL_FINDINGS, 0);
    Ok(ok_json(&EndpointDetail {
        endpoint,
        findings,
        findings_truncated: more.is_some(),
    }))
}

/// List findings of every kind.
#[utoipa::path(
    get, path = "/v1/findings", tag = "findings",
    security(("bearer" = ["read"])),
    params(
        ("kind" = Option<String>, Query, description = "threat, posture or inventory."),
        ("rule" = Option<String>, Query, description = "Only findings of this rule id."),
        ("severity" = Option<String>, Query, description = "This severity or higher: info, low, medium, high, critical."),
        ("status" = Option<String>, Query, description = "open, acknowledged, suppressed or resolved."),
        ("endpoint" = Option<String>, Query, description = "Only findings about this inventory endpoint id."),
        ("limit" = Option<u32>, Query, description = "Page size, 1 to 1000 (default 100)."),
        ("offset" = Option<u32>, Query, description = "Findings to skip (the previous page's next_offset)."),
    ),
    responses(
        (status = 200, description = "A page of findings, newest last_seen first.", body = FindingPage),
        BadParameter,
        ReadRefusals,
    )
)]
pub(crate) async fn list_findings(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    list_findings_page(&app, &headers, raw, false).await
}

/// One finding with the reason of its last status change.
#[utoipa::path(
    get, path = "/v1/findings/{id}", tag = "findings",
    security(("bearer" = ["read"])),
    params(("id" = String, Path, description = "Finding id.")),
    responses(
        (status = 200, description = "The finding.", body = StoredFindingSchema),
        ReadRefusals,
        (status = 404, description = "No finding with this id.", body = ErrorBody),
    )
)]
pub(crate) async fn get_finding(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let finding = fetch_finding(&app, &headers, raw, id, false).await?;
    Ok(ok_json(&finding))
}

async fn fetch_finding(
    app: &AppState,
    headers: &HeaderMap,
    raw: Option<String>,
    id: String,
    alert: bool,
) -> Result<StoredFinding, ApiError> {
    let store = authorized(app, headers, Scope::Read)?;
    Query::parse(raw.as_deref(), &[])?;
    let key = id.clone();
    let found = blocking(app, "get_finding", move || store.get_finding(&key)).await?;
    match found {
        Some(f) if !alert || f.finding.kind == FindingKind::Threat => Ok(f),
        _ if alert => Err(not_found(format!("no alert with id \"{id}\""))),
        _ => Err(not_found(format!("no finding with id \"{id}\""))),
    }
}

/// List alerts: threat findings.
#[utoipa::path(
    get, path = "/v1/alerts", tag = "alerts",
    security(("bearer" = ["read"])),
    params(
        ("rule" = Option<String>, Query, description = "Only alerts of this rule id."),
        ("severity" = Option<String>, Query, description = "This severity or higher: info, low, medium, high, critical."),
        ("status" = Option<String>, Query, description = "open, acknowledged, suppressed or resolved."),
        ("endpoint" = Option<String>, Query, description = "Only alerts about this inventory endpoint id."),
        ("limit" = Option<u32>, Query, description = "Page size, 1 to 1000 (default 100)."),
        ("offset" = Option<u32>, Query, description = "Alerts to skip (the previous page's next_offset)."),
    ),
    responses(
        (status = 200, description = "A page of alerts, newest last_seen first.", body = FindingPage),
        BadParameter,
        ReadRefusals,
    )
)]
pub(crate) async fn list_alerts(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    list_findings_page(&app, &headers, raw, true).await
}

/// One alert (a threat finding) with the reason of its last status change.
#[utoipa::path(
    get, path = "/v1/alerts/{id}", tag = "alerts",
    security(("bearer" = ["read"])),
    params(("id" = String, Path, description = "Alert (finding) id.")),
    responses(
        (status = 200, description = "The alert.", body = StoredFindingSchema),
        ReadRefusals,
        (status = 404, description = "No threat finding with this id.", body = ErrorBody),
    )
)]
pub(crate) async fn get_alert(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let finding = fetch_finding(&app, &headers, raw, id, true).await?;
    Ok(ok_json(&finding))
}

/// Acknowledge, suppress (with a reason), resolve or reopen an alert. Needs the `admin` scope.
#[utoipa::path(
    post, path = "/v1/alerts/{id}/status", tag = "alerts",
    security(("bearer" = ["admin"])),
    params(("id" = String, Path, description = "Alert (finding) id.")),
    request_body(content = StatusChange, content_type = "application/json"),
    responses(
        (status = 200, description = "The alert as now stored.", body = StoredFindingSchema),
        (status = 400, description = "Malformed JSON, an unknown action or field, or a missing or too long reason (named in `parameter`).", body = ErrorBody),
        (status = 401, description = "Missing or unknown token.", body = ErrorBody),
        (status = 403, description = "The token lacks the `admin` scope.", body = ErrorBody),
        (status = 404, description = "No threat finding with this id.", body = ErrorBody),
        (status = 409, description = "Reopening conflicts with an active alert of the same fingerprint.", body = ErrorBody),
        (status = 413, description = "The body is larger than 64 KiB.", body = ErrorBody),
        (status = 415, description = "The body is not application/json.", body = ErrorBody),
    )
)]
pub(crate) async fn set_alert_status(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
    body: Body,
) -> Result<Response, ApiError> {
    let store = authorized(&app, &headers, Scope::Admin)?;
    Query::parse(raw.as_deref(), &[])?;
    check_json_content_type(&headers)?;
    let bytes = read_body(body, MAX_STATUS_BODY).await.map_err(|e| {
        if e.status == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::payload_too_large(
                "body_too_large",
                format!("request body is larger than {MAX_STATUS_BODY} bytes"),
            )
        } else {
            e
        }
    })?;
    let change = parse_status_change(&bytes)?;
    let reason = change
        .reason
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty());
    if change.action == StatusAction::Suppress && reason.is_none() {
        return Err(bad_parameter(
            "reason",
            "reason: suppressing an alert needs a reason (why it is not worth acting on)".into(),
        ));
    }
    if reason
        .as_ref()
        .is_some_and(|r| r.chars().count() > MAX_REASON_CHARS)
    {
        return Err(bad_parameter(
            "reason",
            format!("reason: longer than {MAX_REASON_CHARS} characters"),
        ));
    }
    let current = fetch_finding(&app, &headers, None, id.clone(), true).await?;
    let status = change.action.status();
    let updated = blocking(&app, "set_finding_status", move || {
        store.set_finding_status(&id, status, reason.as_deref())
    })
    .await?;
    tracing::info!(
        alert = %updated.finding.id,
        from = current.finding.status.as_str(),
        to = status.as_str(),
        "alert status changed through the API"
    );
    app.metrics.add(
        series(
            "gatewatch_api_status_changes_total",
            &[("status", status.as_str())],
        ),
        1.0,
    );
    Ok(ok_json(&updated))
}

/// Detection events: which rules fired on which exchange, and the alerts they fed.
#[utoipa::path(
    get, path = "/v1/events", tag = "events",
    security(("bearer" = ["read"])),
    params(
        ("alert" = Option<String>, Query, description = "Only events that fed this alert (finding id)."),
        ("rule" = Option<String>, Query, description = "Only events with a detection of this rule id."),
        ("ip" = Option<String>, Query, description = "Only events whose actor IP is this address."),
        ("identity" = Option<String>, Query, description = "Only events whose actor identity is exactly this."),
        ("endpoint" = Option<String>, Query, description = "Only events on this inventory endpoint id."),
        ("since" = Option<String>, Query, description = "Observed at or after this RFC 3339 instant."),
        ("until" = Option<String>, Query, description = "Observed strictly before this RFC 3339 instant."),
        ("limit" = Option<u32>, Query, description = "Page size, 1 to 1000 (default 100)."),
        ("offset" = Option<u32>, Query, description = "Events to skip (the previous page's next_offset)."),
    ),
    responses(
        (status = 200, description = "A page of events, oldest observed_at first.", body = EventPage),
        BadParameter,
        ReadRefusals,
    )
)]
pub(crate) async fn list_events(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let store = authorized(&app, &headers, Scope::Read)?;
    let q = Query::parse(
        raw.as_deref(),
        &[
            "alert", "rule", "ip", "identity", "endpoint", "since", "until", "limit", "offset",
        ],
    )?;
    let (limit, offset) = q.page()?;
    let filter = EventFilter {
        alert_id: q.text("alert"),
        rule_id: q.text("rule"),
        ip: q.ip("ip")?,
        identity: q.text("identity"),
        endpoint_id: q.text("endpoint"),
        since: q.instant("since")?,
        until: q.instant("until")?,
        limit: Some(limit + 1),
        offset,
    };
    let items = blocking(&app, "list_events", move || store.list_events(&filter)).await?;
    let (items, next_offset) = paged(items, limit, offset);
    Ok(ok_json(&EventPage { items, next_offset }))
}

/// The saved queries the server can run.
#[utoipa::path(
    get, path = "/v1/queries", tag = "queries",
    security(("bearer" = ["read"])),
    responses(
        (status = 200, description = "Every saved query, by name.", body = Vec<SavedQueryInfo>),
        ReadRefusals,
    )
)]
pub(crate) async fn list_queries(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    authorize(&app, &headers, Scope::Read)?;
    Query::parse(raw.as_deref(), &[])?;
    let list: Vec<SavedQueryInfo> = gw_store::SAVED_QUERIES
        .iter()
        .map(|q| SavedQueryInfo {
            name: q.name.into(),
            description: q.description.into(),
            sql: q.sql.into(),
        })
        .collect();
    Ok(ok_json(&list))
}

/// Runs a saved query over the explorer views. Only saved queries run: the API takes no SQL.
#[utoipa::path(
    get, path = "/v1/queries/{name}", tag = "queries",
    security(("bearer" = ["read"])),
    params(
        ("name" = String, Path, description = "Saved query name (see GET /v1/queries)."),
        ("limit" = Option<u32>, Query, description = "Most rows to return, 1 to 1000 (default 100); `truncated` tells whether there were more."),
    ),
    responses(
        (status = 200, description = "Columns and rows.", body = QueryAnswer),
        BadParameter,
        ReadRefusals,
        (status = 404, description = "No saved query of this name.", body = ErrorBody),
    )
)]
pub(crate) async fn run_query(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(name): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let store = authorized(&app, &headers, Scope::Read)?;
    let q = Query::parse(raw.as_deref(), &["limit"])?;
    let limit = q.number("limit", 1, MAX_LIMIT)?.unwrap_or(DEFAULT_LIMIT);
    let saved = gw_store::saved_query(&name).ok_or_else(|| {
        not_found(format!(
            "no saved query named \"{name}\"; GET /v1/queries lists them"
        ))
    })?;
    let result: QueryResult = blocking(&app, "query", move || {
        store.run_query(saved.sql, limit as usize)
    })
    .await?;
    Ok(ok_json(&QueryAnswer {
        name: saved.name.into(),
        columns: result.columns,
        rows: result.rows,
        truncated: result.truncated,
    }))
}

fn check_json_content_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let ctype = headers
        .get(header::CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).to_ascii_lowercase());
    let essence = ctype
        .as_deref()
        .map(|c| c.split(';').next().unwrap_or("").trim().to_string());
    match essence.as_deref() {
        Some("application/json") => Ok(()),
        Some(other) => Err(ApiError::unsupported_media(format!(
            "Content-Type \"{other}\" is not accepted here; send application/json"
        ))),
        None => Err(ApiError::unsupported_media(
            "missing Content-Type; send application/json",
        )),
    }
}

fn parse_status_change(bytes: &[u8]) -> Result<StatusChange, ApiError> {
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
        ApiError::bad_request(
            "malformed_json",
            format!("request body is not valid JSON: {e}"),
        )
    })?;
    if !value.is_object() {
        let mut err = ApiError::bad_request(
            "invalid_body",
            "request body: expected a JSON object {\"action\": ..., \"reason\": ...}",
        );
        err.details = Some(serde_json::json!({ "parameter": "body" }));
        return Err(err);
    }
    serde_path_to_error::deserialize::<_, StatusChange>(value).map_err(|e| {
        let path = e.path().to_string();
        let msg = e.into_inner().to_string();
        // `unknown field `x`` and `missing field `x`` name the field in the message; the
        // others (wrong type or value) in the path.
        let named = msg
            .split('`')
            .nth(1)
            .filter(|_| msg.starts_with("unknown field") || msg.starts_with("missing field"));
        let field = match named {
            Some(f) => f.to_string(),
            None if path != "." => path,
            None => "body".to_string(),
        };
        let mut err = ApiError::bad_request(
            "invalid_body",
            format!(
                "request body: {field}: {msg} (expected {{\"action\": \"acknowledge|suppress|resolve|reopen\", \"reason\": \"...\"}})"
            ),
        );
        err.details = Some(serde_json::json!({ "parameter": field }));
        err
    })
}

/// Documentation-only mirror of [`gw_store::StoredFinding`] (gw-store has no schema support);
/// a test checks it lists exactly the fields the real type serializes.
#[derive(ToSchema)]
#[schema(as = StoredFinding)]
#[allow(dead_code)]
pub(crate) struct StoredFindingSchema {
    #[schema(schema_with = crate::openapi::finding_ref)]
    finding: serde_json::Value,
    /// Why a person last changed the status, if they said.
    status_reason: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(raw: &str) -> Result<Query, ApiError> {
        Query::parse(Some(raw), FINDING_PARAMS)
    }

    fn parameter_of(e: ApiError) -> (StatusCode, String) {
        let p = e.details.as_ref().and_then(|d| d["parameter"].as_str());
        (e.status, p.unwrap_or("").to_string())
    }

    #[test]
    fn query_values_are_percent_decoded_and_typed() {
        let q = params("rule=gw.threat%2Fsqli&severity=high&kind=threat&status=open&endpoint=a+b")
            .unwrap();
        let fq = finding_query(&q, None).unwrap();
        assert_eq!(fq.filter.rule_id.as_deref(), Some("gw.threat/sqli"));
        assert_eq!(fq.filter.min_severity, Some(Severity::High));
        assert_eq!(fq.filter.kind, Some(FindingKind::Threat));
        assert_eq!(fq.filter.status, Some(FindingStatus::Open));
        assert_eq!(fq.endpoint.as_deref(), Some("a b"));
        assert_eq!(fq.filter.limit, Some(DEFAULT_LIMIT + 1));
    }

    #[test]
    fn bad_parameters_are_named() {
        for (raw, name) in [
            ("severity=urgent", "severity"),
            ("kind=alert", "kind"),
            ("status=closed", "status"),
            ("limit=0", "limit"),
            ("limit=1001", "limit"),
            ("limit=ten", "limit"),
            ("offset=-1", "offset"),
            ("colour=red", "colour"),
            ("rule=a&rule=b", "rule"),
            ("rule=%FF", "rule"),
        ] {
            let err = params(raw)
                .and_then(|q| finding_query(&q, None).map(|_| ()))
                .and_then(|()| params(raw)?.page().map(|_| ()))
                .expect_err(raw);
            assert_eq!(
                parameter_of(err),
                (StatusCode::BAD_REQUEST, name.to_string()),
                "{raw}"
            );
        }
    }

    #[test]
    fn pages_know_whether_another_follows() {
        assert_eq!(paged(vec![1, 2, 3], 2, 10), (vec![1, 2], Some(12)));
        assert_eq!(paged(vec![1, 2], 2, 10), (vec![1, 2], None));
        assert_eq!(paged(Vec::<u8>::new(), 2, 0), (vec![], None));
    }

    #[test]
    fn status_bodies_are_checked() {
        let c = parse_status_change(br#"{"action":"suppress","reason":"load test"}"#).unwrap();
        assert_eq!(c.action, StatusAction::Suppress);
        assert_eq!(c.action.status(), FindingStatus::Suppressed);
        let e = parse_status_change(b"{\"action\":").unwrap_err();
        assert_eq!(e.code, "malformed_json");
        let e = parse_status_change(br#"{"action":"close"}"#).unwrap_err();
        assert_eq!(parameter_of(e), (StatusCode::BAD_REQUEST, "action".into()));
        let e = parse_status_change(br#"{"action":"resolve","reason":5}"#).unwrap_err();
        assert_eq!(parameter_of(e), (StatusCode::BAD_REQUEST, "reason".into()));
        let e = parse_status_change(br#"{"action":"resolve","why":"x"}"#).unwrap_err();
        assert_eq!(parameter_of(e), (StatusCode::BAD_REQUEST, "why".into()));
        let e = parse_status_change(br#"{"reason":"x"}"#).unwrap_err();
        assert_eq!(parameter_of(e), (StatusCode::BAD_REQUEST, "action".into()));
        let e = parse_status_change(br#"[1]"#).unwrap_err();
        assert_eq!(e.code, "invalid_body", "{}", e.message);
    }
}
