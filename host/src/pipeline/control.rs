//! Commands a running pipeline accepts, and answers it gives. A pipeline applies them only
//! between batches, after committing the rows it has buffered, so every Delta commit is made by
//! exactly one set of plugin versions and no record is half-processed by two versions.

use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use crate::plugin::PluginInstance;

/// Sent to a pipeline through its [`Commands`] channel.
pub enum Command {
    /// Replace a stage's plugin instance (already compiled, initialised with the stage's
    /// config and tried on a sample off the hot path).
    Swap { stage: String, instance: Box<PluginInstance>, reply: oneshot::Sender<Result<Swapped, String>> },
    /// Leave the paused state: retry the held batch with the current plugins.
    Resume { reply: oneshot::Sender<Result<String, String>> },
    /// Send pending dead letters back through the current plugins (see `pipeline::replay`).
    Replay { filter: crate::dlq::Filter, reply: oneshot::Sender<Result<super::replay::Replayed, String>> },
}

pub use finlake_api::Swapped;

/// The sending side of a pipeline's command channel; cheap to clone.
#[derive(Clone)]
pub struct Commands(pub mpsc::Sender<Command>);

/// How long a caller waits for a pipeline to take a command at its next batch boundary.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

impl Commands {
    pub fn channel() -> (Commands, mpsc::Receiver<Command>) {
        let (tx, rx) = mpsc::channel(16);
        (Commands(tx), rx)
    }

    /// Sends a command built around a reply channel and waits for the answer.
    pub async fn ask<T>(
        &self,
        pipeline: &str,
        make: impl FnOnce(oneshot::Sender<Result<T, String>>) -> Command,
    ) -> Result<T, String> {
        let (tx, rx) = oneshot::channel();
        self.0.send(make(tx)).await.map_err(|_| format!("pipeline {pipeline} is not running"))?;
        match tokio::time::timeout(COMMAND_TIMEOUT, rx).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(_)) => Err(format!("pipeline {pipeline} stopped before answering")),
            Err(_) => Err(format!("pipeline {pipeline} did not reach a batch boundary within {COMMAND_TIMEOUT:?}")),
        }
    }
}
