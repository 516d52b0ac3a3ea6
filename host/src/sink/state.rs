//! The state table of a pipeline with stateful plugins (`state/<pipeline>`): one row per
//! stateful stage and snapshot, committed with the Kafka offsets the snapshot reflects (the
//! offsets of every record the plugin had seen when it was taken). See ARCHITECTURE, I12.

use std::collections::BTreeMap;

use deltalake::arrow::array::{Array, AsArray};
use deltalake::arrow::compute::cast;
use deltalake::arrow::datatypes::{DataType, Int64Type};

use super::SinkError;
use super::rows::{CellValue, RowBuffer};
use super::schema::TableSchema;
use crate::config::{ColumnConfig, ColumnType};

pub fn state_schema() -> TableSchema {
    let c = |name: &str, kind, nullable| ColumnConfig { name: name.into(), kind, nullable };
    let columns = vec![
        c("stage", ColumnType::String, false),
        c("plugin", ColumnType::String, false),
        c("plugin_version", ColumnType::String, false),
        c("snapshot", ColumnType::Binary, false),
        c("taken_at", ColumnType::Timestamp, false),
    ];
    let n = columns.len();
    TableSchema::new(columns, n, vec![])
}

pub use crate::config::state_path;

pub(crate) fn append_snapshot(buffer: &mut RowBuffer, stage: &str, plugin: &str, version: &str, snapshot: Vec<u8>) {
    buffer.push_cells(vec![
        CellValue::str(stage),
        CellValue::str(plugin),
        CellValue::str(version),
        CellValue::bytes(Some(snapshot)),
        CellValue::ts_ms(chrono::Utc::now().timestamp_millis()),
    ]);
}

/// A stage's latest snapshot.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub plugin_version: String,
    pub bytes: Vec<u8>,
    pub taken_at_us: i64,
}

/// The latest snapshot of every stage in the table.
pub async fn latest_snapshots(
    table: &deltalake::DeltaTable,
    name: &str,
) -> Result<BTreeMap<String, Snapshot>, SinkError> {
    snapshots_before(table, name, None).await
}

/// Per stage, the newest snapshot taken at or before `before_us` (any, when `None`).
pub async fn snapshots_before(
    table: &deltalake::DeltaTable,
    name: &str,
    before_us: Option<i64>,
) -> Result<BTreeMap<String, Snapshot>, SinkError> {
    let io = |message: String| SinkError::Io { path: name.to_string(), message };
    let mut latest: BTreeMap<String, Snapshot> = BTreeMap::new();
    let batches = crate::delta::scan(table, &["stage", "plugin_version", "snapshot", "taken_at"]).await.map_err(io)?;
    for batch in batches {
        let col = |n: &str, t: &DataType| {
            batch
                .column_by_name(n)
                .ok_or_else(|| io(format!("no column {n}")))
                .and_then(|c| cast(c, t).map_err(|e| io(e.to_string())))
        };
        let (stage, version) = (col("stage", &DataType::Utf8)?, col("plugin_version", &DataType::Utf8)?);
        let (snap, taken) = (col("snapshot", &DataType::Binary)?, col("taken_at", &DataType::Int64)?);
        for i in 0..batch.num_rows() {
            let at = taken.as_primitive::<Int64Type>().value(i);
            let stage = stage.as_string::<i32>().value(i).to_string();
            let in_range = before_us.is_none_or(|b| at <= b);
            if in_range && latest.get(&stage).is_none_or(|s| s.taken_at_us <= at) && !snap.is_null(i) {
                latest.insert(
                    stage,
                    Snapshot {
                        plugin_version: version.as_string::<i32>().value(i).to_string(),
                        bytes: snap.as_binary::<i32>().value(i).to_vec(),
                        taken_at_us: at,
                    },
                );
            }
        }
    }
    Ok(latest)
}
