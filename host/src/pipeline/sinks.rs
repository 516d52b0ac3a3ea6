//! The tables of one pipeline run: opening them (with the offsets each holds), starting tables
//! added to a running pipeline at its positions, restoring stateful plugins from the state
//! table, and handing a window's commit to every table (see [`super::window`]).

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use rdkafka::consumer::{CommitMode, Consumer};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};

use super::graph::Graph;
use super::runner::{PipelineContext, PipelineError};
use crate::kafka::PipelineConsumer;
use crate::sink::table::{CommitJob, Committed};
use crate::sink::{TableSchema, TableSink, dead_letter_schema};

pub(super) struct Sinks {
    pub(super) tables: BTreeMap<String, TableSink>,
    pub(super) dead: TableSink,
    /// Snapshots of stateful plugins (I12): commits less often than the others, with the
    /// offsets its snapshots reflect; it is not part of a window's commit.
    pub(super) state: Option<TableSink>,
    /// Tables declared `from = "earliest"`: filled from the start of the topic when new.
    earliest: Vec<String>,
}

impl Sinks {
    /// Every table whose offsets bound where consumption resumes (the state table included).
    pub(super) fn all(&self) -> impl Iterator<Item = &TableSink> {
        self.tables.values().chain(std::iter::once(&self.dead)).chain(self.state.as_ref())
    }
    /// Takes a window's commit off every table with something to commit (see
    /// [`super::window`]), in the order of [`Sinks::all`].
    pub(super) fn begin_window(
        &mut self,
        processed: &BTreeMap<i32, i64>,
        metadata: &HashMap<String, serde_json::Value>,
    ) -> Result<Vec<(Slot, CommitJob)>, PipelineError> {
        let mut jobs = Vec::new();
        for (name, sink) in &mut self.tables {
            if let Some(job) = sink.begin_commit(processed, metadata)? {
                jobs.push((Slot::Table(name.clone()), job));
            }
        }
        if let Some(job) = self.dead.begin_commit(processed, metadata)? {
            jobs.push((Slot::DeadLetters, job));
        }
        Ok(jobs)
    }

    /// Takes back the tables whose commits of a window landed.
    pub(super) fn finish_window(&mut self, done: Vec<(Slot, Committed)>) {
        for (slot, committed) in done {
            match slot {
                Slot::Table(name) => {
                    if let Some(sink) = self.tables.get_mut(&name) {
                        sink.finish_commit(committed);
                    }
                }
                Slot::DeadLetters => self.dead.finish_commit(committed),
            }
        }
    }
    /// P2: where consumption resumes, per partition (absent: no table holds it yet).
    pub(super) fn resume_positions(&self, partitions: &[i32]) -> BTreeMap<i32, i64> {
        let all: Vec<_> = self.all().map(TableSink::progress).collect();
        crate::delta::progress::resume_positions(&all, partitions)
    }
    pub(super) fn buffered(&self) -> (usize, usize) {
        self.all().fold((0, 0), |(r, b), s| (r + s.buffered_rows(), b + s.buffered_bytes()))
    }

    /// P6: every table's place in each partition is made durable before it holds rows. A
    /// table with no offset and no membership mark in a partition where its siblings hold
    /// offsets was added to a running pipeline (a new output, a renamed dead-letter table): it
    /// starts at the pipeline's position, unless declared `from = "earliest"` (otherwise it
    /// would drag the whole topic through the plugins again). Where no table holds an offset
    /// (a new pipeline), every table is marked as taking the partition from the start, so a
    /// crash between the first commits of two tables cannot make the later one look new.
    pub(super) async fn join_tables(&mut self, pipeline: &str, partitions: &[i32]) -> Result<(), PipelineError> {
        let earliest = &self.earliest;
        let joins = {
            let all: Vec<_> = self.all().map(|s| (s.progress(), earliest.contains(&s.name))).collect();
            crate::delta::progress::joins(&all, partitions)
        };
        let metadata = HashMap::from([
            ("finlake.pipeline".to_string(), serde_json::Value::from(pipeline)),
            ("finlake.joined".to_string(), serde_json::Value::from(true)),
        ]);
        // Same order as [`Sinks::all`].
        let tables = self.tables.values_mut().chain(std::iter::once(&mut self.dead)).chain(self.state.as_mut());
        for (sink, join) in tables.zip(joins).filter(|(_, j)| !j.is_empty()) {
            let (start, from_start) = (join.start.clone(), join.from_start.clone());
            let Some(version) = sink.join(join, partitions, &metadata).await? else { continue };
            if start.is_empty() {
                tracing::info!(pipeline, table = %sink.name, partitions = ?from_start, version, "table takes these partitions from the start");
            } else {
                tracing::info!(pipeline, table = %sink.name, positions = ?start, ?from_start, version, "new table starts at the pipeline's positions (from = \"current\")");
            }
        }
        Ok(())
    }
}

impl Sinks {
    /// After a rebalance: every table (the state table too) at its latest version with the
    /// progress it holds, nothing buffered, and tables new to the pipeline started at its
    /// positions. Returns whether another host committed plugin state meanwhile.
    pub(super) async fn refresh(&mut self, pipeline: &str, partitions: &[i32]) -> Result<bool, PipelineError> {
        for sink in self.tables.values_mut().chain(std::iter::once(&mut self.dead)) {
            sink.refresh(partitions).await?;
        }
        let mut state_moved = false;
        if let Some(state) = self.state.as_mut() {
            let before = state.version();
            state.refresh(partitions).await?;
            state_moved = state.version() != before;
        }
        self.join_tables(pipeline, partitions).await?;
        Ok(state_moved)
    }
}

/// Which of a pipeline's sinks a table's part of a window commit belongs to.
pub(super) enum Slot {
    Table(String),
    DeadLetters,
}

/// Restores each stateful stage from its latest snapshot (I12).
pub(super) async fn restore_state(
    ctx: &PipelineContext,
    sinks: &mut Sinks,
    graph: &mut Graph,
) -> Result<(), PipelineError> {
    let Some(state) = &sinks.state else { return Ok(()) };
    let snapshots = crate::sink::state::latest_snapshots(state.delta_table(), &state.name).await?;
    for stage in &mut graph.stages {
        if let Some(s) = snapshots.get(&stage.id) {
            tracing::info!(pipeline = %ctx.pipeline.name, stage = %stage.id, from_version = %s.plugin_version, bytes = s.bytes.len(), "restoring plugin state");
            stage.instance.restore(&s.bytes)?;
        }
    }
    Ok(())
}

pub(super) async fn open_sinks(
    ctx: &PipelineContext,
    source: &str,
    partitions: &[i32],
    stateful: bool,
) -> Result<Sinks, PipelineError> {
    let p = &ctx.pipeline;
    let root: PathBuf = ctx.config.lake.root.clone();
    let mut tables = BTreeMap::new();
    let mut names: Vec<&str> = p.stages.iter().flat_map(|s| s.outputs.values()).map(String::as_str).collect();
    names.sort();
    names.dedup();
    for name in names {
        let Some(t) = ctx.config.table(name) else { continue };
        let schema = TableSchema::from_config(t).with_future_limits(&ctx.config.future_limits(&t.name));
        let mut sink = TableSink::open(&root, &t.name, &t.relative_path(), schema, &p.name, source, partitions).await?;
        if let Some(key) = &t.unique_key {
            let horizon_ms = crate::config::parse_duration_us(&t.dedup_horizon).map_or(3_600_000, |us| us / 1000);
            sink = sink.with_unique_key(key, horizon_ms).await?;
        }
        ctx.stats.table_opened(&t.name, sink.version());
        tables.insert(t.name.clone(), sink);
    }
    let dead = TableSink::open(
        &root,
        &p.dead_letter_table,
        &p.dead_letter_table,
        dead_letter_schema(),
        &p.name,
        source,
        partitions,
    )
    .await?;
    ctx.stats.table_opened(&p.dead_letter_table, dead.version());
    let state = if stateful {
        let name = format!("{}_state", p.name);
        let path = crate::sink::state::state_path(&p.name);
        let schema = crate::sink::state::state_schema();
        Some(TableSink::open(&root, &name, &path, schema, &p.name, source, partitions).await?)
    } else {
        None
    };
    let earliest = ctx
        .config
        .tables
        .iter()
        .filter(|t| t.from == crate::config::StartFrom::Earliest)
        .map(|t| t.name.clone())
        .collect();
    Ok(Sinks { tables, dead, state, earliest })
}

/// Informational only (lag dashboards): Delta is the source of truth for positions.
pub(super) fn commit_kafka_offsets(consumer: &PipelineConsumer, topic: &str, processed: &BTreeMap<i32, i64>) {
    let mut tpl = TopicPartitionList::new();
    for (part, off) in processed {
        if tpl.add_partition_offset(topic, *part, Offset::Offset(off + 1)).is_err() {
            return;
        }
    }
    if let Err(e) = consumer.commit(&tpl, CommitMode::Async) {
        tracing::debug!(topic, error = %e, "informational offset commit not sent");
    }
}
