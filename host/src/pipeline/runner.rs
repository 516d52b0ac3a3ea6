//! One pipeline's loop: consume a batch, run it through the stages, buffer rows per table,
//! and commit every table (data + offsets) when a flush is due.
//!
//! Invariants (see docs/ARCHITECTURE.md):
//! - A table's Delta log holds, per partition, the last offset whose rows it contains (`txn`).
//! - A row from record (p, o) is written to table T only if o > T's committed offset for p.
//! - Every commit of every table of the pipeline carries the offsets of the whole window, even
//!   when the table got no rows, so all tables advance together.
//! - Kafka group offsets are written after Delta commits and never read back.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::consumer::Consumer;
use tokio::sync::{mpsc, watch};

use super::consume::collect_batch;
use super::control::{Command, Swapped};
pub use super::error::PipelineError;
use super::graph::{Graph, WholeBatchFailure};
use super::output::Samples;
use super::sinks::{Sinks, open_sinks, restore_state};
pub use super::stages::{stage_instance, start_stages};
use super::stats::{PipelineState, PipelineStats};
use super::window::Windows;
use crate::config::{Config, OnBroken, PipelineConfig};
use crate::kafka::{ConsumerShared, PipelineConsumer, Positions, create_consumer};
use crate::plugin::{Batch, BatchBuilder, BatchExt, PluginRuntime};

/// Everything a pipeline needs from the process.
#[derive(Clone)]
pub struct PipelineContext {
    pub config: Arc<Config>,
    pub pipeline: PipelineConfig,
    /// Resolved bootstrap servers (the embedded broker's address when embedded).
    pub brokers: String,
    pub runtime: Arc<PluginRuntime>,
    pub stats: Arc<PipelineStats>,
}

/// Runs the pipeline until `stop` turns true (then flushes and commits) or an error occurs.
/// Commands (plugin swaps, resume) are taken between batches.
pub async fn run_pipeline(
    ctx: PipelineContext,
    stop: watch::Receiver<bool>,
    commands: &mut mpsc::Receiver<Command>,
) -> Result<(), PipelineError> {
    let p = &ctx.pipeline;
    let stats = &ctx.stats;
    stats.set_state(PipelineState::Starting);
    let graph = {
        let (config, pipeline, runtime) = (ctx.config.clone(), p.clone(), ctx.runtime.clone());
        tokio::task::spawn_blocking(move || start_stages(&config, &pipeline, &runtime))
            .await
            .map_err(|e| PipelineError::Other { pipeline: p.name.clone(), message: e.to_string() })??
    };

    let shared = ConsumerShared {
        positions: Positions::default(),
        lag: ctx.stats.lag.clone(),
        assignment: ctx.stats.assignment.clone(),
        handoff: Default::default(),
    };
    let group = crate::kafka::group_of(&ctx.config, &p.name);
    let (consumer, partitions) = {
        let (brokers, props, name, topic, shared) =
            (ctx.brokers.clone(), ctx.config.kafka.properties.clone(), p.name.clone(), p.topic.clone(), shared.clone());
        let batch_wait = Duration::from_millis(p.batch.max_wait_ms);
        tokio::task::spawn_blocking(move || {
            create_consumer(&brokers, &props, &group, &name, &topic, batch_wait, shared)
        })
        .await
        .map_err(|e| PipelineError::Other { pipeline: p.name.clone(), message: e.to_string() })??
    };
    // Positions in Delta are per cluster (I1): without the id, guessing one would make every
    // table look empty and re-read the topic. Fail, and let supervision retry with backoff.
    let cluster = tokio::task::block_in_place(|| {
        use rdkafka::consumer::Consumer as _;
        if super::fault::cluster_id_hidden(&p.topic) {
            return None;
        }
        consumer.client().fetch_cluster_id(Duration::from_secs(10))
    })
    .filter(|id| !id.trim().is_empty())
    .ok_or_else(|| PipelineError::Other {
        pipeline: p.name.clone(),
        message: format!(
            "cannot learn the Kafka cluster id from {} within 10 s (is the broker reachable?); retrying",
            ctx.brokers
        ),
    })?;
    let source = format!("{cluster}/{}", p.topic);

    let stateful = graph.stages.iter().any(|s| s.instance.plugin().stateful);
    let mut sinks = open_sinks(&ctx, &source, &partitions, stateful).await?;
    sinks.join_tables(&p.name, &partitions).await?;
    let mut graph = graph;
    restore_state(&ctx, &mut sinks, &mut graph).await?;
    // Start each partition after the last offset every table already holds.
    let read_upto = sinks.resume_positions(&partitions);
    shared.positions.reset(read_upto.iter().map(|(&part, &o)| (part, o + 1)).collect());
    tracing::info!(pipeline = %p.name, %source, ?read_upto, "resuming from Delta offsets");
    let seen_generation = shared.assignment.generation();
    consumer.subscribe(&[&p.topic])?;
    // Declared after the consumer, so dropped before it: closing the consumer revokes its
    // partitions, and nobody answers a deferred revocation then.
    let _handoff = shared.handoff.enable();
    stats.set_state(PipelineState::Running);

    let mut run = Runner {
        ctx: &ctx,
        graph,
        sinks,
        consumer: &consumer,
        window: Windows::default(),
        metadata: HashMap::new(),
        held: None,
        samples: Samples::default(),
        stop: stop.clone(),
        state_offsets: BTreeMap::new(),
        state_taken: Instant::now(),
        shared,
        partitions,
        read_upto,
        seen_generation,
        fed_since_restore: false,
        conflicts: Vec::new(),
    };
    run.plugins_changed();
    run.replay_parts().finish_interrupted().await?;

    let mut stop = stop;
    let mut next_command: Option<Command> = None;
    loop {
        // A batch boundary: apply what was asked for in the meantime.
        while let Some(command) = next_command.take().or_else(|| commands.try_recv().ok()) {
            run.handle(command).await?;
        }
        let stopping = *stop.borrow();
        if run.held.is_some() && !stopping {
            // Paused: consume nothing until resumed (or stopped); plugins can still be swapped.
            tokio::select! {
                c = commands.recv() => match c {
                    Some(c) => next_command = Some(c),
                    None => { let _ = stop.changed().await; }
                },
                _ = stop.changed() => {}
            }
            continue;
        }
        let mut builder = BatchBuilder::new(&p.topic, p.batch.max_records);
        if !stopping {
            collect_batch(
                &consumer,
                &mut builder,
                &mut run.read_upto,
                &run.shared,
                p,
                &mut stop,
                commands,
                &mut next_command,
                stats,
            )
            .await?;
        }
        // The group takes partitions away: commit what this host holds (the batch just read
        // included: every partition is still this host's until it unassigns), then let go.
        if run.shared.handoff.pending() {
            let batch = (!builder.is_empty()).then(|| builder.finish());
            run.hand_over(batch).await?;
            continue;
        }
        // The group moved partitions while this batch was read: what it and the buffers hold
        // may belong to partitions another host now owns, and what this host owns now may be
        // further on in Delta. Drop them and start again from Delta.
        if run.shared.assignment.generation() != run.seen_generation {
            run.follow_rebalance("the consumer group rebalanced").await?;
            continue;
        }
        if !builder.is_empty() {
            run.process(builder.finish()).await?;
        }

        // A stop commits everything and waits for it; a due window is committed in the
        // background while the next one is read (see `window`).
        let committed = if stopping {
            run.commit_window().await.map(drop)
        } else if run.window.due(&ctx, run.sinks.buffered()) {
            run.close_window().await
        } else if run.window.landed() {
            run.settle().await.map(drop)
        } else {
            Ok(())
        };
        match committed {
            // Split brain (a host cut off from the group still writing, or this one just
            // after it lost partitions): the commit was refused, nothing was written twice.
            // Follow Delta, unless it keeps happening: then two deployments write one lake
            // (the pipeline stops and says so).
            Err(e) if e.is_another_writer() && run.conflict_is_rare() => {
                tracing::warn!(pipeline = %p.name, error = %e, "commit refused: another host committed these partitions; following what Delta holds");
                run.follow_rebalance("another host committed partitions this host was writing").await?;
                continue;
            }
            other => other?,
        }
        if stopping {
            run.commit_state(true).await?;
        }
        if stopping {
            stats.set_state(PipelineState::Stopped);
            tracing::info!(pipeline = %p.name, "stopped after final commit");
            return Ok(());
        }
    }
}

/// The state of one run of a pipeline between batches.
pub(super) struct Runner<'a> {
    ctx: &'a PipelineContext,
    graph: Graph,
    sinks: Sinks,
    consumer: &'a PipelineConsumer,
    /// The window being buffered and the one being committed.
    window: Windows,
    /// Commit info: the pipeline and the plugin version of every stage.
    metadata: HashMap<String, serde_json::Value>,
    /// Paused: the batch every attempt failed on, kept (not committed) until resumed.
    held: Option<(Batch, WholeBatchFailure)>,
    /// When the stages last left samples of their input.
    samples: Samples,
    stop: watch::Receiver<bool>,
    /// Offsets processed since the last state snapshot was committed.
    state_offsets: BTreeMap<i32, i64>,
    state_taken: Instant,
    /// Positions and the assignment, shared with the consumer's rebalance callback.
    shared: ConsumerShared,
    /// Every partition of the topic.
    partitions: Vec<i32>,
    /// Per partition, the last offset handled (committed in every table, or in the buffers).
    read_upto: BTreeMap<i32, i64>,
    /// The assignment generation the buffers and positions belong to.
    seen_generation: u64,
    /// Whether stateful plugins saw records since their state was last restored.
    fed_since_restore: bool,
    /// When commits were refused because another host wrote the same progress (the last
    /// minute's).
    conflicts: Vec<Instant>,
}

/// How often stateful plugins' state is committed while running (also at every stop and swap).
/// Between snapshots a restart re-reads at most this much from Kafka to rebuild the state; the
/// tables skip what they already hold.
const STATE_EVERY: Duration = Duration::from_secs(30);

impl Runner<'_> {
    fn name(&self) -> &str {
        &self.ctx.pipeline.name
    }

    /// Records the current plugin versions in the stats and in the commit info.
    fn plugins_changed(&mut self) {
        for (stage, pl) in self.graph.plugins() {
            self.ctx.stats.stage_loaded(stage, &pl.name, &pl.version, &pl.sha256);
        }
        let plugins = serde_json::Value::Array(
            self.graph
                .plugins()
                .iter()
                .map(|(stage, pl)| serde_json::json!({"stage": stage, "plugin": pl.name, "version": pl.version, "sha256": pl.sha256}))
                .collect(),
        );
        self.metadata = HashMap::from([
            ("finlake.pipeline".to_string(), serde_json::Value::from(self.name().to_string())),
            ("finlake.plugins".to_string(), plugins),
        ]);
    }

    async fn handle(&mut self, command: Command) -> Result<(), PipelineError> {
        match command {
            Command::Swap { stage, instance, reply } => {
                let started = Instant::now();
                let Some(i) = self.graph.stage_index(&stage) else {
                    let _ = reply.send(Err(format!("pipeline {} has no stage {stage:?}", self.name())));
                    return Ok(());
                };
                // Everything buffered was made by the old version: commit it under its name.
                let flushed_rows = self.commit_window().await?;
                let mut instance = instance;
                // A stateful plugin's history moves to the new version (and is committed, so a
                // restart right after the swap resumes from it).
                if let Some(state) = self.graph.stages[i].instance.snapshot()?
                    && !state.is_empty()
                {
                    if let Err(e) = instance.restore(&state) {
                        let _ = reply.send(Err(format!("the new version cannot take the live state: {e}")));
                        return Ok(());
                    }
                    self.commit_state(true).await?;
                }
                let old = std::mem::replace(&mut self.graph.stages[i].instance, *instance);
                self.plugins_changed();
                let new = self.graph.stages[i].instance.plugin();
                let swapped = Swapped {
                    pipeline: self.name().to_string(),
                    stage,
                    previous_version: old.plugin().version.clone(),
                    version: new.version.clone(),
                    pause_ms: started.elapsed().as_secs_f64() * 1000.0,
                    flushed_rows,
                };
                tracing::info!(pipeline = %swapped.pipeline, stage = %swapped.stage, from = %swapped.previous_version, to = %swapped.version, sha256 = %&new.sha256[..12], pause_ms = swapped.pause_ms, flushed_rows, "plugin swapped at a batch boundary");
                metrics::histogram!("finlake_plugin_swap_pause_seconds", "pipeline" => self.name().to_string())
                    .record(started.elapsed().as_secs_f64());
                let _ = reply.send(Ok(swapped));
            }
            Command::Replay { filter, reply } => match self.replay(filter).await {
                Ok(done) => {
                    let _ = reply.send(Ok(done));
                }
                // Refused before writing anything (still failing, unreadable table): the
                // pipeline goes on.
                Err(PipelineError::Other { message, .. }) => {
                    tracing::warn!(pipeline = %self.name(), %message, "replay refused");
                    let _ = reply.send(Err(message));
                }
                Err(e) => {
                    let _ = reply.send(Err(e.to_string()));
                    return Err(e);
                }
            },
            Command::Resume { reply } => match self.held.take() {
                None => {
                    let _ = reply.send(Err(format!("pipeline {} is not paused", self.name())));
                }
                Some((batch, failure)) => {
                    tracing::info!(pipeline = %self.name(), stage = %failure.stage, records = batch.len(), "resuming: retrying the held batch");
                    self.ctx.stats.set_state(PipelineState::Running);
                    self.process(batch).await?;
                    let answer = match &self.held {
                        None => format!("pipeline {} resumed; the held batch went through", self.name()),
                        Some((_, f)) => format!(
                            "pipeline {} paused again: stage {} still fails every record ({}: {})",
                            self.name(),
                            f.stage,
                            f.kind,
                            f.reason
                        ),
                    };
                    let _ = reply.send(Ok(answer));
                }
            },
        }
        Ok(())
    }

    /// Runs a batch through the graph and buffers its rows and dead letters. A batch every
    /// record of which fails in one stage is retried; after `pause_after_failed_batches`
    /// attempts the pipeline commits what it has and pauses, holding the batch.
    async fn process(&mut self, batch: Batch) -> Result<(), PipelineError> {
        let stats = self.ctx.stats.clone();
        let attempts = self.ctx.pipeline.pause_after_failed_batches.max(1);
        let mut attempt = 0;
        super::fault::check((0..batch.len()).map(|i| batch.value(i)));
        self.graph.sampling = self.samples.due();
        let mut output = loop {
            let output = tokio::task::block_in_place(|| self.graph.run(&batch))?;
            for (stage, took, errors, _) in &output.calls {
                stats.stage_called(stage, *took, *errors);
            }
            let Some(failure) = output.whole_batch else { break output };
            attempt += 1;
            tracing::warn!(pipeline = %self.name(), stage = %failure.stage, plugin = %failure.plugin, version = %failure.plugin_version, kind = %failure.kind, reason = %failure.reason, records = failure.records, attempt, of = attempts, "every record of the batch failed in one stage");
            stats.record_error(format!("stage {} failed every record: {}", failure.stage, failure.reason));
            if attempt >= attempts && self.ctx.pipeline.on_broken == OnBroken::DeadLetter {
                tracing::error!(pipeline = %self.name(), stage = %failure.stage, records = batch.len(), "dead-lettering the batch (on_broken = \"dead_letter\"); replay it once the plugin is fixed");
                metrics::counter!("finlake_broken_batches_dead_lettered_total", "pipeline" => self.name().to_string())
                    .increment(1);
                break self.graph.broken_batch_letters(&batch, &failure);
            }
            if attempt >= attempts {
                self.commit_window().await?;
                let why = format!(
                    "stage {} (plugin {} {}) failed every record of {} batch attempts ({}: {}); fix or swap the plugin, then POST /api/pipelines/{}/resume",
                    failure.stage,
                    failure.plugin,
                    failure.plugin_version,
                    attempt,
                    failure.kind,
                    failure.reason,
                    self.name()
                );
                tracing::error!(pipeline = %self.name(), held_records = batch.len(), "pipeline paused: {why}");
                metrics::counter!("finlake_pipeline_pauses_total", "pipeline" => self.name().to_string()).increment(1);
                stats.set_state(PipelineState::Paused(why));
                self.held = Some((batch, failure));
                return Ok(());
            }
            let mut stop = self.stop.clone();
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(500 * attempt as u64)) => {}
                _ = stop.wait_for(|s| *s) => {}
            }
        };
        stats.add(&stats.records_in, batch.len() as u64, "finlake_records_in_total");
        stats.add(&stats.batches, 1, "finlake_batches_total");
        self.samples.keep(&mut output, &stats);
        self.sinks.write(&self.ctx.pipeline.name, &stats, &batch, output);
        self.fed_since_restore = true;
        self.window.add((0..batch.len()).map(|i| (batch.partition(i), batch.offset(i))));
        Ok(())
    }

    /// Whether a refused commit (another writer) is rare enough to follow: at most 3 a minute.
    fn conflict_is_rare(&mut self) -> bool {
        self.conflicts.retain(|t| t.elapsed() < Duration::from_secs(60));
        self.conflicts.push(Instant::now());
        self.conflicts.len() <= 3
    }

    /// Answers a revocation (see [`crate::kafka::Handoff`]): processes `batch`, commits the
    /// window and the plugins' state, then gives every partition up. The unassign happens
    /// whatever the commit did, since the whole group waits for it; a refused commit (another
    /// host already wrote these partitions) is followed at the next assignment like any other.
    async fn hand_over(&mut self, batch: Option<Batch>) -> Result<(), PipelineError> {
        let started = Instant::now();
        let committed = async {
            if let Some(batch) = batch {
                self.process(batch).await?;
            }
            let rows = self.commit_window().await?;
            self.commit_state(true).await?;
            Ok::<u64, PipelineError>(rows)
        }
        .await;
        let unassigned = tokio::task::block_in_place(|| self.consumer.unassign());
        self.shared.handoff.done();
        self.shared.assignment.set(Vec::new());
        let name = &self.ctx.pipeline.name;
        metrics::counter!("finlake_consumer_handoffs_total", "pipeline" => name.clone()).increment(1);
        match committed {
            Ok(rows) => {
                metrics::counter!("finlake_consumer_handoff_rows_total", "pipeline" => name.clone()).increment(rows);
                tracing::info!(pipeline = %name, rows, ms = started.elapsed().as_millis() as u64, "committed what this host held, then gave its partitions up");
            }
            Err(e) if e.is_another_writer() => {
                tracing::warn!(pipeline = %name, error = %e, "gave the partitions up; their last window was already committed by another host");
            }
            Err(e) => {
                if let Err(u) = unassigned {
                    tracing::error!(pipeline = %name, error = %u, "unassign failed");
                }
                return Err(e);
            }
        }
        unassigned?;
        Ok(())
    }

    /// Starts again from what Delta holds, for the partitions the group gives this host now:
    /// drops the uncommitted window (its records are read again, by whichever host owns them),
    /// refreshes every table's progress, restores stateful plugins from their latest snapshot
    /// when they saw records since (they are fed again from the snapshot's offsets), and seeks
    /// each owned partition after the lowest offset the tables hold (P2).
    /// A dead-letter replay, after the window has been committed (replay.rs).
    async fn replay(&mut self, filter: crate::dlq::Filter) -> Result<super::replay::Replayed, PipelineError> {
        self.commit_window().await?;
        self.replay_parts().replay(filter).await
    }

    fn replay_parts(&mut self) -> super::replay::Replay<'_> {
        super::replay::Replay {
            ctx: self.ctx,
            graph: &mut self.graph,
            sinks: &mut self.sinks,
            metadata: &self.metadata,
        }
    }

    async fn follow_rebalance(&mut self, why: &str) -> Result<(), PipelineError> {
        let started = Instant::now();
        // The window in flight lands (or is refused: another host got there first) before the
        // tables are read again.
        match self.settle().await {
            Err(e) if e.is_another_writer() => {
                tracing::info!(pipeline = %self.name(), error = %e, "the window in flight was refused; following Delta");
            }
            other => {
                other?;
            }
        }
        self.seen_generation = self.shared.assignment.generation();
        let owned = self.shared.assignment.owned().unwrap_or_default();
        let dropped = self.window.discard();
        self.state_offsets.clear();
        let name = self.ctx.pipeline.name.clone();
        let state_moved = self.sinks.refresh(&name, &self.partitions).await?;
        if self.sinks.state.is_some() && (self.fed_since_restore || state_moved) {
            super::sinks::restore_state(self.ctx, &mut self.sinks, &mut self.graph).await?;
            self.fed_since_restore = false;
        }
        self.read_upto = self.sinks.resume_positions(&self.partitions);
        self.shared.positions.reset(self.read_upto.iter().map(|(&p, &o)| (p, o + 1)).collect());
        // Every owned partition, even where the rebalance callback assigned this very
        // position: records read since then went with the dropped batch.
        for &part in &owned {
            let next = self.read_upto.get(&part).map(|o| o + 1);
            seek(self.consumer, &self.ctx.pipeline, part, next).await?;
        }
        tracing::info!(pipeline = %name, why, owned = ?owned, dropped_partitions_in_window = dropped, resume = ?self.read_upto, ms = started.elapsed().as_millis() as u64, "following the partitions this host owns, from Delta");
        metrics::counter!("finlake_pipeline_rebalances_followed_total", "pipeline" => name).increment(1);
        Ok(())
    }

    /// Commits every table (data + offsets of the window) if anything was processed, and
    /// waits until it landed; returns the number of rows committed (with those of a window
    /// that was in flight).
    pub(super) async fn commit_window(&mut self) -> Result<u64, PipelineError> {
        let earlier = self.settle().await?;
        self.launch_window()?;
        let rows = self.settle().await?;
        self.commit_state(false).await?;
        Ok(earlier + rows)
    }

    /// Closes a due window: its commit starts in the background once the one before has
    /// landed. Plugin state, when due, is committed after the window's rows (I12).
    async fn close_window(&mut self) -> Result<(), PipelineError> {
        self.settle().await?;
        self.launch_window()?;
        if self.state_due(false) {
            self.settle().await?;
            self.commit_state(false).await?;
        }
        Ok(())
    }

    /// Starts the open window's commit (the one before has been settled).
    fn launch_window(&mut self) -> Result<(), PipelineError> {
        for (p, o) in self.window.launch(self.ctx, &mut self.sinks, &self.metadata)? {
            let e = self.state_offsets.entry(p).or_insert(o);
            *e = (*e).max(o);
        }
        Ok(())
    }

    /// Waits for the window commit in flight, if any; returns its rows.
    async fn settle(&mut self) -> Result<u64, PipelineError> {
        let settled = self.window.settle(&mut self.sinks, self.consumer, &self.ctx.pipeline.topic).await;
        settled.map_err(|e| match e {
            PipelineError::Other { message, .. } => PipelineError::Other { pipeline: self.name().to_string(), message },
            e => e,
        })
    }

    fn state_due(&self, force: bool) -> bool {
        self.sinks.state.is_some()
            && !self.state_offsets.is_empty()
            && (force || self.state_taken.elapsed() >= STATE_EVERY)
    }

    /// Snapshots every stateful stage and commits them with the offsets they reflect, when
    /// `force`d (stop, swap) or every [`STATE_EVERY`]. Called when every record the plugins saw
    /// is committed (no window open or in flight), so the snapshot reflects exactly the
    /// committed records: a restart never feeds a plugin a record twice.
    pub(super) async fn commit_state(&mut self, force: bool) -> Result<(), PipelineError> {
        if !self.state_due(force) {
            return Ok(());
        }
        debug_assert!(!self.window.is_open(), "plugin state taken with records not yet committed");
        let Some(sink) = self.sinks.state.as_mut() else { return Ok(()) };
        let mut bytes = 0;
        for stage in &mut self.graph.stages {
            if let Some(snapshot) = stage.instance.snapshot()?
                && !snapshot.is_empty()
            {
                bytes += snapshot.len();
                let p = stage.instance.plugin();
                crate::sink::state::append_snapshot(sink.buffer_mut(), &stage.id, &p.name, &p.version, snapshot);
            }
        }
        let version = sink.commit(&self.state_offsets, &self.metadata).await?;
        tracing::debug!(pipeline = %self.ctx.pipeline.name, ?version, bytes, offsets = ?self.state_offsets, "plugin state committed");
        metrics::counter!("finlake_state_snapshots_total", "pipeline" => self.ctx.pipeline.name.clone()).increment(1);
        self.state_offsets.clear();
        self.state_taken = Instant::now();
        Ok(())
    }
}

/// Seeks an owned partition to `next` (its beginning when `None`), retrying while the client
/// is still starting to fetch it (for up to 10 s).
async fn seek(
    consumer: &PipelineConsumer,
    pipeline: &PipelineConfig,
    partition: i32,
    next: Option<i64>,
) -> Result<(), PipelineError> {
    use rdkafka::topic_partition_list::Offset;
    let offset = next.map_or(Offset::Beginning, Offset::Offset);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let result =
            tokio::task::block_in_place(|| consumer.seek(&pipeline.topic, partition, offset, Duration::from_secs(1)));
        match result {
            Ok(()) => return Ok(()),
            Err(e) if Instant::now() < deadline => {
                tracing::debug!(pipeline = %pipeline.name, partition, error = %e, "seek not possible yet; retrying");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
}
