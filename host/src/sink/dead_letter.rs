//! Dead letters: records a pipeline could not turn into table rows, kept with everything needed
//! to understand and replay them.

use crate::config::{ColumnConfig, ColumnType};

use super::rows::{CellValue, RowBuffer};
use super::schema::TableSchema;

/// One record that did not make it into a table.
#[derive(Debug, Clone)]
pub struct DeadLetter {
    pub stage: String,
    pub plugin: String,
    pub plugin_version: String,
    /// `rejected`, `schema`, `trap`, `timeout`, `memory`, `failed`, `bad-result`.
    pub error_kind: String,
    pub reason: String,
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub timestamp_ms: i64,
    pub key: Option<Vec<u8>>,
    pub value: Vec<u8>,
    /// The table the row was meant for, when the failure was the table refusing it.
    pub table: Option<String>,
}

pub fn dead_letter_schema() -> TableSchema {
    let c = |name: &str, kind, nullable| ColumnConfig { name: name.into(), kind, nullable };
    let columns = vec![
        c("pipeline", ColumnType::String, false),
        c("stage", ColumnType::String, false),
        c("plugin", ColumnType::String, false),
        c("plugin_version", ColumnType::String, false),
        c("error_kind", ColumnType::String, false),
        c("reason", ColumnType::String, false),
        c("target_table", ColumnType::String, true),
        c("topic", ColumnType::String, false),
        c("partition", ColumnType::Int, false),
        c("offset", ColumnType::Long, false),
        c("kafka_timestamp", ColumnType::Timestamp, true),
        c("key", ColumnType::Binary, true),
        c("value", ColumnType::Binary, true),
        c("failed_at", ColumnType::Timestamp, false),
    ];
    let n = columns.len();
    TableSchema::new(columns, n, vec![])
}

impl DeadLetter {
    pub(crate) fn append_to(self, pipeline: &str, buffer: &mut RowBuffer) {
        buffer.push_cells(vec![
            CellValue::str(pipeline),
            CellValue::str(self.stage),
            CellValue::str(self.plugin),
            CellValue::str(self.plugin_version),
            CellValue::str(self.error_kind),
            CellValue::str(self.reason),
            CellValue::opt_str(self.table),
            CellValue::str(self.topic),
            CellValue::i32(self.partition),
            CellValue::i64(self.offset),
            CellValue::ts_ms(self.timestamp_ms),
            CellValue::bytes(self.key),
            CellValue::bytes(Some(self.value)),
            CellValue::ts_ms(chrono::Utc::now().timestamp_millis()),
        ]);
    }
}
