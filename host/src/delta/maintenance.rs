//! Table maintenance, so a lake that runs for weeks stays the same size to open, list and
//! read: compaction of small files, retention of bookkeeping rows, VACUUM within the
//! time-travel horizon, checkpoints and log cleanup. Each step is one Delta operation that
//! commits like any writer (conflicts with the pipelines' appends are resolved by delta-rs:
//! appends and compaction touch different files).

use std::num::NonZeroU64;
use std::time::{Duration, Instant};

use deltalake::DeltaTable;
use deltalake::arrow::array::{Array, AsArray};
use deltalake::arrow::datatypes::{DataType, Int64Type};
use deltalake::datafusion::prelude::{col, lit};
use deltalake::datafusion::scalar::ScalarValue;
use deltalake::operations::optimize::OptimizeType;
use deltalake::operations::vacuum::VacuumMode;
use finlake_api::MaintenanceReport;

use super::DeltaError;
use crate::config::MaintenanceConfig;

/// What maintenance keeps, from `[maintenance]`.
#[derive(Debug, Clone)]
pub struct Policy {
    pub target_file_bytes: u64,
    pub small_file_bytes: u64,
    pub min_small_files: usize,
    pub time_travel_ms: i64,
    pub checkpoint_every: u64,
    pub dead_letter_retention_ms: i64,
    pub state_snapshots: usize,
}

impl From<&MaintenanceConfig> for Policy {
    fn from(m: &MaintenanceConfig) -> Policy {
        Policy {
            target_file_bytes: m.target_file_mb << 20,
            small_file_bytes: m.small_file_mb << 20,
            min_small_files: m.min_small_files,
            time_travel_ms: m.time_travel_ms(),
            checkpoint_every: m.checkpoint_every,
            dead_letter_retention_ms: m.dead_letter_retention_ms(),
            state_snapshots: m.state_snapshots,
        }
    }
}

/// What kind of table, for the retention step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retention {
    /// Rows are kept as long as the table (pipelines' and gold outputs).
    None,
    /// Dead letters older than the retention are deleted.
    DeadLetters,
    /// Only the newest snapshots per stage are kept.
    StateSnapshots,
}

/// The steps of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Steps {
    pub optimize: bool,
    pub retention: bool,
    pub vacuum: bool,
    pub checkpoint: bool,
}

impl Steps {
    pub const ALL: Steps = Steps { optimize: true, retention: true, vacuum: true, checkpoint: true };
}

/// Files of a table's current version.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FileStats {
    pub files: u64,
    pub bytes: u64,
    pub small_files: u64,
}

pub fn file_stats(table: &DeltaTable, small_file_bytes: u64) -> FileStats {
    let mut stats = FileStats::default();
    let Ok(state) = table.snapshot() else { return stats };
    for f in state.log_data() {
        let size = f.size().max(0) as u64;
        stats.files += 1;
        stats.bytes += size;
        stats.small_files += u64::from(size < small_file_bytes);
    }
    stats
}

/// The most small files in any one partition (compaction works per partition).
fn small_files_per_partition(table: &DeltaTable, small_file_bytes: u64) -> usize {
    let Ok(state) = table.snapshot() else { return 0 };
    let mut counts = std::collections::HashMap::<String, usize>::new();
    for f in state.log_data() {
        if (f.size().max(0) as u64) < small_file_bytes {
            let path = f.path();
            let dir = path.rsplit_once('/').map_or("", |(d, _)| d).to_string();
            *counts.entry(dir).or_default() += 1;
        }
    }
    counts.into_values().max().unwrap_or(0)
}

/// Runs `steps` on one table. A failing step is reported (and logged) and the others still run.
pub async fn run(
    table: DeltaTable,
    name: &str,
    kind: Retention,
    policy: &Policy,
    steps: Steps,
) -> Result<MaintenanceReport, DeltaError> {
    let started = Instant::now();
    let before = file_stats(&table, policy.small_file_bytes);
    let mut report = MaintenanceReport {
        table: name.to_string(),
        files_before: before.files,
        small_files_before: before.small_files,
        ..Default::default()
    };
    let mut table = table;
    let mut errors = Vec::new();
    if steps.retention && kind != Retention::None {
        match retention(table.clone(), name, kind, policy).await {
            Ok((t, rows)) => {
                table = t;
                report.rows_deleted = rows;
                report.steps.push("retention".into());
            }
            Err(e) => errors.push(e.to_string()),
        }
    }
    if steps.optimize && small_files_per_partition(&table, policy.small_file_bytes) >= policy.min_small_files {
        match optimize(table.clone(), name, policy).await {
            Ok((t, removed, added)) => {
                table = t;
                report.files_compacted = removed;
                report.files_written = added;
                report.steps.push("optimize".into());
            }
            Err(e) => errors.push(e.to_string()),
        }
    }
    if steps.vacuum {
        match vacuum(table.clone(), name, policy).await {
            Ok((t, n)) => {
                table = t;
                report.files_vacuumed = n;
                report.steps.push("vacuum".into());
            }
            Err(e) => errors.push(e.to_string()),
        }
    }
    if steps.checkpoint {
        match horizon_properties(table.clone(), name, policy).await {
            Ok(t) => table = t,
            Err(e) => errors.push(e.to_string()),
        }
        match checkpoint(&mut table, name, policy).await {
            Ok((version, removed)) => {
                report.checkpoint = version;
                report.log_entries_removed = removed;
                report.steps.push("checkpoint".into());
            }
            Err(e) => errors.push(e.to_string()),
        }
    }
    let after = file_stats(&table, policy.small_file_bytes);
    report.files_after = after.files;
    report.small_files_after = after.small_files;
    report.bytes_after = after.bytes;
    report.version = table.version();
    report.millis = started.elapsed().as_millis() as u64;
    report.finished_at_ms = chrono::Utc::now().timestamp_millis();
    report.error = (!errors.is_empty()).then(|| errors.join("; "));
    Ok(report)
}

/// Bin-packs small files per partition into files of up to the target size. The new files'
/// add actions say `dataChange = false`: incremental readers (gold) skip them.
pub async fn optimize(table: DeltaTable, name: &str, policy: &Policy) -> Result<(DeltaTable, u64, u64), DeltaError> {
    let target = NonZeroU64::new(policy.target_file_bytes.max(1 << 20)).unwrap_or(NonZeroU64::MIN);
    let (table, metrics) = table
        .optimize()
        .with_type(OptimizeType::Compact)
        .with_target_size(target)
        .with_max_concurrent_tasks(1)
        .await
        .map_err(DeltaError::delta(name))?;
    tracing::info!(
        table = name,
        removed = metrics.num_files_removed,
        added = metrics.num_files_added,
        partitions = metrics.partitions_optimized,
        "compacted small files"
    );
    Ok((table, metrics.num_files_removed, metrics.num_files_added))
}

/// Deletes the files that no version within the time-travel horizon needs.
pub async fn vacuum(table: DeltaTable, name: &str, policy: &Policy) -> Result<(DeltaTable, u64), DeltaError> {
    let retention = Duration::from_millis(policy.time_travel_ms.max(0) as u64);
    let (table, metrics) = table
        .vacuum()
        .with_retention_period(chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::days(1)))
        // The horizon is ours to choose (Delta's default check wants at least 7 days).
        .with_enforce_retention_duration(false)
        .with_mode(VacuumMode::Lite)
        .await
        .map_err(DeltaError::delta(name))?;
    let n = metrics.files_deleted.len() as u64;
    if n > 0 {
        tracing::info!(table = name, files = n, "vacuumed files past the time-travel horizon");
    }
    Ok((table, n))
}

/// Delta's own retention settings, kept at the time-travel horizon. A checkpoint carries the
/// tombstone of every removed file for `delta.deletedFileRetentionDuration` (7 days unless
/// set), so with compaction every few minutes a week of tombstones would be rewritten by every
/// checkpoint and replayed at every start. VACUUM has deleted those files at the horizon
/// already; other Delta writers cleaning this log follow `delta.logRetentionDuration`. The
/// settings are one metadata commit, made only when they differ.
pub async fn horizon_properties(table: DeltaTable, name: &str, policy: &Policy) -> Result<DeltaTable, DeltaError> {
    let interval = format!("interval {} seconds", (policy.time_travel_ms / 1000).max(1));
    let wanted = [DELETED_FILE_RETENTION, LOG_RETENTION];
    let configuration = table.snapshot().map_err(DeltaError::delta(name))?.metadata().configuration().clone();
    if wanted.iter().all(|k| configuration.get(*k) == Some(&interval)) {
        return Ok(table);
    }
    let properties = wanted.iter().map(|k| (k.to_string(), interval.clone())).collect();
    let table = table.set_tbl_properties().with_properties(properties).await.map_err(DeltaError::delta(name))?;
    tracing::info!(table = name, retention = %interval, "Delta retention properties set to the time-travel horizon");
    Ok(table)
}

const DELETED_FILE_RETENTION: &str = "delta.deletedFileRetentionDuration";
const LOG_RETENTION: &str = "delta.logRetentionDuration";

/// The version of the table's last checkpoint, from `_delta_log/_last_checkpoint`.
pub async fn last_checkpoint(table: &DeltaTable) -> Option<u64> {
    let store = table.log_store();
    let path = store.log_path().clone().join("_last_checkpoint");
    let bytes = store.object_store(None).get_opts(&path, Default::default()).await.ok()?.bytes().await.ok()?;
    serde_json::from_slice::<serde_json::Value>(&bytes).ok()?.get("version")?.as_u64()
}

/// Writes a checkpoint when `checkpoint_every` commits or more followed the last one, then
/// deletes log entries older than the horizon that a checkpoint covers.
pub async fn checkpoint(table: &mut DeltaTable, name: &str, policy: &Policy) -> Result<(Option<u64>, u64), DeltaError> {
    table.update_incremental(None).await.map_err(DeltaError::delta(name))?;
    let Some(version) = table.version() else { return Ok((None, 0)) };
    let last = last_checkpoint(table).await;
    let mut written = None;
    if last.is_none_or(|l| version >= l + policy.checkpoint_every) {
        deltalake::checkpoints::create_checkpoint(table, None).await.map_err(DeltaError::delta(name))?;
        written = Some(version);
    }
    let cutoff = chrono::Utc::now().timestamp_millis() - policy.time_travel_ms;
    let removed = deltalake::checkpoints::cleanup_expired_logs_for(version, table.log_store().as_ref(), cutoff, None)
        .await
        .map_err(DeltaError::delta(name))? as u64;
    Ok((written, removed))
}

async fn retention(
    table: DeltaTable,
    name: &str,
    kind: Retention,
    policy: &Policy,
) -> Result<(DeltaTable, u64), DeltaError> {
    let ts = |us: i64| lit(ScalarValue::TimestampMicrosecond(Some(us), Some("UTC".into())));
    let predicate = match kind {
        Retention::None => return Ok((table, 0)),
        Retention::DeadLetters => {
            let cutoff_us = (chrono::Utc::now().timestamp_millis() - policy.dead_letter_retention_ms) * 1000;
            Some(col("failed_at").lt(ts(cutoff_us)))
        }
        Retention::StateSnapshots => {
            // Per stage, everything older than its `state_snapshots`-th newest snapshot.
            let batches = super::scan(&table, &["stage", "taken_at"]).await.map_err(DeltaError::other(name))?;
            let mut times = std::collections::BTreeMap::<String, Vec<i64>>::new();
            for b in &batches {
                let (Some(stage), Some(taken)) = (b.column_by_name("stage"), b.column_by_name("taken_at")) else {
                    continue;
                };
                let stage = deltalake::arrow::compute::cast(stage, &DataType::Utf8)
                    .map_err(|e| DeltaError::other(name)(e.to_string()))?;
                let taken = deltalake::arrow::compute::cast(taken, &DataType::Int64)
                    .map_err(|e| DeltaError::other(name)(e.to_string()))?;
                for i in (0..b.num_rows()).filter(|&i| stage.is_valid(i) && taken.is_valid(i)) {
                    times
                        .entry(stage.as_string::<i32>().value(i).to_string())
                        .or_default()
                        .push(taken.as_primitive::<Int64Type>().value(i));
                }
            }
            times
                .into_iter()
                .filter_map(|(stage, mut t)| {
                    t.sort_unstable_by(|a, b| b.cmp(a));
                    let keep_from = *t.get(policy.state_snapshots.checked_sub(1)?)?;
                    (t.len() > policy.state_snapshots)
                        .then(|| col("stage").eq(lit(stage)).and(col("taken_at").lt(ts(keep_from))))
                })
                .reduce(|a, b| a.or(b))
        }
    };
    let Some(predicate) = predicate else { return Ok((table, 0)) };
    let (table, metrics) = table.delete().with_predicate(predicate).await.map_err(DeltaError::delta(name))?;
    let rows = metrics.num_deleted_rows.unwrap_or(0) as u64;
    if metrics.num_removed_files > 0 {
        tracing::info!(table = name, rows, files_rewritten = metrics.num_removed_files, "retention: old rows deleted");
    }
    Ok((table, rows))
}
