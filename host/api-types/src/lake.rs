//! The lake: tables, their history, SQL queries, dead letters.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One column of a table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Column {
    pub name: String,
    /// The Delta type (`string`, `long`, `double`, `timestamp`, …).
    #[serde(rename = "type")]
    pub kind: String,
    pub nullable: bool,
}

/// A table of the lake (`GET /api/tables`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TableInfo {
    /// Its name in SQL.
    pub name: String,
    /// bronze, silver, gold, late or dead-letter (`-` when the config names none).
    pub layer: String,
    /// Relative to the lake root.
    pub path: String,
    /// The pipeline (or gold job) that writes it.
    pub pipeline: Option<String>,
    /// `None` until its first commit.
    pub version: Option<u64>,
    pub columns: Vec<Column>,
    pub partition_by: Vec<String>,
    pub files: u64,
    /// Files under `[maintenance] small_file_mb`: what compaction will bin-pack.
    #[serde(default)]
    pub small_files: u64,
    pub rows: u64,
    pub bytes: u64,
}

/// One plugin version named by a commit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CommitPlugin {
    pub stage: String,
    pub plugin: String,
    pub version: String,
    pub sha256: String,
}

/// One commit of a table (`GET /api/tables/{name}/history`), newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Commit {
    pub version: u64,
    pub timestamp_ms: Option<i64>,
    /// WRITE, CREATE TABLE, OPTIMIZE, …
    pub operation: Option<String>,
    /// The pipeline (or gold job) that made it.
    pub pipeline: Option<String>,
    /// The plugin versions that produced its rows.
    pub plugins: Vec<CommitPlugin>,
    /// The operation's parameters as Delta stores them.
    pub parameters: BTreeMap<String, String>,
}

/// `POST /api/query`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct QueryRequest {
    /// One SQL query (DataFusion dialect); tables by name, `"name@v3"` or `"name@<time>"` for
    /// one table back in time.
    pub sql: String,
    /// Read every table at this version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
    /// Read every table as of this time (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_of: Option<String>,
    /// Rows per page (default 1000, at most 100000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
    /// Rows to skip (the previous page's `next_offset`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
}

/// A result column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct QueryColumn {
    pub name: String,
    /// The Arrow type.
    #[serde(rename = "type")]
    pub kind: String,
}

/// The answer to a query: one page of rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct QueryResponse {
    pub columns: Vec<QueryColumn>,
    /// Each row as column name → JSON value.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Object>))]
    pub rows: Vec<serde_json::Map<String, serde_json::Value>>,
    pub row_count: u64,
    pub has_more: bool,
    /// Ask again with this offset for the next page.
    pub next_offset: Option<u64>,
    /// The version each table was read at.
    pub versions: BTreeMap<String, u64>,
    pub elapsed_ms: u64,
}

/// Which dead letters to list (`GET /api/dead-letters?…`) or replay
/// (`POST /api/dead-letters/replay`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema, utoipa::IntoParams))]
#[serde(deny_unknown_fields)]
pub struct DeadLetterQuery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipeline: Option<String>,
    /// A time (RFC 3339) or a duration back from now (`30m`, `2h`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    /// Only letters whose reason contains this text (listing only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// At most this many (listing: 1–1000, default 1000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
    /// Skip this many first (listing only): the next page starts at `offset + limit`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// Every row, replay markers and replayed letters included (listing only; default:
    /// pending only).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub all: bool,
}

/// One row of a dead-letter table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeadLetter {
    pub pipeline: String,
    pub stage: String,
    pub plugin: String,
    pub plugin_version: String,
    /// rejected, trap, timeout, memory, schema, unmapped-output, replayed (a marker), …
    pub error_kind: String,
    pub reason: String,
    pub target_table: Option<String>,
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub kafka_timestamp_ms: Option<i64>,
    /// The record's key, as text.
    pub key: Option<String>,
    /// What the failing step received, as text (invalid UTF-8 replaced).
    pub value: String,
    /// Its length in bytes, and whether it was valid UTF-8.
    pub value_bytes: u64,
    pub value_is_utf8: bool,
    pub failed_at_ms: i64,
}

/// What a replay did, per pipeline.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Replayed {
    pub pipeline: String,
    /// The replay's number (0 when there was nothing to replay).
    pub replay: i64,
    /// Dead letters sent back through the plugins.
    pub replayed: u64,
    /// Of those, how many made it into tables, and how many failed again.
    pub succeeded: u64,
    pub failed_again: u64,
    pub rows_written: u64,
    /// Dead letters left pending because their stage no longer exists.
    pub skipped: Vec<String>,
}

/// What one maintenance run did to one table (`POST /api/tables/{name}/optimize`,
/// `GET /api/maintenance`, `finlake lake`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MaintenanceReport {
    pub table: String,
    /// When the run finished (ms since the epoch).
    pub finished_at_ms: i64,
    /// Which steps ran: `optimize`, `retention`, `vacuum`, `checkpoint`.
    pub steps: Vec<String>,
    /// Files of the table's current version before and after, and how many were small.
    pub files_before: u64,
    pub files_after: u64,
    pub small_files_before: u64,
    pub small_files_after: u64,
    pub bytes_after: u64,
    /// Compaction: small files rewritten, and the files they became.
    pub files_compacted: u64,
    pub files_written: u64,
    /// Retention: rows deleted (old dead letters, superseded state snapshots).
    pub rows_deleted: u64,
    /// VACUUM: files no version within the time-travel horizon needs, deleted from storage.
    pub files_vacuumed: u64,
    /// Checkpoint written at this version, and expired log entries deleted.
    pub checkpoint: Option<u64>,
    pub log_entries_removed: u64,
    /// The table's version after the run.
    pub version: Option<u64>,
    pub millis: u64,
    /// Why a step failed, if one did (the others still ran).
    pub error: Option<String>,
}
