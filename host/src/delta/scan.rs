//! Reading a table's rows: through DataFusion and the table's own object store (async, never
//! `std::fs`), so the same code reads a local lake and one on object storage, and a large
//! table never blocks the async workers.

use deltalake::DeltaTable;
use deltalake::arrow::record_batch::RecordBatch;

use super::DeltaError;

/// Every row of `table` at its loaded version, only `columns` (all when empty).
pub async fn scan(table: &DeltaTable, columns: &[&str]) -> Result<Vec<RecordBatch>, String> {
    if table.version().is_none() {
        return Ok(Vec::new());
    }
    let provider = table.table_provider().await.map_err(|e| e.to_string())?;
    collect(provider, columns).await
}

/// The rows of some of `table`'s files (URIs as [`recent_files`] gives them), only `columns`.
pub async fn scan_files(
    table: &DeltaTable,
    name: &str,
    files: Vec<String>,
    columns: &[&str],
) -> Result<Vec<RecordBatch>, DeltaError> {
    if files.is_empty() || table.version().is_none() {
        return Ok(Vec::new());
    }
    let provider =
        table.table_provider().with_file_paths(files).await.map_err(|e| DeltaError::other(name)(e.to_string()))?;
    collect(provider, columns).await.map_err(DeltaError::other(name))
}

async fn collect(
    provider: std::sync::Arc<dyn deltalake::datafusion::catalog::TableProvider>,
    columns: &[&str],
) -> Result<Vec<RecordBatch>, String> {
    let ctx = crate::query::session();
    let mut frame = ctx.read_table(provider).map_err(|e| e.to_string())?;
    if !columns.is_empty() {
        frame = frame.select_columns(columns).map_err(|e| e.to_string())?;
    }
    frame.collect().await.map_err(|e| e.to_string())
}

/// The files of `table` written at or after `since_ms` (by their add action's modification
/// time, from the log: no file is opened), as (URI, written at ms).
pub fn recent_files(table: &DeltaTable, name: &str, since_ms: i64) -> Result<Vec<(String, i64)>, DeltaError> {
    let Ok(state) = table.snapshot() else { return Ok(Vec::new()) };
    let _ = name;
    Ok(state
        .log_data()
        .into_iter()
        .filter(|f| f.modification_time() >= since_ms)
        .map(|f| (table.log_store().to_uri(&f.object_store_path()), f.modification_time()))
        .collect())
}

/// Rows in some of `table`'s files, counted by scanning them (for files whose add action has
/// no statistics).
pub async fn count_rows(table: &DeltaTable, name: &str, files: Vec<String>) -> Result<u64, DeltaError> {
    if files.is_empty() {
        return Ok(0);
    }
    let provider =
        table.table_provider().with_file_paths(files).await.map_err(|e| DeltaError::other(name)(e.to_string()))?;
    let ctx = crate::query::session();
    let frame = ctx.read_table(provider).map_err(|e| DeltaError::other(name)(e.to_string()))?;
    frame.count().await.map(|n| n as u64).map_err(|e| DeltaError::other(name)(e.to_string()))
}
