//! Table schemas: from `pipelines.toml` columns to Arrow types (the host adds the Delta types).

use std::sync::Arc;

use arrow_schema::{DataType as ArrowType, Field, Schema, SchemaRef, TimeUnit};

use finlake_config::{ColumnConfig, ColumnType, TableConfig};

/// The resolved columns of a table, in order, including host-added ones.
#[derive(Debug, Clone)]
pub struct TableSchema {
    pub columns: Vec<ColumnConfig>,
    pub partition_by: Vec<String>,
    /// Number of leading columns filled from the plugin's JSON row; the rest are Kafka columns.
    pub user_columns: usize,
    pub arrow: SchemaRef,
    /// Timestamp columns whose values may be at most this far (µs) ahead of the clock (the
    /// event times of gold jobs: see `[[gold]] future_skew`); rows further ahead are refused.
    pub future_limits: Vec<(usize, i64)>,
}

impl TableSchema {
    pub fn from_config(table: &TableConfig) -> Self {
        let mut columns = table.columns.clone();
        let user_columns = columns.len();
        if table.kafka_columns {
            columns.extend(kafka_columns());
        }
        Self::new(columns, user_columns, table.partition_by.clone())
    }

    pub fn new(columns: Vec<ColumnConfig>, user_columns: usize, partition_by: Vec<String>) -> Self {
        let arrow = Arc::new(Schema::new(
            columns.iter().map(|c| Field::new(&c.name, arrow_type(c.kind), c.nullable)).collect::<Vec<_>>(),
        ));
        TableSchema { columns, partition_by, user_columns, arrow, future_limits: Vec::new() }
    }

    /// This schema refusing rows whose `column` is more than `skew_us` ahead of the clock.
    pub fn with_future_limits(mut self, limits: &[(String, i64)]) -> Self {
        for (column, skew) in limits {
            if let Some(i) = self.columns.iter().position(|c| &c.name == column && c.kind == ColumnType::Timestamp) {
                self.future_limits.push((i, *skew));
            }
        }
        self
    }
}

fn col(name: &str, kind: ColumnType, nullable: bool) -> ColumnConfig {
    ColumnConfig { name: name.into(), kind, nullable }
}

/// Coordinates of the Kafka record a row came from.
pub fn kafka_columns() -> Vec<ColumnConfig> {
    vec![
        col("kafka_topic", ColumnType::String, false),
        col("kafka_partition", ColumnType::Int, false),
        col("kafka_offset", ColumnType::Long, false),
        col("kafka_timestamp", ColumnType::Timestamp, true),
    ]
}

pub fn arrow_type(kind: ColumnType) -> ArrowType {
    match kind {
        ColumnType::String => ArrowType::Utf8,
        ColumnType::Long => ArrowType::Int64,
        ColumnType::Int => ArrowType::Int32,
        ColumnType::Double => ArrowType::Float64,
        ColumnType::Boolean => ArrowType::Boolean,
        ColumnType::Timestamp => ArrowType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        ColumnType::Date => ArrowType::Date32,
        ColumnType::Binary => ArrowType::Binary,
    }
}
