//! The Wasm component plugin runtime.
//!
//! One [`PluginRuntime`] per process holds the wasmtime `Engine`, the `Linker` with the host
//! imports and the epoch ticker. A [`LoadedPlugin`] is a compiled, pre-linked component (compiled
//! artefacts are cached on disk). A [`PluginInstance`] is one `Store` + instance with its own
//! limits and config: a trap, timeout or memory overrun fails that call with a typed
//! [`PluginError`] and the instance is rebuilt before its next call; the process never dies.

mod batch;
mod cache;
mod instance;
mod native;
mod runtime;

pub use batch::{BatchBuilder, BatchExt, RowRef, check_cost, rows_of};
/// Read access to records inside a batch.
pub mod batch_view {
    pub use super::batch::select;
}
pub use instance::{Limits, PluginInstance};
pub use native::{NativeFactory, NativeTransform};
pub use runtime::{Inspection, LoadedPlugin, PluginRuntime};

/// Bindings generated from `wit/` (the same files every guest builds against).
pub mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "plugin",
    });
}

pub use bindings::finlake::plugin::types::{Batch, BatchResult, PluginInfo, Rejection};

/// Why a plugin could not be loaded or a call failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PluginError {
    #[error("cannot read plugin {path}: {message}")]
    Read { path: String, message: String },
    #[error("{origin} is not a valid Wasm component: {message}")]
    Compile { origin: String, message: String },
    #[error("{origin} does not fit the finlake:plugin/plugin world: {message}")]
    Link { origin: String, message: String },
    #[error("plugin file {origin} declares name {found:?}, but the stage expects {expected:?}")]
    WrongName { origin: String, expected: String, found: String },
    #[error("plugin {plugin} refused its config: {message}")]
    Init { plugin: String, message: String },
    #[error("plugin {plugin} exceeded its time limit of {limit_ms} ms")]
    Timeout { plugin: String, limit_ms: u64 },
    #[error("plugin {plugin} exceeded its memory limit of {limit_mb} MiB")]
    Memory { plugin: String, limit_mb: u64 },
    #[error("plugin {plugin} trapped: {message}")]
    Trap { plugin: String, message: String },
    #[error("plugin {plugin} failed the batch: {message}")]
    Failed { plugin: String, message: String },
    #[error("plugin {plugin} returned a malformed result: {message}")]
    BadResult { plugin: String, message: String },
    #[error("plugin cache at {path}: {message}")]
    Cache { path: String, message: String },
}

impl PluginError {
    /// A short, stable name for metrics and dead letters.
    pub fn kind(&self) -> &'static str {
        match self {
            PluginError::Read { .. } | PluginError::Cache { .. } => "io",
            PluginError::Compile { .. } | PluginError::Link { .. } | PluginError::WrongName { .. } => "load",
            PluginError::Init { .. } => "init",
            PluginError::Timeout { .. } => "timeout",
            PluginError::Memory { .. } => "memory",
            PluginError::Trap { .. } => "trap",
            PluginError::Failed { .. } => "failed",
            PluginError::BadResult { .. } => "bad-result",
        }
    }

    /// Whether the failure could be caused by particular records of the batch (and so is worth
    /// isolating by splitting the batch), as opposed to a broken plugin or host.
    pub fn is_per_call(&self) -> bool {
        matches!(
            self,
            PluginError::Timeout { .. }
                | PluginError::Memory { .. }
                | PluginError::Trap { .. }
                | PluginError::Failed { .. }
                | PluginError::BadResult { .. }
        )
    }
}
