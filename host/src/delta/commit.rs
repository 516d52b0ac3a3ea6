//! Writing: data files, then one commit carrying them, the writer's `txn` progress and its
//! commit info. The commit is the only way rows and progress reach a table, so they can never
//! be stored apart.

use std::collections::HashMap;

use deltalake::DeltaTable;
use deltalake::DeltaTableError;
use deltalake::arrow::record_batch::RecordBatch;
use deltalake::kernel::transaction::{CommitBuilder, CommitConflictError, CommitProperties, TransactionError};
use deltalake::kernel::{Action, Add, Transaction};
use deltalake::protocol::{DeltaOperation, SaveMode};
use deltalake::writer::{DeltaWriter, RecordBatchWriter};

use super::DeltaError;

/// Writes `batches` as Parquet files of `table` (not yet part of it: see [`commit`]).
pub async fn write_files(table: &DeltaTable, name: &str, batches: Vec<RecordBatch>) -> Result<Vec<Add>, DeltaError> {
    let batches: Vec<RecordBatch> = batches.into_iter().filter(|b| b.num_rows() > 0).collect();
    if batches.is_empty() {
        return Ok(Vec::new());
    }
    let err = DeltaError::delta(name);
    let mut writer = RecordBatchWriter::for_table(table).map_err(&err)?;
    for batch in batches {
        writer.write(batch).await.map_err(&err)?;
    }
    writer.flush().await.map_err(&err)
}

/// Appends `adds` and sets `txns`, with `metadata` in the commit info, in one commit; the
/// table's loaded state moves to the new version, which is returned.
///
/// A commit that lost a race is checked against the winners by delta-rs: appends and
/// compaction never conflict, and are retried. A winner that set one of the same `txn`
/// application ids was another writer of this progress: [`DeltaError::AnotherWriter`]. A winner
/// that changed only table properties (maintenance sets the retention ones) is read, and the
/// commit made again on top of it, once; a changed schema or partitioning stays an error.
pub async fn commit(
    table: &mut DeltaTable,
    name: &str,
    adds: Vec<Add>,
    txns: Vec<Transaction>,
    metadata: HashMap<String, serde_json::Value>,
) -> Result<u64, DeltaError> {
    let (version, rebase) = commit_then_rebase(table, name, adds, txns, metadata).await?;
    rebase.run(table, name).await;
    Ok(version)
}

/// What is left of a [`commit`] once it landed: loading the table's handle afresh when a
/// checkpoint interval has passed ([`super::rebase_when_due`]). A writer whose commits are
/// waited for (a pipeline's window) runs it after announcing the commit, so the ~once per
/// interval reload (tens of ms on a table of a thousand files) is not part of the commit's
/// latency.
#[must_use = "the table's handle must be loaded afresh once per checkpoint interval, or its commits slow down for as long as it lives"]
pub struct Rebase {
    before: Option<u64>,
}

impl Rebase {
    pub async fn run(self, table: &mut DeltaTable, name: &str) {
        super::rebase_when_due(table, name, self.before).await;
    }
}

/// [`commit`], leaving the handle's reload to the caller ([`Rebase`]).
pub async fn commit_then_rebase(
    table: &mut DeltaTable,
    name: &str,
    adds: Vec<Add>,
    txns: Vec<Transaction>,
    metadata: HashMap<String, serde_json::Value>,
) -> Result<(u64, Rebase), DeltaError> {
    let rebase = Rebase { before: table.version() };
    let version = commit_checked(table, name, adds, txns, metadata).await?;
    Ok((version, rebase))
}

async fn commit_checked(
    table: &mut DeltaTable,
    name: &str,
    adds: Vec<Add>,
    txns: Vec<Transaction>,
    metadata: HashMap<String, serde_json::Value>,
) -> Result<u64, DeltaError> {
    let shape =
        |t: &DeltaTable| t.snapshot().ok().map(|s| (s.schema().clone(), s.metadata().partition_columns().to_vec()));
    let before = shape(table);
    let read_version = table.version();
    match commit_once(table, name, adds.clone(), txns.clone(), metadata.clone()).await {
        Err(DeltaError::Delta { source, .. })
            if matches!(
                *source,
                DeltaTableError::Transaction {
                    source: TransactionError::CommitConflict(CommitConflictError::MetadataChanged)
                }
            ) =>
        {
            table.update_incremental(None).await.map_err(DeltaError::delta(name))?;
            if shape(table) != before {
                return Err(DeltaError::other(name)(
                    "the table's schema or partitioning was changed by another writer while rows were being committed"
                        .into(),
                ));
            }
            // delta-rs stopped at the metadata change and checked none of the commits after it:
            // one of them may have set this commit's progress (another writer, or a host that
            // placed the same table first). Committing on top unchecked would store it twice.
            if let Some(read) = read_version
                && let Some((app, found)) = txns_set_since(table, name, read, &txns).await?
            {
                let expected = txns.iter().find(|t| t.app_id == app).map(|t| t.version);
                return Err(DeltaError::AnotherWriter { table: name.to_string(), app, expected, found: Some(found) });
            }
            tracing::info!(table = name, "table properties changed under a commit; committing again on top");
            commit_once(table, name, adds, txns, metadata).await
        }
        other => other,
    }
}

/// The first of `txns`' application ids that a commit after version `read` (up to the loaded
/// one) set, with the version it set: read from those log entries themselves.
async fn txns_set_since(
    table: &DeltaTable,
    name: &str,
    read: u64,
    txns: &[Transaction],
) -> Result<Option<(String, i64)>, DeltaError> {
    #[derive(serde::Deserialize)]
    struct Entry {
        txn: Option<Txn>,
    }
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Txn {
        app_id: String,
        version: i64,
    }
    let ours: std::collections::HashSet<&str> = txns.iter().map(|t| t.app_id.as_str()).collect();
    let Some(loaded) = table.version() else { return Ok(None) };
    let log = table.log_store();
    for version in read + 1..=loaded {
        let Some(bytes) = log.read_commit_entry(version).await.map_err(DeltaError::delta(name))? else { continue };
        for line in bytes.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            let entry: Entry = serde_json::from_slice(line)
                .map_err(|e| DeltaError::other(name)(format!("log entry {version}: {e}")))?;
            if let Some(txn) = entry.txn.filter(|t| ours.contains(t.app_id.as_str())) {
                return Ok(Some((txn.app_id, txn.version)));
            }
        }
    }
    Ok(None)
}

async fn commit_once(
    table: &mut DeltaTable,
    name: &str,
    adds: Vec<Add>,
    txns: Vec<Transaction>,
    metadata: HashMap<String, serde_json::Value>,
) -> Result<u64, DeltaError> {
    let err = DeltaError::delta(name);
    let snapshot = table.snapshot().map_err(&err)?;
    let partition_by = snapshot.metadata().partition_columns().to_vec();
    let operation = DeltaOperation::Write {
        mode: SaveMode::Append,
        partition_by: (!partition_by.is_empty()).then_some(partition_by),
        predicate: None,
    };
    let apps: Vec<(String, i64)> = txns.iter().map(|t| (t.app_id.clone(), t.version)).collect();
    let properties = CommitProperties::default()
        .with_metadata(metadata)
        .with_application_transactions(txns)
        // Log cleanup is maintenance's (`delta::maintenance::checkpoint`, at the time-travel
        // horizon). Left on, delta-rs lists the whole `_delta_log` after every commit.
        .with_cleanup_expired_logs(Some(false))
        // Checkpoints are written beside the commits instead, see [`checkpoint_when_due`].
        .with_create_checkpoint(false);
    let finalized = CommitBuilder::from(properties)
        .with_actions(adds.into_iter().map(Action::Add).collect())
        .build(Some(snapshot), table.log_store(), operation)
        .await;
    let finalized = match finalized {
        Ok(f) => f,
        Err(DeltaTableError::Transaction {
            source: TransactionError::CommitConflict(CommitConflictError::ConcurrentTransaction),
        }) => {
            // Reload to name what the other writer stored.
            let (app, expected) = apps.first().cloned().unwrap_or_default();
            let _ = table.update_incremental(None).await;
            let found = super::progress::stored(table, name, &app).await.ok().flatten();
            return Err(DeltaError::AnotherWriter { table: name.to_string(), app, expected: Some(expected), found });
        }
        Err(e) => return Err(err(e)),
    };
    let version = finalized.version();
    table.state = Some(finalized.snapshot());
    checkpoint_when_due(table, name, version);
    Ok(version)
}

/// Writes a checkpoint every [`super::checkpoint_interval`] commits (25, or the table's
/// `delta.checkpointInterval` when smaller), in a task of its own. delta-rs writes it inside
/// the commit that reaches the interval, which then took 300–450 ms on a table of a thousand
/// files instead of ~50 ms: a stall of the pipeline's window every 100 commits, ten seconds
/// apart at a 100 ms flush (docs/PERFORMANCE.md). A checkpoint only summarises versions already committed, so it can
/// land later; a reader that finds none reads the log since the previous one. Maintenance
/// also checkpoints every `checkpoint_every` commits on its schedule.
fn checkpoint_when_due(table: &DeltaTable, name: &str, version: u64) {
    let Ok(state) = table.snapshot() else { return };
    let interval = super::checkpoint_interval(state);
    if !(version + 1).is_multiple_of(interval) {
        return;
    }
    let (table, name) = (table.clone(), name.to_string());
    tokio::spawn(async move {
        let started = std::time::Instant::now();
        match deltalake::checkpoints::create_checkpoint(&table, None).await {
            Ok(()) => {
                tracing::debug!(table = %name, version, ms = started.elapsed().as_millis() as u64, "checkpoint written")
            }
            Err(e) => {
                tracing::warn!(table = %name, version, error = %e, "checkpoint not written; the next one covers it")
            }
        }
    });
}
