//! The HTTP API: health and status ([`status`]), the lake ([`lake`]: tables, history, SQL),
//! changing a running FinLake ([`control`]: plugin swaps, config, resume, dead-letter replay),
//! the live feed ([`events`], server-sent events), the OpenAPI document ([`openapi`]),
//! Prometheus metrics, and the dashboard ([`dashboard`], static files with an SPA fallback).
//!
//! Request and response bodies are the types of the `finlake-api` crate, which the CLI and the
//! dashboard share; errors go through [`AppError`], whose `From` impls are the one place a
//! domain error becomes a status. Every request goes through [`guard`] (its `Host`, and for
//! changes its `Origin` and body type); mutating endpoints through [`auth::require_token`].

mod auth;
mod control;
mod dashboard;
mod error;
pub mod events;
mod guard;
mod lake;
mod openapi;
mod status;

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post, put};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tokio_util::sync::CancellationToken;

pub use error::AppError;

use crate::control::ControlPlane;

/// Shared state of the API handlers.
#[derive(Clone)]
pub struct AppState {
    pub control: Arc<ControlPlane>,
    pub metrics: Option<PrometheusHandle>,
    pub started: std::time::Instant,
    /// The token mutating endpoints require (config `[api] token` or `FINLAKE_API_TOKEN`).
    pub token: Option<String>,
    /// Whether the API is reachable only from this machine.
    pub loopback: bool,
    /// Cancelled when the service stops: ends the live feeds, so a graceful shutdown does not
    /// wait for browsers to go away.
    pub shutdown: CancellationToken,
    /// Host names requests may carry besides IP literals and `localhost` (`[api] allowed_hosts`).
    pub allowed_hosts: Arc<Vec<String>>,
    /// Queries running at once (`[api] max_queries`).
    pub queries: Arc<tokio::sync::Semaphore>,
}

impl AppState {
    /// State for an API serving `control`, listening on `addr` (`None`: not listening, tests).
    pub fn new(control: Arc<ControlPlane>, metrics: Option<PrometheusHandle>, addr: Option<SocketAddr>) -> Self {
        let token = std::env::var("FINLAKE_API_TOKEN")
            .ok()
            .filter(|t| !t.trim().is_empty())
            .or_else(|| control.config().api.token.clone().filter(|t| !t.trim().is_empty()));
        let loopback = addr.is_none_or(|a| a.ip().is_loopback());
        if !loopback && token.is_none() {
            tracing::warn!(addr = ?addr, "the API listens beyond loopback without a token: every mutating endpoint is refused until [api] token or FINLAKE_API_TOKEN is set");
        }
        let api = &control.config().api;
        let allowed_hosts =
            Arc::new(api.allowed_hosts.iter().map(|h| h.trim_end_matches('.').to_ascii_lowercase()).collect());
        let queries = Arc::new(tokio::sync::Semaphore::new(api.max_queries.max(1)));
        AppState {
            control,
            metrics,
            started: std::time::Instant::now(),
            token,
            loopback,
            shutdown: CancellationToken::new(),
            allowed_hosts,
            queries,
        }
    }
}

/// Installs the process-wide Prometheus recorder once and returns its handle.
pub fn metrics_handle() -> Option<PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| match PrometheusBuilder::new().install_recorder() {
            Ok(h) => Some(h),
            Err(e) => {
                tracing::warn!(error = %e, "metrics recorder not installed");
                None
            }
        })
        .clone()
}

pub fn app(state: AppState) -> Router {
    let upload_limit = (state.control.config().api.max_upload_mb as usize) << 20;
    let mutating = Router::new()
        .route("/api/plugins/{name}", put(control::upload_plugin).layer(DefaultBodyLimit::max(upload_limit)))
        .route("/api/plugins/{name}/shadow", post(control::shadow_plugin).layer(DefaultBodyLimit::max(upload_limit)))
        .route("/api/plugins/{name}/rollback", post(control::rollback_plugin))
        .route("/api/config", put(control::put_config))
        .route("/api/pipelines/{name}/resume", post(control::resume))
        .route("/api/dead-letters/replay", post(control::replay_dead_letters))
        .route("/api/tables/{name}/optimize", post(lake::optimize))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), auth::require_token));
    let api = Router::new()
        .route("/api/health", get(status::health))
        .route("/api/pipelines", get(status::pipelines))
        .route("/api/graph", get(status::graph))
        .route("/api/plugins", get(control::plugins))
        .route("/api/config", get(control::get_config))
        .route("/api/config/status", get(control::config_status))
        .route("/api/dead-letters", get(control::dead_letters))
        .route("/api/tables", get(lake::tables))
        .route("/api/tables/{name}/history", get(lake::table_history))
        .route("/api/query", post(lake::query))
        .route("/api/maintenance", get(lake::maintenance))
        .route("/api/fraud/models", get(status::fraud_models))
        .route("/api/events", get(events::feed))
        .route("/api/openapi.json", get(openapi::document))
        .route("/api/{*rest}", axum::routing::any(unknown_api_path))
        .route("/metrics", get(status::prometheus))
        .merge(mutating);
    let dashboard = dashboard::service(&state.control.config().api.dashboard);
    api.fallback_service(dashboard)
        .layer(axum::middleware::from_fn_with_state(state.clone(), guard::guard))
        .with_state(state)
}

/// An API path that does not exist answers JSON, not the dashboard's page.
async fn unknown_api_path(uri: axum::http::Uri) -> AppError {
    AppError::not_found(format!("no API endpoint {}; the list is at /api/openapi.json", uri.path()))
}

#[cfg(test)]
mod tests;
