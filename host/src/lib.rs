//! FinLake: Kafka → Wasm component plugins → Delta Lake, exactly once.
//!
//! See `docs/ARCHITECTURE.md` for the invariants the modules keep.

pub mod allocator;
pub mod api;
pub mod cluster;
/// `pipelines.toml` (the `finlake-config` crate).
pub use finlake_config as config;
pub mod control;
pub mod delta;
pub mod dlq;
pub mod events;
pub mod fraud;
pub mod gold;
pub mod kafka;
pub mod lake;
pub mod maintenance;
pub mod pipeline;
pub mod plugin;
pub mod query;
pub mod service;
pub mod shadow;
pub mod simulate;
pub mod sink;
pub mod sources;
pub mod toolkit;
