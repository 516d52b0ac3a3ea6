//! One Delta table written by one pipeline, with the pipeline's Kafka offsets stored in the
//! same commit as the data (Delta `txn` actions), which is what makes writes exactly-once.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use deltalake::kernel::transaction::{CommitBuilder, CommitProperties};
use deltalake::kernel::{Action, Transaction};
use deltalake::protocol::{DeltaOperation, SaveMode};
use deltalake::writer::{DeltaWriter, RecordBatchWriter};
use deltalake::{DeltaTable, DeltaTableError};

use super::SinkError;
use super::rows::{Coordinates, RowBuffer};
use super::schema::TableSchema;

/// The `txn` application id for one partition of one pipeline's source. `source` is
/// `<kafka cluster id>/<topic>`: offsets only mean something within one cluster, so a lake fed
/// by a new cluster (a fresh embedded broker, a migrated topic) starts that source afresh
/// instead of skipping everything below the old offsets.
pub fn app_id(pipeline: &str, source: &str, partition: i32) -> String {
    format!("finlake:{pipeline}:{source}:{partition}")
}

/// The `txn` application id of a pipeline's dead-letter replays; its version is the number of
/// the last replay a table holds.
pub fn replay_app_id(pipeline: &str) -> String {
    format!("finlake:{pipeline}:replay")
}

pub struct TableSink {
    pub name: String,
    table: DeltaTable,
    buffer: RowBuffer,
    pipeline: String,
    /// `<kafka cluster id>/<topic>` (see [`app_id`]).
    source: String,
    /// Last Kafka offset per partition whose rows are committed in this table.
    committed: BTreeMap<i32, i64>,
    /// The unique-key column's index and every value the table holds or has buffered.
    unique: Option<(usize, std::collections::HashSet<String>)>,
}

fn delta_err(table: &str) -> impl Fn(DeltaTableError) -> SinkError + '_ {
    move |source| SinkError::Delta { table: table.to_string(), source: Box::new(source) }
}

impl TableSink {
    /// Opens the table (creating it with `schema` if it does not exist) and reads which offsets
    /// of `partitions` it already holds.
    pub async fn open(
        root: &Path,
        name: &str,
        relative_path: &str,
        schema: TableSchema,
        pipeline: &str,
        source: &str,
        partitions: &[i32],
    ) -> Result<Self, SinkError> {
        let dir = root.join(relative_path);
        std::fs::create_dir_all(&dir)
            .map_err(|e| SinkError::Io { path: dir.display().to_string(), message: e.to_string() })?;
        let dir = dir
            .canonicalize()
            .map_err(|e| SinkError::Io { path: dir.display().to_string(), message: e.to_string() })?;
        let url = url::Url::from_directory_path(&dir)
            .map_err(|_| SinkError::Io { path: dir.display().to_string(), message: "not an absolute path".into() })?;
        let err = delta_err(name);
        // A directory without a log is a new table: build it without trying to load a log
        // (which would only log a spurious error).
        let mut table = if dir.join("_delta_log").exists() {
            DeltaTable::try_from_url(url).await.map_err(&err)?
        } else {
            deltalake::DeltaTableBuilder::from_url(url).and_then(|b| b.build()).map_err(&err)?
        };
        if table.version().is_none() {
            tracing::info!(table = name, path = %dir.display(), "creating Delta table");
            table = table
                .create()
                .with_table_name(name)
                .with_columns(super::schema::delta_fields(&schema))
                .with_partition_columns(schema.partition_by.clone())
                .with_comment(format!("written by FinLake pipeline {pipeline}"))
                .await
                .map_err(&err)?;
        } else {
            check_schema(name, &table, &schema)?;
        }
        let mut committed = BTreeMap::new();
        let state = table.snapshot().map_err(&err)?;
        for &p in partitions {
            if let Some(v) = state
                .transaction_version(table.log_store().as_ref(), app_id(pipeline, source, p))
                .await
                .map_err(&err)?
            {
                committed.insert(p, v);
            }
        }
        tracing::info!(table = name, version = table.version(), ?committed, "table opened");
        Ok(TableSink {
            name: name.to_string(),
            table,
            buffer: RowBuffer::new(schema),
            pipeline: pipeline.to_string(),
            source: source.to_string(),
            committed,
            unique: None,
        })
    }

    /// Makes `column` a unique key: loads the values the table already holds, so duplicates
    /// are recognised across restarts too.
    pub async fn with_unique_key(mut self, column: &str) -> Result<Self, SinkError> {
        use deltalake::arrow::array::{Array, AsArray};
        let index = self.buffer.schema().columns.iter().position(|c| c.name == column).ok_or_else(|| {
            SinkError::SchemaChanged {
                table: self.name.clone(),
                message: format!("unique_key {column:?} is not a column"),
            }
        })?;
        let mut seen = std::collections::HashSet::new();
        let batches = crate::delta::scan(&self.table, &[column])
            .await
            .map_err(|message| SinkError::Io { path: self.name.clone(), message })?;
        for batch in &batches {
            let Some(col) = batch.column_by_name(column) else { continue };
            // Text whatever the reader's type (Utf8, a view type, an integer): the same text
            // the buffer keys new rows by.
            let text = deltalake::arrow::compute::cast(col, &deltalake::arrow::datatypes::DataType::Utf8)
                .map_err(|e| SinkError::Io { path: self.name.clone(), message: e.to_string() })?;
            let text = text.as_string::<i32>();
            seen.extend((0..text.len()).filter(|&i| text.is_valid(i)).map(|i| text.value(i).to_string()));
        }
        tracing::info!(table = %self.name, unique_key = column, values = seen.len(), "unique key loaded");
        self.unique = Some((index, seen));
        Ok(self)
    }

    /// Last committed offset of a partition, if any.
    pub fn committed(&self, partition: i32) -> Option<i64> {
        self.committed.get(&partition).copied()
    }

    /// Whether the table holds this pipeline's offsets for any partition of its source.
    pub fn has_offsets(&self) -> bool {
        !self.committed.is_empty()
    }

    /// Treats records up to `offset` of `partition` as handled for this table: a table added to
    /// a running pipeline starts where the pipeline is, not at the start of the topic. Its
    /// first commit records the window's offsets like every other table's.
    pub fn start_at(&mut self, partition: i32, offset: i64) {
        self.committed.entry(partition).or_insert(offset);
    }

    /// Whether a row from this record still has to be written (it is not already committed).
    pub fn wants(&self, partition: i32, offset: i64) -> bool {
        self.committed(partition).is_none_or(|c| offset > c)
    }

    /// Buffers a row; `Ok(false)` when its unique key is already in the table (a duplicate).
    pub fn push_json(&mut self, json: &[u8], at: Coordinates<'_>) -> Result<bool, String> {
        let unique = self.unique.as_mut().map(|(i, seen)| (*i, seen));
        self.buffer.push_json_unique(json, at, unique)
    }

    /// The Delta table (for reading it).
    pub fn delta_table(&self) -> &DeltaTable {
        &self.table
    }

    /// Drops buffered rows (they were not meant to be committed).
    pub fn discard_buffer(&mut self) {
        let _ = self.buffer.take_batch();
    }

    pub(crate) fn buffer_mut(&mut self) -> &mut RowBuffer {
        &mut self.buffer
    }

    pub fn buffered_rows(&self) -> usize {
        self.buffer.len()
    }

    pub fn buffered_bytes(&self) -> usize {
        self.buffer.bytes()
    }

    pub fn version(&self) -> Option<u64> {
        self.table.version()
    }

    /// Writes buffered rows and commits them together with `processed` (last offset per
    /// partition this pipeline has fully handled). Returns the new version, or `None` when there
    /// was nothing to commit.
    pub async fn commit(
        &mut self,
        processed: &BTreeMap<i32, i64>,
        metadata: &HashMap<String, serde_json::Value>,
    ) -> Result<Option<u64>, SinkError> {
        let txns: Vec<Transaction> = processed
            .iter()
            .filter(|(p, o)| self.committed(**p).is_none_or(|c| **o > c))
            .map(|(p, o)| {
                Transaction::new_with_last_update(
                    app_id(&self.pipeline, &self.source, *p),
                    *o,
                    Some(chrono::Utc::now().timestamp_millis()),
                )
            })
            .collect();
        if txns.is_empty() && self.buffer.is_empty() {
            return Ok(None);
        }
        let version = self.commit_txns(txns, metadata).await?;
        for (p, o) in processed {
            let entry = self.committed.entry(*p).or_insert(*o);
            *entry = (*entry).max(*o);
        }
        Ok(Some(version))
    }

    /// The version of `txn` application `app` this table holds, if any.
    pub async fn app_version(&self, app: &str) -> Result<Option<i64>, SinkError> {
        let err = delta_err(&self.name);
        let state = self.table.snapshot().map_err(&err)?;
        state.transaction_version(self.table.log_store().as_ref(), app.to_string()).await.map_err(&err)
    }

    /// Commits buffered rows (possibly none) with the one `txn` (`app`, `version`): used by
    /// dead-letter replay, whose rows are not in any Kafka window.
    pub async fn commit_marked(
        &mut self,
        app: &str,
        version: i64,
        metadata: &HashMap<String, serde_json::Value>,
    ) -> Result<u64, SinkError> {
        let txn = Transaction::new_with_last_update(app, version, Some(chrono::Utc::now().timestamp_millis()));
        self.commit_txns(vec![txn], metadata).await
    }

    async fn commit_txns(
        &mut self,
        txns: Vec<Transaction>,
        metadata: &HashMap<String, serde_json::Value>,
    ) -> Result<u64, SinkError> {
        let err = delta_err(&self.name);
        let rows = self.buffer.len();
        let mut actions = Vec::new();
        if rows > 0 {
            let batch = self
                .buffer
                .take_batch()
                .map_err(|e| SinkError::Arrow { table: self.name.clone(), message: e.to_string() })?;
            let mut writer = RecordBatchWriter::for_table(&self.table).map_err(&err)?;
            writer.write(batch).await.map_err(&err)?;
            actions = writer.flush().await.map_err(&err)?.into_iter().map(Action::Add).collect();
        }
        let partition_by = self.table.snapshot().map_err(&err)?.metadata().partition_columns();
        let operation = DeltaOperation::Write {
            mode: SaveMode::Append,
            partition_by: (!partition_by.is_empty()).then(|| partition_by.to_vec()),
            predicate: None,
        };
        let properties =
            CommitProperties::default().with_metadata(metadata.clone()).with_application_transactions(txns);
        let finalized = CommitBuilder::from(properties)
            .with_actions(actions)
            .build(Some(self.table.snapshot().map_err(&err)?), self.table.log_store(), operation)
            .await
            .map_err(&err)?;
        let version = finalized.version();
        self.table.state = Some(finalized.snapshot());
        tracing::debug!(table = %self.name, version, rows, "committed");
        Ok(version)
    }
}

fn check_schema(name: &str, table: &DeltaTable, expected: &TableSchema) -> Result<(), SinkError> {
    let Ok(state) = table.snapshot() else { return Ok(()) };
    let actual: Vec<(String, String)> =
        state.schema().fields().map(|f| (f.name().to_string(), format!("{:?}", f.data_type()))).collect();
    let wanted: Vec<(String, String)> = super::schema::delta_fields(expected)
        .iter()
        .map(|f| (f.name().to_string(), format!("{:?}", f.data_type())))
        .collect();
    if actual != wanted {
        return Err(SinkError::SchemaChanged {
            table: name.to_string(),
            message: format!(
                "the existing table has columns [{}] but pipelines.toml declares [{}]; schema changes need a new table (or path) for now",
                actual.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(", "),
                wanted.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(", ")
            ),
        });
    }
    Ok(())
}
