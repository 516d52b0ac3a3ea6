//! Handlers that show and change what runs: plugins (list, upload, rollback), the config
//! (read, write with dry run, status), resuming a paused pipeline.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde::Serialize;

use super::{AppError, AppState};
use crate::control::{ChangeSource, DeployError, DeployReport, PluginHistory, ReloadError, ReloadReport, Source};
use crate::pipeline::StageSnapshot;

/// One stage's plugin as `GET /api/plugins` lists it: what runs and how it does, plus every
/// kept version of the plugin and the last refused one.
#[derive(Serialize)]
pub(super) struct StagePlugin {
    #[serde(flatten)]
    stage: StageSnapshot,
    versions: Vec<crate::control::plugins::PluginVersion>,
    last_refusal: Option<crate::control::plugins::Refusal>,
}

pub(super) async fn plugins(State(state): State<AppState>) -> Json<Vec<StagePlugin>> {
    let histories = state.control.plugin_histories();
    let stages = state.control.registry.stage_snapshots();
    Json(
        stages
            .into_iter()
            .map(|stage| {
                let history: PluginHistory = histories.get(&stage.plugin).cloned().unwrap_or_default();
                StagePlugin { stage, versions: history.versions, last_refusal: history.last_refusal }
            })
            .collect(),
    )
}

fn deploy_error(e: DeployError) -> AppError {
    let status = match e {
        DeployError::Unknown(_) | DeployError::NoSuchVersion { .. } => StatusCode::NOT_FOUND,
        DeployError::Refused(_) | DeployError::NothingToRollBack(_) => StatusCode::BAD_REQUEST,
        DeployError::Io(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    AppError::new(status, e.to_string())
}

/// `PUT /api/plugins/{name}` with the component's bytes as the body.
pub(super) async fn upload_plugin(
    State(state): State<AppState>,
    Path(name): Path<String>,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Json<DeployReport>, AppError> {
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
        return Err(AppError::new(
            StatusCode::BAD_REQUEST,
            "empty body: send the component's bytes (curl --data-binary @plugin.wasm)",
        ));
    }
    tracing::info!(plugin = %name, bytes = bytes.len(), "plugin upload received");
    let report = state.control.deploy(&name, bytes.to_vec(), Source::Upload).await.map_err(deploy_error)?;
    Ok(Json(report))
}

#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RollbackRequest {
    /// A kept version: sha256 (or a prefix of it) or version string. Default: the previous one.
    to: Option<String>,
}

/// `POST /api/plugins/{name}/rollback` with an optional `{"to": "<sha256 or version>"}`.
pub(super) async fn rollback_plugin(
    State(state): State<AppState>,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Json<DeployReport>, AppError> {
    let request: RollbackRequest = if body.iter().all(u8::is_ascii_whitespace) {
        RollbackRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            AppError::new(StatusCode::BAD_REQUEST, format!("{e}; send nothing, or {{\"to\": \"<sha256 or version>\"}}"))
        })?
    };
    let report = state.control.rollback(&name, request.to.as_deref()).await.map_err(deploy_error)?;
    Ok(Json(report))
}

/// `GET /api/config`: the text in effect.
pub(super) async fn get_config(State(state): State<AppState>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/toml; charset=utf-8")], state.control.config_text())
}

#[derive(serde::Deserialize)]
pub(super) struct PutConfigParams {
    #[serde(default)]
    dry_run: bool,
}

/// `PUT /api/config[?dry_run=true]` with the whole new text as the body.
pub(super) async fn put_config(
    State(state): State<AppState>,
    Query(params): Query<PutConfigParams>,
    body: String,
) -> Result<Json<ReloadReport>, AppError> {
    match state.control.reload(body, ChangeSource::Api, params.dry_run).await {
        Ok(report) => Ok(Json(report)),
        Err(ReloadError::Invalid(e)) => Err(AppError::with_problems(
            StatusCode::BAD_REQUEST,
            "the config is invalid; nothing changed",
            e.problems().iter().map(ToString::to_string).collect(),
        )),
        Err(e) => Err(AppError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())),
    }
}

pub(super) async fn config_status(State(state): State<AppState>) -> Json<crate::control::ConfigStatus> {
    Json(state.control.config_status())
}

/// `POST /api/pipelines/{name}/resume`.
pub(super) async fn resume(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<serde_json::Value>, AppError> {
    let message = state.control.resume(&name).await.map_err(|e| AppError::new(StatusCode::CONFLICT, e))?;
    Ok(Json(serde_json::json!({ "pipeline": name, "message": message })))
}

#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct DeadLetterQuery {
    pipeline: Option<String>,
    /// A time (RFC 3339) or a duration back from now (`30m`, `2h`).
    since: Option<String>,
    stage: Option<String>,
    limit: Option<usize>,
    /// Every row, replay markers and replayed letters included (default: pending only).
    #[serde(default)]
    all: bool,
}

impl DeadLetterQuery {
    fn filter(&self) -> Result<crate::dlq::Filter, AppError> {
        let since_ms = self
            .since
            .as_deref()
            .map(crate::dlq::parse_since)
            .transpose()
            .map_err(|e| AppError::new(StatusCode::BAD_REQUEST, e))?;
        Ok(crate::dlq::Filter {
            pipeline: self.pipeline.clone(),
            since_ms,
            stage: self.stage.clone(),
            limit: self.limit,
        })
    }
}

/// `GET /api/dead-letters`: pending dead letters (or, with `all=true`, every row), oldest first.
pub(super) async fn dead_letters(
    State(state): State<AppState>,
    Query(query): Query<DeadLetterQuery>,
) -> Result<Json<Vec<crate::dlq::DeadLetterRow>>, AppError> {
    let filter = query.filter()?;
    let config = state.control.config();
    let tables = crate::dlq::tables(&config, filter.pipeline.as_deref());
    let mut out = Vec::new();
    for table in tables {
        let rows = crate::dlq::read(&config.lake.root, &table)
            .await
            .map_err(|e| AppError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
        if query.all {
            out.extend(rows.into_iter().filter(|r| filter.pipeline.as_ref().is_none_or(|p| &r.pipeline == p)));
        } else {
            out.extend(crate::dlq::pending(&rows, &filter));
        }
    }
    out.truncate(query.limit.unwrap_or(1000));
    Ok(Json(out))
}

/// `POST /api/dead-letters/replay` with `{"pipeline"?, "since"?, "stage"?, "limit"?}`.
pub(super) async fn replay_dead_letters(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<Json<Vec<crate::pipeline::Replayed>>, AppError> {
    let query: DeadLetterQuery = if body.iter().all(u8::is_ascii_whitespace) {
        DeadLetterQuery::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            AppError::new(
                StatusCode::BAD_REQUEST,
                format!("{e}; send {{\"pipeline\": \"...\", \"since\": \"2h\"}} or nothing"),
            )
        })?
    };
    let filter = query.filter()?;
    let done = state.control.replay(filter).await.map_err(|e| AppError::new(StatusCode::CONFLICT, e))?;
    Ok(Json(done))
}
