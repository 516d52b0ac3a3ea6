//! Exactly-once progress, in one place (ARCHITECTURE, "Progress invariants").
//!
//! - P1. A pipeline's position in a Kafka partition is the `txn` action
//!   `finlake:<pipeline>:<cluster id>/<topic>:<partition>` → last offset handled, stored in the
//!   same commit as the rows it produced (see [`super::commit`]). Kafka's committed offsets are
//!   informational only.
//! - P2. A pipeline resumes each partition after the *lowest* offset any of its tables holds
//!   ([`resume_positions`]): every table then skips the records it already has ([`Progress::wants`]).
//! - P3. Offsets only mean something within one cluster: the cluster id is part of the app id,
//!   so a lake fed by a new cluster starts that source afresh.
//! - P4. A writer commits progress only from the position it last saw in the table; a table
//!   whose stored progress moved under it (another writer) stops the pipeline
//!   ([`Progress::check`], and delta-rs's conflict check for races).
//! - P5. Dead-letter replays and gold ticks are marked by their own app ids
//!   ([`replay_app_id`], `finlake:gold:<name>:…`), so repeating them is a no-op.

use std::collections::BTreeMap;

use deltalake::DeltaTable;
use deltalake::kernel::Transaction;

use super::DeltaError;

/// The `txn` application id for one partition of one pipeline's source. `source` is
/// `<kafka cluster id>/<topic>` (P3).
pub fn app_id(pipeline: &str, source: &str, partition: i32) -> String {
    format!("finlake:{pipeline}:{source}:{partition}")
}

/// The `txn` application id of a pipeline's dead-letter replays; its version is the number of
/// the last replay a table holds.
pub fn replay_app_id(pipeline: &str) -> String {
    format!("finlake:{pipeline}:replay")
}

/// The version of `txn` application `app` that `table` holds at its loaded version.
pub async fn stored(table: &DeltaTable, name: &str, app: &str) -> Result<Option<i64>, DeltaError> {
    let err = DeltaError::delta(name);
    let state = table.snapshot().map_err(&err)?;
    state.transaction_version(table.log_store().as_ref(), app.to_string()).await.map_err(&err)
}

/// One table's progress in one pipeline's source: the last offset per partition whose rows
/// the table holds.
#[derive(Debug, Clone)]
pub struct Progress {
    pipeline: String,
    source: String,
    committed: BTreeMap<i32, i64>,
}

impl Progress {
    /// Reads what `table` holds for `partitions` of `source`.
    pub async fn read(
        table: &DeltaTable,
        name: &str,
        pipeline: &str,
        source: &str,
        partitions: &[i32],
    ) -> Result<Progress, DeltaError> {
        let mut committed = BTreeMap::new();
        if table.version().is_some() {
            for &p in partitions {
                if let Some(v) = stored(table, name, &app_id(pipeline, source, p)).await? {
                    committed.insert(p, v);
                }
            }
        }
        Ok(Progress { pipeline: pipeline.into(), source: source.into(), committed })
    }

    /// Reads again what `table` (just refreshed) holds: after a rebalance, partitions this
    /// host now owns may have been advanced by another host.
    pub async fn reread(&mut self, table: &DeltaTable, name: &str, partitions: &[i32]) -> Result<(), DeltaError> {
        *self = Progress::read(table, name, &self.pipeline, &self.source, partitions).await?;
        Ok(())
    }

    pub fn committed(&self, partition: i32) -> Option<i64> {
        self.committed.get(&partition).copied()
    }

    pub fn is_empty(&self) -> bool {
        self.committed.is_empty()
    }

    /// Whether a record still has to be written to this table (P2).
    pub fn wants(&self, partition: i32, offset: i64) -> bool {
        self.committed(partition).is_none_or(|c| offset > c)
    }

    /// Treats records up to `offset` as handled (a table added to a running pipeline).
    pub fn start_at(&mut self, partition: i32, offset: i64) {
        self.committed.entry(partition).or_insert(offset);
    }

    /// The `txn` actions that move this table to `processed` (only partitions that advance).
    pub fn txns(&self, processed: &BTreeMap<i32, i64>) -> Vec<Transaction> {
        let now = chrono::Utc::now().timestamp_millis();
        processed
            .iter()
            .filter(|(p, o)| self.committed(**p).is_none_or(|c| **o > c))
            .map(|(p, o)| Transaction::new_with_last_update(app_id(&self.pipeline, &self.source, *p), *o, Some(now)))
            .collect()
    }

    /// P4: for the partitions this commit advances, the table at its loaded version holds
    /// exactly the progress this writer committed (partitions it started by
    /// [`Progress::start_at`] hold nothing or less). Other partitions are other hosts' to
    /// advance.
    pub async fn check(
        &self,
        table: &DeltaTable,
        name: &str,
        advancing: &BTreeMap<i32, i64>,
    ) -> Result<(), DeltaError> {
        for &p in advancing.keys() {
            let believed = self.committed(p);
            let app = app_id(&self.pipeline, &self.source, p);
            let found = stored(table, name, &app).await?;
            if found.is_some_and(|f| believed.is_none_or(|b| f > b)) {
                return Err(DeltaError::AnotherWriter { table: name.into(), app, expected: believed, found });
            }
        }
        Ok(())
    }

    /// Records a successful commit of `processed`.
    pub fn advance(&mut self, processed: &BTreeMap<i32, i64>) {
        for (p, o) in processed {
            let entry = self.committed.entry(*p).or_insert(*o);
            *entry = (*entry).max(*o);
        }
    }
}

/// P2: where a pipeline resumes each partition, given every table's progress: the lowest
/// offset the tables hold; a partition some table holds nothing of is absent (it starts per
/// the consumer's policy, and each table then skips what it has).
pub fn resume_positions(tables: &[&Progress], partitions: &[i32]) -> BTreeMap<i32, i64> {
    partitions.iter().filter_map(|&p| tables.iter().map(|t| t.committed(p)).min().flatten().map(|o| (p, o))).collect()
}

/// Where the tables that hold offsets are, per partition (the lowest): the position a table
/// added to a running pipeline starts at (`from = "current"`).
pub fn known_positions(tables: &[&Progress], partitions: &[i32]) -> BTreeMap<i32, i64> {
    partitions
        .iter()
        .filter_map(|&p| tables.iter().filter(|t| !t.is_empty()).filter_map(|t| t.committed(p)).min().map(|o| (p, o)))
        .collect()
}
