//! Plugins compiled into the host, behind the same batch layout: the benchmarks' "Wasm vs
//! native" comparison (`host/benches`, `plugins/sdk/src/native.rs`).
//!
//! A runtime told to use a native build of a plugin ([`super::PluginRuntime::use_native`]) still
//! loads and checks the component, then runs the native code in its place. There is no sandbox,
//! time or memory limit around native code, so nothing outside the benchmarks registers one.

use std::sync::Arc;

use super::{Batch, BatchResult};

/// One native plugin instance.
pub trait NativeTransform: Send {
    fn process(&mut self, batch: &Batch) -> Result<BatchResult, String>;
    fn snapshot(&self) -> Vec<u8>;
    fn restore(&mut self, snapshot: &[u8]) -> Result<(), String>;
}

/// Makes an instance from the stage's config (JSON text).
pub type NativeFactory = Arc<dyn Fn(&str) -> Result<Box<dyn NativeTransform>, String> + Send + Sync>;
