//! Handlers over the lake: table listing and history, SQL queries.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use finlake_api::{Commit, ErrorBody, MaintenanceReport, QueryColumn, QueryRequest, QueryResponse, TableInfo};

use super::{AppError, AppState};
use crate::lake;

/// Every table of the lake: layer, writer, schema, version, files, rows, bytes.
#[utoipa::path(get, path = "/api/tables", tag = "lake", params(TablesParams),
    responses((status = 200, body = Vec<TableInfo>), (status = 400, body = ErrorBody), (status = 500, body = ErrorBody)))]
pub(super) async fn tables(
    State(state): State<AppState>,
    params: Result<Query<TablesParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<TableInfo>>, AppError> {
    let Query(params) = params.map_err(|e| AppError::bad_request(e.body_text()))?;
    let (catalog, root) = (state.control.catalog(), state.control.config().lake.root.clone());
    let offset = params.offset.map_or(0, |o| usize::try_from(o).unwrap_or(usize::MAX));
    let limit = params.limit.unwrap_or(200).clamp(1, 1000) as usize;
    let small = state.control.config().maintenance.small_file_mb << 20;
    let mut out = Vec::new();
    for entry in catalog.iter().skip(offset).take(limit) {
        out.push(lake::describe(&root, entry, small).await?);
    }
    Ok(Json(out))
}

#[derive(serde::Deserialize, utoipa::IntoParams)]
pub(super) struct TablesParams {
    /// Tables to describe (1–1000, default 200), in catalog order.
    limit: Option<u64>,
    /// Skip this many first: the next page starts at `offset + limit`.
    offset: Option<u64>,
}

#[derive(serde::Deserialize, utoipa::IntoParams)]
pub(super) struct HistoryParams {
    /// Commits to return, newest first (1–1000, default 20).
    limit: Option<u64>,
}

/// A table's commits, newest first, each with the pipeline and plugin versions that made it.
#[utoipa::path(get, path = "/api/tables/{name}/history", tag = "lake",
    params(("name" = String, Path, description = "The table name"), HistoryParams),
    responses((status = 200, body = Vec<Commit>), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 500, body = ErrorBody)))]
pub(super) async fn table_history(
    State(state): State<AppState>,
    Path(name): Path<String>,
    params: Result<Query<HistoryParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<Commit>>, AppError> {
    let Query(params) = params.map_err(|e| AppError::bad_request(e.body_text()))?;
    let (catalog, root) = (state.control.catalog(), state.control.config().lake.root.clone());
    let entry = catalog.iter().find(|e| e.name == name).ok_or_else(|| {
        let known: Vec<&str> = catalog.iter().map(|e| e.name.as_str()).collect();
        AppError::not_found(format!("unknown table {name:?}; tables: {}", known.join(", ")))
    })?;
    let limit = params.limit.unwrap_or(20).clamp(1, 1000) as usize;
    Ok(Json(lake::history(&root, entry, limit).await?))
}

/// Runs one SQL query over the lake, now or back in time, and returns a page of rows.
#[utoipa::path(post, path = "/api/query", tag = "lake", request_body = QueryRequest,
    responses((status = 200, body = QueryResponse), (status = 400, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 500, body = ErrorBody)))]
pub(super) async fn query(
    State(state): State<AppState>,
    body: Result<Json<QueryRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<QueryResponse>, AppError> {
    let Json(request) = body.map_err(|e| {
        // A body that is not JSON of the right shape is a bad request; only a missing JSON
        // content type gets its own status.
        let status = match e.status() {
            StatusCode::UNSUPPORTED_MEDIA_TYPE => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            _ => StatusCode::BAD_REQUEST,
        };
        AppError::new(status, format!("{}; send {{\"sql\": \"SELECT ...\"}} as application/json", e.body_text()))
    })?;
    let as_of = request.as_of.as_deref().map(crate::query::parse_timestamp).transpose()?;
    let clamp = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
    let api = &state.control.config().api;
    // Bounded concurrency: each query has its own memory pool, so the total stays bounded.
    let _permit = tokio::time::timeout(std::time::Duration::from_secs(5), state.queries.clone().acquire_owned())
        .await
        .ok()
        .and_then(Result::ok)
        .ok_or(crate::query::QueryError::Busy(api.max_queries))?;
    let options = crate::query::QueryOptions {
        version: request.version,
        as_of,
        limit: request.limit.map(clamp).unwrap_or(1000),
        offset: request.offset.map(clamp).unwrap_or(0),
        timeout: std::time::Duration::from_secs(30),
        memory_mb: api.query_memory_mb,
    };
    let (catalog, root) = (state.control.catalog(), state.control.config().lake.root.clone());
    let out = crate::query::run(&catalog, &root, &request.sql, &options).await?;
    tracing::info!(rows = out.rows, has_more = out.has_more, ms = out.elapsed.as_millis() as u64, "query answered");
    Ok(Json(QueryResponse {
        columns: out
            .schema
            .fields()
            .iter()
            .map(|f| QueryColumn { name: f.name().clone(), kind: f.data_type().to_string() })
            .collect(),
        rows: crate::query::format::json_rows(&out.batches),
        row_count: out.rows as u64,
        has_more: out.has_more,
        next_offset: out.has_more.then_some((options.offset.saturating_add(out.rows)) as u64),
        versions: out.versions,
        elapsed_ms: out.elapsed.as_millis() as u64,
    }))
}

/// Compacts a table's small files now (as the maintenance schedule does), plus retention,
/// vacuum and a checkpoint when due; answers what it did.
#[utoipa::path(post, path = "/api/tables/{name}/optimize", tag = "lake",
    params(("name" = String, Path, description = "The table name")),
    responses((status = 200, body = MaintenanceReport), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 500, body = ErrorBody)))]
pub(super) async fn optimize(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<MaintenanceReport>, AppError> {
    let config = state.control.config();
    let report = state.control.maintenance.run_table(&config, &name, crate::delta::maintenance::Steps::ALL).await?;
    Ok(Json(report))
}

/// The last maintenance run of every table: when, what it did, files before and after.
#[utoipa::path(get, path = "/api/maintenance", tag = "lake",
    responses((status = 200, body = Vec<MaintenanceReport>)))]
pub(super) async fn maintenance(State(state): State<AppState>) -> Json<Vec<MaintenanceReport>> {
    Json(state.control.maintenance.reports())
}
