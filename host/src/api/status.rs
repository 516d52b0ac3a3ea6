//! Handlers that show what runs: health, pipelines and their graph, fraud models, metrics.

use std::collections::BTreeMap;
use std::sync::{Mutex, OnceLock};

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use finlake_api::{
    ErrorBody, FraudEvaluation, FraudModel, GraphStage, Health, PatternCatch, PipelineGraph, PipelineSnapshot,
};

use super::{AppError, AppState};
use crate::config::Config;

/// Whether the process answers.
#[utoipa::path(get, path = "/api/health", tag = "status", responses((status = 200, body = Health)))]
pub(super) async fn health(State(state): State<AppState>) -> Json<Health> {
    Json(Health {
        status: "ok".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        uptime_s: state.started.elapsed().as_secs(),
        token_required: state.token.is_some() || !state.loopback,
    })
}

/// Every pipeline's state and counters.
#[utoipa::path(get, path = "/api/pipelines", tag = "status", responses((status = 200, body = Vec<PipelineSnapshot>)))]
pub(super) async fn pipelines(State(state): State<AppState>) -> Json<Vec<PipelineSnapshot>> {
    Json(state.control.pipeline_snapshots())
}

/// How records flow in each pipeline of the config in effect: topic → stages → tables.
#[utoipa::path(get, path = "/api/graph", tag = "status", responses((status = 200, body = Vec<PipelineGraph>)))]
pub(super) async fn graph(State(state): State<AppState>) -> Json<Vec<PipelineGraph>> {
    Json(graphs(&state.control.config()))
}

pub(super) fn graphs(config: &Config) -> Vec<PipelineGraph> {
    config
        .pipelines
        .iter()
        .map(|p| {
            let stages = p
                .stages
                .iter()
                .map(|s| {
                    let feeders: Vec<String> = p
                        .stages
                        .iter()
                        .filter(|other| other.outputs.values().any(|t| t == s.id()))
                        .map(|other| other.id().to_string())
                        .collect();
                    GraphStage {
                        id: s.id().to_string(),
                        plugin: s.plugin.clone(),
                        inputs: if feeders.is_empty() { vec![p.topic.clone()] } else { feeders },
                        outputs: s.outputs.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
                    }
                })
                .collect();
            PipelineGraph {
                name: p.name.clone(),
                topic: p.topic.clone(),
                dead_letter_table: p.dead_letter_table.clone(),
                stages,
            }
        })
        .collect()
}

/// Held-out evaluations, per model file and its bytes' hash: computing one takes a second.
type EvalCache = Mutex<BTreeMap<(String, u64), Option<FraudEvaluation>>>;

/// The fraud models stages use (`config_files = { model = … }`), each with its numbers on a
/// held-out simulated stream (seed 99, 20,000 transactions; computed once per model file).
#[utoipa::path(get, path = "/api/fraud/models", tag = "status",
    responses((status = 200, body = Vec<FraudModel>), (status = 500, body = ErrorBody)))]
pub(super) async fn fraud_models(State(state): State<AppState>) -> Result<Json<Vec<FraudModel>>, AppError> {
    let config = state.control.config();
    let mut out = Vec::new();
    for p in &config.pipelines {
        for s in &p.stages {
            let Some(path) = s.config_files.get("model") else { continue };
            let bytes = tokio::fs::read(path)
                .await
                .map_err(|e| AppError::internal(format!("reading model {}: {e}", path.display())))?;
            let model: fraud_model::Model = serde_json::from_slice(&bytes)
                .map_err(|e| AppError::internal(format!("model {} is not a model file: {e}", path.display())))?;
            let key = (path.display().to_string(), hash(&bytes));
            let evaluation = evaluation(key, model.clone()).await;
            out.push(FraudModel {
                pipeline: p.name.clone(),
                stage: s.id().to_string(),
                file: path.display().to_string(),
                version: model.version.clone(),
                threshold: model.threshold,
                features: model.features.clone(),
                trained_on: model.trained_on.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
                evaluation,
            });
        }
    }
    Ok(Json(out))
}

fn hash(bytes: &[u8]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut h);
    h.finish()
}

async fn evaluation(key: (String, u64), model: fraud_model::Model) -> Option<FraudEvaluation> {
    static CACHE: OnceLock<EvalCache> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(hit) = cache.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
        return hit.clone();
    }
    // The simulator only makes the bank layout's features; another layout has no stream to
    // test on here.
    let bank = model.features.iter().map(String::as_str).eq(fraud_model::FEATURES.iter().copied());
    let computed = if bank {
        tokio::task::spawn_blocking(move || {
            let spec = crate::fraud::StreamSpec { seed: 99, records: 20_000, ms_per_record: 14_400 };
            let e = crate::fraud::evaluate(&model, spec);
            FraudEvaluation {
                seed: e.seed,
                records: e.records as u64,
                fraud: e.fraud as u64,
                roc_auc: e.roc_auc,
                threshold: e.threshold,
                precision: e.precision,
                recall: e.recall,
                f1: e.f1,
                recall_at_precision_80: e.recall_at_precision_80,
                by_pattern: e
                    .by_pattern
                    .into_iter()
                    .map(|(k, (n, caught))| (k, PatternCatch { transactions: n as u64, caught: caught as u64 }))
                    .collect(),
            }
        })
        .await
        .ok()
    } else {
        None
    };
    cache.lock().unwrap_or_else(|e| e.into_inner()).insert(key, computed.clone());
    computed
}

/// Prometheus text exposition.
#[utoipa::path(get, path = "/metrics", tag = "status",
    responses((status = 200, body = String, content_type = "text/plain"), (status = 503, body = ErrorBody)))]
pub(super) async fn prometheus(State(state): State<AppState>) -> Result<String, AppError> {
    match &state.metrics {
        Some(h) => {
            crate::allocator::publish();
            Ok(h.render())
        }
        None => {
            Err(AppError::new(StatusCode::SERVICE_UNAVAILABLE, "metrics recorder is not installed in this process"))
        }
    }
}
