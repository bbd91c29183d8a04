//! Data access of the read API: the [`ReadStore`] trait the `/v1` read routes call, and its
//! implementation over a [`gw_store::Store`] behind a mutex.
//!
//! # Adding a route (extension point)
//!
//! Every `/v1` read route (`/v1/events` and `/v1/queries/{name}` included) follows one pattern:
//!
//! 1. add a method to [`ReadStore`] returning a serde-serializable type from gw-store or gw-model
//!    (and implement it for `Mutex<Box<dyn Store>>` below, delegating to the new `Store` method);
//! 2. write the handler in `api.rs` with a `#[utoipa::path(...)]` annotation: authorize with
//!    `api::authorized`, parse the query with `api::Query` (it names a bad parameter in its 400),
//!    and call the store with `api::blocking`;
//! 3. register it in `http::routes()` with `Routes::add` and list the handler in
//!    `openapi::ApiDoc`'s `paths(...)`. The `every_route_is_documented_and_vice_versa` test fails
//!    until both are done.

use std::sync::Mutex;

use gw_model::{Event, Finding, FindingStatus};
use gw_store::{
    EventFilter, FindingFilter, QueryResult, Store, StoreError, StoredEndpoint, StoredFinding,
};

/// Which inventory endpoints to list. Every `None` matches everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EndpointFilter {
    /// Only endpoints of this API (group).
    pub api: Option<String>,
    /// Only endpoints served on this host (exact match, ASCII case-insensitive).
    pub host: Option<String>,
    /// At most this many endpoints.
    pub limit: u32,
    /// Skip this many endpoints first (in the store's order: API, host, template, method).
    pub offset: u32,
}

/// Which findings to list: the store's filter plus the endpoint the findings are about.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FindingQuery {
    /// Kind, minimum severity, rule, status, limit and offset, as the store takes them.
    pub filter: FindingFilter,
    /// Only findings about the inventory endpoint with this id (`finding.endpoint.id`).
    pub endpoint: Option<String>,
}

/// What the `/v1` read API needs from the store. Blocking: the server calls every method on
/// tokio's blocking pool, so an implementation may hold a database connection and wait on it.
///
/// Errors are [`StoreError`]s; the API answers `NotFound` with 404, `Conflict` with 409,
/// `InvalidRecord` with 400 and anything else with 500, each with the error's message.
///
/// The binary can use the implementation for `Mutex<Box<dyn Store>>` over a second connection
/// to the pipeline's SQLite file (`gw_store::open_store` on the same path; WAL lets this reader
/// work while the pipeline writes), or implement it over something faster.
pub trait ReadStore: Send + Sync + 'static {
    /// Inventory endpoints matching `filter`, at most `filter.limit`, in the store's order
    /// (API, host, template, method).
    fn list_endpoints(&self, filter: &EndpointFilter) -> Result<Vec<StoredEndpoint>, StoreError>;

    /// One inventory endpoint by id.
    fn get_endpoint(&self, id: &str) -> Result<Option<StoredEndpoint>, StoreError>;

    /// Findings matching `query`, newest `last_seen` first, then by id, at most
    /// `query.filter.limit`, after skipping `query.filter.offset`.
    fn list_findings(&self, query: &FindingQuery) -> Result<Vec<Finding>, StoreError>;

    /// One finding with its status reason.
    fn get_finding(&self, id: &str) -> Result<Option<StoredFinding>, StoreError>;

    /// Changes a finding's status with a reason and returns it as now stored. The one write of
    /// the API (`POST /v1/alerts/{id}/status`, scope `admin`).
    fn set_finding_status(
        &self,
        id: &str,
        status: FindingStatus,
        reason: Option<&str>,
    ) -> Result<StoredFinding, StoreError>;

    /// Detection events matching `filter`, ordered by `observed_at` then exchange id, at most
    /// `filter.limit` after skipping `filter.offset` (as [`Store::list_events`]).
    fn list_events(&self, filter: &EventFilter) -> Result<Vec<Event>, StoreError>;

    /// Runs one read-only SELECT over the explorer views, at most `max_rows` rows (as
    /// [`Store::query`]). The API only runs the saved queries ([`gw_store::SAVED_QUERIES`]) through
    /// it, never SQL from a request.
    fn run_query(&self, sql: &str, max_rows: usize) -> Result<QueryResult, StoreError>;
}

fn lock(store: &Mutex<Box<dyn Store>>) -> std::sync::MutexGuard<'_, Box<dyn Store>> {
    // A panic while holding the lock leaves the connection usable: every store call is one
    // transaction, rolled back when it did not complete.
    store.lock().unwrap_or_else(|p| p.into_inner())
}

/// The read API over any [`Store`]: one connection, calls serialized by the mutex.
///
/// Filters the store cannot apply itself (inventory `host`, findings `endpoint`) are applied
/// here over the store's ordered rows, so pages stay stable; `get_endpoint` scans the
/// inventory. Both are linear in the inventory / matching findings, fine for the inventories
/// and finding counts one install holds.
impl ReadStore for Mutex<Box<dyn Store>> {
    fn list_endpoints(&self, filter: &EndpointFilter) -> Result<Vec<StoredEndpoint>, StoreError> {
        let all = lock(self).load_endpoints(filter.api.as_deref())?;
        Ok(all
            .into_iter()
            .filter(|e| {
                filter
                    .host
                    .as_deref()
                    .is_none_or(|h| e.host.eq_ignore_ascii_case(h))
            })
            .skip(filter.offset as usize)
            .take(filter.limit as usize)
            .collect())
    }

    fn get_endpoint(&self, id: &str) -> Result<Option<StoredEndpoint>, StoreError> {
        Ok(lock(self)
            .load_endpoints(None)?
            .into_iter()
            .find(|e| e.id == id))
    }

    fn list_findings(&self, query: &FindingQuery) -> Result<Vec<Finding>, StoreError> {
        let store = lock(self);
        let Some(endpoint) = &query.endpoint else {
            return store.list_findings(&query.filter);
        };
        let unpaged = FindingFilter {
            limit: None,
            offset: 0,
            ..query.filter.clone()
        };
        Ok(store
            .list_findings(&unpaged)?
            .into_iter()
            .filter(|f| f.endpoint.as_ref().is_some_and(|e| &e.id == endpoint))
            .skip(query.filter.offset as usize)
            .take(query.filter.limit.map_or(usize::MAX, |l| l as usize))
            .collect())
    }

    fn get_finding(&self, id: &str) -> Result<Option<StoredFinding>, StoreError> {
        lock(self).get_finding(id)
    }

    fn set_finding_status(
        &self,
        id: &str,
        status: FindingStatus,
        reason: Option<&str>,
    ) -> Result<StoredFinding, StoreError> {
        let mut store = lock(self);
        store.set_finding_status(id, status, reason)?;
        store.get_finding(id)?.ok_or_else(|| StoreError::NotFound {
            location: store.location().to_string(),
            operation: "set_finding_status",
            what: format!("finding {id} (deleted while its status changed)"),
        })
    }

    fn list_events(&self, filter: &EventFilter) -> Result<Vec<Event>, StoreError> {
        lock(self).list_events(filter)
    }

    fn run_query(&self, sql: &str, max_rows: usize) -> Result<QueryResult, StoreError> {
        lock(self).query(sql, max_rows)
    }
}
