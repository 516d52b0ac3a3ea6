//! The recorded input of a shadow run: the Kafka records a pipeline consumed, read back from the
//! bronze table its entry stage writes (bronze keeps every record with its Kafka coordinates).

use deltalake::arrow::array::{Array, AsArray};
use deltalake::arrow::compute::cast;
use deltalake::arrow::datatypes::{DataType, Int32Type, Int64Type};
use deltalake::datafusion::prelude::{col, lit};
use deltalake::datafusion::scalar::ScalarValue;

use super::ShadowError;
use crate::config::{Config, PipelineConfig, TableConfig};
use crate::plugin::{Batch, BatchBuilder};

/// Which records to read.
#[derive(Debug, Clone, Copy, Default)]
pub struct Range {
    /// Records in the data files added after this table version.
    pub from_version: Option<u64>,
    /// Records with a Kafka timestamp at or after this time (ms).
    pub since_ms: Option<i64>,
    /// At most this many; without a start, the newest.
    pub limit: usize,
}

/// One recorded Kafka record.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub key: Option<Vec<u8>>,
    pub value: Vec<u8>,
    pub partition: i32,
    pub offset: i64,
    pub timestamp_ms: i64,
}

/// The bronze table of `pipeline`: one its entry stages write that keeps each record's value
/// and its Kafka coordinates.
pub fn source_table<'c>(config: &'c Config, pipeline: &PipelineConfig) -> Option<&'c TableConfig> {
    let stage_ids: Vec<&str> = pipeline.stages.iter().map(|s| s.id()).collect();
    let fed: Vec<&str> = pipeline.stages.iter().flat_map(|s| s.outputs.values().map(String::as_str)).collect();
    pipeline
        .stages
        .iter()
        .filter(|s| !fed.contains(&s.id()))
        .flat_map(|s| s.outputs.values())
        .filter(|t| !stage_ids.contains(&t.as_str()))
        .filter_map(|t| config.table(t))
        .find(|t| {
            t.layer.as_deref() == Some("bronze") && t.kafka_columns && t.columns.iter().any(|c| c.name == "value")
        })
}

/// Reads the records of `range` from `table` (ordered by Kafka time, partition, offset) and
/// returns them with the table version read.
pub async fn read(config: &Config, table: &TableConfig, range: Range) -> Result<(Vec<Recorded>, u64), ShadowError> {
    let name = table.name.as_str();
    let lake = |e: crate::delta::DeltaError| ShadowError::Lake(e.to_string());
    let delta = crate::delta::open(&config.lake.root, &table.relative_path())
        .await
        .map_err(lake)?
        .ok_or_else(|| ShadowError::NoInput(format!("table {name} has no commit yet")))?;
    let latest = delta.version().unwrap_or(0);
    let provider = match range.from_version {
        Some(after) if after >= latest => return Ok((Vec::new(), latest)),
        Some(after) => {
            let changes = crate::delta::changes::data_added(&delta, name, after, latest).await.map_err(lake)?;
            if changes.added.is_empty() {
                return Ok((Vec::new(), latest));
            }
            delta.table_provider().with_file_paths(changes.added).await
        }
        None => delta.table_provider().await,
    }
    .map_err(|e| ShadowError::Lake(format!("table {name}: {e}")))?;
    let sql = |e: deltalake::datafusion::error::DataFusionError| ShadowError::Lake(format!("table {name}: {e}"));
    let mut frame = crate::query::session().read_table(provider).map_err(sql)?;
    frame =
        frame.select_columns(&["key", "value", "kafka_partition", "kafka_offset", "kafka_timestamp"]).map_err(sql)?;
    if let Some(since) = range.since_ms {
        let at = ScalarValue::TimestampMicrosecond(Some(since * 1000), Some("UTC".into()));
        frame = frame.filter(col("kafka_timestamp").gt_eq(lit(at))).map_err(sql)?;
    }
    // Without a start the newest records are wanted: sort descending, take, turn around.
    let newest = range.from_version.is_none() && range.since_ms.is_none();
    let order = ["kafka_timestamp", "kafka_partition", "kafka_offset"].map(|c| col(c).sort(!newest, false));
    frame = frame.sort(order.to_vec()).map_err(sql)?.limit(0, Some(range.limit)).map_err(sql)?;
    let mut records = Vec::new();
    for batch in frame.collect().await.map_err(sql)? {
        let column = |n: &str, t: &DataType| {
            batch
                .column_by_name(n)
                .ok_or_else(|| ShadowError::Lake(format!("table {name}: no column {n}")))
                .and_then(|c| cast(c, t).map_err(|e| ShadowError::Lake(format!("table {name}: {n}: {e}"))))
        };
        let (key, value) = (column("key", &DataType::Utf8)?, column("value", &DataType::Utf8)?);
        let partition = column("kafka_partition", &DataType::Int32)?;
        let offset = column("kafka_offset", &DataType::Int64)?;
        let time = column("kafka_timestamp", &DataType::Int64)?;
        let (key, value) = (key.as_string::<i32>(), value.as_string::<i32>());
        for i in 0..batch.num_rows() {
            records.push(Recorded {
                key: key.is_valid(i).then(|| key.value(i).as_bytes().to_vec()),
                value: value.value(i).as_bytes().to_vec(),
                partition: partition.as_primitive::<Int32Type>().value(i),
                offset: offset.as_primitive::<Int64Type>().value(i),
                timestamp_ms: if time.is_valid(i) { time.as_primitive::<Int64Type>().value(i) / 1000 } else { 0 },
            });
        }
    }
    if newest {
        records.reverse();
    }
    Ok((records, latest))
}

/// The records as batches of at most `size`, in order.
pub fn batches(topic: &str, records: &[Recorded], size: usize) -> Vec<Batch> {
    records
        .chunks(size.max(1))
        .map(|chunk| {
            let mut b = BatchBuilder::new(topic, chunk.len());
            for r in chunk {
                b.push(r.key.as_deref(), &r.value, [], r.partition, r.offset, r.timestamp_ms);
            }
            b.finish()
        })
        .collect()
}
