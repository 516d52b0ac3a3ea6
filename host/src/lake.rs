//! The lake as a catalog: every table FinLake writes, with its schema, version, size and
//! history, read from the Delta log (for `GET /api/tables`).

use std::path::Path;

use deltalake::DeltaTable;
use futures::TryStreamExt;

use crate::config::Config;

/// A table known to the config: declared in `[[tables]]`, or a pipeline's dead-letter table.
#[derive(Debug, Clone)]
pub struct CatalogEntry {
    pub name: String,
    pub layer: String,
    pub path: String,
    pub pipeline: Option<String>,
}

pub fn catalog(config: &Config) -> Vec<CatalogEntry> {
    let writer = |table: &str| {
        config
            .pipelines
            .iter()
            .find(|p| p.stages.iter().any(|s| s.outputs.values().any(|t| t == table)))
            .map(|p| p.name.clone())
    };
    let mut entries: Vec<CatalogEntry> = config
        .tables
        .iter()
        .map(|t| CatalogEntry {
            name: t.name.clone(),
            layer: t.layer.clone().unwrap_or_else(|| "-".into()),
            path: t.relative_path().to_string(),
            pipeline: writer(&t.name),
        })
        .collect();
    entries.extend(config.pipelines.iter().map(|p| CatalogEntry {
        name: p.dead_letter_table.clone(),
        layer: "dead-letter".into(),
        path: p.dead_letter_table.clone(),
        pipeline: Some(p.name.clone()),
    }));
    for g in &config.gold {
        let from = Some(format!("gold from {}", g.source));
        entries.push(CatalogEntry {
            name: g.name.clone(),
            layer: "gold".into(),
            path: g.relative_path(),
            pipeline: from.clone(),
        });
        entries.push(CatalogEntry {
            name: g.late_table_name(),
            layer: "late".into(),
            path: g.late_relative_path(),
            pipeline: from,
        });
    }
    entries
}

pub use finlake_api::{Column, Commit, CommitPlugin, TableInfo};

#[derive(Debug, thiserror::Error)]
pub enum LakeError {
    #[error(transparent)]
    Lake(#[from] crate::delta::DeltaError),
    #[error("table {table}: {message}")]
    Delta { table: String, message: String },
}

async fn open(root: &Path, entry: &CatalogEntry) -> Result<Option<DeltaTable>, LakeError> {
    Ok(crate::delta::open(root, &entry.path).await?)
}

/// Schema, version, file count, rows (from the Parquet footers) and bytes of one table.
pub async fn describe(root: &Path, entry: &CatalogEntry, small_file_bytes: u64) -> Result<TableInfo, LakeError> {
    let mut info = TableInfo {
        name: entry.name.clone(),
        layer: entry.layer.clone(),
        path: entry.path.clone(),
        pipeline: entry.pipeline.clone(),
        version: None,
        columns: vec![],
        partition_by: vec![],
        files: 0,
        small_files: 0,
        rows: 0,
        bytes: 0,
    };
    let Some(table) = open(root, entry).await? else { return Ok(info) };
    let err = |e: String| LakeError::Delta { table: entry.name.clone(), message: e };
    let state = table.snapshot().map_err(|e| err(e.to_string()))?;
    info.version = table.version();
    info.partition_by = state.metadata().partition_columns().to_vec();
    info.columns = state
        .schema()
        .fields()
        .map(|f| Column { name: f.name().to_string(), kind: format!("{}", f.data_type()), nullable: f.is_nullable() })
        .collect();
    // Sizes and row counts come from the log's add actions (their stats), not from opening
    // every Parquet footer: describing a table costs the same however many files it has.
    let mut unknown = Vec::new();
    for file in state.log_data() {
        info.files += 1;
        info.bytes += file.size().max(0) as u64;
        info.small_files += u64::from((file.size().max(0) as u64) < small_file_bytes);
        match file.num_records() {
            Some(n) => info.rows += n as u64,
            None => unknown.push(table.log_store().to_uri(&file.object_store_path())),
        }
    }
    if !unknown.is_empty() {
        // Files written without stats (by another writer): counted by a scan of those files.
        info.rows += crate::delta::scan::count_rows(&table, &entry.name, unknown).await?;
    }
    Ok(info)
}

/// Commits, newest first, with what FinLake records in each: the pipeline (`finlake.pipeline`)
/// and the plugin versions (`finlake.plugins`) that made it.
pub async fn history(root: &Path, entry: &CatalogEntry, limit: usize) -> Result<Vec<Commit>, LakeError> {
    let Some(table) = open(root, entry).await? else { return Ok(vec![]) };
    let latest = table.version().unwrap_or(0);
    let infos: Vec<_> = table
        .history(Some(limit))
        .try_collect()
        .await
        .map_err(|e| LakeError::Delta { table: entry.name.clone(), message: e.to_string() })?;
    Ok(infos.into_iter().enumerate().map(|(i, info)| commit_of(latest.saturating_sub(i as u64), &info)).collect())
}

fn commit_of(version: u64, info: &deltalake::kernel::CommitInfo) -> Commit {
    let text = |v: &serde_json::Value| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string());
    let plugins = info
        .info
        .get("finlake.plugins")
        .and_then(|v| serde_json::from_value::<Vec<CommitPlugin>>(v.clone()).ok())
        .unwrap_or_default();
    Commit {
        version,
        timestamp_ms: info.timestamp,
        operation: info.operation.clone(),
        pipeline: info.info.get("finlake.pipeline").map(text),
        plugins,
        parameters: info.operation_parameters.iter().flatten().map(|(k, v)| (k.clone(), text(v))).collect(),
    }
}
