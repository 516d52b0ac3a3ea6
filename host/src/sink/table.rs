//! One Delta table written by one pipeline: buffered rows, committed through the Delta access
//! layer together with the pipeline's Kafka offsets ([`crate::delta::progress`]), which is
//! what makes writes exactly-once.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use deltalake::DeltaTable;
use deltalake::arrow::record_batch::RecordBatch;
use deltalake::kernel::Transaction;
use finlake_records::dedup::RecentKeys;

use super::SinkError;
use super::rows::{Coordinates, RowBuffer};
use super::schema::TableSchema;
use crate::delta::progress::{Join, Progress};
use crate::delta::{self, NewTable};

pub use crate::delta::progress::{app_id, replay_app_id};

pub struct TableSink {
    pub name: String,
    table: DeltaTable,
    buffer: RowBuffer,
    /// The pipeline's offsets this table holds.
    progress: Progress,
    /// The unique-key column's index and the values written within its horizon.
    unique: Option<(usize, RecentKeys)>,
    /// The table version the unique keys were loaded at, and this writer's commits since: any
    /// other version in between was another host's, whose keys the set does not hold.
    keys_loaded: (Option<u64>, u64),
    /// The handle's upkeep a landed commit left undone ([`Committed::rebase`] not called): run
    /// before this sink commits again, so skipping it can delay the reload, never lose it.
    upkeep: Option<delta::commit::Rebase>,
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
        let new = NewTable {
            name: name.to_string(),
            columns: super::schema::delta_fields(&schema),
            partition_by: schema.partition_by.clone(),
            comment: format!("written by FinLake pipeline {pipeline}"),
        };
        let (table, created) = delta::open_or_create(root, relative_path, new).await?;
        if !created {
            check_schema(name, &table, &schema)?;
        }
        let progress = Progress::read(&table, name, pipeline, source, partitions).await?;
        tracing::info!(table = name, version = table.version(), ?progress, "table opened");
        Ok(TableSink {
            name: name.to_string(),
            table,
            buffer: RowBuffer::new(schema),
            progress,
            unique: None,
            keys_loaded: (None, 0),
            upkeep: None,
        })
    }

    /// Moves to the table's latest version and re-reads the progress it holds for
    /// `partitions`, dropping what is buffered: after a rebalance, the partitions this host
    /// owns may have been advanced by another host. The unique-key set is reloaded when other
    /// writers committed meanwhile (their keys count as written).
    pub async fn refresh(&mut self, partitions: &[i32]) -> Result<(), SinkError> {
        delta::refresh(&mut self.table, &self.name).await?;
        self.progress.reread(&self.table, &self.name, partitions).await?;
        // The dropped rows' keys are in the set: they will be read again and must not count as
        // duplicates then. And keys other hosts committed are not in it yet.
        let dropped = !self.buffer.is_empty();
        self.discard_buffer();
        let (loaded_at, own) = self.keys_loaded;
        let others = self.table.version().unwrap_or(0).saturating_sub(loaded_at.unwrap_or(0)) > own;
        if (dropped || others)
            && let Some((index, keys)) = self.unique.take()
        {
            let column = self.buffer.schema().columns[index].name.clone();
            self.load_unique_key(&column, keys.horizon_ms()).await?;
        }
        Ok(())
    }

    /// Makes `column` a unique key remembered for `horizon_ms`: loads the values of the files
    /// written within the horizon (not the whole table), so duplicates are recognised across
    /// restarts too, at a cost that does not grow with the table's age.
    pub async fn with_unique_key(mut self, column: &str, horizon_ms: i64) -> Result<Self, SinkError> {
        self.load_unique_key(column, horizon_ms).await?;
        Ok(self)
    }

    async fn load_unique_key(&mut self, column: &str, horizon_ms: i64) -> Result<(), SinkError> {
        use deltalake::arrow::array::{Array, AsArray};
        let index = self.buffer.schema().columns.iter().position(|c| c.name == column).ok_or_else(|| {
            SinkError::SchemaChanged {
                table: self.name.clone(),
                message: format!("unique_key {column:?} is not a column"),
            }
        })?;
        let started = std::time::Instant::now();
        let mut keys = RecentKeys::new(horizon_ms);
        let now_ms = chrono::Utc::now().timestamp_millis();
        let since = now_ms - horizon_ms;
        let recent = delta::scan::recent_files(&self.table, &self.name, since)?;
        let files = recent.len();
        // One scan per bucket of the key index: every key is kept at least as long as the
        // file it came from is within the horizon.
        let mut by_bucket: BTreeMap<i64, Vec<String>> = BTreeMap::new();
        let bucket = (horizon_ms / 8).max(1);
        for (uri, written_ms) in recent {
            by_bucket.entry(written_ms.div_euclid(bucket) * bucket).or_default().push(uri);
        }
        // A compacted file is new to the log but holds old rows: with the Kafka columns, rows
        // are taken by their record time, so a compaction does not bring back (and keep in
        // memory) keys older than the horizon.
        let has_time = self.buffer.schema().columns.iter().any(|c| c.name == "kafka_timestamp");
        let columns: Vec<&str> = if has_time { vec![column, "kafka_timestamp"] } else { vec![column] };
        for (written_ms, uris) in by_bucket {
            let batches = delta::scan_files(&self.table, &self.name, uris, &columns).await?;
            for batch in &batches {
                let Some(col) = batch.column_by_name(column) else { continue };
                // Text whatever the reader's type (Utf8, a view type, an integer): the same
                // text the buffer keys new rows by.
                let text = deltalake::arrow::compute::cast(col, &deltalake::arrow::datatypes::DataType::Utf8)
                    .map_err(|e| SinkError::Arrow { table: self.name.clone(), message: e.to_string() })?;
                let text = text.as_string::<i32>();
                let times = match batch.column_by_name("kafka_timestamp") {
                    Some(t) => Some(
                        deltalake::arrow::compute::cast(t, &deltalake::arrow::datatypes::DataType::Int64)
                            .map_err(|e| SinkError::Arrow { table: self.name.clone(), message: e.to_string() })?,
                    ),
                    None => None,
                };
                let times = times.as_ref().map(|t| t.as_primitive::<deltalake::arrow::datatypes::Int64Type>());
                for i in (0..text.len()).filter(|&i| text.is_valid(i)) {
                    let at_ms = match times {
                        // Never ahead of now: a far-future record time would expire every key.
                        Some(t) if t.is_valid(i) => (t.value(i) / 1000).min(now_ms),
                        _ => written_ms,
                    };
                    if at_ms >= since {
                        keys.insert(text.value(i), at_ms);
                    }
                }
            }
        }
        tracing::info!(table = %self.name, unique_key = column, values = keys.len(), files, horizon_ms, ms = started.elapsed().as_millis() as u64, "unique key loaded");
        self.unique = Some((index, keys));
        self.keys_loaded = (self.table.version(), 0);
        Ok(())
    }

    /// Last committed offset of a partition, if any.
    pub fn committed(&self, partition: i32) -> Option<i64> {
        self.progress.committed(partition)
    }

    /// This table's progress.
    pub fn progress(&self) -> &Progress {
        &self.progress
    }

    /// Makes the table's place in the pipeline durable before it holds rows (P6): it starts
    /// after the offsets in `join.start` (a table added to a running pipeline starts where the
    /// pipeline is, not at the start of the topic) and takes the partitions in
    /// `join.from_start` from the start. Several hosts starting together race to do this: a
    /// commit that loses reads the table again and leaves out the partitions the winner placed.
    /// Returns the version committed, `None` when others placed every partition.
    pub async fn join(
        &mut self,
        mut join: Join,
        partitions: &[i32],
        metadata: &HashMap<String, serde_json::Value>,
    ) -> Result<Option<u64>, SinkError> {
        for attempt in 1.. {
            let committed = async {
                self.progress.check(&self.table, &self.name, &join.start).await?;
                let txns = self.progress.join_txns(&join.start, &join.from_start);
                self.commit_txns(txns.clone(), metadata).await.map(|v| (v, txns))
            }
            .await;
            match committed {
                Ok((version, txns)) => {
                    self.progress.joined(&join.start, &join.from_start);
                    self.progress.confirm(&txns, version);
                    return Ok(Some(version));
                }
                Err(SinkError::Lake(e)) if e.is_conflict() && attempt < 5 => {
                    tracing::info!(table = %self.name, attempt, error = %e, "another host placed the table meanwhile; reading it again");
                    self.refresh(partitions).await?;
                    join.start.retain(|p, _| !self.progress.belongs(*p));
                    join.from_start.retain(|p| !self.progress.belongs(*p));
                    if join.is_empty() {
                        return Ok(None);
                    }
                }
                Err(e) => return Err(e),
            }
        }
        unreachable!("the loop returns by its fifth attempt")
    }

    /// Whether a row from this record still has to be written (it is not already committed).
    pub fn wants(&self, partition: i32, offset: i64) -> bool {
        self.progress.wants(partition, offset)
    }

    /// Buffers a row; `Ok(false)` when its unique key is already in the table (a duplicate).
    pub fn push_json(&mut self, json: &[u8], at: Coordinates<'_>) -> Result<bool, String> {
        let unique = self.unique.as_mut().map(|(i, keys)| (*i, keys));
        self.buffer.push_json_unique(json, at, unique)
    }

    /// Unique-key values held in memory (0 without a unique key).
    pub fn unique_keys(&self) -> usize {
        self.unique.as_ref().map_or(0, |(_, k)| k.len())
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
        let Some(job) = self.begin_commit(processed, metadata)? else { return Ok(None) };
        let mut done = job.run().await?;
        done.rebase().await;
        let version = done.version;
        self.finish_commit(done);
        Ok(Some(version))
    }

    /// Takes what a commit of `processed` needs off this sink: the buffered rows (now empty
    /// again, ready for the next window), a copy of the table and of its progress. The commit
    /// can then run away from the pipeline's loop ([`CommitJob::run`]) while new rows are
    /// buffered; [`TableSink::finish_commit`] takes its result back. Until then this sink's
    /// table and progress are the ones before the commit: `wants` still holds, since every row
    /// buffered meanwhile comes after `processed`. `None` when there is nothing to commit.
    pub fn begin_commit(
        &mut self,
        processed: &BTreeMap<i32, i64>,
        metadata: &HashMap<String, serde_json::Value>,
    ) -> Result<Option<CommitJob>, SinkError> {
        let txns = self.progress.txns(processed);
        if txns.is_empty() && self.buffer.is_empty() {
            return Ok(None);
        }
        let rows = self.buffer.len();
        let batch = self.take_batch()?;
        Ok(Some(CommitJob {
            name: self.name.clone(),
            table: self.table.clone(),
            progress: self.progress.clone(),
            upkeep: self.upkeep.take(),
            batch,
            rows,
            txns,
            processed: processed.clone(),
            metadata: metadata.clone(),
        }))
    }

    /// Takes back a commit begun with [`TableSink::begin_commit`]: the table at its new version
    /// and the progress it holds there.
    pub fn finish_commit(&mut self, done: Committed) {
        self.table = done.table;
        self.progress = done.progress;
        self.upkeep = done.rebase;
        self.keys_loaded.1 += 1;
    }

    /// The version of `txn` application `app` this table holds, if any.
    pub async fn app_version(&self, app: &str) -> Result<Option<i64>, SinkError> {
        Ok(delta::progress::stored(&self.table, &self.name, app).await?)
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
        if let Some(upkeep) = self.upkeep.take() {
            upkeep.run(&mut self.table, &self.name).await;
        }
        let (rows, batch) = (self.buffer.len(), self.take_batch()?);
        let (version, rebase) =
            write_and_commit(&mut self.table, &self.name, batch, rows, txns, metadata.clone()).await?;
        rebase.run(&mut self.table, &self.name).await;
        self.keys_loaded.1 += 1;
        Ok(version)
    }

    fn take_batch(&mut self) -> Result<Option<RecordBatch>, SinkError> {
        if self.buffer.is_empty() {
            return Ok(None);
        }
        let batch = self
            .buffer
            .take_batch()
            .map_err(|e| SinkError::Arrow { table: self.name.clone(), message: e.to_string() })?;
        Ok(Some(batch))
    }
}

/// One table's commit of one window, taken off the sink by [`TableSink::begin_commit`]: it owns
/// everything it needs, so it can run in a task of its own.
pub struct CommitJob {
    name: String,
    table: DeltaTable,
    progress: Progress,
    /// The previous commit's upkeep, if it was left undone (see [`TableSink::finish_commit`]).
    upkeep: Option<delta::commit::Rebase>,
    batch: Option<RecordBatch>,
    rows: usize,
    txns: Vec<Transaction>,
    processed: BTreeMap<i32, i64>,
    metadata: HashMap<String, serde_json::Value>,
}

/// A [`CommitJob`] that landed, for [`TableSink::finish_commit`].
pub struct Committed {
    pub name: String,
    pub rows: u64,
    pub version: u64,
    table: DeltaTable,
    progress: Progress,
    rebase: Option<delta::commit::Rebase>,
}

impl Committed {
    /// Finishes the commit's upkeep of the table's handle (see [`delta::commit::Rebase`]):
    /// after the commit was announced, before the handle commits again. Left undone, the
    /// sink's next commit does it first, inside that commit's latency.
    pub async fn rebase(&mut self) {
        if let Some(rebase) = self.rebase.take() {
            rebase.run(&mut self.table, &self.name).await;
        }
    }
}

impl CommitJob {
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Checks the progress (P4), writes the rows and commits them with the window's offsets.
    pub async fn run(mut self) -> Result<Committed, SinkError> {
        if let Some(upkeep) = self.upkeep.take() {
            upkeep.run(&mut self.table, &self.name).await;
        }
        // P4: the progress stored for the partitions this commit advances is still the one this
        // writer committed.
        self.progress.check(&self.table, &self.name, &self.processed).await?;
        let (version, rebase) =
            write_and_commit(&mut self.table, &self.name, self.batch, self.rows, self.txns.clone(), self.metadata)
                .await?;
        self.progress.advance(&self.processed);
        self.progress.confirm(&self.txns, version);
        Ok(Committed {
            name: self.name,
            rows: self.rows as u64,
            version,
            table: self.table,
            progress: self.progress,
            rebase: Some(rebase),
        })
    }
}

async fn write_and_commit(
    table: &mut DeltaTable,
    name: &str,
    batch: Option<RecordBatch>,
    rows: usize,
    txns: Vec<Transaction>,
    metadata: HashMap<String, serde_json::Value>,
) -> Result<(u64, delta::commit::Rebase), SinkError> {
    let started = std::time::Instant::now();
    let adds = delta::write_files(table, name, batch.into_iter().collect()).await?;
    let written = started.elapsed();
    let (version, rebase) = delta::commit::commit_then_rebase(table, name, adds, txns, metadata).await?;
    tracing::debug!(
        table = %name,
        version,
        rows,
        write_ms = written.as_millis() as u64,
        commit_ms = (started.elapsed() - written).as_millis() as u64,
        "committed"
    );
    Ok((version, rebase))
}

fn check_schema(name: &str, table: &DeltaTable, expected: &TableSchema) -> Result<(), SinkError> {
    let actual = delta::columns(table, name)?;
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
