//! The native harness: a plugin compiled for the host instead of Wasm, called through the same
//! flat batch layout (`wit/finlake.wit`) and the same per-record driver ([`crate::run_batch`]).
//!
//! It exists to measure what the Wasm sandbox costs (`./xtask/bench.sh`, "Wasm vs native"):
//! everything but the boundary is the same code. [`crate::export_plugin!`] generates a
//! `finlake_native(config)` function in the plugin crate on non-Wasm targets; the host wraps it
//! as a plugin instance. It is not a way to run plugins in production: a native plugin has no
//! sandbox, no time or memory limit.

use crate::Plugin;
use crate::bindings::finlake::plugin::types::BatchResult;

/// A native plugin instance whatever its type: what `finlake_native` returns.
pub trait NativePlugin: Send {
    /// The plugin's declared name and version.
    fn info(&self) -> (&'static str, &'static str);
    /// Runs one batch given as the WIT layout's parts.
    fn process(&mut self, topic: &str, records: &[u8], data: &[u8]) -> Result<BatchResult, String>;
    fn snapshot(&self) -> Vec<u8>;
    fn restore(&mut self, snapshot: &[u8]) -> Result<(), String>;
}

/// A plugin instance compiled for the host (see the module docs).
pub struct Native<P: Plugin> {
    plugin: P,
}

impl<P: Plugin> Native<P> {
    /// Builds the plugin from its config (JSON text), as the Wasm `init` does.
    pub fn new(config: &str) -> Result<Self, String> {
        Ok(Native { plugin: P::new(crate::parse_config(config)?)? })
    }
}

impl<P: Plugin> NativePlugin for Native<P> {
    fn info(&self) -> (&'static str, &'static str) {
        (P::NAME, P::VERSION)
    }

    fn process(&mut self, topic: &str, records: &[u8], data: &[u8]) -> Result<BatchResult, String> {
        crate::batch::run_parts(topic, records, data, |record, out| self.plugin.process(record, out))
    }

    fn snapshot(&self) -> Vec<u8> {
        self.plugin.snapshot()
    }

    fn restore(&mut self, snapshot: &[u8]) -> Result<(), String> {
        self.plugin.restore(snapshot)
    }
}
