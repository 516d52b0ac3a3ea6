//! The HTTP API: health, pipeline status, tables and queries ([`lake`]), changing a running
//! FinLake ([`control`]: plugin swaps, config, resume, dead-letter replay), Prometheus metrics.
//!
//! Mutating endpoints go through [`auth::require_token`]: a bearer token is required when one
//! is configured, and always when the API listens on anything but loopback.

mod auth;
mod control;
mod lake;

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use axum::Json;
use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use serde::Serialize;

use crate::control::ControlPlane;
use crate::pipeline::PipelineSnapshot;

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
        AppState { control, metrics, started: std::time::Instant::now(), token, loopback }
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

/// One error type for every handler: a status and a message a person can act on.
#[derive(Debug)]
pub struct AppError {
    status: StatusCode,
    message: String,
    /// Located problems (`file:line:col: message`), for config errors.
    problems: Vec<String>,
}

impl AppError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        AppError { status, message: message.into(), problems: vec![] }
    }

    pub fn with_problems(status: StatusCode, message: impl Into<String>, problems: Vec<String>) -> Self {
        AppError { status, message: message.into(), problems }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let body = if self.problems.is_empty() {
            serde_json::json!({ "error": self.message })
        } else {
            serde_json::json!({ "error": self.message, "problems": self.problems })
        };
        (self.status, Json(body)).into_response()
    }
}

pub fn app(state: AppState) -> Router {
    let upload_limit = (state.control.config().api.max_upload_mb as usize) << 20;
    let mutating = Router::new()
        .route("/api/plugins/{name}", put(control::upload_plugin).layer(DefaultBodyLimit::max(upload_limit)))
        .route("/api/plugins/{name}/rollback", post(control::rollback_plugin))
        .route("/api/config", put(control::put_config))
        .route("/api/pipelines/{name}/resume", post(control::resume))
        .route("/api/dead-letters/replay", post(control::replay_dead_letters))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), auth::require_token));
    Router::new()
        .route("/api/health", get(health))
        .route("/api/pipelines", get(pipelines))
        .route("/api/plugins", get(control::plugins))
        .route("/api/config", get(control::get_config))
        .route("/api/config/status", get(control::config_status))
        .route("/api/dead-letters", get(control::dead_letters))
        .route("/api/tables", get(lake::tables))
        .route("/api/tables/{name}/history", get(lake::table_history))
        .route("/api/query", post(lake::query))
        .route("/metrics", get(prometheus))
        .merge(mutating)
        .with_state(state)
}

#[derive(Serialize)]
struct Health {
    status: &'static str,
    version: &'static str,
    uptime_s: u64,
}

async fn health(State(state): State<AppState>) -> Json<Health> {
    Json(Health { status: "ok", version: env!("CARGO_PKG_VERSION"), uptime_s: state.started.elapsed().as_secs() })
}

async fn pipelines(State(state): State<AppState>) -> Json<Vec<PipelineSnapshot>> {
    Json(state.control.registry.snapshots())
}

async fn prometheus(State(state): State<AppState>) -> Result<String, AppError> {
    match &state.metrics {
        Some(h) => Ok(h.render()),
        None => {
            Err(AppError::new(StatusCode::SERVICE_UNAVAILABLE, "metrics recorder is not installed in this process"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    const CONFIG: &str = r#"
[kafka]
brokers = "unused:9092"
[lake]
root = "/nonexistent/finlake-api-test-no-lake"
[[tables]]
name = "bronze"
columns = [{ name = "v", type = "string" }]
[[pipelines]]
name = "p1"
topic = "t"
dead_letter_table = "dlq"
[[pipelines.stages]]
id = "normalize"
plugin = "normalize-trade"
outputs = { out = "bronze" }
"#;

    fn control() -> Arc<ControlPlane> {
        let config = crate::config::Config::parse_and_validate(CONFIG, "test.toml").unwrap();
        let cache = std::env::temp_dir().join(format!("finlake-api-test-cache-{}", std::process::id()));
        let runtime = Arc::new(crate::plugin::PluginRuntime::new(&cache).unwrap());
        ControlPlane::new(config, CONFIG.to_string(), "unused:9092".into(), runtime)
    }

    fn state() -> AppState {
        // Install the recorder before anything records, or the first counts go nowhere.
        let metrics = metrics_handle();
        let control = control();
        let registry = control.registry.clone();
        let stats = registry.register("p1");
        stats.add(&stats.records_in, 5, "finlake_records_in_total");
        stats.table_committed("bronze", 5, 3);
        stats.stage_loaded("normalize", "normalize-trade", "0.1.0", "abc123");
        for ms in [1, 2, 3, 40] {
            stats.stage_called("normalize", std::time::Duration::from_millis(ms), usize::from(ms == 40));
        }
        AppState::new(control, metrics, None)
    }

    async fn send(state: AppState, request: Request<Body>) -> (StatusCode, serde_json::Value) {
        let res = app(state).oneshot(request).await.unwrap();
        let status = res.status();
        let bytes = axum::body::to_bytes(res.into_body(), 1 << 20).await.unwrap();
        (status, serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null))
    }

    async fn get_json(path: &str) -> (StatusCode, serde_json::Value) {
        send(state(), Request::get(path).body(Body::empty()).unwrap()).await
    }

    #[tokio::test]
    async fn health_and_pipelines() {
        let (s, body) = get_json("/api/health").await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(body["status"], "ok");
        let (s, body) = get_json("/api/pipelines").await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(body[0]["name"], "p1");
        assert_eq!(body[0]["records_in"], 5);
        assert_eq!(body[0]["tables"]["bronze"]["last_version"], 3);
        let (s, body) = get_json("/api/plugins").await;
        assert_eq!(s, StatusCode::OK);
        let stage = &body[0];
        assert_eq!((stage["pipeline"].as_str(), stage["plugin"].as_str()), (Some("p1"), Some("normalize-trade")));
        assert_eq!((stage["calls"].as_u64(), stage["errors"].as_u64()), (Some(4), Some(1)));
        assert_eq!((stage["p50_ms"].as_f64(), stage["p99_ms"].as_f64()), (Some(3.0), Some(40.0)));
    }

    #[tokio::test]
    async fn tables_before_any_commit_and_unknown_history() {
        let (s, body) = get_json("/api/tables").await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(body[0]["name"], "bronze");
        assert_eq!(body[0]["version"], serde_json::Value::Null);
        let (s, body) = get_json("/api/tables/nope/history").await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        assert!(body["error"].as_str().unwrap().starts_with("unknown table \"nope\"; tables: bronze"), "{body}");
    }

    #[tokio::test]
    async fn mutations_need_the_token_when_set_or_beyond_loopback() {
        let resume = || Request::post("/api/pipelines/p1/resume").body(Body::empty()).unwrap();
        // Loopback, no token: allowed through auth (p1 is not running: 409 with why).
        let (s, body) = send(state(), resume()).await;
        assert_eq!(s, StatusCode::CONFLICT, "{body}");
        // Beyond loopback without a token: refused, whatever is sent.
        let open = AppState { loopback: false, ..state() };
        let (s, body) = send(open, resume()).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        assert!(body["error"].as_str().unwrap().contains("FINLAKE_API_TOKEN"), "{body}");
        // With a token: missing or wrong → 401, right → through.
        let guarded = || AppState { loopback: false, token: Some("s3cret".into()), ..state() };
        assert_eq!(send(guarded(), resume()).await.0, StatusCode::UNAUTHORIZED);
        let wrong = Request::post("/api/pipelines/p1/resume")
            .header("authorization", "Bearer nope")
            .body(Body::empty())
            .unwrap();
        assert_eq!(send(guarded(), wrong).await.0, StatusCode::UNAUTHORIZED);
        let right = Request::post("/api/pipelines/p1/resume")
            .header("authorization", "Bearer s3cret")
            .body(Body::empty())
            .unwrap();
        assert_eq!(send(guarded(), right).await.0, StatusCode::CONFLICT);
        // Reads never need it.
        let (s, _) = send(guarded(), Request::get("/api/config/status").body(Body::empty()).unwrap()).await;
        assert_eq!(s, StatusCode::OK);
    }

    #[tokio::test]
    async fn bad_uploads_and_config_edits_are_refused_with_reasons() {
        let put = |path: &str, body: Vec<u8>| Request::put(path).body(Body::from(body)).unwrap();
        let (s, body) = send(state(), put("/api/plugins/normalize-trade", b"not wasm".to_vec())).await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        assert!(body["error"].as_str().unwrap().contains("not a valid Wasm component"), "{body}");
        let (s, _) = send(state(), put("/api/plugins/normalize-trade", vec![])).await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        let (s, body) = send(state(), put("/api/plugins/unknown", b"x".to_vec())).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{body}");
        // Over the upload limit (64 MiB by default).
        let (s, body) = send(state(), put("/api/plugins/normalize-trade", vec![0u8; 65 << 20])).await;
        assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
        assert!(body["error"].as_str().unwrap().contains("max_upload_mb"), "{body}");
        // A config edit with a typo: located problem, nothing changes, status shows it.
        let state = state();
        let broken =
            CONFIG.replace("dead_letter_table = \"dlq\"", "dead_letter_table = \"dlq\"\nbatch = { max_recods = 5 }");
        let (s, body) = send(state.clone(), put("/api/config?dry_run=true", broken.clone().into_bytes())).await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        assert!(body["problems"][0].as_str().unwrap().starts_with("pipelines.toml:13:11: unknown field"), "{body}");
        assert!(body["problems"][0].as_str().unwrap().contains("max_recods"), "{body}");
        let (s, body) = send(state.clone(), put("/api/config", broken.into_bytes())).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
        let (_, status) = send(state.clone(), Request::get("/api/config/status").body(Body::empty()).unwrap()).await;
        assert_eq!(status["rejected"], 1);
        assert!(status["last_error"]["problems"][0].as_str().unwrap().contains("max_recods"), "{status}");
        let res = app(state).oneshot(Request::get("/api/config").body(Body::empty()).unwrap()).await.unwrap();
        let text = axum::body::to_bytes(res.into_body(), 1 << 20).await.unwrap();
        assert_eq!(std::str::from_utf8(&text).unwrap(), CONFIG);
    }

    #[tokio::test]
    async fn metrics_render() {
        let res = app(state()).oneshot(Request::get("/metrics").body(Body::empty()).unwrap()).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let text = String::from_utf8(axum::body::to_bytes(res.into_body(), 1 << 20).await.unwrap().to_vec()).unwrap();
        assert!(text.contains("finlake_records_in_total"), "{text}");
    }
}
