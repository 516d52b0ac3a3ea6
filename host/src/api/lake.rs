//! Handlers over the lake: table listing and history, SQL queries.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use super::{AppError, AppState};
use crate::lake::{self, TableInfo};

pub(super) async fn tables(State(state): State<AppState>) -> Result<Json<Vec<TableInfo>>, AppError> {
    let (catalog, root) = (state.control.catalog(), state.control.config().lake.root.clone());
    let mut out = Vec::new();
    for entry in catalog.iter() {
        out.push(
            lake::describe(&root, entry)
                .await
                .map_err(|e| AppError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?,
        );
    }
    Ok(Json(out))
}

#[derive(serde::Deserialize)]
pub(super) struct HistoryParams {
    limit: Option<usize>,
}

pub(super) async fn table_history(
    State(state): State<AppState>,
    axum::extract::Path(name): axum::extract::Path<String>,
    axum::extract::Query(params): axum::extract::Query<HistoryParams>,
) -> Result<Json<Vec<serde_json::Value>>, AppError> {
    let (catalog, root) = (state.control.catalog(), state.control.config().lake.root.clone());
    let entry = catalog.iter().find(|e| e.name == name).ok_or_else(|| {
        let known: Vec<&str> = catalog.iter().map(|e| e.name.as_str()).collect();
        AppError::new(StatusCode::NOT_FOUND, format!("unknown table {name:?}; tables: {}", known.join(", ")))
    })?;
    let limit = params.limit.unwrap_or(20).clamp(1, 1000);
    let history = lake::history(&root, entry, limit)
        .await
        .map_err(|e| AppError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    Ok(Json(history))
}

/// `POST /api/query` body.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct QueryRequest {
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

pub(super) async fn query(
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
    let (catalog, root) = (state.control.catalog(), state.control.config().lake.root.clone());
    let out = crate::query::run(&catalog, &root, &request.sql, &options).await.map_err(bad)?;
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
