//! What runs and how it does: health, pipelines and their graph, plugins, changes to them
//! (deploy, rollback, config edits, resume).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `GET /api/health`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Health {
    /// Always `ok` when the process answers.
    pub status: String,
    /// The finlake version.
    pub version: String,
    pub uptime_s: u64,
    /// Whether changes need `Authorization: Bearer <token>`.
    pub token_required: bool,
}

/// Where a pipeline is in its life.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PipelineState {
    #[default]
    Starting,
    Running,
    /// Failed and waiting to restart (`detail` says why).
    Restarting,
    /// A stage failed every record of a batch repeatedly; nothing is consumed until
    /// `POST /api/pipelines/{name}/resume` (`detail` says which stage and why).
    Paused,
    Stopped,
}

impl PipelineState {
    pub fn as_str(self) -> &'static str {
        match self {
            PipelineState::Starting => "starting",
            PipelineState::Running => "running",
            PipelineState::Restarting => "restarting",
            PipelineState::Paused => "paused",
            PipelineState::Stopped => "stopped",
        }
    }
}

/// One table a pipeline writes, as the pipeline last saw it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TableStats {
    /// Rows this process committed to it.
    pub rows_written: u64,
    pub last_version: Option<u64>,
    pub last_commit_at: Option<String>,
}

/// A pipeline's counters (`GET /api/pipelines`, and the `pipelines` event every second).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PipelineSnapshot {
    pub name: String,
    pub state: PipelineState,
    /// Why it restarts or is paused.
    pub detail: Option<String>,
    /// Records consumed from Kafka.
    pub records_in: u64,
    /// Rows committed to tables.
    pub rows_out: u64,
    pub dead_letters: u64,
    /// Rows not written because their unique key was already stored.
    pub duplicates: u64,
    pub errors: u64,
    pub batches: u64,
    pub commits: u64,
    /// Records in the topic not consumed yet, over the partitions this host reads (from the
    /// Kafka client's statistics; `None` until the first report).
    pub lag: Option<u64>,
    /// The host this snapshot comes from (`FINLAKE_HOST_ID`, else host name and process id):
    /// several hosts in one consumer group share a pipeline's partitions.
    #[serde(default)]
    pub host: String,
    /// The partitions of the topic the group gave this host (`None` before the first
    /// assignment).
    #[serde(default)]
    pub partitions: Option<Vec<i32>>,
    /// Every live host of the deployment that runs this pipeline, with the partitions the
    /// consumer group gave it, as each host last announced in the lake (every 5 s; a host
    /// silent for 20 s is gone). `None` while the pipeline does not run or before the first
    /// look at the lake.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<Vec<GroupMember>>,
    pub last_error: Option<String>,
    pub tables: BTreeMap<String, TableStats>,
}

/// One host of a pipeline's consumer group.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GroupMember {
    /// The host's id (`FINLAKE_HOST_ID`; also its Kafka `client.id`).
    pub host: String,
    /// Its API address.
    pub api: String,
    /// The partitions of the pipeline's topic it owns, ascending.
    pub partitions: Vec<i32>,
    /// How long ago it last announced itself.
    pub seen_ms_ago: u64,
}

/// How records flow through one pipeline: topic → stages → tables.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PipelineGraph {
    pub name: String,
    pub topic: String,
    pub dead_letter_table: String,
    pub stages: Vec<GraphStage>,
}

/// One stage of a [`PipelineGraph`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GraphStage {
    pub id: String,
    pub plugin: String,
    /// The topic, or the ids of the stages that feed it.
    pub inputs: Vec<String>,
    /// Output name → table name, or the id of the stage it feeds.
    pub outputs: BTreeMap<String, String>,
}

/// One stage's plugin and its calls.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StageSnapshot {
    pub pipeline: String,
    pub stage: String,
    pub plugin: String,
    pub version: String,
    pub sha256: String,
    pub loaded_at: String,
    /// Batches the stage processed.
    pub calls: u64,
    /// Records that failed in the plugin (trap, timeout, memory), not counting rejections.
    pub errors: u64,
    /// Time per batch over the last 1024 batches.
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
}

/// Where a plugin version came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PluginSource {
    /// The file in the plugins directory (at start, or changed while running).
    File,
    /// `PUT /api/plugins/{name}`.
    Upload,
    /// `POST /api/plugins/{name}/rollback`.
    Rollback,
}

/// One version of a plugin that was live at some point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PluginVersion {
    pub version: String,
    pub sha256: String,
    pub size: u64,
    pub source: PluginSource,
    /// When it last went live.
    pub live_since: String,
}

/// A version that was refused, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Refusal {
    pub at: String,
    pub source: PluginSource,
    pub sha256: String,
    pub error: String,
}

/// One stage's plugin as `GET /api/plugins` lists it: what runs and how it does, with every
/// kept version of the plugin and the last refused one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StagePlugin {
    pub stage: StageSnapshot,
    pub versions: Vec<PluginVersion>,
    /// sha256 of the live version.
    pub active: Option<String>,
    pub last_refusal: Option<Refusal>,
    /// The last shadow run of a candidate for this plugin.
    #[serde(default)]
    pub last_shadow: Option<crate::ShadowReport>,
}

/// What a swap cost one pipeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Swapped {
    pub pipeline: String,
    pub stage: String,
    pub previous_version: String,
    pub version: String,
    /// Time between the pipeline taking the command and processing again: the commit of the
    /// buffered window plus the exchange of instances.
    pub pause_ms: f64,
    /// Rows committed (under the previous version) before the swap.
    pub flushed_rows: u64,
}

/// What a deploy (`PUT /api/plugins/{name}`) or rollback did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeployReport {
    pub plugin: String,
    pub version: String,
    pub sha256: String,
    pub source: PluginSource,
    /// False when this exact component was already live (nothing was swapped).
    pub changed: bool,
    pub compile_ms: f64,
    pub cache_hit: bool,
    /// Records of live input the new version was tried on before going live.
    pub sample_records: u64,
    pub swaps: Vec<Swapped>,
    /// Stages whose pipeline did not take the swap (not running), with why.
    pub not_swapped: Vec<String>,
}

/// `POST /api/plugins/{name}/rollback` body (optional).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RollbackRequest {
    /// A kept version: sha256 (or a prefix of it) or version string. Default: the previous one.
    pub to: Option<String>,
}

/// Where a config change came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ChangeSource {
    /// The file changed on disk.
    File,
    /// `PUT /api/config`.
    Api,
}

/// What a config change does (or, with `dry_run`, would do).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReloadReport {
    pub dry_run: bool,
    pub changed_anything: bool,
    pub added: Vec<String>,
    pub changed: Vec<String>,
    pub removed: Vec<String>,
    pub unchanged: Vec<String>,
    pub gold_added: Vec<String>,
    pub gold_changed: Vec<String>,
    pub gold_removed: Vec<String>,
    /// Sections that changed but only take effect on restart.
    pub needs_restart: Vec<String>,
    pub applied_ms: f64,
}

/// A refused config edit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConfigProblem {
    pub at: String,
    pub source: ChangeSource,
    /// Each problem as `file:line:col: message`.
    pub problems: Vec<String>,
}

/// `GET /api/config/status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConfigStatus {
    pub path: Option<String>,
    /// sha256 of the text in effect.
    pub sha256: String,
    pub applied_at: String,
    pub last_change: Option<ReloadReport>,
    /// The last edit that was refused (cleared by the next valid one).
    pub last_error: Option<ConfigProblem>,
    pub reloads: u64,
    pub rejected: u64,
}

/// `POST /api/pipelines/{name}/resume`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ResumeReport {
    pub pipeline: String,
    pub message: String,
}

/// A fraud model in use by a stage, with its numbers on a held-out simulated stream
/// (`GET /api/fraud/models`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FraudModel {
    pub pipeline: String,
    pub stage: String,
    /// The model file, relative to the config.
    pub file: String,
    pub version: String,
    pub threshold: f64,
    pub features: Vec<String>,
    pub trained_on: BTreeMap<String, String>,
    /// `None` for a model of another layout (credit-card), which the simulator cannot test.
    pub evaluation: Option<FraudEvaluation>,
}

/// What `finlake fraud eval` prints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FraudEvaluation {
    pub seed: u64,
    pub records: u64,
    pub fraud: u64,
    pub roc_auc: f64,
    pub threshold: f64,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub recall_at_precision_80: f64,
    /// Per simulated fraud pattern: transactions and how many were caught at the threshold.
    pub by_pattern: BTreeMap<String, PatternCatch>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PatternCatch {
    pub transactions: u64,
    pub caught: u64,
}
