//! Pipelines: the stage graph, the consume→transform→commit loop, and its supervision.

mod consume;
pub mod control;
mod error;
pub mod graph;
mod output;
pub mod replay;
pub mod runner;
mod sinks;
mod stages;
pub mod stats;
mod window;

pub use control::{Command, Commands, Swapped};
pub use replay::Replayed;
pub use runner::{PipelineContext, PipelineError, run_pipeline, stage_instance, start_stages};
pub use stats::{PipelineSnapshot, PipelineState, PipelineStats, Registry, StageSnapshot};

use std::time::Duration;

use tokio::sync::{mpsc, watch};

/// Test hooks: a pipeline panics (once per value) when a record's value equals a value given
/// here, or misses its cluster id once, to prove supervision handles both. Empty in production.
#[doc(hidden)]
pub mod fault {
    use std::sync::Mutex;

    static PANIC_ON: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());
    static HIDE_CLUSTER_ID: Mutex<Vec<String>> = Mutex::new(Vec::new());

    /// The next pipeline start on `topic` does not learn the cluster id (as when the lookup
    /// times out).
    pub fn hide_cluster_id_once(topic: &str) {
        HIDE_CLUSTER_ID.lock().unwrap_or_else(|e| e.into_inner()).push(topic.to_string());
    }

    pub(crate) fn cluster_id_hidden(topic: &str) -> bool {
        let mut hidden = HIDE_CLUSTER_ID.lock().unwrap_or_else(|e| e.into_inner());
        match hidden.iter().position(|t| t == topic) {
            Some(i) => {
                hidden.remove(i);
                true
            }
            None => false,
        }
    }

    static CUT_OFF_COMMIT: Mutex<Vec<String>> = Mutex::new(Vec::new());

    /// The next window committed on `topic` stops after its first table, as a crash between
    /// the commits of two tables would.
    pub fn cut_off_commit_once(topic: &str) {
        CUT_OFF_COMMIT.lock().unwrap_or_else(|e| e.into_inner()).push(topic.to_string());
    }

    pub(crate) fn commit_cut_off(topic: &str) -> bool {
        let mut armed = CUT_OFF_COMMIT.lock().unwrap_or_else(|e| e.into_inner());
        match armed.iter().position(|t| t == topic) {
            Some(i) => {
                armed.remove(i);
                true
            }
            None => false,
        }
    }

    pub fn panic_once_on(value: &[u8]) {
        PANIC_ON.lock().unwrap_or_else(|e| e.into_inner()).push(value.to_vec());
    }

    /// Panics if `value` was registered (and forgets it, so the restart gets through).
    pub(crate) fn check(values: impl Iterator<Item = impl AsRef<[u8]>>) {
        let mut armed = PANIC_ON.lock().unwrap_or_else(|e| e.into_inner());
        if armed.is_empty() {
            return;
        }
        for v in values {
            if let Some(i) = armed.iter().position(|a| a.as_slice() == v.as_ref()) {
                armed.remove(i);
                drop(armed);
                panic!("fault injected by a test");
            }
        }
    }
}

/// Runs a pipeline and restarts it after failures with exponential backoff (1 s … 30 s).
/// A restart re-reads positions from Delta, so nothing buffered-but-uncommitted is lost.
/// Commands wait in `commands` while the pipeline restarts.
pub async fn supervise(ctx: PipelineContext, stop: watch::Receiver<bool>, mut commands: mpsc::Receiver<Command>) {
    let mut backoff = Duration::from_secs(1);
    loop {
        let started = std::time::Instant::now();
        // A panic (a bug, in our code or a dependency) fails this run like an error would:
        // the pipeline is marked with the reason and restarted from Delta's offsets, instead
        // of its task dying while the API still says "running".
        let run = std::panic::AssertUnwindSafe(run_pipeline(ctx.clone(), stop.clone(), &mut commands));
        let outcome = futures::FutureExt::catch_unwind(run).await;
        // The run's consumer has left the group: the partitions it owned are no longer known.
        ctx.stats.assignment.clear();
        let outcome = match outcome {
            Ok(Err(e)) if e.is_another_writer() => {
                // Restarting would race the other writer again: stop, and say why.
                tracing::error!(pipeline = %ctx.pipeline.name, error = %e, "pipeline stopped");
                ctx.stats.record_error(e.to_string());
                ctx.stats.set_state(PipelineState::Stopped);
                return;
            }
            Ok(result) => result.map_err(|e| e.to_string()),
            Err(panic) => {
                let what = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "unknown cause".into());
                metrics::counter!("finlake_pipeline_panics_total", "pipeline" => ctx.pipeline.name.clone())
                    .increment(1);
                Err(format!("the pipeline task panicked: {what}"))
            }
        };
        match outcome {
            Ok(()) => return,
            Err(message) => {
                tracing::error!(pipeline = %ctx.pipeline.name, error = %message, retry_in_s = backoff.as_secs(), "pipeline failed; restarting");
                ctx.stats.record_error(message.clone());
                ctx.stats.set_state(PipelineState::Restarting(message));
            }
        }
        if started.elapsed() > Duration::from_secs(60) {
            backoff = Duration::from_secs(1);
        }
        let mut stop = stop.clone();
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = stop.wait_for(|s| *s) => { ctx.stats.set_state(PipelineState::Stopped); return; }
        }
        backoff = (backoff * 2).min(Duration::from_secs(30));
    }
}
