//! The HTTP API: health, pipeline status, Prometheus metrics.

use std::sync::OnceLock;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use serde::Serialize;

use crate::lake::{self, CatalogEntry, TableInfo};
use crate::pipeline::{PipelineSnapshot, Registry};

/// Shared state of the API handlers.
#[derive(Clone)]
pub struct AppState {
    pub registry: Registry,
    /// Tables of the config, and where the lake is (for `/api/tables`).
    pub catalog: std::sync::Arc<Vec<CatalogEntry>>,
    pub lake_root: std::path::PathBuf,
    pub metrics: Option<PrometheusHandle>,
    pub started: std::time::Instant,
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
}

impl AppError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        AppError { status, message: message.into() }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        (self.status, Json(serde_json::json!({ "error": self.message }))).into_response()
    }
}

pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/api/health", get(health))
        .route("/api/pipelines", get(pipelines))
        .route("/api/plugins", get(plugins))
        .route("/api/tables", get(tables))
        .route("/api/tables/{name}/history", get(table_history))
        .route("/api/query", axum::routing::post(query))
        .route("/metrics", get(prometheus))
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
    Json(state.registry.snapshots())
}

/// Every stage's plugin (name, version, sha256, loaded at) and its calls (count, errors, p50/p99
/// time per batch).
async fn plugins(State(state): State<AppState>) -> Json<Vec<crate::pipeline::StageSnapshot>> {
    Json(state.registry.stage_snapshots())
}

async fn tables(State(state): State<AppState>) -> Result<Json<Vec<TableInfo>>, AppError> {
    let mut out = Vec::new();
    for entry in state.catalog.iter() {
        out.push(
            lake::describe(&state.lake_root, entry)
                .await
                .map_err(|e| AppError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?,
        );
    }
    Ok(Json(out))
}

#[derive(serde::Deserialize)]
struct HistoryParams {
    limit: Option<usize>,
}

async fn table_history(
    State(state): State<AppState>,
    axum::extract::Path(name): axum::extract::Path<String>,
    axum::extract::Query(params): axum::extract::Query<HistoryParams>,
) -> Result<Json<Vec<serde_json::Value>>, AppError> {
    let entry = state.catalog.iter().find(|e| e.name == name).ok_or_else(|| {
        let known: Vec<&str> = state.catalog.iter().map(|e| e.name.as_str()).collect();
        AppError::new(StatusCode::NOT_FOUND, format!("unknown table {name:?}; tables: {}", known.join(", ")))
    })?;
    let limit = params.limit.unwrap_or(20).clamp(1, 1000);
    let history = lake::history(&state.lake_root, entry, limit)
        .await
        .map_err(|e| AppError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    Ok(Json(history))
}

/// `POST /api/query` body.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct QueryRequest {
    sql: String,
    /// Read every table at this version.
    version: Option<u64>,
    /// Read every table as of this time (RFC 3339).
    as_of: Option<String>,
    /// Rows per page (default 1000).
    limit: Option<usize>,
    /// Rows to skip (the previous page's `next_offset`).
    offset: Option<usize>,
}

async fn query(
    State(state): State<AppState>,
    body: Result<Json<QueryRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<serde_json::Value>, AppError> {
    let Json(request) = body.map_err(|e| {
        AppError::new(StatusCode::BAD_REQUEST, format!("{}; send {{\"sql\": \"SELECT ...\"}}", e.body_text()))
    })?;
    let bad = |e: crate::query::QueryError| {
        let status = match e {
            crate::query::QueryError::Lake(_) => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        };
        AppError::new(status, e.to_string())
    };
    let as_of = request.as_of.as_deref().map(crate::query::parse_timestamp).transpose().map_err(bad)?;
    let options = crate::query::QueryOptions {
        version: request.version,
        as_of,
        limit: request.limit.unwrap_or(1000),
        offset: request.offset.unwrap_or(0),
        timeout: std::time::Duration::from_secs(30),
    };
    let out = crate::query::run(&state.catalog, &state.lake_root, &request.sql, &options).await.map_err(bad)?;
    tracing::info!(rows = out.rows, has_more = out.has_more, ms = out.elapsed.as_millis() as u64, "query answered");
    let columns: Vec<serde_json::Value> = out
        .schema
        .fields()
        .iter()
        .map(|f| serde_json::json!({"name": f.name(), "type": f.data_type().to_string()}))
        .collect();
    Ok(Json(serde_json::json!({
        "columns": columns,
        "rows": crate::query::format::json_rows(&out.batches),
        "row_count": out.rows,
        "has_more": out.has_more,
        "next_offset": out.has_more.then_some(options.offset + out.rows),
        "versions": out.versions,
        "elapsed_ms": out.elapsed.as_millis() as u64,
    })))
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

    fn state() -> AppState {
        // Install the recorder before anything records, or the first counts go nowhere.
        let metrics = metrics_handle();
        let registry = Registry::default();
        let stats = registry.register("p1");
        stats.add(&stats.records_in, 5, "finlake_records_in_total");
        stats.table_committed("bronze", 5, 3);
        stats.stage_loaded("normalize", "normalize-trade", "0.1.0", "abc123");
        for ms in [1, 2, 3, 40] {
            stats.stage_called("normalize", std::time::Duration::from_millis(ms), usize::from(ms == 40));
        }
        AppState {
            registry,
            metrics,
            started: std::time::Instant::now(),
            catalog: std::sync::Arc::new(vec![CatalogEntry {
                name: "bronze".into(),
                layer: "bronze".into(),
                path: "bronze".into(),
                pipeline: Some("p1".into()),
            }]),
            lake_root: std::env::temp_dir().join("finlake-api-test-no-lake"),
        }
    }

    async fn get_json(path: &str) -> (StatusCode, serde_json::Value) {
        let res = app(state()).oneshot(Request::get(path).body(Body::empty()).unwrap()).await.unwrap();
        let status = res.status();
        let bytes = axum::body::to_bytes(res.into_body(), 1 << 20).await.unwrap();
        (status, serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null))
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
        assert_eq!(body["error"], "unknown table \"nope\"; tables: bronze");
    }

    #[tokio::test]
    async fn metrics_render() {
        let res = app(state()).oneshot(Request::get("/metrics").body(Body::empty()).unwrap()).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let text = String::from_utf8(axum::body::to_bytes(res.into_body(), 1 << 20).await.unwrap().to_vec()).unwrap();
        assert!(text.contains("finlake_records_in_total"), "{text}");
    }
}
