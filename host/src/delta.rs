//! Reading a Delta table's rows, the one way FinLake does it: through DataFusion and the
//! table's own object store — async, never `std::fs` — so the same code reads a local lake and
//! one on object storage, and a large table never blocks the async workers. (The first piece
//! of the Delta access layer; opening, creating and committing still live with their callers.)

use deltalake::DeltaTable;
use deltalake::arrow::record_batch::RecordBatch;

/// Every row of `table` at its loaded version, only `columns` (all when empty).
pub async fn scan(table: &DeltaTable, columns: &[&str]) -> Result<Vec<RecordBatch>, String> {
    if table.version().is_none() {
        return Ok(Vec::new());
    }
    let provider = table.table_provider().await.map_err(|e| e.to_string())?;
    let ctx = crate::query::session();
    let mut frame = ctx.read_table(provider).map_err(|e| e.to_string())?;
    if !columns.is_empty() {
        frame = frame.select_columns(columns).map_err(|e| e.to_string())?;
    }
    frame.collect().await.map_err(|e| e.to_string())
}
