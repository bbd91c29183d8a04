//! The HTTP surface: routes, authentication, rate limits, the ingest path from request to
//! spool, and the forwarder thread from spool to sink.

use std::future::Future;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use gw_model::{Exchange, SourceKind};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde::{Deserialize, Serialize};

use crate::api;
use crate::auth::{AuthFailure, TokenTable};
use crate::decode::{self, Endpoint};
use crate::metrics::{Registry, series};
use crate::openapi;
use crate::read::ReadStore;
use crate::spool::{Spool, SpoolError, SpoolLimits};
use crate::tls::{self, TlsListener};
use crate::{ApiError, Batch, RecordSink, Scope, ServerConfig, ServerError};

/// How often the forwarder asks the sink how far batches are durable and commits the spool.
const COMMIT_EVERY: Duration = Duration::from_millis(100);
/// Longest wait between retries of a failing sink.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// First line of a spool entry that holds a request body as it arrived (see [`RawSpoolHeader`]).
const RAW_SPOOL_MAGIC: &[u8] = b"gatewatch.spool/2\n";

/// A spool entry since `gatewatch.spool/2`: the magic line, this header as one JSON line, then
/// the request body exactly as received (still compressed). Replaying it decodes the body again
/// with the same decoder and input name, which yields the same records with the same ids;
/// spooling the body instead of re-encoding the decoded records saves a JSON serialization of
/// every record on the ingest path and keeps compressed bodies small on disk.
#[derive(Serialize, Deserialize)]
struct RawSpoolHeader {
    token: String,
    endpoint: Endpoint,
    encoding: decode::Encoding,
}

/// A spool entry written before `gatewatch.spool/2`: the decoded records as JSON (still read
/// at start, so an upgrade replays what an older version acknowledged).
#[derive(Deserialize)]
struct SpooledBatch {
    token: String,
    source: SourceKind,
    records: Vec<Exchange>,
}

/// The start of the spool entry of one accepted request body: the entry is this, then the body
/// as it arrived (the spool writes both without joining them).
fn raw_spool_header(
    token: &str,
    endpoint: Endpoint,
    encoding: decode::Encoding,
) -> Result<Vec<u8>, serde_json::Error> {
    let mut out = RAW_SPOOL_MAGIC.to_vec();
    serde_json::to_writer(
        &mut out,
        &RawSpoolHeader {
            token: token.to_string(),
            endpoint,
            encoding,
        },
    )?;
    out.push(b'\n');
    Ok(out)
}

/// The batch a spool entry stands for, in either format.
fn batch_from_spool(seq: u64, payload: &[u8], max_decompressed: usize) -> Result<Batch, String> {
    let Some(rest) = payload.strip_prefix(RAW_SPOOL_MAGIC) else {
        let spooled: SpooledBatch = serde_json::from_slice(payload).map_err(|e| e.to_string())?;
        return Ok(Batch {
            seq,
            token_id: spooled.token,
            source: spooled.source,
            records: spooled.records,
        });
    };
    let end = rest
        .iter()
        .position(|&b| b == b'\n')
        .ok_or("raw entry without a header line")?;
    let header: RawSpoolHeader =
        serde_json::from_slice(&rest[..end]).map_err(|e| format!("header: {e}"))?;
    let body = &rest[end + 1..];
    let raw = decode::decompress(body, header.encoding, max_decompressed)
        .map_err(|e| format!("body: {}", e.message))?;
    let name = decode::input_name(header.endpoint, &header.token, body);
    let decoded = decode::decode_body(header.endpoint, name, &raw)
        .map_err(|e| format!("body: {}", e.message))?;
    Ok(Batch {
        seq,
        token_id: header.token,
        source: decoded.format.unwrap_or(SourceKind::Native),
        records: decoded.records,
    })
}

pub(crate) struct AppState {
    config: ServerConfig,
    tokens: TokenTable,
    /// The read API's store; `None` answers the read routes with 503.
    pub(crate) read: Option<Arc<dyn ReadStore>>,
    limiter: DefaultKeyedRateLimiter<String>,
    spool: Spool,
    /// Feeds the forwarder; taken (closed) at shutdown.
    queue: Mutex<Option<Sender<Batch>>>,
    /// Acknowledged batches the forwarder has not handed to the sink yet.
    queued: AtomicUsize,
    /// Signalled whenever `queued` goes down, for requests waiting for room.
    slot_freed: tokio::sync::Notify,
    sink: Arc<dyn RecordSink>,
    sink_failing: AtomicBool,
    stopping: AtomicBool,
    pub(crate) metrics: Registry,
}

/// What a server run did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServeReport {
    /// Spool entries replayed into the sink at start-up.
    pub replayed: u64,
    /// Highest spool sequence number committed at the end.
    pub committed: u64,
    /// Highest spool sequence number appended at the end.
    pub appended: u64,
}

/// A bound, not yet serving, server.
pub struct Server {
    listener: tokio::net::TcpListener,
    /// Set when `server.tls` is configured: connections are served over TLS.
    tls: Option<tokio_rustls::TlsAcceptor>,
    app: Arc<AppState>,
    forwarder: std::thread::JoinHandle<Result<(), ServerError>>,
    replayed: u64,
}

impl Server {
    /// Validates the config, opens the spool, queues every uncommitted entry for replay into
    /// `sink`, and binds the listener. Without a read store the `/v1` read routes answer 503
    /// (`read_api_unavailable`); see [`Server::bind_with_read_store`].
    pub async fn bind(
        config: ServerConfig,
        sink: Arc<dyn RecordSink>,
    ) -> Result<Server, ServerError> {
        Server::bind_with_read_store(config, sink, None).await
    }

    /// [`Server::bind`], with `read` serving the `/v1` read API (inventory, findings, alerts).
    /// Also loads the TLS certificate and key when `server.tls` is configured, failing with
    /// [`ServerError::Tls`] naming the file when one is missing or unusable.
    pub async fn bind_with_read_store(
        config: ServerConfig,
        sink: Arc<dyn RecordSink>,
        read: Option<Arc<dyn ReadStore>>,
    ) -> Result<Server, ServerError> {
        config.validate()?;
        let tls = config.tls.as_ref().map(tls::load).transpose()?;
        let (spool, pending) =
            Spool::open(&config.spool_dir, SpoolLimits::new(config.spool_max_bytes))?;
        let quota =
            Quota::per_second(NonZeroU32::new(config.rate_per_second).unwrap_or(NonZeroU32::MIN))
                .allow_burst(NonZeroU32::new(config.rate_burst).unwrap_or(NonZeroU32::MIN));
        let listener = tokio::net::TcpListener::bind(&config.listen)
            .await
            .map_err(|source| ServerError::Bind {
                addr: config.listen.clone(),
                source,
            })?;
        let (tx, rx) = channel();
        let mut replayed = 0;
        for entry in pending {
            let batch = batch_from_spool(entry.seq, &entry.payload, config.max_decompressed_bytes)
                .map_err(|reason| ServerError::SpoolEntry {
                    seq: entry.seq,
                    reason,
                })?;
            tx.send(batch).expect("the receiver is held here");
            replayed += 1;
        }
        if replayed > 0 {
            tracing::info!(
                batches = replayed,
                "replaying acknowledged batches from the spool"
            );
        }
        let app = Arc::new(AppState {
            tokens: TokenTable::new(&config.tokens),
            read,
            limiter: RateLimiter::keyed(quota),
            spool,
            queue: Mutex::new(Some(tx)),
            queued: AtomicUsize::new(replayed as usize),
            slot_freed: tokio::sync::Notify::new(),
            sink,
            sink_failing: AtomicBool::new(false),
            stopping: AtomicBool::new(false),
            metrics: Registry::default(),
            config,
        });
        let forwarder = {
            let app = app.clone();
            std::thread::Builder::new()
                .name("gw-server-forwarder".into())
                .spawn(move || forward(&app, rx))
                .map_err(ServerError::Serve)?
        };
        Ok(Server {
            listener,
            tls,
            app,
            forwarder,
            replayed,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound TCP listener has an address")
    }

    /// Whether connections are served over TLS (`https://`).
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// Serves until `shutdown` completes, then stops accepting, lets in-flight requests finish
    /// (up to `server.shutdown_grace_seconds`), hands every acknowledged batch to the sink,
    /// drains it and commits the spool.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<ServeReport, ServerError> {
        let Server {
            listener,
            tls,
            app,
            forwarder,
            replayed,
        } = self;
        let grace = Duration::from_secs(app.config.shutdown_grace_seconds);
        let served = match tls {
            None => serve_until(listener, app.clone(), shutdown, grace).await,
            Some(acceptor) => {
                let listener = TlsListener::new(listener, acceptor).map_err(ServerError::Serve)?;
                serve_until(listener, app.clone(), shutdown, grace).await
            }
        };
        app.stopping.store(true, Ordering::SeqCst);
        drop(app.queue.lock().unwrap_or_else(|p| p.into_inner()).take());
        let forwarded = tokio::task::spawn_blocking(move || forwarder.join())
            .await
            .map_err(|e| ServerError::Drain(e.to_string()))?
            .map_err(|_| ServerError::Drain("the forwarder thread panicked".into()))?;
        served?;
        forwarded?;
        Ok(ServeReport {
            replayed,
            committed: app.spool.committed(),
            appended: app.spool.last_appended(),
        })
    }
}

/// Serves `listener` until `shutdown` completes, then waits up to `grace` for in-flight
/// requests.
async fn serve_until<L>(
    listener: L,
    app: Arc<AppState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
) -> Result<(), ServerError>
where
    L: axum::serve::Listener,
    L::Addr: std::fmt::Debug,
{
    let signalled = Arc::new(tokio::sync::Notify::new());
    let notify = signalled.clone();
    let serve = axum::serve(listener, router(app)).with_graceful_shutdown(async move {
        shutdown.await;
        notify.notify_one();
    });
    tokio::select! {
        r = serve => r.map_err(ServerError::Serve),
        () = async { signalled.notified().await; tokio::time::sleep(grace).await } => {
            tracing::warn!(seconds = grace.as_secs(), "requests still in flight after the shutdown grace period; closing");
            Ok(())
        }
    }
}

/// Completes on SIGTERM or Ctrl-C.
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    // Registered now, not on first poll: a SIGTERM that arrives right after the server says it
    // is serving must drain it, not kill it with the default action.
    #[cfg(unix)]
    let (term, int) = {
        use tokio::signal::unix::{SignalKind, signal};
        (
            signal(SignalKind::terminate()).ok(),
            signal(SignalKind::interrupt()).ok(),
        )
    };
    async move {
        #[cfg(unix)]
        {
            let wait = |s: Option<tokio::signal::unix::Signal>| async move {
                match s {
                    Some(mut s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                () = wait(term) => {}
                () = wait(int) => {}
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// The router under construction and every `(method, path)` registered on it, so a test can
/// check the list against the OpenAPI document.
pub(crate) struct Routes {
    router: Router<Arc<AppState>>,
    pub(crate) list: Vec<(Method, &'static str)>,
}

impl Routes {
    /// Registers `handler` for `method` on `path` (axum's `{param}` syntax, as in OpenAPI).
    fn add(
        mut self,
        method: Method,
        path: &'static str,
        handler: MethodRouter<Arc<AppState>>,
    ) -> Self {
        self.list.push((method, path));
        self.router = self.router.route(path, handler);
        self
    }
}

/// Every route of the server. To add one, see the extension notes in `read.rs`.
pub(crate) fn routes() -> Routes {
    Routes {
        router: Router::new(),
        list: Vec::new(),
    }
    .add(Method::GET, "/healthz", get(healthz))
    .add(Method::GET, "/readyz", get(readyz))
    .add(Method::GET, "/metrics", get(metrics))
    .add(Method::POST, Endpoint::Native.path(), post(ingest_native))
    .add(Method::POST, Endpoint::Kong.path(), post(ingest_kong))
    .add(Method::POST, Endpoint::Apim.path(), post(ingest_apim))
    .add(Method::POST, Endpoint::Envoy.path(), post(ingest_envoy))
    .add(Method::GET, "/v1/openapi.json", get(openapi::openapi_json))
    .add(Method::GET, "/v1/inventory", get(api::list_inventory))
    .add(Method::GET, "/v1/endpoints/{id}", get(api::get_endpoint))
    .add(Method::GET, "/v1/findings", get(api::list_findings))
    .add(Method::GET, "/v1/findings/{id}", get(api::get_finding))
    .add(Method::GET, "/v1/alerts", get(api::list_alerts))
    .add(Method::GET, "/v1/alerts/{id}", get(api::get_alert))
    .add(
        Method::POST,
        "/v1/alerts/{id}/status",
        post(api::set_alert_status),
    )
    .add(Method::GET, "/v1/events", get(api::list_events))
    .add(Method::GET, "/v1/queries", get(api::list_queries))
    .add(Method::GET, "/v1/queries/{name}", get(api::run_query))
}

fn router(app: Arc<AppState>) -> Router {
    routes()
        .router
        .fallback(|| async {
            ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint")
        })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "method not allowed on this endpoint",
            )
        })
        .with_state(app)
}

/// Liveness: the process serves HTTP.
#[utoipa::path(
    get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "Alive.", body = openapi::HealthStatus))
)]
pub(crate) async fn healthz() -> Response {
    axum::Json(serde_json::json!({"status": "ok"})).into_response()
}

/// Readiness: the pipeline takes batches and the ingest queue has room.
#[utoipa::path(
    get, path = "/readyz", tag = "operations",
    responses(
        (status = 200, description = "Ready for ingest.", body = openapi::HealthStatus),
        (status = 503, description = "The pipeline is failing or the ingest queue is full.", body = api::ErrorBody),
    )
)]
pub(crate) async fn readyz(State(app): State<Arc<AppState>>) -> Response {
    if app.sink_failing.load(Ordering::Relaxed) {
        return ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_ready",
            "the pipeline is failing to take batches; they are kept in the spool and retried",
        )
        .into_response();
    }
    if app.queued.load(Ordering::Relaxed) >= app.config.queue_batches {
        return ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_ready",
            "the ingest queue is full (replaying the spool or the pipeline is saturated)",
        )
        .into_response();
    }
    axum::Json(serde_json::json!({"status": "ready"})).into_response()
}

/// Prometheus metrics of the server and the pipeline (text exposition format 0.0.4).
#[utoipa::path(
    get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Metrics.", content_type = "text/plain; version=0.0.4"))
)]
pub(crate) async fn metrics(State(app): State<Arc<AppState>>) -> Response {
    let appended = app.spool.last_appended();
    let committed = app.spool.committed();
    let m = &app.metrics;
    m.set(
        series("gatewatch_ingest_queue_batches", &[]),
        app.queued.load(Ordering::Relaxed) as f64,
    );
    m.set(
        series("gatewatch_spool_pending_bytes", &[]),
        app.spool.pending_bytes() as f64,
    );
    m.set(
        series("gatewatch_pipeline_lag_batches", &[]),
        appended.saturating_sub(committed) as f64,
    );
    let mut text = String::with_capacity(4096);
    m.render(&mut text);
    app.sink.render_metrics(&mut text);
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

/// Generates an annotated handler per ingest endpoint (utoipa documents functions).
macro_rules! ingest_route {
    ($name:ident, $endpoint:expr, $path:literal, $summary:literal, $types:literal) => {
        #[doc = $summary]
        #[utoipa::path(
            post, path = $path, tag = "ingest",
            security(("bearer" = ["ingest"])),
            request_body(
                description = $types,
                content(
                    (String = "application/json"),
                    (String = "application/x-ndjson"),
                ),
            ),
            params(
                ("Content-Encoding" = Option<String>, Header, description = "gzip or zstd for a compressed body."),
            ),
            responses(
                (status = 200, description = "Records accepted (durable in the spool) and rejected, with reasons.", body = openapi::IngestSummary),
                (status = 400, description = "Malformed body, bad compression, or no valid record.", body = api::ErrorBody),
                (status = 401, description = "Missing or unknown token.", body = api::ErrorBody),
                (status = 403, description = "The token lacks the `ingest` scope.", body = api::ErrorBody),
                (status = 413, description = "Body larger than server.max_body_bytes (or decompressed, max_decompressed_bytes).", body = api::ErrorBody),
                (status = 415, description = "Unsupported Content-Type or Content-Encoding.", body = api::ErrorBody),
                (status = 429, description = "Rate limited or pipeline saturated; see Retry-After.", body = api::ErrorBody),
                (status = 503, description = "Spool full or unavailable; see Retry-After.", body = api::ErrorBody),
            )
        )]
        pub(crate) async fn $name(
            state: State<Arc<AppState>>,
            headers: HeaderMap,
            body: Body,
        ) -> Response {
            ingest(state, $endpoint, headers, body).await
        }
    };
}

ingest_route!(
    ingest_native,
    Endpoint::Native,
    "/v1/ingest",
    "Ingest gatewatch.exchange/1 records.",
    "NDJSON or a JSON array of gatewatch.exchange/1 records."
);
ingest_route!(
    ingest_kong,
    Endpoint::Kong,
    "/v1/ingest/kong",
    "Ingest Kong http-log payloads.",
    "Kong http-log payloads as Kong sends them (one object, an array, or NDJSON)."
);
ingest_route!(
    ingest_apim,
    Endpoint::Apim,
    "/v1/ingest/apim",
    "Ingest Azure API Management logs.",
    "The log-to-eventhub policy payload or GatewayLogs records (Event Hubs capture)."
);
ingest_route!(
    ingest_envoy,
    Endpoint::Envoy,
    "/v1/ingest/envoy",
    "Ingest Envoy / Istio JSON access logs.",
    "Envoy JSON access log lines (NDJSON)."
);

async fn ingest(
    State(app): State<Arc<AppState>>,
    endpoint: Endpoint,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let started = Instant::now();
    let resp = match ingest_request(&app, endpoint, &headers, body).await {
        Ok(answer) => answer,
        Err(e) => e.into_response(),
    };
    let status = resp.status().as_u16().to_string();
    app.metrics.add(
        series(
            "gatewatch_ingest_requests_total",
            &[("endpoint", endpoint.path()), ("code", &status)],
        ),
        1.0,
    );
    tracing::debug!(endpoint = endpoint.path(), status, elapsed = ?started.elapsed(), "ingest");
    resp
}

/// A reserved place in the ingest queue, given back unless the batch was queued.
struct QueueSlot<'a> {
    app: &'a AppState,
    armed: bool,
}

impl Drop for QueueSlot<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.app.release_slot();
        }
    }
}

impl AppState {
    /// Gives a queue place back and wakes the requests waiting for one.
    fn release_slot(&self) {
        self.queued.fetch_sub(1, Ordering::SeqCst);
        self.slot_freed.notify_waiters();
    }
}

fn reserve_slot(app: &AppState) -> Option<QueueSlot<'_>> {
    app.queued
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |q| {
            (q < app.config.queue_batches).then_some(q + 1)
        })
        .ok()
        .map(|_| QueueSlot { app, armed: true })
}

/// A queue place, waiting up to `server.queue_wait_ms` for one to free when the queue is full.
/// `None` once the wait is over: the caller answers 429.
async fn wait_for_slot(app: &AppState) -> Option<QueueSlot<'_>> {
    let deadline = tokio::time::Instant::now() + Duration::from_millis(app.config.queue_wait_ms);
    loop {
        // Registered before the check, so that a place freed in between still wakes us.
        let mut freed = std::pin::pin!(app.slot_freed.notified());
        freed.as_mut().enable();
        if let Some(slot) = reserve_slot(app) {
            return Some(slot);
        }
        if tokio::time::timeout_at(deadline, freed).await.is_err() {
            return reserve_slot(app);
        }
    }
}

pub(crate) fn authorize(
    app: &AppState,
    headers: &HeaderMap,
    scope: Scope,
) -> Result<String, ApiError> {
    let header = headers.get(header::AUTHORIZATION).map(|v| v.as_bytes());
    let principal = app.tokens.authenticate(header).map_err(|f| {
        let msg = match f {
            AuthFailure::Missing => "missing Authorization: Bearer <token> header",
            AuthFailure::Malformed => "Authorization header is not \"Bearer <token>\"",
            AuthFailure::Unknown => "unknown or revoked token",
        };
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", msg)
    })?;
    if !principal.allows(scope) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!(
                "token \"{}\" lacks the \"{}\" scope",
                principal.token_id,
                scope.as_str()
            ),
        ));
    }
    Ok(principal.token_id.clone())
}

async fn ingest_request(
    app: &Arc<AppState>,
    endpoint: Endpoint,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let token_id = authorize(app, headers, Scope::Ingest)?;
    let max_body = app.config.max_body_bytes;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if let Err(not_until) = app.limiter.check_key(&token_id) {
        app.metrics.add(
            series("gatewatch_rate_limited_total", &[("token", &token_id)]),
            1.0,
        );
        let wait = not_until.wait_time_from(DefaultClock::default().now());
        discard_body(body, declared, max_body).await;
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("token \"{token_id}\" is over its request rate (server.rate_per_second)"),
        )
        .retry_after(wait));
    }
    decode::check_content_type(headers.get(header::CONTENT_TYPE).map(|v| v.as_bytes()))?;
    let encoding =
        decode::content_encoding(headers.get(header::CONTENT_ENCODING).map(|v| v.as_bytes()))?;
    if declared.is_some_and(|n| n > max_body as u64) {
        return Err(body_too_large(max_body));
    }
    let Some(slot) = wait_for_slot(app).await else {
        discard_body(body, declared, max_body).await;
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "saturated",
            "the pipeline is saturated; retry later",
        )
        .retry_after(Duration::from_secs(1)));
    };
    let bytes = read_body(body, max_body).await?;
    app.metrics.add(
        series(
            "gatewatch_ingest_bytes_total",
            &[("endpoint", endpoint.path())],
        ),
        bytes.len() as f64,
    );
    let app2 = app.clone();
    let slot = slot_into(slot);
    tokio::task::spawn_blocking(move || {
        accept_body(&app2, endpoint, &token_id, encoding, &bytes, slot)
    })
    .await
    .map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("ingest worker failed: {e}"),
        )
    })?
}

/// A slot moved into the blocking task (its lifetime is tied to the shared state there).
struct OwnedSlot(bool);

fn slot_into(mut slot: QueueSlot<'_>) -> OwnedSlot {
    slot.armed = false;
    OwnedSlot(true)
}

/// Reads and drops the body of a request refused with 429 (up to `max` bytes, one frame at a
/// time), so that a client that sends its whole body before reading the answer, as most log
/// shippers do, reads the 429 and its `Retry-After` instead of a reset connection, and keeps
/// the connection. A body declared larger than `max` is left unread (the connection closes).
async fn discard_body(mut body: Body, declared: Option<u64>, max: usize) {
    if declared.is_some_and(|n| n > max as u64) {
        return;
    }
    let mut seen = 0usize;
    while let Some(Ok(frame)) = body.frame().await {
        seen += frame.data_ref().map_or(0, Bytes::len);
        if seen > max {
            return;
        }
    }
}

pub(crate) async fn read_body(body: Body, max: usize) -> Result<Bytes, ApiError> {
    match Limited::new(body, max).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => Err(body_too_large(max)),
        Err(e) => Err(ApiError::bad_request(
            "unreadable_body",
            format!("request body could not be read: {e}"),
        )),
    }
}

fn body_too_large(max: usize) -> ApiError {
    ApiError::payload_too_large(
        "body_too_large",
        format!("request body is larger than {max} bytes (server.max_body_bytes)"),
    )
}

/// Decompresses, decodes, spools (fsync) and queues one body; the slot is given back on any
/// failure.
fn accept_body(
    app: &AppState,
    endpoint: Endpoint,
    token_id: &str,
    encoding: decode::Encoding,
    body: &[u8],
    slot: OwnedSlot,
) -> Result<Response, ApiError> {
    let mut slot = QueueSlot { app, armed: slot.0 };
    let raw = decode::decompress(body, encoding, app.config.max_decompressed_bytes)?;
    let name = decode::input_name(endpoint, token_id, body);
    let decoded = decode::decode_body(endpoint, name, &raw)?;
    let source = decoded.format.unwrap_or(SourceKind::Native);
    let m = &app.metrics;
    for (reason, n) in &decoded.reasons {
        m.add(
            series(
                "gatewatch_ingest_records_rejected_total",
                &[("source", source.as_str()), ("reason", reason)],
            ),
            *n as f64,
        );
    }
    let summary = serde_json::json!({
        "format": source.as_str(),
        "rejected": decoded.rejected,
        "reasons": decoded.reasons,
        "rejects": decoded.rejects,
    });
    if decoded.records.is_empty() {
        let mut err = if decoded.rejected == 0 {
            ApiError::bad_request("empty_body", "request body holds no record")
        } else {
            ApiError::bad_request(
                "no_valid_records",
                format!(
                    "none of the {} records could be decoded as {}",
                    decoded.rejected,
                    source.as_str()
                ),
            )
        };
        let mut details = summary;
        details["accepted"] = 0.into();
        err.details = Some(details);
        return Err(err);
    }
    let accepted = decoded.records.len();
    let header = raw_spool_header(token_id, endpoint, encoding).map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("encoding the batch: {e}"),
        )
    })?;
    let records = decoded.records;
    let started = Instant::now();
    let mut records = Some(records);
    let appended = app.spool.append(&[&header, body], |seq| {
        let batch = Batch {
            seq,
            token_id: token_id.to_string(),
            source,
            records: records.take().unwrap_or_default(),
        };
        let queue = app.queue.lock().unwrap_or_else(|p| p.into_inner());
        if queue.as_ref().is_some_and(|tx| tx.send(batch).is_ok()) {
            slot.armed = false;
        }
    });
    m.add(
        series("gatewatch_spool_fsync_seconds_total", &[]),
        started.elapsed().as_secs_f64(),
    );
    let seq = appended.map_err(|e| match e {
        SpoolError::Full { .. } => {
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "spool_full", e.to_string())
                .retry_after(Duration::from_secs(5))
        }
        SpoolError::TooLarge { .. } => ApiError::payload_too_large("body_too_large", e.to_string()),
        e => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "spool_unavailable",
            e.to_string(),
        )
        .retry_after(Duration::from_secs(5)),
    })?;
    if slot.armed {
        // Spooled but the forwarder is gone (shutting down): the entry is replayed at the next
        // start, so the acknowledgement still holds.
        tracing::info!(
            seq,
            "batch spooled during shutdown; it will be replayed at the next start"
        );
    }
    m.add(
        series(
            "gatewatch_ingest_records_accepted_total",
            &[("source", source.as_str())],
        ),
        accepted as f64,
    );
    let mut answer = summary;
    answer["accepted"] = accepted.into();
    answer["batch"] = seq.into();
    Ok((StatusCode::OK, axum::Json(answer)).into_response())
}

/// The forwarder thread: hands queued batches to the sink in sequence order and commits the
/// spool as far as the sink reports batches durable.
fn forward(app: &AppState, rx: Receiver<Batch>) -> Result<(), ServerError> {
    let mut last_commit = Instant::now();
    let mut gave_up = false;
    loop {
        let closed = match rx.recv_timeout(COMMIT_EVERY) {
            Ok(batch) => {
                if !submit_until_taken(app, batch) {
                    gave_up = true;
                }
                false
            }
            Err(RecvTimeoutError::Timeout) => false,
            Err(RecvTimeoutError::Disconnected) => true,
        };
        if closed || gave_up || last_commit.elapsed() >= COMMIT_EVERY {
            app.spool.commit(app.sink.durable_through())?;
            last_commit = Instant::now();
        }
        if closed || gave_up {
            break;
        }
    }
    let drained = app.sink.drain();
    app.spool.commit(app.sink.durable_through())?;
    drained.map_err(ServerError::Drain)
}

/// Retries a failing sink with backoff; returns false when shutting down with the sink still
/// failing (the batch stays in the spool for the next start).
fn submit_until_taken(app: &AppState, mut batch: Batch) -> bool {
    let mut backoff = Duration::from_millis(50);
    loop {
        let started = Instant::now();
        let result = app.sink.submit(batch);
        app.metrics.add(
            series("gatewatch_sink_submit_seconds_total", &[]),
            started.elapsed().as_secs_f64(),
        );
        match result {
            Ok(()) => {
                app.sink_failing.store(false, Ordering::Relaxed);
                app.release_slot();
                app.metrics
                    .add(series("gatewatch_sink_batches_total", &[]), 1.0);
                return true;
            }
            Err(failure) => {
                app.metrics
                    .add(series("gatewatch_sink_failures_total", &[]), 1.0);
                app.sink_failing.store(true, Ordering::Relaxed);
                tracing::warn!(seq = failure.batch.seq, reason = %failure.reason, "the pipeline did not take a batch; retrying");
                if app.stopping.load(Ordering::SeqCst) {
                    return false;
                }
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(MAX_BACKOFF);
                batch = failure.batch;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_documented_and_vice_versa() {
        let mut routed: Vec<(String, String)> = routes()
            .list
            .iter()
            .map(|(m, p)| (m.as_str().to_string(), (*p).to_string()))
            .collect();
        routed.sort();
        let before = routed.len();
        routed.dedup();
        assert_eq!(before, routed.len(), "a route is registered twice");
        let documented = openapi::documented_operations(&openapi::openapi_document());
        let missing: Vec<_> = routed.iter().filter(|r| !documented.contains(r)).collect();
        let extra: Vec<_> = documented.iter().filter(|d| !routed.contains(d)).collect();
        assert!(
            missing.is_empty(),
            "routes missing from the OpenAPI document: {missing:?}"
        );
        assert!(
            extra.is_empty(),
            "documented operations with no route: {extra:?}"
        );
        for endpoint in Endpoint::ALL {
            assert!(routed.contains(&("POST".into(), endpoint.path().into())));
        }
    }

    const RECORDS: &str = concat!(
        r#"{"schema":"gatewatch.exchange/1","id":"0190f0e0-0000-7000-8000-000000000001","#,
        r#""observed_at":"2026-01-01T00:00:00Z","source":{"kind":"native","capture":"access_log"},"#,
        r#""client":{"ip":"203.0.113.9"},"server":{"host":"api.example.com"},"#,
        r#""request":{"method":"GET","scheme":"https","path":"/v1/a"},"response":{"status":200}}"#,
        "\n",
        "not json\n",
        r#"{"schema":"gatewatch.exchange/1","id":"0190f0e0-0000-7000-8000-000000000002","#,
        r#""observed_at":"2026-01-01T00:00:01Z","source":{"kind":"native","capture":"access_log"},"#,
        r#""client":{"ip":"203.0.113.9"},"server":{"host":"api.example.com"},"#,
        r#""request":{"method":"POST","scheme":"https","path":"/v1/b"},"response":{"status":201}}"#,
        "\n"
    );

    fn decoded(
        endpoint: Endpoint,
        token: &str,
        body: &[u8],
        encoding: decode::Encoding,
    ) -> Vec<Exchange> {
        let raw = decode::decompress(body, encoding, 1 << 20).unwrap();
        let name = decode::input_name(endpoint, token, body);
        decode::decode_body(endpoint, name, &raw).unwrap().records
    }

    #[test]
    fn raw_spool_entries_replay_the_records_that_were_acknowledged() {
        use std::io::Write as _;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(RECORDS.as_bytes()).unwrap();
        let gzipped = gz.finish().unwrap();
        for (body, encoding) in [
            (RECORDS.as_bytes().to_vec(), decode::Encoding::Identity),
            (gzipped, decode::Encoding::Gzip),
        ] {
            let live = decoded(Endpoint::Native, "shipper", &body, encoding);
            assert_eq!(live.len(), 2, "the bad line is rejected, the others kept");
            let header = raw_spool_header("shipper", Endpoint::Native, encoding).unwrap();
            let entry = [header, body.clone()].concat();
            assert!(entry.starts_with(RAW_SPOOL_MAGIC));
            assert!(entry.ends_with(&body), "the body is kept as it arrived");
            let batch = batch_from_spool(7, &entry, 1 << 20).unwrap();
            assert_eq!(batch.seq, 7);
            assert_eq!(batch.token_id, "shipper");
            assert_eq!(batch.source, SourceKind::Native);
            assert_eq!(
                serde_json::to_value(&batch.records).unwrap(),
                serde_json::to_value(&live).unwrap(),
                "replay yields the same records with the same ids"
            );
        }
    }

    #[test]
    fn spool_entries_of_earlier_versions_still_replay() {
        let records = decoded(
            Endpoint::Native,
            "t",
            RECORDS.as_bytes(),
            decode::Encoding::Identity,
        );
        let old = serde_json::to_vec(&serde_json::json!({
            "token": "t",
            "source": "native",
            "records": records,
        }))
        .unwrap();
        let batch = batch_from_spool(3, &old, 1 << 20).unwrap();
        assert_eq!(batch.records.len(), 2);
        assert_eq!(batch.records[1].id, records[1].id);
    }

    #[test]
    fn a_damaged_spool_entry_is_a_clear_error() {
        let header = raw_spool_header("t", Endpoint::Native, decode::Encoding::Gzip).unwrap();
        let mut entry = [&header[..], b"not gzip"].concat();
        let err = batch_from_spool(1, &entry, 1 << 20).err().unwrap();
        assert!(err.starts_with("body:"), "{err}");
        entry.truncate(RAW_SPOOL_MAGIC.len() + 5);
        let err = batch_from_spool(1, &entry, 1 << 20).err().unwrap();
        assert!(err.contains("header"), "{err}");
        assert!(batch_from_spool(1, b"{\"token\":", 1 << 20).is_err());
    }
}
