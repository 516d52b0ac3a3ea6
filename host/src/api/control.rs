//! Handlers that show and change what runs: plugins (list, upload, rollback), the config
//! (read, write with dry run, status), resuming a paused pipeline, dead letters (list, replay).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use finlake_api::{
    ConfigStatus, DeadLetter, DeadLetterQuery, DeployQuery, DeployReport, ErrorBody, ReloadReport, Replayed,
    ResumeReport, RollbackRequest, ShadowQuery, ShadowReport, StagePlugin,
};

use super::{AppError, AppState};
use crate::control::{ChangeSource, Source};

/// Every stage's plugin: the live version, its calls and timing, kept versions, last refusal.
#[utoipa::path(get, path = "/api/plugins", tag = "plugins", responses((status = 200, body = Vec<StagePlugin>)))]
pub(super) async fn plugins(State(state): State<AppState>) -> Json<Vec<StagePlugin>> {
    let histories = state.control.plugin_histories();
    let shadows = state.control.shadow_reports();
    let stages = state.control.registry.stage_snapshots();
    Json(
        stages
            .into_iter()
            .map(|stage| {
                let history = histories.get(&stage.plugin).cloned().unwrap_or_default();
                let last_shadow = shadows.get(&stage.plugin).cloned();
                StagePlugin {
                    stage,
                    versions: history.versions,
                    active: history.active,
                    last_refusal: history.last_refusal,
                    last_shadow,
                }
            })
            .collect(),
    )
}

/// A JSON body, optional: empty means the default. A non-empty body must say it is JSON, so a
/// cross-site form (text/plain, no preflight) cannot pass for one.
fn optional_json<T: serde::de::DeserializeOwned + Default>(
    headers: &HeaderMap,
    body: &Bytes,
    example: &str,
) -> Result<T, AppError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().to_ascii_lowercase().starts_with("application/json"));
    if !is_json {
        return Err(AppError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("send the body as Content-Type: application/json, e.g. {example}"),
        ));
    }
    serde_json::from_slice(body).map_err(|e| AppError::bad_request(format!("{e}; send nothing, or {example}")))
}

/// Hot-swaps a plugin: the body is the new component. It is compiled, checked, initialised and
/// tried on recent live input first; a refusal says why and the live version keeps running.
#[utoipa::path(put, path = "/api/plugins/{name}", tag = "plugins",
    params(("name" = String, Path, description = "The plugin name, as in pipelines.toml"), DeployQuery),
    request_body(content = Vec<u8>, content_type = "application/wasm", description = "The Wasm component"),
    responses((status = 200, body = DeployReport), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 413, body = ErrorBody)))]
pub(super) async fn upload_plugin(
    State(state): State<AppState>,
    Path(name): Path<String>,
    query: Result<Query<DeployQuery>, axum::extract::rejection::QueryRejection>,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Json<DeployReport>, AppError> {
    let Query(query) = query.map_err(|e| AppError::bad_request(e.body_text()))?;
    let bytes = upload(&state, body)?;
    tracing::info!(plugin = %name, bytes = bytes.len(), shadow = query.shadow, "plugin upload received");
    if query.shadow {
        let range = crate::shadow::range(query.from_version, query.since.as_deref(), query.limit)?;
        let max_diff = query.max_diff.unwrap_or(0);
        return Ok(Json(state.control.deploy_after_shadow(&name, bytes, Source::Upload, range, max_diff).await?));
    }
    Ok(Json(state.control.deploy(&name, bytes, Source::Upload).await?))
}

/// Runs an uploaded component beside the live version of the plugin over input the pipelines
/// already consumed (read back from bronze) and answers what it would change: per table the
/// rows only in one version and the rows that differ, new rejections and traps, time per
/// record. Nothing is swapped or written.
#[utoipa::path(post, path = "/api/plugins/{name}/shadow", tag = "plugins",
    params(("name" = String, Path, description = "The plugin name, as in pipelines.toml"), ShadowQuery),
    request_body(content = Vec<u8>, content_type = "application/wasm", description = "The candidate Wasm component"),
    responses((status = 200, body = ShadowReport), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 413, body = ErrorBody)))]
pub(super) async fn shadow_plugin(
    State(state): State<AppState>,
    Path(name): Path<String>,
    query: Result<Query<ShadowQuery>, axum::extract::rejection::QueryRejection>,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Json<ShadowReport>, AppError> {
    let Query(query) = query.map_err(|e| AppError::bad_request(e.body_text()))?;
    let bytes = upload(&state, body)?;
    let range = crate::shadow::range(query.from_version, query.since.as_deref(), query.limit)?;
    tracing::info!(plugin = %name, bytes = bytes.len(), ?range, "shadow run requested");
    Ok(Json(state.control.shadow(&name, bytes, range).await?))
}

/// The body of an upload, or why it cannot be taken.
fn upload(
    state: &AppState,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Vec<u8>, AppError> {
    let limit = state.control.config().api.max_upload_mb;
    let bytes = body.map_err(|e| {
        let status = e.status();
        let message = if status == StatusCode::PAYLOAD_TOO_LARGE {
            format!("the upload is larger than the limit of {limit} MiB ([api] max_upload_mb)")
        } else {
            e.body_text()
        };
        AppError::new(status, message)
    })?;
    if bytes.is_empty() {
        return Err(AppError::bad_request("empty body: send the component's bytes (curl --data-binary @plugin.wasm)"));
    }
    Ok(bytes.to_vec())
}

/// Makes a kept version live again (default: the one before the live one).
#[utoipa::path(post, path = "/api/plugins/{name}/rollback", tag = "plugins",
    params(("name" = String, Path, description = "The plugin name")),
    request_body(content = Option<RollbackRequest>, content_type = "application/json"),
    responses((status = 200, body = DeployReport), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 415, body = ErrorBody)))]
pub(super) async fn rollback_plugin(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<DeployReport>, AppError> {
    let request: RollbackRequest = optional_json(&headers, &body, r#"{"to": "<sha256 or version>"}"#)?;
    Ok(Json(state.control.rollback(&name, request.to.as_deref()).await?))
}

/// The `pipelines.toml` text in effect.
#[utoipa::path(get, path = "/api/config", tag = "config",
    responses((status = 200, body = String, content_type = "application/toml"), (status = 401, body = ErrorBody)))]
pub(super) async fn get_config(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, AppError> {
    super::auth::check_read(&state, &headers)?;
    // Secrets become placeholders naming them; a PUT that leaves them in place keeps them.
    let shown = crate::config::redact(&state.control.config_text());
    Ok(([(header::CONTENT_TYPE, "application/toml; charset=utf-8")], shown))
}

#[derive(serde::Deserialize, utoipa::IntoParams)]
pub(super) struct PutConfigParams {
    /// Only check the text and say what would change.
    #[serde(default)]
    dry_run: bool,
}

/// Replaces the config (the whole text): validated, written to the file, applied as a diff per
/// pipeline. Invalid text changes nothing; its problems are located (`file:line:col`).
#[utoipa::path(put, path = "/api/config", tag = "config", params(PutConfigParams),
    request_body(content = String, content_type = "application/toml"),
    responses((status = 200, body = ReloadReport), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody)))]
pub(super) async fn put_config(
    State(state): State<AppState>,
    params: Result<Query<PutConfigParams>, axum::extract::rejection::QueryRejection>,
    body: Result<String, axum::extract::rejection::StringRejection>,
) -> Result<Json<ReloadReport>, AppError> {
    let Query(params) = params.map_err(|e| AppError::bad_request(e.body_text()))?;
    let body = body.map_err(|e| AppError::bad_request(format!("{}; send the config as UTF-8 text", e.body_text())))?;
    // Text shown by GET carries placeholders for the secrets: put the real values back.
    let body = crate::config::unredact(&body, &state.control.config_text()).map_err(AppError::bad_request)?;
    Ok(Json(state.control.reload(body, ChangeSource::Api, params.dry_run).await?))
}

/// The config in effect, the last change and the last refused edit.
#[utoipa::path(get, path = "/api/config/status", tag = "config", responses((status = 200, body = ConfigStatus)))]
pub(super) async fn config_status(State(state): State<AppState>) -> Json<ConfigStatus> {
    Json(state.control.config_status())
}

/// Retries the batch a paused pipeline holds, with the current plugins.
#[utoipa::path(post, path = "/api/pipelines/{name}/resume", tag = "pipelines",
    params(("name" = String, Path, description = "The pipeline name")),
    responses((status = 200, body = ResumeReport), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(super) async fn resume(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<ResumeReport>, AppError> {
    let message = state.control.resume(&name).await?;
    Ok(Json(ResumeReport { pipeline: name, message }))
}

fn filter_of(query: &DeadLetterQuery) -> Result<crate::dlq::Filter, AppError> {
    let since_ms = query.since.as_deref().map(crate::dlq::parse_since).transpose().map_err(AppError::bad_request)?;
    Ok(crate::dlq::Filter {
        pipeline: query.pipeline.clone(),
        since_ms,
        stage: query.stage.clone(),
        limit: query.limit.map(|l| l.min(usize::MAX as u64) as usize),
    })
}

/// Pending dead letters (or, with `all=true`, every row), oldest first, one page (`offset`,
/// `limit` up to 1000) at a time.
#[utoipa::path(get, path = "/api/dead-letters", tag = "dead letters", params(DeadLetterQuery),
    responses((status = 200, body = Vec<DeadLetter>), (status = 400, body = ErrorBody)))]
pub(super) async fn dead_letters(
    State(state): State<AppState>,
    query: Result<Query<DeadLetterQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<DeadLetter>>, AppError> {
    let Query(query) = query.map_err(|e| AppError::bad_request(e.body_text()))?;
    let mut filter = filter_of(&query)?;
    // The page is cut below, after the offset.
    let limit = filter.limit.take().unwrap_or(1000).clamp(1, 1000);
    let config = state.control.config();
    let mut out = Vec::new();
    for table in crate::dlq::tables(&config, filter.pipeline.as_deref()) {
        let rows = crate::dlq::read(&config.lake.root, &table).await?;
        let rows: Vec<crate::dlq::DeadLetterRow> = if query.all {
            rows.into_iter().filter(|r| filter.pipeline.as_ref().is_none_or(|p| &r.pipeline == p)).collect()
        } else {
            crate::dlq::pending(&rows, &filter)
        };
        out.extend(
            rows.into_iter().filter(|r| query.reason.as_ref().is_none_or(|text| r.reason.contains(text.as_str()))),
        );
    }
    // One page: the listing is bounded whatever the table holds.
    let offset = query.offset.map_or(0, |o| usize::try_from(o).unwrap_or(usize::MAX));
    Ok(Json(out.iter().skip(offset).take(limit).map(|r| r.to_api()).collect()))
}

/// Sends pending dead letters back through the current plugins, exactly once.
#[utoipa::path(post, path = "/api/dead-letters/replay", tag = "dead letters",
    request_body(content = Option<DeadLetterQuery>, content_type = "application/json"),
    responses((status = 200, body = Vec<Replayed>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 415, body = ErrorBody)))]
pub(super) async fn replay_dead_letters(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Vec<Replayed>>, AppError> {
    let query: DeadLetterQuery = optional_json(&headers, &body, r#"{"pipeline": "...", "since": "2h"}"#)?;
    if query.all || query.reason.is_some() {
        return Err(AppError::bad_request(
            "`all` and `reason` only filter listings; a replay takes pipeline, stage, since, limit",
        ));
    }
    let filter = filter_of(&query)?;
    Ok(Json(state.control.replay(filter).await?))
}
