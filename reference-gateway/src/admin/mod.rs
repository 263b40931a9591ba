//! The admin API: a small HTTP server (axum), on 127.0.0.1 by default.
//!
//! - `GET /healthz`: 200 while the process runs.
//! - `GET /readyz`: 200 once the first config has been applied, 503 before
//!   and while draining.
//! - `GET /status`: JSON [`Report`]: every status document, the active
//!   data-plane config, bind failures and the last config error.
//! - `GET /metrics`: Prometheus text format (OpenMetrics 1.0 text).
//!
//! Two routers, for least exposure: [`router`] serves all four (the admin
//! address, loopback unless the operator says otherwise); [`health_router`]
//! serves only `/healthz` and `/readyz` (and `/metrics` when asked), for an
//! address the kubelet's probes reach from off the pod: `/status` names
//! every route, backend and address the gateway holds, so it never
//! answers there. Anything else is 404 (405 for another method on a known
//! path). Both listeners bound each connection's life and their number
//! ([`limits`]): axum's server has no timeout of its own, so a client that
//! connects and says nothing would otherwise hold its socket for ever.

pub mod limits;

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use arc_swap::ArcSwap;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use prometheus_client::registry::Registry;
use serde::Serialize;

use self::limits::Limited;
pub use self::limits::Limits;
use crate::config::Config;
use crate::status::StatusDocument;

/// What `/status` shows.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// The status of every owned object, as written to the status directory.
    pub statuses: Vec<StatusDocument>,
    /// The config the data plane serves.
    pub config: Config,
    /// Listeners that could not be bound: `address:port/protocol` → error.
    pub bind_failures: BTreeMap<String, String>,
    /// Why the last reload was refused (file, line and field), if it was;
    /// the previous good config keeps running meanwhile.
    pub last_error: Option<String>,
    /// Reloads applied so far.
    pub reloads: u64,
}

/// Shared state of the admin server, updated by the provider.
#[derive(Debug)]
pub struct Admin {
    registry: Registry,
    ready: AtomicBool,
    report: ArcSwap<Report>,
}

impl Admin {
    /// An admin state serving `registry` on `/metrics`; not ready yet.
    pub fn new(registry: Registry) -> Self {
        Self {
            registry,
            ready: AtomicBool::new(false),
            report: ArcSwap::from_pointee(Report::default()),
        }
    }

    /// Sets what `/readyz` answers: ready once the first config is applied,
    /// not ready again while draining.
    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::Release);
    }

    /// Whether `/readyz` answers 200.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// Replaces what `/status` shows.
    pub fn publish(&self, report: Report) {
        self.report.store(Arc::new(report));
    }

    /// Changes what `/status` shows, from the current report.
    pub fn update(&self, change: impl Fn(&mut Report)) {
        self.report.rcu(|current| {
            let mut next = Report::clone(current);
            change(&mut next);
            next
        });
    }

    /// The current report.
    pub fn report(&self) -> Arc<Report> {
        self.report.load_full()
    }

    /// The metrics in Prometheus text format.
    pub fn metrics_text(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}

/// The admin routes.
pub fn router(admin: Arc<Admin>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/status", get(status))
        .route("/metrics", get(metrics))
        .with_state(admin)
}

/// The health routes only (`/healthz`, `/readyz`), plus `/metrics` when
/// `with_metrics`; never `/status`.
pub fn health_router(admin: Arc<Admin>, with_metrics: bool) -> Router {
    let router = Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz));
    let router = if with_metrics {
        router.route("/metrics", get(metrics))
    } else {
        router
    };
    router.with_state(admin)
}

/// Serves the admin API on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    admin: Arc<Admin>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_router(listener, router(admin), shutdown).await
}

/// Serves `router` (one of this module's) on `listener` until `shutdown`
/// completes, with the default connection [`Limits`].
pub async fn serve_router(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_limited(listener, router, Limits::default(), shutdown).await
}

/// [`serve_router`] with the given connection limits.
pub async fn serve_limited(
    listener: tokio::net::TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(Limited::new(listener, limits), router)
        .with_graceful_shutdown(shutdown)
        .await
}

async fn readyz(State(admin): State<Arc<Admin>>) -> Response {
    if admin.is_ready() {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "no config applied yet\n").into_response()
    }
}

async fn status(State(admin): State<Arc<Admin>>) -> Response {
    let report = admin.report();
    match serde_json::to_vec_pretty(&*report) {
        Ok(body) => ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
        Err(error) => (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()).into_response(),
    }
}

async fn metrics(State(admin): State<Arc<Admin>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        admin.metrics_text(),
    )
        .into_response()
}
