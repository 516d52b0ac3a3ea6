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
//!   ([`Progress::check`], and delta-rs's conflict check for races). The check reads the log
//!   only for partitions not confirmed at the table's loaded version: after this writer's
//!   commit that set a partition's `txn`, delta-rs has already refused any commit in between
//!   that set the same app id, and reading the log again (a replay of every entry since the
//!   checkpoint, per partition) was most of a commit's time.
//! - P5. Dead-letter replays and gold ticks are marked by their own app ids
//!   ([`replay_app_id`], `finlake:gold:<name>:…`), so repeating them is a no-op.
//! - P6. Before a table holds rows of a partition, its place in the pipeline is durable: either
//!   the offset it starts after (a table added to a running pipeline, `from = "current"`) or a
//!   membership mark ([`member_app_id`]) saying it takes the partition from the start. So a
//!   table whose first commit was cut off by a crash is not mistaken, on restart, for a table
//!   added later (which would skip what its siblings committed before it).

use std::collections::BTreeSet;

use std::collections::BTreeMap;

use deltalake::DeltaTable;
use deltalake::kernel::Transaction;

use super::DeltaError;

/// The `txn` application id for one partition of one pipeline's source. `source` is
/// `<kafka cluster id>/<topic>` (P3).
pub fn app_id(pipeline: &str, source: &str, partition: i32) -> String {
    format!("finlake:{pipeline}:{source}:{partition}")
}

/// The `txn` application id that marks a table as taking `partition` of a pipeline's source
/// from the start (P6); its version is always 0.
pub fn member_app_id(pipeline: &str, source: &str, partition: i32) -> String {
    format!("finlake:{pipeline}:{source}:{partition}:member")
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
    /// Partitions the table holds no offset of but is marked as taking from the start (P6).
    members: BTreeSet<i32>,
    /// Per partition, the table version at which the stored offset was confirmed to be
    /// `committed` (read from the log, or set by this writer's own commit).
    confirmed: BTreeMap<i32, u64>,
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
        let (mut committed, mut members) = (BTreeMap::new(), BTreeSet::new());
        let confirmed = match table.version() {
            Some(v) => partitions.iter().map(|&p| (p, v)).collect(),
            None => BTreeMap::new(),
        };
        if table.version().is_some() {
            for &p in partitions {
                if let Some(v) = stored(table, name, &app_id(pipeline, source, p)).await? {
                    committed.insert(p, v);
                } else if stored(table, name, &member_app_id(pipeline, source, p)).await?.is_some() {
                    members.insert(p);
                }
            }
        }
        Ok(Progress { pipeline: pipeline.into(), source: source.into(), committed, members, confirmed })
    }

    /// Reads again what `table` (just refreshed) holds: after a rebalance, partitions this
    /// host now owns may have been advanced by another host.
    /// Partitions already confirmed at the table's version keep what was read or committed
    /// there: the log cannot say anything else about them, and reading it replays every
    /// entry since the checkpoint per partition (most of a restart's first rebalance).
    pub async fn reread(&mut self, table: &DeltaTable, name: &str, partitions: &[i32]) -> Result<(), DeltaError> {
        let Some(version) = table.version() else {
            *self = Progress::read(table, name, &self.pipeline, &self.source, partitions).await?;
            return Ok(());
        };
        let stale: Vec<i32> = partitions.iter().copied().filter(|p| self.confirmed.get(p) != Some(&version)).collect();
        if stale.is_empty() {
            return Ok(());
        }
        let fresh = Progress::read(table, name, &self.pipeline, &self.source, &stale).await?;
        for p in stale {
            self.committed.remove(&p);
            self.members.remove(&p);
            self.confirmed.insert(p, version);
            if let Some(&o) = fresh.committed.get(&p) {
                self.committed.insert(p, o);
            }
            if fresh.members.contains(&p) {
                self.members.insert(p);
            }
        }
        // Partitions no longer listed (a topic cannot shrink, but be exact) are forgotten.
        self.committed.retain(|p, _| partitions.contains(p));
        self.members.retain(|p| partitions.contains(p));
        self.confirmed.retain(|p, _| partitions.contains(p));
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

    /// Whether the table's place in `partition` is durable (P6): it holds an offset or the
    /// membership mark.
    pub fn belongs(&self, partition: i32) -> bool {
        self.committed.contains_key(&partition) || self.members.contains(&partition)
    }

    /// The `txn` actions that make a table's place durable (P6): `start` holds the offsets it
    /// starts after (a table added to a running pipeline), `from_start` the partitions it
    /// takes from the start.
    pub fn join_txns(&self, start: &BTreeMap<i32, i64>, from_start: &[i32]) -> Vec<Transaction> {
        let now = Some(chrono::Utc::now().timestamp_millis());
        let starts = start
            .iter()
            .map(|(p, o)| Transaction::new_with_last_update(app_id(&self.pipeline, &self.source, *p), *o, now));
        let marks = from_start
            .iter()
            .map(|p| Transaction::new_with_last_update(member_app_id(&self.pipeline, &self.source, *p), 0, now));
        starts.chain(marks).collect()
    }

    /// Records a successful commit of [`Progress::join_txns`].
    pub fn joined(&mut self, start: &BTreeMap<i32, i64>, from_start: &[i32]) {
        self.advance(start);
        self.members.extend(from_start);
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
    /// exactly the progress this writer committed. Other partitions are other hosts' to
    /// advance.
    pub async fn check(
        &self,
        table: &DeltaTable,
        name: &str,
        advancing: &BTreeMap<i32, i64>,
    ) -> Result<(), DeltaError> {
        for &p in advancing.keys() {
            if table.version().is_some_and(|v| self.confirmed.get(&p) == Some(&v)) {
                continue;
            }
            let believed = self.committed(p);
            let app = app_id(&self.pipeline, &self.source, p);
            let found = stored(table, name, &app).await?;
            if found.is_some_and(|f| believed.is_none_or(|b| f > b)) {
                return Err(DeltaError::AnotherWriter { table: name.into(), app, expected: believed, found });
            }
        }
        Ok(())
    }

    /// Records this writer's commit, at `version`, of `txns` (from [`Progress::txns`] or
    /// [`Progress::join_txns`]): the partitions whose offsets it set are confirmed there.
    pub fn confirm(&mut self, txns: &[Transaction], version: u64) {
        let set: std::collections::HashSet<&str> = txns.iter().map(|t| t.app_id.as_str()).collect();
        for &p in self.committed.keys() {
            if set.contains(app_id(&self.pipeline, &self.source, p).as_str()) {
                self.confirmed.insert(p, version);
            }
        }
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

/// What one table commits to make its place in the pipeline durable (P6).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Join {
    /// Partitions it starts after the pipeline's position in (added to a running pipeline).
    pub start: BTreeMap<i32, i64>,
    /// Partitions it takes from the start.
    pub from_start: Vec<i32>,
}

impl Join {
    pub fn is_empty(&self) -> bool {
        self.start.is_empty() && self.from_start.is_empty()
    }
}

/// P6: for each table (its progress, and whether it is declared `from = "earliest"`), what it
/// must commit before it holds rows. A partition the table already has a place in needs
/// nothing; otherwise it starts at the position its siblings hold, or from the start where no
/// sibling holds one (a new pipeline) or the table is declared `from = "earliest"`.
pub fn joins(tables: &[(&Progress, bool)], partitions: &[i32]) -> Vec<Join> {
    let all: Vec<&Progress> = tables.iter().map(|(t, _)| *t).collect();
    let positions = known_positions(&all, partitions);
    tables
        .iter()
        .map(|(table, earliest)| {
            let mut join = Join::default();
            for &p in partitions.iter().filter(|&&p| !table.belongs(p)) {
                match positions.get(&p) {
                    Some(&o) if !earliest => {
                        join.start.insert(p, o);
                    }
                    _ => join.from_start.push(p),
                }
            }
            join
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn progress(committed: &[(i32, i64)], members: &[i32]) -> Progress {
        Progress {
            pipeline: "p".into(),
            source: "c/t".into(),
            committed: committed.iter().copied().collect(),
            members: members.iter().copied().collect(),
            confirmed: BTreeMap::new(),
        }
    }

    #[test]
    fn a_commit_confirms_only_the_partitions_whose_offsets_it_set() {
        let mut a = progress(&[(0, 10), (1, 20)], &[]);
        let processed = BTreeMap::from([(0, 15), (1, 20), (2, 5)]);
        let txns = a.txns(&processed);
        assert_eq!(txns.len(), 2, "partition 1 does not advance");
        a.advance(&processed);
        a.confirm(&txns, 7);
        // Partition 1's stored offset was not set by this commit: another writer may have
        // moved it since it was last read, so the check still reads the log for it.
        assert_eq!(a.confirmed, BTreeMap::from([(0, 7), (2, 7)]));
    }

    #[test]
    fn a_new_pipeline_marks_every_table_as_taking_every_partition_from_the_start() {
        let (a, b) = (progress(&[], &[]), progress(&[], &[]));
        let joins = joins(&[(&a, false), (&b, false)], &[0, 1]);
        assert_eq!(joins, vec![Join { start: BTreeMap::new(), from_start: vec![0, 1] }; 2]);
    }

    #[test]
    fn a_table_whose_first_commit_was_cut_off_keeps_taking_the_partition_from_the_start() {
        // `a` committed its first window, `b` crashed before its own: `b` is not new.
        let (a, b) = (progress(&[(0, 210), (1, 317)], &[]), progress(&[], &[0, 1]));
        let joins = joins(&[(&a, false), (&b, false)], &[0, 1]);
        assert!(joins.iter().all(Join::is_empty), "{joins:?}");
        assert_eq!(resume_positions(&[&a, &b], &[0, 1]), BTreeMap::new(), "both partitions are read again");
    }

    #[test]
    fn a_table_added_to_a_running_pipeline_starts_at_its_position_unless_declared_earliest() {
        let a = progress(&[(0, 210), (1, 317)], &[]);
        let (new, earliest) = (progress(&[], &[]), progress(&[], &[]));
        let joins = joins(&[(&a, false), (&new, false), (&earliest, true)], &[0, 1, 2]);
        // Partition 2 has no record yet anywhere: every table takes it from the start.
        assert_eq!(joins[0], Join { start: BTreeMap::new(), from_start: vec![2] });
        assert_eq!(joins[1], Join { start: BTreeMap::from([(0, 210), (1, 317)]), from_start: vec![2] });
        assert_eq!(joins[2], Join { start: BTreeMap::new(), from_start: vec![0, 1, 2] });
    }
}
