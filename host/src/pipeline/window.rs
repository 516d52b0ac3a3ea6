//! A pipeline's windows: the one being buffered, and the one being committed.
//!
//! A window closes when its flush is due. Its commit runs in a task of its own while the loop
//! goes on consuming and processing the next window; at most one commit is in flight per
//! pipeline, so closing the next window waits for it (back-pressure). Every table of the
//! window commits side by side in that task (ARCHITECTURE, I4).
//!
//! Why this is exactly-once as before:
//! - Each table's commit owns a copy of the table and its progress ([`TableSink::begin_commit`])
//!   and is checked against the log (P4) like any other; the loop's copy is replaced when the
//!   commit is taken back ([`Windows::settle`]).
//! - Rows buffered meanwhile come from records after the window, so the loop's (older)
//!   progress filters them exactly as the new one would.
//! - Everything else that touches the tables (a stop, a swap, a hand-over, a rebalance, a
//!   replay, plugin state) settles the commit in flight first. A failure surfaces there and is
//!   handled as a failed commit always was: the pipeline follows or restarts from what Delta
//!   holds, and the window's records are read again.
//! - A run that ends with a commit in flight aborts it ([`InFlight`]'s `Drop`): it landed or
//!   it did not, as with a crash, and the restart (at least a second later) reads which.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;

use super::runner::{PipelineContext, PipelineError};
use super::sinks::{Sinks, Slot, commit_kafka_offsets};
use super::stats::PipelineStats;
use crate::kafka::PipelineConsumer;
use crate::sink::table::{CommitJob, Committed};

/// Longest wait before the first commit of a run (shorter than `flush.max_latency_ms`).
const FIRST_WINDOW_MS: u64 = 1000;

#[derive(Default)]
pub(super) struct Windows {
    /// Highest offset per partition processed into the buffers since the last window closed.
    processed: BTreeMap<i32, i64>,
    started: Option<Instant>,
    /// Whether a window was committed since this run started.
    committed_once: bool,
    /// How long a window's commit takes, smoothed over the recent ones (ms).
    commit_ms: Option<f64>,
    in_flight: Option<InFlight>,
}

/// What the commit task hands back: the tables that committed, and the first failure.
struct Outcome {
    done: Vec<(Slot, Committed)>,
    failed: Option<PipelineError>,
    /// How long the commit took.
    ms: f64,
}

/// A window's commit running in its own task. Dropping it aborts the task.
struct InFlight {
    task: JoinHandle<Outcome>,
    processed: BTreeMap<i32, i64>,
    rows: u64,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Windows {
    /// Records that the records of a processed batch are in the buffers.
    pub(super) fn add(&mut self, positions: impl Iterator<Item = (i32, i64)>) {
        for (part, off) in positions {
            let e = self.processed.entry(part).or_insert(off);
            *e = (*e).max(off);
        }
        self.started.get_or_insert_with(Instant::now);
    }

    /// Whether records were processed since the last window closed.
    pub(super) fn is_open(&self) -> bool {
        !self.processed.is_empty()
    }

    /// Whether the open window's flush is due, given what is buffered.
    ///
    /// `flush.max_latency_ms` bounds how long a window's first row waits until it is
    /// committed, so the window closes that long after it opened minus what a commit has been
    /// taking (at most half of it): with a 100 ms flush and 45 ms commits, rows were committed
    /// up to ~150 ms after they were processed, not 100.
    pub(super) fn due(&self, ctx: &PipelineContext, (rows, bytes): (usize, usize)) -> bool {
        let flush = &ctx.pipeline.flush;
        // The first window after a start commits within a second: a restart shows progress
        // (and the dashboard fresh rows) without waiting a whole flush interval.
        let latency = match self.committed_once {
            true => flush.max_latency_ms,
            false => flush.max_latency_ms.min(FIRST_WINDOW_MS),
        };
        let lead = self.commit_ms.unwrap_or(0.0).min(latency as f64 / 2.0);
        let window = Duration::from_secs_f64((latency as f64 - lead).max(0.0) / 1e3);
        self.started.is_some_and(|t| t.elapsed() >= window) || rows >= flush.max_records || bytes >= flush.max_bytes
    }

    /// Whether a commit is in flight and has finished (so settling it will not wait).
    pub(super) fn landed(&self) -> bool {
        self.in_flight.as_ref().is_some_and(|f| f.task.is_finished())
    }

    /// Forgets the open window (its records will be read again); the commit in flight, if any,
    /// must have been settled.
    pub(super) fn discard(&mut self) -> usize {
        debug_assert!(self.in_flight.is_none(), "a window's commit is still in flight");
        self.started = None;
        std::mem::take(&mut self.processed).len()
    }

    /// Closes the open window and starts its commit in a task. The caller has settled the
    /// previous one. Returns the offsets the window covers (empty when none was open).
    pub(super) fn launch(
        &mut self,
        ctx: &PipelineContext,
        sinks: &mut Sinks,
        metadata: &HashMap<String, serde_json::Value>,
    ) -> Result<BTreeMap<i32, i64>, PipelineError> {
        debug_assert!(self.in_flight.is_none(), "one commit in flight per pipeline");
        if self.processed.is_empty() {
            return Ok(BTreeMap::new());
        }
        let jobs = sinks.begin_window(&self.processed, metadata)?;
        let rows = jobs.iter().map(|(_, j)| j.rows() as u64).sum();
        let processed = std::mem::take(&mut self.processed);
        self.started = None;
        let cut_off = super::fault::commit_cut_off(&ctx.pipeline.topic);
        let names = (ctx.pipeline.name.clone(), ctx.pipeline.topic.clone());
        let task = tokio::spawn(commit(ctx.stats.clone(), names, processed.clone(), jobs, cut_off));
        self.in_flight = Some(InFlight { task, processed: processed.clone(), rows });
        Ok(processed)
    }

    /// Waits for the commit in flight, if any, and takes its tables back; then tells Kafka
    /// (informationally). Returns the rows it committed.
    pub(super) async fn settle(
        &mut self,
        sinks: &mut Sinks,
        consumer: &PipelineConsumer,
        topic: &str,
    ) -> Result<u64, PipelineError> {
        let Some(mut flight) = self.in_flight.take() else { return Ok(0) };
        let outcome = match (&mut flight.task).await {
            Ok(outcome) => outcome,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => return Err(PipelineError::Other { pipeline: String::new(), message: e.to_string() }),
        };
        sinks.finish_window(outcome.done);
        if let Some(e) = outcome.failed {
            return Err(e);
        }
        self.commit_ms = Some(self.commit_ms.map_or(outcome.ms, |m| 0.8 * m + 0.2 * outcome.ms));
        commit_kafka_offsets(consumer, topic, &flight.processed);
        self.committed_once = true;
        Ok(flight.rows)
    }
}

/// Announces a table's commit as soon as it is in the log (what readers can see), before the
/// handle's upkeep ([`Committed::rebase`]), which the next window waits for instead.
fn announce(stats: &PipelineStats, c: &Committed) {
    stats.table_committed(&c.name, c.rows, c.version);
    stats.add(&stats.commits, 1, "finlake_commits_total");
}

/// The commit task: every table of the window side by side. Each holds its own progress (P1),
/// so their commits are independent, and a window costs the slowest table's commit, not the
/// sum. A failure leaves the others committed, as a
/// crash between two commits would: the restart's seek and each table's `txn` filter cover it.
async fn commit(
    stats: Arc<PipelineStats>,
    (pipeline, topic): (String, String),
    processed: BTreeMap<i32, i64>,
    jobs: Vec<(Slot, CommitJob)>,
    cut_off: bool,
) -> Outcome {
    let started = Instant::now();
    if cut_off {
        // A test's crash between the commits of two tables: the first table commits, the rest
        // do not.
        let Some((slot, job)) = jobs.into_iter().next() else {
            // Nothing to commit this time: the cut-off waits for a window that commits.
            super::fault::cut_off_commit_once(&topic);
            return Outcome { done: vec![], failed: None, ms: 0.0 };
        };
        let table = job.name().to_string();
        return match job.run().await {
            Ok(mut c) => {
                announce(&stats, &c);
                c.rebase().await;
                let message = format!("fault injected by a test: commit cut off after table {table}");
                Outcome { done: vec![(slot, c)], failed: Some(PipelineError::Other { pipeline, message }), ms: 0.0 }
            }
            Err(e) => Outcome { done: vec![], failed: Some(e.into()), ms: 0.0 },
        };
    }
    // A task per table: encoding Parquet is CPU work, and in one task the tables' files were
    // encoded one after the other while the other core idled. The set aborts them when this
    // task is aborted (a run that ends with a commit in flight), as a crash would.
    let mut runs = tokio::task::JoinSet::new();
    for (slot, job) in jobs {
        let stats = stats.clone();
        runs.spawn(async move {
            let mut result = job.run().await;
            if let Ok(c) = &mut result {
                announce(&stats, c);
                c.rebase().await;
            }
            (slot, result)
        });
    }
    let mut outcome = Outcome { done: Vec::new(), failed: None, ms: 0.0 };
    while let Some(joined) = runs.join_next().await {
        let (slot, result) = match joined {
            Ok(r) => r,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => {
                outcome
                    .failed
                    .get_or_insert(PipelineError::Other { pipeline: pipeline.clone(), message: e.to_string() });
                continue;
            }
        };
        match result {
            Ok(c) => outcome.done.push((slot, c)),
            Err(e) => {
                outcome.failed.get_or_insert(e.into());
            }
        }
    }
    outcome.ms = started.elapsed().as_secs_f64() * 1e3;
    if outcome.failed.is_none() {
        metrics::histogram!("finlake_commit_seconds", "pipeline" => pipeline.clone())
            .record(started.elapsed().as_secs_f64());
        tracing::info!(pipeline = %pipeline, ?processed, ms = started.elapsed().as_millis() as u64, "window committed");
    }
    outcome
}
