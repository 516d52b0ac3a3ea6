//! The Delta access layer: the one module that opens, creates, commits to, reads and maintains
//! Delta tables. Sinks, gold, the state and dead-letter tables, queries and the API all go
//! through it. Everything is async and goes through the table's own object store (never
//! `std::fs`), so the same code serves a local lake and one on object storage.
//!
//! - [`open`] / [`open_or_create`]: a table by its path under the lake root.
//! - [`commit`]: data files plus `txn` progress plus commit info, in one atomic commit; a
//!   concurrent commit by another writer of the same progress stops the writer
//!   ([`DeltaError::AnotherWriter`]), any other conflict is retried.
//! - [`progress`]: exactly-once progress (the `txn` application ids, what a table holds, the
//!   min-over-tables resume position). See ARCHITECTURE, "Progress invariants".
//! - [`changes`]: what a range of commits added as new data (for gold and other incremental
//!   readers: compaction is not new data).
//! - [`scan`]: a table's rows through DataFusion.
//! - [`maintenance`]: compaction, vacuum, checkpoints and log cleanup, retention, file stats.

pub mod changes;
pub mod commit;
pub mod maintenance;
pub mod progress;
pub mod scan;

use std::path::Path;

use deltalake::kernel::StructField;
use deltalake::{DeltaTable, DeltaTableError};
use url::Url;

pub use commit::{commit, write_files};
pub use scan::{scan, scan_files};

#[derive(Debug, thiserror::Error)]
pub enum DeltaError {
    #[error("table {table}: {source}")]
    Delta { table: String, source: Box<DeltaTableError> },
    #[error("table {table}: {message}")]
    Other { table: String, message: String },
    /// The table holds progress this writer did not commit: a second host or process writes
    /// the same pipeline into the same lake. Writing on would store records twice.
    #[error(
        "table {table}: another writer committed progress for {app} (the table now holds {found:?}, this writer expected {expected:?}); this pipeline stops instead of writing records twice. Run each pipeline on one host per lake, then resume it"
    )]
    AnotherWriter { table: String, app: String, expected: Option<i64>, found: Option<i64> },
}

impl DeltaError {
    pub fn delta(table: &str) -> impl Fn(DeltaTableError) -> DeltaError + '_ {
        move |source| DeltaError::Delta { table: table.to_string(), source: Box::new(source) }
    }
    pub fn other(table: &str) -> impl Fn(String) -> DeltaError + '_ {
        move |message| DeltaError::Other { table: table.to_string(), message }
    }

    /// Whether a commit lost a race with another writer (read the table again to see what
    /// it wrote).
    pub fn is_conflict(&self) -> bool {
        match self {
            DeltaError::AnotherWriter { .. } => true,
            DeltaError::Delta { source, .. } => matches!(
                **source,
                DeltaTableError::Transaction {
                    source: deltalake::kernel::transaction::TransactionError::CommitConflict(_)
                }
            ),
            DeltaError::Other { .. } => false,
        }
    }
}

/// The URL of the table at `relative` under `root`: an absolute `file://` URL for a local lake
/// (the directory need not exist yet), or under the root's URL for object storage
/// (`s3://bucket/prefix`, `hdfs://…`).
pub fn table_url(root: &Path, relative: &str) -> Result<Url, DeltaError> {
    let bad = |message: String| DeltaError::Other { table: relative.into(), message };
    if let Some(base) = root_url(root) {
        register_object_stores();
        let base = Url::parse(&format!("{}/", base.trim_end_matches('/')))
            .map_err(|e| bad(format!("lake.root {base:?} is not a URL: {e}")))?;
        return base.join(&format!("{}/", relative.trim_matches('/'))).map_err(|e| bad(e.to_string()));
    }
    let dir = std::path::absolute(root.join(relative)).map_err(|e| bad(e.to_string()))?;
    Url::from_directory_path(&dir).map_err(|_| bad(format!("{} is not a directory path", dir.display())))
}

/// `root` as a URL of object storage (`scheme://…`), or `None` for a local directory.
pub fn root_url(root: &Path) -> Option<&str> {
    let s = root.to_str()?;
    let (scheme, rest) = s.split_once("://")?;
    (scheme != "file" && !scheme.is_empty() && !rest.is_empty()).then_some(s)
}

/// Makes delta-rs open `s3://` and `hdfs://` URLs (once per process). Credentials, endpoint and
/// region come from the environment (`AWS_*`), as object_store reads them.
fn register_object_stores() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        deltalake::aws::register_handlers(None);
        deltalake::hdfs::register_handlers(None);
    });
}

/// Opens the table at `relative` at its latest version; `None` before its first commit.
pub async fn open(root: &Path, relative: &str) -> Result<Option<DeltaTable>, DeltaError> {
    if local_dir(root, relative).await?.is_some_and(|(_, has_log)| !has_log) {
        return Ok(None);
    }
    let table = unloaded(root, relative)?;
    load(table, relative).await
}

/// For a local lake: the table's directory and whether it has a log yet. (Loading a local
/// directory without one fails loudly in delta-rs, and one that does not exist fails; object
/// stores have no directories, and a missing table there is simply one without a log.)
async fn local_dir(root: &Path, relative: &str) -> Result<Option<(std::path::PathBuf, bool)>, DeltaError> {
    let url = table_url(root, relative)?;
    let Ok(dir) = url.to_file_path() else { return Ok(None) };
    let has_log = tokio::fs::try_exists(dir.join("_delta_log")).await.unwrap_or(false);
    Ok(Some((dir, has_log)))
}

fn unloaded(root: &Path, relative: &str) -> Result<DeltaTable, DeltaError> {
    let url = table_url(root, relative)?;
    deltalake::DeltaTableBuilder::from_url(url).and_then(|b| b.build()).map_err(DeltaError::delta(relative))
}

async fn load(mut table: DeltaTable, name: &str) -> Result<Option<DeltaTable>, DeltaError> {
    match table.load().await {
        Ok(()) => Ok(Some(table)),
        Err(DeltaTableError::NotATable(_)) => Ok(None),
        Err(e) => Err(DeltaError::delta(name)(e)),
    }
}

/// Moves `table` to its latest version (what other writers committed since it was loaded).
pub async fn refresh(table: &mut DeltaTable, name: &str) -> Result<(), DeltaError> {
    let before = table.version();
    table.update_incremental(None).await.map_err(DeltaError::delta(name))?;
    rebase_when_due(table, name, before).await;
    Ok(())
}

/// Commits after a checkpoint before a long-lived handle is loaded again from it.
const REBASE_LAG: u64 = 10;

/// The most commits between two checkpoints FinLake writes (less when the table's
/// `delta.checkpointInterval` says so). Delta's default, 100, let a writer's commit cost grow
/// from ~15 to ~90 ms within each interval on a table of a thousand files (each commit
/// replays the ones since the checkpoint); a checkpoint costs about one such commit, in the
/// background (docs/PERFORMANCE.md).
const CHECKPOINT_EVERY_AT_MOST: u64 = 25;

/// Commits between two checkpoints of `table`, see [`CHECKPOINT_EVERY_AT_MOST`].
pub(crate) fn checkpoint_interval(state: &deltalake::table::state::DeltaTableState) -> u64 {
    use deltalake::table::config::TablePropertiesExt as _;
    state.table_config().checkpoint_interval().get().min(CHECKPOINT_EVERY_AT_MOST)
}

/// Loads `table` afresh once per checkpoint interval ([`checkpoint_interval`]), `REBASE_LAG` commits
/// after each interval's checkpoint was due, when it moved past that point since `before`.
///
/// Why: delta-rs moves a loaded snapshot forward from the checkpoint it was first loaded
/// from, and each move replays every commit since then. A checkpoint written after the
/// handle was loaded is never picked up (it lands after the commit it summarises, and an
/// update lists only newer entries), so a writer's commit took 23 ms after its first commits
/// and 111 ms after 600 (docs/PERFORMANCE.md), growing for as long as the process runs.
/// Loaded afresh, the handle starts from the newest checkpoint: the cost stays bounded by
/// about one interval of commits. A failed reload keeps the handle as it was.
pub(crate) async fn rebase_when_due(table: &mut DeltaTable, name: &str, before: Option<u64>) {
    let (Some(before), Some(after)) = (before, table.version()) else { return };
    let Ok(state) = table.snapshot() else { return };
    let interval = checkpoint_interval(state);
    let lag = REBASE_LAG.min(interval / 2);
    // How many rebase points (versions ≡ lag mod interval) lie at or below `v`.
    let points = |v: u64| if v < lag { 0 } else { (v - lag) / interval + 1 };
    if points(after) <= points(before) {
        return;
    }
    let started = std::time::Instant::now();
    let mut fresh = DeltaTable::new(table.log_store());
    match fresh.update_incremental(Some(after)).await {
        Ok(()) => {
            *table = fresh;
            tracing::debug!(
                table = name,
                version = after,
                ms = started.elapsed().as_millis() as u64,
                "table handle loaded afresh from its newest checkpoint"
            );
        }
        Err(e) => {
            tracing::warn!(table = name, version = after, error = %e, "could not load the table afresh; keeping the loaded state")
        }
    }
}

/// The object store of the lake at `relative` (a directory for a local lake, created if
/// missing; a prefix on object storage): for the few plain objects FinLake keeps beside its
/// tables (`_finlake/hosts/`). Paths given to it are relative to `relative`.
pub async fn objects_at(root: &Path, relative: &str) -> Result<std::sync::Arc<dyn deltalake::ObjectStore>, DeltaError> {
    if let Some((dir, _)) = local_dir(root, relative).await? {
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(|e| DeltaError::other(relative)(format!("{}: {e}", dir.display())))?;
    }
    Ok(unloaded(root, relative)?.log_store().object_store(None))
}

/// What a table is created with.
pub struct NewTable {
    pub name: String,
    pub columns: Vec<StructField>,
    pub partition_by: Vec<String>,
    pub comment: String,
}

/// Opens the table at `relative`, creating it from `new` when it has no commit yet. Returns
/// the table and whether it was created.
pub async fn open_or_create(root: &Path, relative: &str, new: NewTable) -> Result<(DeltaTable, bool), DeltaError> {
    let local = local_dir(root, relative).await?;
    if let Some((dir, false)) = &local {
        tokio::fs::create_dir_all(dir)
            .await
            .map_err(|e| DeltaError::other(&new.name)(format!("{}: {e}", dir.display())))?;
    }
    let table = unloaded(root, relative)?;
    let blank = table.clone();
    if !matches!(local, Some((_, false)))
        && let Some(table) = load(table, &new.name).await?
    {
        return Ok((table, false));
    }
    let url = table_url(root, relative)?;
    tracing::info!(table = %new.name, location = %url, "creating Delta table");
    let created = blank
        .create()
        .with_table_name(new.name.clone())
        .with_columns(new.columns)
        .with_partition_columns(new.partition_by)
        .with_comment(new.comment)
        // Without this, a host that loses the race to create the table has delta-rs commit its
        // create again on top of the winner's (a second metadata action, at whatever version
        // is latest by then), which other writers' commits in flight then stop at.
        .with_commit_properties(deltalake::kernel::transaction::CommitProperties::default().with_max_retries(0))
        .await;
    match created {
        Ok(table) => Ok((table, true)),
        // Several hosts starting at once race to create the table: whoever lost opens the
        // winner's (its schema is checked by the caller like any existing table's).
        Err(e) => match load(unloaded(root, relative)?, &new.name).await {
            Ok(Some(table)) => {
                tracing::info!(table = %new.name, "another host created the table first; opened it");
                Ok((table, false))
            }
            _ => Err(DeltaError::delta(&new.name)(e)),
        },
    }
}

/// The table's column names and types as stored (for schema checks).
pub fn columns(table: &DeltaTable, name: &str) -> Result<Vec<(String, String)>, DeltaError> {
    let state = table.snapshot().map_err(DeltaError::delta(name))?;
    Ok(state.schema().fields().map(|f| (f.name().to_string(), format!("{:?}", f.data_type()))).collect())
}

#[cfg(test)]
mod tests;
