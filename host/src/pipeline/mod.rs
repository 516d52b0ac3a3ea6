//! Pipelines: the stage graph, the consume→transform→commit loop, and its supervision.

pub mod control;
pub mod graph;
mod output;
pub mod replay;
pub mod runner;
pub mod stats;

pub use control::{Command, Commands, Swapped};
pub use replay::Replayed;
pub use runner::{PipelineContext, PipelineError, run_pipeline, stage_instance, start_stages};
pub use stats::{PipelineSnapshot, PipelineState, PipelineStats, Registry, StageSnapshot};

use std::time::Duration;

use tokio::sync::{mpsc, watch};

/// Runs a pipeline and restarts it after failures with exponential backoff (1 s … 30 s).
/// A restart re-reads positions from Delta, so nothing buffered-but-uncommitted is lost.
/// Commands wait in `commands` while the pipeline restarts.
pub async fn supervise(ctx: PipelineContext, stop: watch::Receiver<bool>, mut commands: mpsc::Receiver<Command>) {
    let mut backoff = Duration::from_secs(1);
    loop {
        let started = std::time::Instant::now();
        match run_pipeline(ctx.clone(), stop.clone(), &mut commands).await {
            Ok(()) => return,
            Err(e) => {
                let message = e.to_string();
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
