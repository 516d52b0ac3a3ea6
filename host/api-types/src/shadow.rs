//! Shadow runs: what a candidate version of a plugin would change, found by running it and the
//! live version side by side over input the pipelines already consumed (kept in bronze).

use serde::{Deserialize, Serialize};

/// Which recorded input a shadow run reads (query of `POST /api/plugins/{name}/shadow`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema, utoipa::IntoParams))]
pub struct ShadowQuery {
    /// Records the source table received after this version of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_version: Option<u64>,
    /// Records produced to Kafka at or after this time (RFC 3339, or a duration back from now
    /// such as `15m`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    /// At most this many records per pipeline (default 1000; at most 100000). Without
    /// `from_version` or `since`: the newest ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
}

/// A version in a shadow run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ShadowVersion {
    pub version: String,
    pub sha256: String,
}

/// The answer of a shadow run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ShadowReport {
    pub plugin: String,
    pub live: ShadowVersion,
    pub candidate: ShadowVersion,
    /// One entry per pipeline with a stage that uses the plugin.
    pub pipelines: Vec<ShadowPipeline>,
    /// Rows that differ over every output (only in one version, or changed).
    pub differences: u64,
    /// Records on which the candidate trapped, timed out or ran out of memory and the live
    /// version did not.
    pub new_traps: u64,
    pub new_rejections: u64,
    pub finished_at_ms: i64,
    pub millis: u64,
}

/// A shadow run over one pipeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ShadowPipeline {
    pub pipeline: String,
    /// The stages that run the plugin.
    pub stages: Vec<String>,
    /// The bronze table the input was read from, and its version.
    pub source_table: String,
    pub source_version: u64,
    pub records: u64,
    /// Kafka coordinates of the first and last record read.
    pub first: Option<ShadowRecord>,
    pub last: Option<ShadowRecord>,
    /// Where a stateful stage's state came from, per stage ("snapshot taken at …", or "none:
    /// empty state").
    pub state: Vec<String>,
    pub outputs: Vec<ShadowOutput>,
    pub new_rejections: u64,
    pub new_traps: u64,
    /// A few of each, with their reasons.
    pub rejection_examples: Vec<ShadowFailure>,
    pub trap_examples: Vec<ShadowFailure>,
    /// Time in the plugin's stages per record they received.
    pub live_ns_per_record: f64,
    pub candidate_ns_per_record: f64,
}

/// A record of the input, by its Kafka coordinates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ShadowRecord {
    pub partition: i32,
    pub offset: i64,
    /// Kafka timestamp, ms since the epoch.
    pub timestamp_ms: i64,
}

/// One table the pipeline writes, compared row by row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ShadowOutput {
    pub table: String,
    /// How rows are matched: the table's `unique_key`, or `kafka coordinates` (partition,
    /// offset and the row's place among that record's rows).
    pub matched_by: String,
    pub live_rows: u64,
    pub candidate_rows: u64,
    pub same: u64,
    pub only_live: u64,
    pub only_candidate: u64,
    pub changed: u64,
    /// Up to five of each kind of difference.
    pub examples: Vec<ShadowDiff>,
}

/// One row that differs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ShadowDiff {
    /// `only_live`, `only_candidate` or `changed`.
    pub kind: String,
    pub key: String,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub live: Option<serde_json::Value>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub candidate: Option<serde_json::Value>,
    /// For `changed`: the fields whose values differ.
    pub fields: Vec<String>,
}

/// A record the candidate failed on and the live version did not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ShadowFailure {
    pub partition: i32,
    pub offset: i64,
    pub stage: String,
    /// `rejected`, `trap`, `timeout`, `memory`, …
    pub kind: String,
    pub reason: String,
}

/// Query of `PUT /api/plugins/{name}`: with `shadow=true` the upload is first run beside the
/// live version over recorded input (as `POST /api/plugins/{name}/shadow` with the same range)
/// and refused if it traps on a record the live version handled, or if more than `max_diff`
/// rows differ.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema, utoipa::IntoParams))]
pub struct DeployQuery {
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub shadow: bool,
    /// Rows allowed to differ (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_diff: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_version: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
}
